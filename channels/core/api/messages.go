package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/28web/hub/channels/core"
	"github.com/28web/hub/channels/core/pipeline"
	"github.com/28web/hub/channels/core/store"
	"github.com/28web/hub/platform/httpserver"
)

// maxSendBody bounds a send request: 16 MiB of media as base64 plus the envelope.
const maxSendBody = 23 << 20

// SendMessageRequest is a message to send. Which fields apply depends on type.
type SendMessageRequest struct {
	ID              string            `json:"id,omitempty" pattern:"^[A-Za-z0-9_.-]{1,128}$" doc:"Optional client-chosen message id, new for the session (409 if not); by default the gateway assigns one. A hub driving a gateway uses it so both name the message alike." example:"3EB0C431C26A1916E07E"`
	To              string            `json:"to" minLength:"3" maxLength:"128" doc:"Recipient, in the session's channel's address format (checked at accept: 422 otherwise). On WhatsApp: a phone number in any common format (normalised to E.164 and resolved on WhatsApp) or a chat id (JID)." example:"+55 11 99999-0001"`
	Type            core.MessageType  `json:"type" enum:"text,image,video,audio,document,sticker,location,contact,reaction,template,interactive" doc:"What the message carries; GET /channels lists the types each channel sends (others answer 422)." example:"text"`
	Text            string            `json:"text,omitempty" maxLength:"65536" doc:"Body of a text message, or caption of an image, video or document." example:"Hello! How can we help?"`
	Mentions        []string          `json:"mentions,omitempty" maxItems:"256" doc:"Chat ids mentioned in text." example:"[\"5511999990002@s.whatsapp.net\"]"`
	LinkPreview     bool              `json:"linkPreview,omitempty" doc:"Render a preview of the first link in text."`
	QuotedMessageID string            `json:"quotedMessageId,omitempty" maxLength:"128" doc:"Reply to this message id."`
	Media           *MediaInput       `json:"media,omitempty" doc:"Attachment of image, video, audio, document and sticker messages."`
	Location        *LocationInput    `json:"location,omitempty" doc:"Point of a location message."`
	Contact         *ContactInput     `json:"contact,omitempty" doc:"Card of a contact message."`
	Reaction        *ReactionInput    `json:"reaction,omitempty" doc:"Reaction of a reaction message."`
	Template        *TemplateInput    `json:"template,omitempty" doc:"Template of a template message: an approved template of the session (GET /sessions/{id}/templates) with its parameters, checked against it at accept."`
	Interactive     *InteractiveInput `json:"interactive,omitempty" doc:"Buttons or list of an interactive message."`
	SendAt          *time.Time        `json:"sendAt,omitempty" doc:"Send at this time instead of now (kept across restarts)." example:"2026-12-01T09:00:00Z"`
}

// MediaInput is an attachment given by URL or inline.
type MediaInput struct {
	URL       string `json:"url,omitempty" maxLength:"2048" format:"uri" doc:"http(s) URL the gateway fetches (size-limited, no private addresses)." example:"https://example.com/invoice.pdf"`
	Data      []byte `json:"data,omitempty" format:"byte" doc:"The file itself, base64."`
	MimeType  string `json:"mimeType,omitempty" maxLength:"128" doc:"MIME type; required with data." example:"application/pdf"`
	FileName  string `json:"fileName,omitempty" maxLength:"255" doc:"File name shown for documents." example:"invoice.pdf"`
	VoiceNote bool   `json:"voiceNote,omitempty" doc:"Send audio as a voice note (push-to-talk)."`
}

// LocationInput is a geographic point.
type LocationInput struct {
	Latitude  float64 `json:"latitude" minimum:"-90" maximum:"90" example:"-23.5505"`
	Longitude float64 `json:"longitude" minimum:"-180" maximum:"180" example:"-46.6333"`
	Name      string  `json:"name,omitempty" maxLength:"256" example:"28web office"`
	Address   string  `json:"address,omitempty" maxLength:"512" example:"Av. Paulista, 1000"`
}

// ContactInput is a contact card.
type ContactInput struct {
	DisplayName string `json:"displayName" minLength:"1" maxLength:"256" example:"Support"`
	VCard       string `json:"vcard" minLength:"1" maxLength:"16384" doc:"vCard 3.0 text." example:"BEGIN:VCARD\nVERSION:3.0\nFN:Support\nTEL;type=CELL:+5511999990001\nEND:VCARD"`
}

