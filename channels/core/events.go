package core

import (
	"encoding/json"
	"fmt"
	"time"
)

// EventType names a canonical event. The names are the seed's, exactly.
type EventType string

const (
	// EventMessage: an incoming message (not sent by this account).
	EventMessage EventType = "message"
	// EventMessageCreate: every message, both directions, including ones sent from the phone.
	EventMessageCreate EventType = "message_create"
	// EventSessionStatus: the session moved to another SessionStatus.
	EventSessionStatus EventType = "session.status"
	// EventQRCode: a new login QR code (emitted at every rotation).
	EventQRCode EventType = "qr_code"
	// EventConnectionStatus: the transport connection changed (open, connecting, closed, refused).
	EventConnectionStatus EventType = "connection.status"
	// EventDisconnected: the session lost its connection, with the reason and whether it comes back.
	EventDisconnected EventType = "disconnected"
	// EventMessageAck: a sent message's delivery state changed.
	EventMessageAck EventType = "message_ack"
	// EventMessageEdit: a message was edited.
	EventMessageEdit EventType = "message_edit"
	// EventMessageRevokeEveryone: a message was deleted for everyone.
	EventMessageRevokeEveryone EventType = "message_revoke_everyone"
	// EventChangeBattery: the phone's battery changed. Multi-device WhatsApp never reports the
	// phone's battery to linked devices, so the WhatsApp channel never emits it; the type stays so
	// that clients written against the seed keep compiling and other channels may use it.
	EventChangeBattery EventType = "change_battery"
	// EventMessageFailed: an accepted outgoing message could not be sent; the gateway's own event.
	EventMessageFailed EventType = "message_failed"
	// EventWebhookDisabled: a webhook endpoint was disabled (it answered 410 Gone or failed for
	// too long); the gateway's own event. Its sessionId is the endpoint's session, empty for the
	// global endpoint.
	EventWebhookDisabled EventType = "webhook.disabled"
)

// EventTypes lists every canonical event type.
var EventTypes = []EventType{EventMessage, EventMessageCreate, EventSessionStatus, EventQRCode,
	EventConnectionStatus, EventDisconnected, EventMessageAck, EventMessageEdit,
	EventMessageRevokeEveryone, EventChangeBattery, EventMessageFailed, EventWebhookDisabled}

// EventData is the typed payload of one event type.
type EventData interface {
	EventType() EventType
}

// Event is the canonical envelope {id, sessionId, event, timestamp, data} delivered to webhooks,
// the bus and the hub.
type Event struct {
	ID        EventID   `json:"id"`
	SessionID SessionID `json:"sessionId"`
	Type      EventType `json:"event"`
	Timestamp time.Time `json:"timestamp"`
	Data      EventData `json:"data"`
}

// NewEvent wraps data in a fresh envelope.
func NewEvent(session SessionID, data EventData) Event {
	return Event{ID: NewEventID(), SessionID: session, Type: data.EventType(), Timestamp: time.Now().UTC(), Data: data}
}

// UnmarshalJSON decodes the envelope and its data into the payload type of its event.
func (e *Event) UnmarshalJSON(b []byte) error {
	var raw struct {
		ID        EventID         `json:"id"`
		SessionID SessionID       `json:"sessionId"`
		Type      EventType       `json:"event"`
		Timestamp time.Time       `json:"timestamp"`
		Data      json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return fmt.Errorf("decode event envelope: %w", err)
	}
	data, err := NewEventData(raw.Type)
	if err != nil {
		return err
	}
	if len(raw.Data) > 0 && string(raw.Data) != "null" {
		if err := json.Unmarshal(raw.Data, data); err != nil {
			return fmt.Errorf("decode %s event data: %w", raw.Type, err)
		}
	}
	*e = Event{ID: raw.ID, SessionID: raw.SessionID, Type: raw.Type, Timestamp: raw.Timestamp, Data: data}
	return nil
}

