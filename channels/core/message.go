package core

import "time"

// MessageType is the kind of content a message carries.
type MessageType string

const (
	MessageText     MessageType = "text"
	MessageImage    MessageType = "image"
	MessageVideo    MessageType = "video"
	MessageAudio    MessageType = "audio"
	MessageDocument MessageType = "document"
	MessageSticker  MessageType = "sticker"
	MessageLocation MessageType = "location"
	MessageContact  MessageType = "contact"
	MessageReaction MessageType = "reaction"
	// MessageTemplate is a pre-approved template filled with parameters (channels with
	// TemplateManager; the WhatsApp Business Cloud API requires one outside the 24 h window).
	MessageTemplate MessageType = "template"
	// MessageInteractive carries reply buttons or a list to pick from.
	MessageInteractive MessageType = "interactive"
	// MessageUnknown is an inbound message whose content the channel does not map.
	MessageUnknown MessageType = "unknown"
)

// MessagingTypes are the types every messenger-like channel sends: the WhatsApp channel's set.
var MessagingTypes = []MessageType{MessageText, MessageImage, MessageVideo, MessageAudio,
	MessageDocument, MessageSticker, MessageLocation, MessageContact, MessageReaction}

// OutgoingMessageTypes lists the types a client may send on some channel, for API enums.
var OutgoingMessageTypes = []MessageType{MessageText, MessageImage, MessageVideo, MessageAudio,
	MessageDocument, MessageSticker, MessageLocation, MessageContact, MessageReaction, MessageTemplate, MessageInteractive}

// IsMedia reports whether the type carries a media attachment.
func (t MessageType) IsMedia() bool {
	switch t {
	case MessageImage, MessageVideo, MessageAudio, MessageDocument, MessageSticker:
		return true
	}
	return false
}

// OutgoingMessage is what a client asks a session to send. Exactly the fields of its Type are
// used; the API validates the combination before it reaches a provider.
type OutgoingMessage struct {
	// ID is the message id to send with. The pipeline assigns it before the first attempt so that
	// a retry re-sends the same message instead of a second one. Empty lets the channel choose.
	ID MessageID `json:"id,omitempty"`
	// To is the recipient: a chat id or a phone number in any common format; the channel
	// normalises and resolves it.
	To   string      `json:"to"`
	Type MessageType `json:"type"`
	// Text is the body of a text message, or the caption of a media message.
	Text string `json:"text,omitempty"`
	// Mentions are chat ids mentioned in Text.
	Mentions []ChatID `json:"mentions,omitempty"`
	// LinkPreview asks the channel to render a preview of the first link in Text.
	LinkPreview bool `json:"linkPreview,omitempty"`
	// QuotedMessageID makes this message a reply.
	QuotedMessageID MessageID        `json:"quotedMessageId,omitempty"`
	Media           *Media           `json:"media,omitempty"`
	Location        *Location        `json:"location,omitempty"`
	Contact         *VCard           `json:"contact,omitempty"`
	Reaction        *Reaction        `json:"reaction,omitempty"`
	Template        *TemplateMessage `json:"template,omitempty"`
	Interactive     *Interactive     `json:"interactive,omitempty"`
	SendAt          *time.Time       `json:"sendAt,omitempty"`
}

// TemplateMessage names a template and fills its placeholders.
type TemplateMessage struct {
	Name     string `json:"name"`
	Language string `json:"language"`
	// Components give the parameters of the template's header, body and buttons.
	Components []TemplateComponentParams `json:"components,omitempty"`
}

// Template component kinds, as TemplateComponentParams and TemplateComponent name them.
const (
	TemplateHeader  = "header"
	TemplateBody    = "body"
	TemplateFooter  = "footer"
	TemplateButtons = "buttons"
	// TemplateButton is one button's parameters in a message (Index says which).
	TemplateButton = "button"
)

// TemplateComponentParams fills one component's placeholders, in order ({{1}}, {{2}}, …).
type TemplateComponentParams struct {
	// Type is header, body or button.
	Type string `json:"type"`
	// SubType is a button's kind (quick_reply, url); Index its position.
	SubType    string              `json:"subType,omitempty"`
	Index      int                 `json:"index,omitempty"`
	Parameters []TemplateParameter `json:"parameters"`
}

// TemplateParameter is one placeholder's value: text, a button payload, or a header's media.
type TemplateParameter struct {
	// Type is text, payload, image, video or document.
	Type     string `json:"type"`
	Text     string `json:"text,omitempty"`
	Payload  string `json:"payload,omitempty"`
	MediaURL string `json:"mediaUrl,omitempty"`
}

// Interactive is a message with reply buttons (Type button) or a list of choices (Type list).
type Interactive struct {
	Type   string `json:"type"`
	Header string `json:"header,omitempty"`
	Body   string `json:"body"`
	Footer string `json:"footer,omitempty"`
	// Buttons are the reply buttons of a button message (1–3).
	Buttons []InteractiveButton `json:"buttons,omitempty"`
	// ListButton labels the button that opens a list; Sections hold its rows.
	ListButton string               `json:"listButton,omitempty"`
	Sections   []InteractiveSection `json:"sections,omitempty"`
}

// Interactive message kinds.
const (
	InteractiveButtons = "button"
	InteractiveList    = "list"
)

// InteractiveButton is a reply button; ID comes back when the customer taps it.
type InteractiveButton struct {
	ID    string `json:"id"`
	Title string `json:"title"`
}

