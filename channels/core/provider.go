package core

import (
	"context"
	"errors"
)

// EventSink receives the canonical events a provider emits.
//
// Publish must be safe for concurrent use. It returns only once the event is durable (written to
// the bus or store), because providers call it before acknowledging the message to their network:
// an event that was acknowledged but not published would be lost on a crash. It may block; it must
// not call back into the provider.
type EventSink interface {
	Publish(ctx context.Context, event Event) error
}

// EventSinkFunc adapts a function to EventSink.
type EventSinkFunc func(ctx context.Context, event Event) error

// Publish calls f.
func (f EventSinkFunc) Publish(ctx context.Context, event Event) error { return f(ctx, event) }

// Provider is the mandatory contract of a messaging channel (the seed's IChannelProvider). Optional
// features are the capability interfaces below, discovered by type assertion; use the As* helpers,
// which turn a missing capability into a *NotSupportedError.
//
// All methods are safe for concurrent use. Session methods return an error wrapping ErrNotFound
// for an unknown session id. Start restores the sessions persisted by an earlier run and returns
// once they are being reconnected, without waiting for the network; Stop disconnects every session
// without logging any out.
type Provider interface {
	// Info describes the channel's name and limits. It must not do network calls.
	Info() ChannelInfo
	Start(ctx context.Context) error
	Stop(ctx context.Context) error

	// CreateSession starts a new session and returns it in its first status (connecting or
	// qr_code). An id already in use yields ErrConflict.
	CreateSession(ctx context.Context, req CreateSessionRequest) (Session, error)
	Session(ctx context.Context, id SessionID) (Session, error)
	// Sessions lists every session, ordered by id.
	Sessions(ctx context.Context) ([]Session, error)
	// DeleteSession logs the session out of its network when it is paired, wipes its credentials
	// and stops its client. Afterwards the id is unknown.
	DeleteSession(ctx context.Context, id SessionID) error
	Stats(ctx context.Context) (SessionStats, error)

	// SendMessage hands one message to the network and returns once the network accepted it.
	// Sending with a msg.ID that was already sent must not produce a second message.
	// Errors: ErrNotConnected, ErrInvalid (bad content, unknown recipient), ErrUnavailable.
	SendMessage(ctx context.Context, id SessionID, msg OutgoingMessage) (SendResult, error)
	// ValidateAddress says whether to can be a recipient on this channel, by its grammar alone
	// (no network): an error wrapping ErrInvalid says why not. Accept calls it, so that a bad
	// address is refused at once rather than failing at send time.
	ValidateAddress(to string) error
}

// ChannelInfo is what a channel is and can do, as data.
type ChannelInfo struct {
	Channel Channel
	// MaxTextLength is the longest text body the channel accepts.
	MaxTextLength int
	// MaxMediaBytes is the largest attachment the channel accepts.
	MaxMediaBytes int64
	// MessageTypes are the outgoing message types SendMessage accepts.
	MessageTypes []MessageType
}

// Capability interfaces. Each embeds nothing and is asserted on the Provider value.

// QRLogin exposes the current login QR code of a session waiting to pair.
type QRLogin interface {
	// LoginQR returns the current QR; ErrConflict when the session is already paired, ErrNotFound
	// when no code is available yet.
	LoginQR(ctx context.Context, id SessionID) (QRCode, error)
}

// PairingCodeLogin links a session by a code typed on the phone instead of a QR scan.
type PairingCodeLogin interface {
	// RequestPairingCode returns the code to type on the phone whose number is given.
	RequestPairingCode(ctx context.Context, id SessionID, phone string) (string, error)
}

// MessageEditor edits a message this session sent.
type MessageEditor interface {
	EditMessage(ctx context.Context, id SessionID, chat ChatID, msg MessageID, text string) error
}

// MessageRevoker deletes a message for everyone.
type MessageRevoker interface {
	RevokeMessage(ctx context.Context, id SessionID, chat ChatID, msg MessageID) error
}