// ReactionInput reacts to a message; an empty emoji removes the reaction.
type ReactionInput struct {
	MessageID string `json:"messageId" minLength:"1" maxLength:"128" example:"3EB0C431C26A1916E07E"`
	Emoji     string `json:"emoji" maxLength:"32" example:"👍"`
}

// TemplateInput names a template and fills its placeholders.
type TemplateInput struct {
	Name       string                   `json:"name" minLength:"1" maxLength:"512" pattern:"^[a-z0-9_]+$" doc:"The template's name." example:"order_update"`
	Language   string                   `json:"language" minLength:"2" maxLength:"15" pattern:"^[A-Za-z]{2,3}([_-][A-Za-z0-9]{2,8})?$" doc:"The template's language code." example:"pt_BR"`
	Components []TemplateComponentInput `json:"components,omitempty" maxItems:"12" doc:"Parameters of the header, body and buttons, in placeholder order."`
}

// TemplateComponentInput fills one component's placeholders.
type TemplateComponentInput struct {
	Type       string                   `json:"type" enum:"header,body,button" doc:"The component the parameters fill."`
	SubType    string                   `json:"subType,omitempty" enum:"quick_reply,url" doc:"A button's kind."`
	Index      int                      `json:"index,omitempty" minimum:"0" maximum:"9" doc:"A button's position."`
	Parameters []TemplateParameterInput `json:"parameters" maxItems:"32"`
}

// TemplateParameterInput is one placeholder's value.
type TemplateParameterInput struct {
	Type     string `json:"type" enum:"text,payload,image,video,document" doc:"text for {{n}} placeholders, payload for quick-reply buttons, image/video/document for a media header."`
	Text     string `json:"text,omitempty" maxLength:"1024" example:"Maria"`
	Payload  string `json:"payload,omitempty" maxLength:"256"`
	MediaURL string `json:"mediaUrl,omitempty" maxLength:"2048" format:"uri" doc:"Public https URL of a media header."`
}

// InteractiveInput is a message with reply buttons or a list.
type InteractiveInput struct {
	Type       string                    `json:"type" enum:"button,list" doc:"button: up to 3 reply buttons; list: a button opening sections of rows."`
	Header     string                    `json:"header,omitempty" maxLength:"60"`
	Body       string                    `json:"body" minLength:"1" maxLength:"1024" example:"How can we help?"`
	Footer     string                    `json:"footer,omitempty" maxLength:"60"`
	Buttons    []InteractiveButtonInput  `json:"buttons,omitempty" maxItems:"3" doc:"The reply buttons of a button message (1–3)."`
	ListButton string                    `json:"listButton,omitempty" maxLength:"20" doc:"Label of the button opening a list."`
	Sections   []InteractiveSectionInput `json:"sections,omitempty" maxItems:"10" doc:"The sections of a list (10 rows in all at most)."`
}

// InteractiveButtonInput is a reply button.
type InteractiveButtonInput struct {
	ID    string `json:"id" minLength:"1" maxLength:"256" example:"yes"`
	Title string `json:"title" minLength:"1" maxLength:"20" example:"Yes"`
}

// InteractiveSectionInput groups the rows of a list.
type InteractiveSectionInput struct {
	Title string                `json:"title,omitempty" maxLength:"24"`
	Rows  []InteractiveRowInput `json:"rows" minItems:"1" maxItems:"10"`
}

// InteractiveRowInput is one choice of a list.
type InteractiveRowInput struct {
	ID          string `json:"id" minLength:"1" maxLength:"200"`
	Title       string `json:"title" minLength:"1" maxLength:"24"`
	Description string `json:"description,omitempty" maxLength:"72"`
}

var (
	mimePattern = regexp.MustCompile(`^[A-Za-z0-9!#$&^_.+-]+/[A-Za-z0-9!#$&^_.+-]+$`)
)