// NewEventData returns a pointer to an empty payload of the given event type.
func NewEventData(t EventType) (EventData, error) {
	switch t {
	case EventMessage, EventMessageCreate:
		return &MessageEvent{Kind: t}, nil
	case EventSessionStatus:
		return &SessionStatusEvent{}, nil
	case EventQRCode:
		return &QRCodeEvent{}, nil
	case EventConnectionStatus:
		return &ConnectionStatusEvent{}, nil
	case EventDisconnected:
		return &DisconnectedEvent{}, nil
	case EventMessageAck:
		return &MessageAckEvent{}, nil
	case EventMessageEdit:
		return &MessageEditEvent{}, nil
	case EventMessageRevokeEveryone:
		return &MessageRevokeEvent{}, nil
	case EventChangeBattery:
		return &BatteryEvent{}, nil
	case EventMessageFailed:
		return &MessageFailedEvent{}, nil
	case EventWebhookDisabled:
		return &WebhookDisabledEvent{}, nil
	}
	return nil, fmt.Errorf("%w: unknown event type %q", ErrInvalid, t)
}

// MessageEvent is the payload of message and message_create.
type MessageEvent struct {
	// Kind tells message from message_create; it is the envelope's event name, not serialised.
	Kind EventType `json:"-"`
	ID   MessageID `json:"id"`
	// ChatID is the conversation: the other party of a direct chat, or a group.
	ChatID ChatID `json:"chatId"`
	// From is the sender's address and To the recipient's, phone-number form when known.
	From ChatID `json:"from"`
	To   ChatID `json:"to"`
	// FromLID / ToLID carry the LID form of the same parties when the channel knows it.
	FromLID ChatID `json:"fromLid,omitempty"`
	ToLID   ChatID `json:"toLid,omitempty"`
	// Author is the sending participant in a group chat.
	Author          ChatID      `json:"author,omitempty"`
	FromMe          bool        `json:"fromMe"`
	PushName        string      `json:"pushName,omitempty"`
	Type            MessageType `json:"type"`
	Body            string      `json:"body"`
	Timestamp       time.Time   `json:"timestamp"`
	HasMedia        bool        `json:"hasMedia"`
	Media           *MediaInfo  `json:"media,omitempty"`
	QuotedMessageID MessageID   `json:"quotedMessageId,omitempty"`
	Mentions        []ChatID    `json:"mentions,omitempty"`
	Location        *Location   `json:"location,omitempty"`
	Contact         *VCard      `json:"contact,omitempty"`
	Reaction        *Reaction   `json:"reaction,omitempty"`
	IsForwarded     bool        `json:"isForwarded,omitempty"`
}

func (e *MessageEvent) EventType() EventType {
	if e.Kind == "" {
		return EventMessageCreate
	}
	return e.Kind
}

// MediaInfo describes an attachment; its bytes are fetched through the media download API.
type MediaInfo struct {
	MimeType string `json:"mimeType"`
	FileName string `json:"fileName,omitempty"`
	Size     int64  `json:"size,omitempty"`
	Caption  string `json:"caption,omitempty"`
}

// SessionStatusEvent is the payload of session.status.
type SessionStatusEvent struct {
	Status         SessionStatus `json:"status" enum:"connecting,qr_code,connected,disconnected,logged_out,banned,failed,deleted" doc:"The new status; deleted is the session's last event, sent when it is deleted through the API."`
	PreviousStatus SessionStatus `json:"previousStatus,omitempty" enum:"connecting,qr_code,connected,disconnected,logged_out,banned,failed"`
	Reason         string        `json:"reason,omitempty"`
	BannedUntil    *time.Time    `json:"bannedUntil,omitempty"`
	// Account, AccountLID and PushName say who the session is, once it knows (from connected on).
	Account    ChatID `json:"account,omitempty" doc:"The account the session is logged in as, once known."`
	AccountLID ChatID `json:"accountLid,omitempty" doc:"The account's LID, where the channel has one."`
	PushName   string `json:"pushName,omitempty" doc:"The account's display name, once known."`
}

func (*SessionStatusEvent) EventType() EventType { return EventSessionStatus }

// QRCodeEvent is the payload of qr_code.
type QRCodeEvent struct {
	QR string `json:"qr"`
	// Image is the QR as a base64 PNG data URL (data:image/png;base64,...).
	Image     string    `json:"image,omitempty"`
	ExpiresAt time.Time `json:"expiresAt"`
}