// InteractiveSection groups the rows of a list.
type InteractiveSection struct {
	Title string           `json:"title,omitempty"`
	Rows  []InteractiveRow `json:"rows"`
}

// InteractiveRow is one choice of a list.
type InteractiveRow struct {
	ID          string `json:"id"`
	Title       string `json:"title"`
	Description string `json:"description,omitempty"`
}

// Template is a message template as its channel holds it.
type Template struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Language string `json:"language"`
	// Category is MARKETING, UTILITY or AUTHENTICATION.
	Category string `json:"category"`
	// Status is the channel's review state: APPROVED templates can be sent.
	Status     string              `json:"status"`
	Components []TemplateComponent `json:"components"`
}

// TemplateApproved is the status of a template that can be sent.
const TemplateApproved = "APPROVED"

// TemplateComponent is one part of a template's definition.
type TemplateComponent struct {
	// Type is header, body, footer or buttons.
	Type string `json:"type"`
	// Format is a header's kind: text, image, video, document or location.
	Format  string                     `json:"format,omitempty"`
	Text    string                     `json:"text,omitempty"`
	Buttons []TemplateButtonDefinition `json:"buttons,omitempty"`
}

// TemplateButtonDefinition is one button of a template.
type TemplateButtonDefinition struct {
	// Type is quick_reply, url or phone_number.
	Type        string `json:"type"`
	Text        string `json:"text"`
	URL         string `json:"url,omitempty"`
	PhoneNumber string `json:"phoneNumber,omitempty"`
}

// Media is an attachment: either a URL the gateway fetches or inline bytes.
type Media struct {
	URL      string `json:"url,omitempty"`
	Data     []byte `json:"data,omitempty"`
	MimeType string `json:"mimeType,omitempty"`
	FileName string `json:"fileName,omitempty"`
	// VoiceNote sends audio as a push-to-talk voice note.
	VoiceNote bool `json:"voiceNote,omitempty"`
}

// Location is a geographic point with an optional name and address.
type Location struct {
	Latitude  float64 `json:"latitude"`
	Longitude float64 `json:"longitude"`
	Name      string  `json:"name,omitempty"`
	Address   string  `json:"address,omitempty"`
}

// VCard is a contact card.
type VCard struct {
	DisplayName string `json:"displayName"`
	VCard       string `json:"vcard"`
}

// Reaction is an emoji reaction to an existing message; an empty Emoji removes the reaction.
type Reaction struct {
	MessageID MessageID `json:"messageId"`
	Emoji     string    `json:"emoji"`
}

// SendResult is what a channel reports after handing a message to its network.
type SendResult struct {
	ID        MessageID `json:"id"`
	ChatID    ChatID    `json:"chatId"`
	Timestamp time.Time `json:"timestamp"`
}

// Ack is the delivery state of a message as the seed numbers it.
type Ack int

const (
	AckPending  Ack = 0
	AckReceived Ack = 1
	AckRead     Ack = 2
	AckPlayed   Ack = 3
)

// Contact is one entry of a session's address book.
type Contact struct {
	ID ChatID `json:"id"`
	// LID is the contact's LID address when known.
	LID ChatID `json:"lid,omitempty"`
	// Phone is the E.164 number without '+', when known.
	Phone string `json:"phone,omitempty"`
	// PushName is the name the contact chose for itself.
	PushName string `json:"pushName,omitempty"`
	// Name is the name saved in the account's address book, when the channel knows it.
	Name       string    `json:"name,omitempty"`
	OnWhatsApp bool      `json:"onWhatsApp"`
	UpdatedAt  time.Time `json:"updatedAt"`
}

// Presence is a chat presence the session can show.
type Presence string

const (
	PresenceTyping    Presence = "typing"
	PresenceRecording Presence = "recording"
	PresencePaused    Presence = "paused"
	PresenceAvailable Presence = "available"
	PresenceOffline   Presence = "unavailable"
)

// DownloadedMedia is the content of a message's attachment.
type DownloadedMedia struct {
	MimeType string
	FileName string
	Data     []byte
}

// MessageStatus is where a stored message is in its life: outbound ones move
// queued → sent → delivered → read, or end failed; inbound ones are received (and read once the
// session marks them read).
type MessageStatus string

const (
	MessageStatusQueued    MessageStatus = "queued"
	MessageStatusSent      MessageStatus = "sent"
	MessageStatusDelivered MessageStatus = "delivered"
	MessageStatusRead      MessageStatus = "read"
	MessageStatusFailed    MessageStatus = "failed"
	MessageStatusReceived  MessageStatus = "received"
)

// ErrorSessionDeleted is the error of accepted messages that were never sent because their
// session was deleted (with force) first.
const ErrorSessionDeleted = "session_deleted"

// MessageStatuses lists every status, for API enums.
var MessageStatuses = []MessageStatus{MessageStatusQueued, MessageStatusSent, MessageStatusDelivered, MessageStatusRead, MessageStatusFailed, MessageStatusReceived}

// Direction says whether a message was sent by the session's account (out) or to it (in).
type Direction string

const (
	DirectionIn  Direction = "in"
	DirectionOut Direction = "out"
)

// StatusForAck is the outbound status a receipt moves a message to.
func StatusForAck(a Ack) (MessageStatus, bool) {
	switch a {
	case AckReceived:
		return MessageStatusDelivered, true
	case AckRead, AckPlayed:
		return MessageStatusRead, true
	}
	return "", false
}