// Resolve checks what the schema cannot: the fields each type needs. (The recipient is the
// channel's to judge: see sendMessage.)
func (b *SendMessageRequest) Resolve(_ huma.Context, prefix *huma.PathBuffer) []error {
	var errs []error
	bad := func(field, msg string, value any) {
		errs = append(errs, &huma.ErrorDetail{Location: prefix.With(field), Message: msg, Value: value})
	}
	switch b.Type {
	case core.MessageText:
		if strings.TrimSpace(b.Text) == "" {
			bad("text", "a text message needs text", b.Text)
		}
	case core.MessageImage, core.MessageVideo, core.MessageAudio, core.MessageDocument, core.MessageSticker:
		if b.Media == nil {
			bad("media", string(b.Type)+" messages need media", nil)
			break
		}
		switch {
		case b.Media.URL == "" && len(b.Media.Data) == 0:
			bad("media", "give media.url or media.data", nil)
		case b.Media.URL != "" && len(b.Media.Data) > 0:
			bad("media", "give media.url or media.data, not both", nil)
		case b.Media.URL != "":
			if u, err := url.Parse(b.Media.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				bad("media.url", "want an http(s) URL", b.Media.URL)
			}
		case b.Media.MimeType == "":
			bad("media.mimeType", "required with media.data", nil)
		}
		if b.Media.MimeType != "" {
			if _, _, err := mime.ParseMediaType(b.Media.MimeType); err != nil || !mimePattern.MatchString(strings.Split(b.Media.MimeType, ";")[0]) {
				bad("media.mimeType", "not a MIME type", b.Media.MimeType)
			}
		}
	case core.MessageLocation:
		if b.Location == nil {
			bad("location", "a location message needs location", nil)
		}
	case core.MessageContact:
		if b.Contact == nil {
			bad("contact", "a contact message needs contact", nil)
		} else if !strings.HasPrefix(strings.TrimSpace(b.Contact.VCard), "BEGIN:VCARD") {
			bad("contact.vcard", "want vCard text starting with BEGIN:VCARD", nil)
		}
	case core.MessageReaction:
		if b.Reaction == nil {
			bad("reaction", "a reaction message needs reaction", nil)
		}
	case core.MessageTemplate:
		if b.Template == nil {
			bad("template", "a template message needs template", nil)
		}
	case core.MessageInteractive:
		if b.Interactive == nil {
			bad("interactive", "an interactive message needs interactive", nil)
			break
		}
		rows := 0
		for _, s := range b.Interactive.Sections {
			rows += len(s.Rows)
		}
		switch b.Interactive.Type {
		case core.InteractiveButtons:
			if len(b.Interactive.Buttons) == 0 || len(b.Interactive.Sections) > 0 {
				bad("interactive.buttons", "a button message needs 1 to 3 buttons and no sections", nil)
			}
		case core.InteractiveList:
			if len(b.Interactive.Sections) == 0 || len(b.Interactive.Buttons) > 0 || b.Interactive.ListButton == "" {
				bad("interactive.sections", "a list message needs listButton and sections, and no buttons", nil)
			} else if rows > 10 {
				bad("interactive.sections", "a list holds 10 rows at most", rows)
			}
		}
	}
	if b.Template != nil && b.Type != core.MessageTemplate {
		bad("template", "only template messages carry template", nil)
	}
	if b.Interactive != nil && b.Type != core.MessageInteractive {
		bad("interactive", "only interactive messages carry interactive", nil)
	}
	if b.Media != nil && !b.Type.IsMedia() {
		bad("media", "only media types carry media", nil)
	}
	if b.SendAt != nil && b.SendAt.Before(time.Now().Add(-time.Minute)) {
		bad("sendAt", "in the past", b.SendAt)
	}
	return errs
}

// invalidField is the 422 of a field a channel refused (err wraps core.ErrInvalid).
func invalidField(location string, value any, err error) error {
	return huma.Error422UnprocessableEntity("validation failed", &huma.ErrorDetail{Location: location, Value: value,
		Message: strings.TrimPrefix(err.Error(), core.ErrInvalid.Error()+": ")})
}