func (*QRCodeEvent) EventType() EventType { return EventQRCode }

// ConnectionState is the transport state reported by connection.status.
type ConnectionState string

const (
	ConnectionOpen       ConnectionState = "open"
	ConnectionConnecting ConnectionState = "connecting"
	ConnectionClosed     ConnectionState = "closed"
	// ConnectionRefused: the network refused the login (logged out, banned, outdated client).
	ConnectionRefused ConnectionState = "refused"
)

// ConnectionStatusEvent is the payload of connection.status.
type ConnectionStatusEvent struct {
	Status ConnectionState `json:"status"`
	Reason string          `json:"reason,omitempty"`
}

func (*ConnectionStatusEvent) EventType() EventType { return EventConnectionStatus }

// DisconnectedEvent is the payload of disconnected.
type DisconnectedEvent struct {
	Reason string `json:"reason"`
	// IsReconnectable is false for terminal causes (logged out, replaced, banned, outdated).
	IsReconnectable bool `json:"isReconnectable"`
}

func (*DisconnectedEvent) EventType() EventType { return EventDisconnected }

// MessageAckEvent is the payload of message_ack.
type MessageAckEvent struct {
	ID     MessageID `json:"id"`
	ChatID ChatID    `json:"chatId"`
	// Ack is 0 pending, 1 received, 2 read, 3 played.
	Ack Ack `json:"ack"`
	// Participant is who sent the receipt, when it is not the chat itself.
	Participant ChatID `json:"participant,omitempty"`
}

func (*MessageAckEvent) EventType() EventType { return EventMessageAck }

// MessageEditEvent is the payload of message_edit.
type MessageEditEvent struct {
	ID     MessageID `json:"id"`
	ChatID ChatID    `json:"chatId"`
	FromMe bool      `json:"fromMe"`
	Body   string    `json:"body"`
	// PreviousBody is the text before the edit, from the gateway's store when it has it.
	PreviousBody string    `json:"previousBody,omitempty"`
	Timestamp    time.Time `json:"timestamp"`
}

func (*MessageEditEvent) EventType() EventType { return EventMessageEdit }

// MessageRevokeEvent is the payload of message_revoke_everyone.
type MessageRevokeEvent struct {
	ID     MessageID `json:"id"`
	ChatID ChatID    `json:"chatId"`
	FromMe bool      `json:"fromMe"`
	// RevokedBy is who deleted it, when it is not the original sender.
	RevokedBy ChatID `json:"revokedBy,omitempty"`
	// PreviousBody is the deleted text, from the gateway's store when it has it.
	PreviousBody string    `json:"previousBody,omitempty"`
	Timestamp    time.Time `json:"timestamp"`
}

func (*MessageRevokeEvent) EventType() EventType { return EventMessageRevokeEveryone }

// BatteryEvent is the payload of change_battery. Never emitted by the WhatsApp channel (see
// EventChangeBattery).
type BatteryEvent struct {
	Battery int  `json:"battery"`
	Plugged bool `json:"plugged"`
}

func (*BatteryEvent) EventType() EventType { return EventChangeBattery }

// MessageFailedEvent is the payload of message_failed.
type MessageFailedEvent struct {
	ID    MessageID `json:"id"`
	To    string    `json:"to"`
	Error string    `json:"error"`
	// ErrorType is the failure's problem type (core.Problem*), for telling failures apart.
	ErrorType string `json:"errorType" doc:"The failure's problem type, the same URN the API answers errors with." enum:"urn:28web:problem:not-found,urn:28web:problem:conflict,urn:28web:problem:not-connected,urn:28web:problem:invalid,urn:28web:problem:unavailable,urn:28web:problem:not-supported"`
	Attempts  int    `json:"attempts"`
}

func (*MessageFailedEvent) EventType() EventType { return EventMessageFailed }

// WebhookDisabledEvent is the payload of webhook.disabled.
type WebhookDisabledEvent struct {
	EndpointID string `json:"endpointId"`
	URL        string `json:"url"`
	Reason     string `json:"reason"`
}

func (*WebhookDisabledEvent) EventType() EventType { return EventWebhookDisabled }