// ReadMarker marks messages as read.
type ReadMarker interface {
	MarkRead(ctx context.Context, id SessionID, chat ChatID, msgs []MessageID) error
}

// PresenceSender shows typing, recording or availability in a chat.
type PresenceSender interface {
	SendPresence(ctx context.Context, id SessionID, chat ChatID, presence Presence) error
}

// ContactBook is a session's address book on its network.
type ContactBook interface {
	// Contacts returns the session's known contacts, from cache when possible.
	Contacts(ctx context.Context, id SessionID) ([]Contact, error)
	// SyncContacts refreshes the contacts from the network and returns them.
	SyncContacts(ctx context.Context, id SessionID) ([]Contact, error)
}

// MediaDownloader returns the attachment of a received message.
type MediaDownloader interface {
	DownloadMedia(ctx context.Context, id SessionID, msg MessageID) (DownloadedMedia, error)
}

// TemplateManager keeps a session's message templates (channels whose network reviews them).
type TemplateManager interface {
	// Templates lists the session's templates, from cache when fresh.
	Templates(ctx context.Context, id SessionID) ([]Template, error)
	// CreateTemplate submits a template for review and returns it in its first status.
	CreateTemplate(ctx context.Context, id SessionID, t Template) (Template, error)
	// DeleteTemplate removes every language of the named template.
	DeleteTemplate(ctx context.Context, id SessionID, name string) error
}

// SendChecker refuses at accept time what the channel would refuse at send time for reasons only
// it knows (a conversation window that closed, a template's parameters), so that the client
// learns it from the 422 of its request rather than from a later message_failed. Errors wrap
// ErrInvalid (or ErrNotFound for an unknown session).
type SendChecker interface {
	CheckSend(ctx context.Context, id SessionID, msg OutgoingMessage) error
}

// Capability names, as reported in NotSupportedError and the API.
const (
	CapabilityQRLogin     = "qr_login"
	CapabilityPairingCode = "pairing_code"
	CapabilityEdit        = "edit_message"
	CapabilityRevoke      = "revoke_message"
	CapabilityMarkRead    = "mark_read"
	CapabilityPresence    = "presence"
	CapabilityMedia       = "media_download"
	CapabilityContacts    = "contacts"
	CapabilityTemplates   = "templates"
)

// As returns p as the capability T, or a *NotSupportedError naming capability.
func As[T any](p Provider, capability string) (T, error) {
	c, ok := p.(T)
	if !ok {
		var zero T
		return zero, &NotSupportedError{Channel: p.Info().Channel, Capability: capability}
	}
	return c, nil
}

// Capabilities lists the capability names p implements.
func Capabilities(p Provider) []string {
	var caps []string
	add := func(ok bool, name string) {
		if ok {
			caps = append(caps, name)
		}
	}
	_, ok := p.(QRLogin)
	add(ok, CapabilityQRLogin)
	_, ok = p.(PairingCodeLogin)
	add(ok, CapabilityPairingCode)
	_, ok = p.(MessageEditor)
	add(ok, CapabilityEdit)
	_, ok = p.(MessageRevoker)
	add(ok, CapabilityRevoke)
	_, ok = p.(ReadMarker)
	add(ok, CapabilityMarkRead)
	_, ok = p.(PresenceSender)
	add(ok, CapabilityPresence)
	_, ok = p.(MediaDownloader)
	add(ok, CapabilityMedia)
	_, ok = p.(ContactBook)
	add(ok, CapabilityContacts)
	_, ok = p.(TemplateManager)
	add(ok, CapabilityTemplates)
	return caps
}

// IsNotSupported reports whether err says a capability is missing.
func IsNotSupported(err error) bool { return errors.Is(err, ErrNotSupported) }

// MessageIDGenerator makes message ids in the channel's own wire format, so that the send
// pipeline can assign a message's id when it accepts it, before the first attempt.
type MessageIDGenerator interface {
	// NewMessageID returns a fresh id. It must not do network calls.
	NewMessageID() MessageID
}