func (b *SendMessageRequest) outgoing() core.OutgoingMessage {
	m := core.OutgoingMessage{ID: core.MessageID(b.ID), To: b.To, Type: b.Type, Text: b.Text, LinkPreview: b.LinkPreview,
		QuotedMessageID: core.MessageID(b.QuotedMessageID), SendAt: b.SendAt}
	for _, id := range b.Mentions {
		m.Mentions = append(m.Mentions, core.ChatID(id))
	}
	if b.Media != nil {
		m.Media = &core.Media{URL: b.Media.URL, Data: b.Media.Data, MimeType: b.Media.MimeType, FileName: b.Media.FileName, VoiceNote: b.Media.VoiceNote}
	}
	if b.Location != nil {
		m.Location = &core.Location{Latitude: b.Location.Latitude, Longitude: b.Location.Longitude, Name: b.Location.Name, Address: b.Location.Address}
	}
	if b.Contact != nil {
		m.Contact = &core.VCard{DisplayName: b.Contact.DisplayName, VCard: b.Contact.VCard}
	}
	if b.Reaction != nil {
		m.Reaction = &core.Reaction{MessageID: core.MessageID(b.Reaction.MessageID), Emoji: b.Reaction.Emoji}
	}
	if t := b.Template; t != nil {
		m.Template = &core.TemplateMessage{Name: t.Name, Language: t.Language}
		for _, c := range t.Components {
			params := make([]core.TemplateParameter, len(c.Parameters))
			for i, p := range c.Parameters {
				params[i] = core.TemplateParameter{Type: p.Type, Text: p.Text, Payload: p.Payload, MediaURL: p.MediaURL}
			}
			m.Template.Components = append(m.Template.Components, core.TemplateComponentParams{Type: c.Type, SubType: c.SubType, Index: c.Index, Parameters: params})
		}
	}
	if in := b.Interactive; in != nil {
		m.Interactive = &core.Interactive{Type: in.Type, Header: in.Header, Body: in.Body, Footer: in.Footer, ListButton: in.ListButton}
		for _, btn := range in.Buttons {
			m.Interactive.Buttons = append(m.Interactive.Buttons, core.InteractiveButton{ID: btn.ID, Title: btn.Title})
		}
		for _, s := range in.Sections {
			sec := core.InteractiveSection{Title: s.Title}
			for _, r := range s.Rows {
				sec.Rows = append(sec.Rows, core.InteractiveRow{ID: r.ID, Title: r.Title, Description: r.Description})
			}
			m.Interactive.Sections = append(m.Interactive.Sections, sec)
		}
	}
	return m
}

type sendInput struct {
	SessionPath
	IdempotencyKey string `header:"Idempotency-Key" maxLength:"255" doc:"Repeat a request safely: the same key with the same body returns the first result; with another body, 422."`
	Body           SendMessageRequest
}

// Message is a stored message as the API shows it.
type Message struct {
	ID          core.MessageID     `json:"id" example:"3EB0C431C26A1916E07E"`
	SessionID   core.SessionID     `json:"sessionId" example:"support-1"`
	ChatID      core.ChatID        `json:"chatId" example:"5511999990002@s.whatsapp.net"`
	Sender      core.ChatID        `json:"sender,omitempty"`
	Direction   core.Direction     `json:"direction" enum:"in,out"`
	Status      core.MessageStatus `json:"status" enum:"queued,sent,delivered,read,failed,received"`
	Type        core.MessageType   `json:"type"`
	Body        string             `json:"body,omitempty"`
	Error       string             `json:"error,omitempty" doc:"Why the last attempt failed."`
	ErrorType   string             `json:"errorType,omitempty" doc:"The failure's problem type, the same URN the API answers errors with (urn:28web:problem:invalid, not-found, not-supported, not-connected, unavailable); set once the message failed." enum:"urn:28web:problem:not-found,urn:28web:problem:conflict,urn:28web:problem:not-connected,urn:28web:problem:invalid,urn:28web:problem:unavailable,urn:28web:problem:not-supported"`
	Attempts    int                `json:"attempts"`
	SendAt      *time.Time         `json:"sendAt,omitempty"`
	SentAt      *time.Time         `json:"sentAt,omitempty"`
	DeliveredAt *time.Time         `json:"deliveredAt,omitempty"`
	ReadAt      *time.Time         `json:"readAt,omitempty"`
	EditedAt    *time.Time         `json:"editedAt,omitempty"`
	RevokedAt   *time.Time         `json:"revokedAt,omitempty"`
	CreatedAt   time.Time          `json:"createdAt"`
	UpdatedAt   time.Time          `json:"updatedAt"`
}

func messageView(m store.Message) Message {
	return Message{ID: m.ID, SessionID: m.SessionID, ChatID: m.ChatID, Sender: m.Sender, Direction: m.Direction, Status: m.Status,
		Type: m.Type, Body: m.Body, Error: m.Error, ErrorType: m.ErrorType, Attempts: m.Attempts, SendAt: m.SendAt, SentAt: m.SentAt,
		DeliveredAt: m.DeliveredAt, ReadAt: m.ReadAt, EditedAt: m.EditedAt, RevokedAt: m.RevokedAt, CreatedAt: m.CreatedAt, UpdatedAt: m.UpdatedAt}
}

type messageOutput struct {
	Location string `header:"Location"`
	Body     Message
}

// MessagePath addresses one message of a session.
type MessagePath struct {
	SessionPath
	MessageID core.MessageID `path:"messageId" maxLength:"128" doc:"Message id." example:"3EB0C431C26A1916E07E"`
}

type listMessagesInput struct {
	SessionPath
	ChatID    string    `query:"chatId" maxLength:"128" doc:"Only this chat."`
	Direction string    `query:"direction" enum:"in,out" doc:"Only incoming or outgoing."`
	Status    string    `query:"status" enum:"queued,sent,delivered,read,failed,received" doc:"Only this status."`
	Since     time.Time `query:"since" doc:"Created at or after this time."`
	Until     time.Time `query:"until" doc:"Created before this time."`
	Cursor    string    `query:"cursor" maxLength:"512" doc:"nextCursor of the previous page."`
	Limit     int       `query:"limit" minimum:"1" maximum:"200" default:"50" doc:"Page size."`
}

// MessagePage is one page of messages, newest first.
type MessagePage struct {
	Messages   []Message `json:"messages"`
	NextCursor string    `json:"nextCursor,omitempty" doc:"Pass as cursor for the next (older) page; absent on the last page."`
}

type messagesOutput struct {
	Body MessagePage
}

// EditMessageRequest is the new text of a message.
type EditMessageRequest struct {
	Text string `json:"text" minLength:"1" maxLength:"65536" doc:"The new text." example:"Corrected text"`
}

type editInput struct {
	MessagePath
	Body EditMessageRequest
}

// ReactionRequest reacts to a message.
type ReactionRequest struct {
	Emoji string `json:"emoji" maxLength:"32" doc:"The reaction; empty removes it." example:"👍"`
}

type reactInput struct {
	MessagePath
	Body ReactionRequest
}

// PresenceRequest shows a presence in a chat.
type PresenceRequest struct {
	ChatID   string        `json:"chatId" minLength:"3" maxLength:"128" doc:"Chat to show the presence in (a chat id or phone number)." example:"5511999990002@s.whatsapp.net"`
	Presence core.Presence `json:"presence" enum:"typing,recording,paused,available,unavailable" example:"typing"`
}

type presenceInput struct {
	SessionPath
	Body PresenceRequest
}

type mediaOutput struct {
	ContentType        string `header:"Content-Type"`
	ContentDisposition string `header:"Content-Disposition"`
	Body               []byte
}

func (h *Handlers) registerMessages(api huma.API) {
	send := withErrors(op("sendMessage", http.MethodPost, "/sessions/{id}/messages", tagMessages, "Send a message",
		"Validates and stores the message as queued, then answers 202 with its id; it is sent asynchronously with retries, in order per "+
			"session. Follow it with GET /sessions/{id}/messages/{messageId} or the message_create, message_ack and message_failed events. "+
			"Accepted messages survive restarts. A client-chosen id already used by the session answers 409.", http.StatusAccepted), notFound, conflict)
	send.MaxBodyBytes = maxSendBody
	huma.Register(api, send, httpserver.Handle(h.Errors, h.sendMessage))
	huma.Register(api, withErrors(op("listMessages", http.MethodGet, "/sessions/{id}/messages", tagMessages, "List messages",
		"Messages of the session, newest first, both directions, with filters and cursor pagination.", 0), notFound),
		httpserver.Handle(h.Errors, h.listMessages))
	huma.Register(api, withErrors(op("getMessage", http.MethodGet, "/sessions/{id}/messages/{messageId}", tagMessages, "Get a message",
		"One message with its status: queued → sent → delivered → read, or failed with the reason.", 0), notFound),
		httpserver.Handle(h.Errors, h.getMessage))
	huma.Register(api, withErrors(op("editMessage", http.MethodPatch, "/sessions/{id}/messages/{messageId}", tagMessages, "Edit a message",
		"Edits the text of a message this session sent.", 0), notFound, conflict, notImplemented),
		httpserver.Handle(h.Errors, h.editMessage))
	huma.Register(api, withErrors(op("revokeMessage", http.MethodDelete, "/sessions/{id}/messages/{messageId}", tagMessages, "Delete a message for everyone",
		"Revokes a message this session sent, for every participant.", http.StatusNoContent), notFound, conflict, notImplemented),
		httpserver.Handle(h.Errors, h.revokeMessage))
	huma.Register(api, withErrors(op("reactToMessage", http.MethodPost, "/sessions/{id}/messages/{messageId}/reactions", tagMessages, "React to a message",
		"Queues a reaction to the message, like any send (202).", http.StatusAccepted), notFound),
		httpserver.Handle(h.Errors, h.react))
	huma.Register(api, withErrors(op("markMessageRead", http.MethodPost, "/sessions/{id}/messages/{messageId}/read", tagMessages, "Mark a message read",
		"Sends a read receipt for an incoming message (blue ticks).", http.StatusNoContent), notFound, conflict, notImplemented),
		httpserver.Handle(h.Errors, h.markRead))
	download := withErrors(op("downloadMessageMedia", http.MethodGet, "/sessions/{id}/messages/{messageId}/media", tagMessages, "Download media",
		"The attachment of a received message: the file itself, with its type in Content-Type (image/jpeg, audio/ogg, application/pdf...) "+
			"and, for documents, its name in Content-Disposition.", 0), notFound, notImplemented)
	download.Responses = map[string]*huma.Response{"200": {
		Description: "The attachment's bytes.",
		Headers: map[string]*huma.Param{
			"Content-Type":        {Description: "The attachment's MIME type.", Schema: &huma.Schema{Type: huma.TypeString}},
			"Content-Disposition": {Description: "attachment; filename=..., when the attachment has a name.", Schema: &huma.Schema{Type: huma.TypeString}},
		},
		Content: map[string]*huma.MediaType{"*/*": {Schema: &huma.Schema{Type: huma.TypeString, Format: "binary"}}},
	}}
	huma.Register(api, download, httpserver.Handle(h.Errors, h.downloadMedia))
	huma.Register(api, withErrors(op("sendPresence", http.MethodPost, "/sessions/{id}/presence", tagMessages, "Show typing or presence",
		"Shows typing, recording or paused in a chat, or the session as available or unavailable.", http.StatusNoContent), notFound, conflict, notImplemented),
		httpserver.Handle(h.Errors, h.sendPresence))
}

func (h *Handlers) sendMessage(ctx context.Context, in *sendInput) (*messageOutput, error) {
	provider, err := h.Channels.For(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	if err := provider.ValidateAddress(in.Body.To); err != nil {
		return nil, invalidField("body.to", in.Body.To, err)
	}
	info := provider.Info()
	if len(info.MessageTypes) == 0 {
		// A remote channel knows its limits once it reached its gateway.
		return nil, fmt.Errorf("channel %s has not reported what it can send yet: %w", info.Channel, core.ErrUnavailable)
	}
	if !slices.Contains(info.MessageTypes, in.Body.Type) {
		return nil, huma.Error422UnprocessableEntity("validation failed", &huma.ErrorDetail{Location: "body.type", Value: in.Body.Type,
			Message: fmt.Sprintf("channel %s cannot send %s messages", info.Channel, in.Body.Type)})
	}
	if len(in.Body.Text) > info.MaxTextLength && info.MaxTextLength > 0 {
		return nil, huma.Error422UnprocessableEntity("validation failed", &huma.ErrorDetail{Location: "body.text",
			Message: fmt.Sprintf("longer than the channel's %d characters", info.MaxTextLength)})
	}
	if in.Body.Media != nil && info.MaxMediaBytes > 0 && int64(len(in.Body.Media.Data)) > info.MaxMediaBytes {
		return nil, huma.Error422UnprocessableEntity("validation failed", &huma.ErrorDetail{Location: "body.media.data",
			Message: fmt.Sprintf("larger than the channel's %d bytes", info.MaxMediaBytes)})
	}
	req := pipeline.AcceptRequest{Session: in.ID, Message: in.Body.outgoing(), IdempotencyKey: in.IdempotencyKey}
	if checker, ok := provider.(core.SendChecker); ok {
		// What only the channel knows (a closed conversation window, a template's parameters).
		if err := checker.CheckSend(ctx, in.ID, req.Message); err != nil {
			if errors.Is(err, core.ErrInvalid) {
				return nil, invalidField("body", nil, err)
			}
			return nil, err
		}
	}
	if m := req.Message.Media; m != nil && m.URL != "" {
		// Fetched now: a bad URL is refused at once, and the send never waits on it.
		if err := h.fetchMedia(ctx, in.ID, m, info.MaxMediaBytes); err != nil {
			return nil, err
		}
	}
	if in.IdempotencyKey != "" {
		// The hash is of the decoded request, so formatting and field order do not matter.
		canonical, err := json.Marshal(in.Body)
		if err != nil {
			return nil, fmt.Errorf("encode request: %w", err)
		}
		sum := sha256.Sum256(canonical)
		req.RequestHash = hex.EncodeToString(sum[:])
	}
	m, _, err := h.Pipeline.Accept(ctx, req)
	if err != nil {
		return nil, err
	}
	return &messageOutput{Location: fmt.Sprintf("%s/sessions/%s/messages/%s", Prefix, in.ID, m.ID), Body: messageView(m)}, nil
}

// fetchMedia replaces an attachment's URL with its content, within limit bytes. A failure is a
// 422 naming the reason (refused by the SSRF policy, unreachable, not 200, too large).
func (h *Handlers) fetchMedia(ctx context.Context, session core.SessionID, m *core.Media, limit int64) error {
	if err := h.Store.SessionExists(ctx, session); err != nil {
		return err // no fetch for a session that does not exist
	}
	got, err := h.Media.Fetch(ctx, m.URL, limit)
	if err != nil {
		return huma.Error422UnprocessableEntity("validation failed", &huma.ErrorDetail{Location: "body.media.url", Value: m.URL,
			Message: strings.TrimPrefix(err.Error(), core.ErrInvalid.Error()+": ")})
	}
	m.Data, m.URL = got.Data, ""
	if m.MimeType == "" {
		m.MimeType = got.MimeType
	}
	if m.FileName == "" {
		m.FileName = got.FileName
	}
	return nil
}

func (h *Handlers) listMessages(ctx context.Context, in *listMessagesInput) (*messagesOutput, error) {
	if err := h.Store.SessionExists(ctx, in.ID); err != nil {
		return nil, err
	}
	page, err := h.Store.ListMessages(ctx, in.ID, store.MessageFilter{ChatID: core.ChatID(in.ChatID), Direction: core.Direction(in.Direction),
		Status: core.MessageStatus(in.Status), Since: in.Since, Until: in.Until, Cursor: in.Cursor, Limit: in.Limit})
	if err != nil {
		return nil, err
	}
	out := &messagesOutput{}
	out.Body.Messages = make([]Message, 0, len(page.Messages))
	for _, m := range page.Messages {
		out.Body.Messages = append(out.Body.Messages, messageView(m))
	}
	out.Body.NextCursor = page.NextCursor
	return out, nil
}

func (h *Handlers) getMessage(ctx context.Context, in *MessagePath) (*messageOutput, error) {
	m, err := h.Store.Message(ctx, in.ID, in.MessageID)
	if err != nil {
		return nil, err
	}
	return &messageOutput{Body: messageView(m)}, nil
}

func (h *Handlers) editMessage(ctx context.Context, in *editInput) (*messageOutput, error) {
	ed, err := capability[core.MessageEditor](ctx, h.Channels, in.ID, core.CapabilityEdit)
	if err != nil {
		return nil, err
	}
	m, err := h.ownSent(ctx, in.ID, in.MessageID)
	if err != nil {
		return nil, err
	}
	if err := ed.EditMessage(ctx, in.ID, m.ChatID, m.ID, in.Body.Text); err != nil {
		return nil, err
	}
	if _, err := h.Store.ApplyEdit(ctx, in.ID, m.ID, in.Body.Text, time.Now()); err != nil {
		return nil, err
	}
	m, err = h.Store.Message(ctx, in.ID, m.ID)
	if err != nil {
		return nil, err
	}
	return &messageOutput{Body: messageView(m)}, nil
}

func (h *Handlers) revokeMessage(ctx context.Context, in *MessagePath) (*emptyOutput, error) {
	rv, err := capability[core.MessageRevoker](ctx, h.Channels, in.ID, core.CapabilityRevoke)
	if err != nil {
		return nil, err
	}
	m, err := h.ownSent(ctx, in.ID, in.MessageID)
	if err != nil {
		return nil, err
	}
	if err := rv.RevokeMessage(ctx, in.ID, m.ChatID, m.ID); err != nil {
		return nil, err
	}
	if err := h.Store.ApplyRevoke(ctx, in.ID, m.ID, time.Now()); err != nil {
		return nil, err
	}
	return &emptyOutput{}, nil
}

// ownSent returns a message this session sent and the network has; edits and revokes need both.
func (h *Handlers) ownSent(ctx context.Context, session core.SessionID, id core.MessageID) (store.Message, error) {
	m, err := h.Store.Message(ctx, session, id)
	if err != nil {
		return store.Message{}, err
	}
	if m.Direction != core.DirectionOut {
		return store.Message{}, fmt.Errorf("message %s was not sent by this session: %w", id, core.ErrConflict)
	}
	if m.Status == core.MessageStatusQueued || m.Status == core.MessageStatusFailed {
		return store.Message{}, fmt.Errorf("message %s is %s, not sent: %w", id, m.Status, core.ErrConflict)
	}
	return m, nil
}

func (h *Handlers) react(ctx context.Context, in *reactInput) (*messageOutput, error) {
	provider, err := h.Channels.For(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	if info := provider.Info(); !slices.Contains(info.MessageTypes, core.MessageReaction) {
		return nil, huma.Error422UnprocessableEntity(fmt.Sprintf("channel %s cannot send reactions", info.Channel))
	}
	target, err := h.Store.Message(ctx, in.ID, in.MessageID)
	if err != nil {
		return nil, err
	}
	m, _, err := h.Pipeline.Accept(ctx, pipeline.AcceptRequest{Session: in.ID, Message: core.OutgoingMessage{
		To: string(target.ChatID), Type: core.MessageReaction, Reaction: &core.Reaction{MessageID: target.ID, Emoji: in.Body.Emoji},
	}})
	if err != nil {
		return nil, err
	}
	return &messageOutput{Location: fmt.Sprintf("%s/sessions/%s/messages/%s", Prefix, in.ID, m.ID), Body: messageView(m)}, nil
}

func (h *Handlers) markRead(ctx context.Context, in *MessagePath) (*emptyOutput, error) {
	rm, err := capability[core.ReadMarker](ctx, h.Channels, in.ID, core.CapabilityMarkRead)
	if err != nil {
		return nil, err
	}
	m, err := h.Store.Message(ctx, in.ID, in.MessageID)
	if err != nil {
		return nil, err
	}
	if m.Direction != core.DirectionIn {
		return nil, fmt.Errorf("message %s is outgoing; only received messages are marked read: %w", m.ID, core.ErrConflict)
	}
	if err := rm.MarkRead(ctx, in.ID, m.ChatID, []core.MessageID{m.ID}); err != nil {
		return nil, err
	}
	if _, err := h.Store.ApplyAck(ctx, in.ID, m.ID, core.AckRead, time.Now()); err != nil {
		return nil, err
	}
	return &emptyOutput{}, nil
}

func (h *Handlers) downloadMedia(ctx context.Context, in *MessagePath) (*mediaOutput, error) {
	md, err := capability[core.MediaDownloader](ctx, h.Channels, in.ID, core.CapabilityMedia)
	if err != nil {
		return nil, err
	}
	if _, err := h.Store.Message(ctx, in.ID, in.MessageID); err != nil {
		return nil, err
	}
	media, err := md.DownloadMedia(ctx, in.ID, in.MessageID)
	if err != nil {
		return nil, err
	}
	ct := media.MimeType
	if ct == "" {
		ct = "application/octet-stream"
	}
	out := &mediaOutput{ContentType: ct, Body: media.Data}
	if media.FileName != "" {
		out.ContentDisposition = mime.FormatMediaType("attachment", map[string]string{"filename": media.FileName})
	}
	return out, nil
}

func (h *Handlers) sendPresence(ctx context.Context, in *presenceInput) (*emptyOutput, error) {
	provider, err := h.Channels.For(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	ps, err := core.As[core.PresenceSender](provider, core.CapabilityPresence)
	if err != nil {
		return nil, err
	}
	if err := provider.ValidateAddress(in.Body.ChatID); err != nil {
		return nil, invalidField("body.chatId", in.Body.ChatID, err)
	}
	if err := ps.SendPresence(ctx, in.ID, core.ChatID(in.Body.ChatID), in.Body.Presence); err != nil {
		return nil, err
	}
	return &emptyOutput{}, nil
}
