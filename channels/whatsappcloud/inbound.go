package whatsappcloud

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/28web/hub/channels/core"
	"github.com/28web/hub/platform/log"
)

// Notification is the body of a Cloud API webhook POST (only the parts the channel reads).
type Notification struct {
	Object string              `json:"object" example:"whatsapp_business_account"`
	Entry  []NotificationEntry `json:"entry"`
}

// NotificationEntry is one business account's changes.
type NotificationEntry struct {
	ID      string               `json:"id" doc:"The WhatsApp Business Account id."`
	Changes []NotificationChange `json:"changes"`
}

// NotificationChange is one change; the channel reads field "messages".
type NotificationChange struct {
	Field string            `json:"field" example:"messages"`
	Value NotificationValue `json:"value"`
}

// NotificationValue holds incoming messages and statuses of sent ones.
type NotificationValue struct {
	MessagingProduct string                `json:"messaging_product" example:"whatsapp"`
	Metadata         NotificationMetadata  `json:"metadata"`
	Contacts         []NotificationContact `json:"contacts,omitempty"`
	Messages         []InboundMessage      `json:"messages,omitempty"`
	Statuses         []Status              `json:"statuses,omitempty"`
}

// NotificationMetadata names the business number the notification is for.
type NotificationMetadata struct {
	DisplayPhoneNumber string `json:"display_phone_number"`
	PhoneNumberID      string `json:"phone_number_id"`
}

// NotificationContact is the profile of a customer who wrote.
type NotificationContact struct {
	Profile NotificationProfile `json:"profile"`
	WaID    string              `json:"wa_id"`
}

// NotificationProfile is a customer's chosen name.
type NotificationProfile struct {
	Name string `json:"name"`
}

// InboundMessage is a customer's message.
type InboundMessage struct {
	From        string              `json:"from"`
	ID          string              `json:"id"`
	Timestamp   string              `json:"timestamp" doc:"Unix seconds."`
	Type        string              `json:"type"`
	Text        *InboundText        `json:"text,omitempty"`
	Image       *InboundMedia       `json:"image,omitempty"`
	Video       *InboundMedia       `json:"video,omitempty"`
	Audio       *InboundMedia       `json:"audio,omitempty"`
	Document    *InboundMedia       `json:"document,omitempty"`
	Sticker     *InboundMedia       `json:"sticker,omitempty"`
	Location    *InboundLocation    `json:"location,omitempty"`
	Reaction    *InboundReaction    `json:"reaction,omitempty"`
	Interactive *InboundInteractive `json:"interactive,omitempty"`
	Button      *InboundButton      `json:"button,omitempty"`
	Context     *InboundContext     `json:"context,omitempty"`
}

// InboundText is a text message's body.
type InboundText struct {
	Body string `json:"body"`
}

// InboundMedia is an attachment of a customer's message.
type InboundMedia struct {
	ID       string `json:"id"`
	MimeType string `json:"mime_type"`
	SHA256   string `json:"sha256,omitempty"`
	Caption  string `json:"caption,omitempty"`
	Filename string `json:"filename,omitempty"`
}

// InboundLocation is a shared location.
type InboundLocation struct {
	Latitude  float64 `json:"latitude"`
	Longitude float64 `json:"longitude"`
	Name      string  `json:"name,omitempty"`
	Address   string  `json:"address,omitempty"`
}

// InboundReaction is a customer's reaction to a message.
type InboundReaction struct {
	MessageID string `json:"message_id"`
	Emoji     string `json:"emoji"`
}

// InboundInteractive is a tapped reply button or list row.
type InboundInteractive struct {
	Type        string        `json:"type"`
	ButtonReply *InboundReply `json:"button_reply,omitempty"`
	ListReply   *InboundReply `json:"list_reply,omitempty"`
}

// InboundReply is the button or row a customer picked.
type InboundReply struct {
	ID          string `json:"id"`
	Title       string `json:"title"`
	Description string `json:"description,omitempty"`
}

// InboundButton is a tapped quick-reply button of a template.
type InboundButton struct {
	Payload string `json:"payload"`
	Text    string `json:"text"`
}

// InboundContext says which message a reply answers.
type InboundContext struct {
	From string `json:"from"`
	ID   string `json:"id"`
}

// Status is the delivery state of a sent message.
type Status struct {
	ID          string        `json:"id"`
	Status      string        `json:"status" enum:"sent,delivered,read,failed"`
	Timestamp   string        `json:"timestamp"`
	RecipientID string        `json:"recipient_id"`
	Errors      []StatusError `json:"errors,omitempty"`
}

// StatusError says why a message failed.
type StatusError struct {
	Code      int             `json:"code"`
	Title     string          `json:"title"`
	Message   string          `json:"message,omitempty"`
	ErrorData StatusErrorData `json:"error_data"`
}

// StatusErrorData details a failure.
type StatusErrorData struct {
	Details string `json:"details"`
}

// poke wakes the notification processor.
func (p *Provider) poke() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// processLoop applies stored notifications in the order they arrived; one that fails (the bus
// is down) stays stored and is tried again, with the ones after it waiting behind it.
func (p *Provider) processLoop(ctx context.Context) {
	defer close(p.done)
	const idle, maxBackoff = 30 * time.Second, 30 * time.Second
	backoff := 100 * time.Millisecond
	lastPrune := time.Time{}
	for {
		failed := p.processPending(ctx)
		if ctx.Err() != nil {
			return
		}
		wait := idle
		if failed {
			wait = backoff
			backoff = min(2*backoff, maxBackoff)
		} else {
			backoff = 100 * time.Millisecond
		}
		if time.Since(lastPrune) > time.Hour {
			if err := p.repo.pruneNotifications(ctx, time.Now().Add(-7*24*time.Hour)); err != nil && ctx.Err() == nil {
				p.logger.Warn("prune processed notifications", log.ErrorAttr(err))
			}
			lastPrune = time.Now()
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-p.wake:
			t.Stop()
		case <-t.C:
		}
	}
}

// processPending applies every pending notification; it reports whether one failed.
func (p *Provider) processPending(ctx context.Context) (failed bool) {
	for {
		rows, err := p.repo.pendingNotifications(ctx, 100)
		if err != nil {
			if ctx.Err() == nil {
				p.logger.Warn("load pending notifications", log.ErrorAttr(err))
			}
			return true
		}
		if len(rows) == 0 {
			return false
		}
		for _, row := range rows {
			if err := p.apply(ctx, row); err != nil {
				if ctx.Err() != nil {
					return true
				}
				p.logger.Warn("process notification; will retry", slog.String(log.SessionKey, string(row.SessionID)),
					slog.String("digest", row.Digest), slog.Int("attempts", row.Attempts+1), log.ErrorAttr(err))
				_ = p.repo.countAttempt(ctx, row.SessionID, row.Digest)
				return true
			}
			if err := p.repo.markProcessed(ctx, row.SessionID, row.Digest); err != nil {
				p.logger.Warn("mark notification processed", log.ErrorAttr(err))
				return true
			}
		}
	}
}

// apply turns one notification into events. Event ids derive from the wamids, so applying a
// notification again (a crash before it was marked processed, a replay with another body)
// yields the same events, which consumers deduplicate.
func (p *Provider) apply(ctx context.Context, row notificationRow) error {
	s, err := p.session(row.SessionID)
	if err != nil {
		return nil // deleted since: nothing to report to
	}
	var n Notification
	if err := json.Unmarshal(row.Body, &n); err != nil {
		// Signed by Meta yet unreadable: it will never be readable; keep it stored for inspection.
		p.logger.Error("undecodable notification skipped", slog.String(log.SessionKey, string(s.id)), slog.String("digest", row.Digest), log.ErrorAttr(err))
		return nil
	}
	for _, entry := range n.Entry {
		for _, change := range entry.Changes {
			if change.Field != "messages" {
				continue
			}
			v := change.Value
			if v.Metadata.PhoneNumberID != "" && v.Metadata.PhoneNumberID != s.phoneNumberID {
				p.logger.Warn("notification for another phone number skipped", slog.String(log.SessionKey, string(s.id)),
					slog.String("phoneNumberId", v.Metadata.PhoneNumberID))
				continue
			}
			names := map[string]string{}
			for _, c := range v.Contacts {
				names[c.WaID] = c.Profile.Name
			}
			for _, m := range v.Messages {
				if err := p.applyMessage(ctx, s, m, names[m.From]); err != nil {
					return err
				}
			}
			for _, st := range v.Statuses {
				if err := p.applyStatus(ctx, s, st); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func unixTime(s string) time.Time {
	sec, err := strconv.ParseInt(s, 10, 64)
	if err != nil || sec <= 0 {
		return time.Now().UTC()
	}
	return time.Unix(sec, 0).UTC()
}

func (p *Provider) applyMessage(ctx context.Context, s *session, m InboundMessage, pushName string) error {
	if m.ID == "" || m.From == "" {
		return nil
	}
	at := unixTime(m.Timestamp)
	chat := chatOf(m.From)
	ev := &core.MessageEvent{ID: core.MessageID(m.ID), ChatID: chat, From: chat, To: s.account, PushName: pushName, Timestamp: at,
		Type: core.MessageUnknown}
	if m.Context != nil && m.Context.ID != "" {
		ev.QuotedMessageID = p.coreIDOf(ctx, s.id, m.Context.ID)
	}
	var media *InboundMedia
	switch m.Type {
	case "text":
		if m.Text != nil {
			ev.Type, ev.Body = core.MessageText, m.Text.Body
		}
	case "image", "video", "audio", "document", "sticker":
		media = map[string]*InboundMedia{"image": m.Image, "video": m.Video, "audio": m.Audio, "document": m.Document, "sticker": m.Sticker}[m.Type]
		if media != nil {
			ev.Type, ev.Body, ev.HasMedia = core.MessageType(m.Type), media.Caption, true
			ev.Media = &core.MediaInfo{MimeType: media.MimeType, FileName: media.Filename, Caption: media.Caption}
		}
	case "location":
		if m.Location != nil {
			ev.Type = core.MessageLocation
			ev.Location = &core.Location{Latitude: m.Location.Latitude, Longitude: m.Location.Longitude, Name: m.Location.Name, Address: m.Location.Address}
		}
	case "reaction":
		if m.Reaction != nil {
			ev.Type = core.MessageReaction
			ev.Reaction = &core.Reaction{MessageID: p.coreIDOf(ctx, s.id, m.Reaction.MessageID), Emoji: m.Reaction.Emoji}
			ev.Body = m.Reaction.Emoji
		}
	case "interactive":
		// A tapped reply button or list row: its title is the text the customer saw themselves send.
		if in := m.Interactive; in != nil {
			ev.Type = core.MessageText
			switch {
			case in.ButtonReply != nil:
				ev.Body = in.ButtonReply.Title
			case in.ListReply != nil:
				ev.Body = in.ListReply.Title
			}
		}
	case "button":
		if m.Button != nil {
			ev.Type, ev.Body = core.MessageText, m.Button.Text
		}
	}
	if media != nil && media.ID != "" {
		if err := p.repo.putMedia(ctx, mediaRow{SessionID: s.id, MessageID: ev.ID, MediaID: media.ID, MimeType: media.MimeType}); err != nil {
			return err
		}
	}
	if err := p.repo.customerWrote(ctx, s.id, m.From, m.ID, at); err != nil {
		return err
	}
	for _, kind := range []core.EventType{core.EventMessage, core.EventMessageCreate} {
		data := *ev
		data.Kind = kind
		e := core.Event{ID: core.DerivedEventID(s.id, kind, m.ID), SessionID: s.id, Type: kind, Timestamp: at, Data: &data}
		if err := p.sink.Publish(ctx, e); err != nil {
			return fmt.Errorf("publish %s %s: %w", kind, m.ID, err)
		}
	}
	return nil
}

// coreIDOf is the core's id of a message the Graph API names by wamid.
func (p *Provider) coreIDOf(ctx context.Context, session core.SessionID, wamid string) core.MessageID {
	if row, err := p.repo.byWAMID(ctx, session, wamid); err == nil {
		return row.MessageID
	}
	return core.MessageID(wamid)
}

func (p *Provider) applyStatus(ctx context.Context, s *session, st Status) error {
	row, err := p.repo.byWAMID(ctx, s.id, st.ID)
	if errors.Is(err, core.ErrNotFound) {
		// Perhaps sent a moment ago and not recorded yet: wait for the sends in flight.
		s.inFlight.Lock()
		//lint:ignore SA2001 an empty critical section on purpose: a barrier behind the sends in flight
		s.inFlight.Unlock()
		row, err = p.repo.byWAMID(ctx, s.id, st.ID)
	}
	if errors.Is(err, core.ErrNotFound) {
		// Sent by another client of the same number: not this gateway's to report.
		p.logger.Debug("status of an unknown message", slog.String(log.SessionKey, string(s.id)), slog.String("wamid", st.ID))
		return nil
	}
	if err != nil {
		return err
	}
	chat := chatOf(row.WaID)
	var data core.EventData
	var kind core.EventType
	switch strings.ToLower(st.Status) {
	case "delivered":
		kind, data = core.EventMessageAck, &core.MessageAckEvent{ID: row.MessageID, ChatID: chat, Ack: core.AckReceived}
	case "read":
		kind, data = core.EventMessageAck, &core.MessageAckEvent{ID: row.MessageID, ChatID: chat, Ack: core.AckRead}
	case "failed":
		cause := statusError(0, "failed", "")
		if len(st.Errors) > 0 {
			e := st.Errors[0]
			cause = statusError(e.Code, e.Title, e.ErrorData.Details)
		}
		kind, data = core.EventMessageFailed, &core.MessageFailedEvent{ID: row.MessageID, To: string(chat), Error: cause.Error(),
			ErrorType: core.ProblemTypeOf(cause), Attempts: 1}
	default:
		return nil // "sent": the send queue recorded it when the API accepted the message
	}
	e := core.Event{ID: core.DerivedEventID(s.id, kind, st.ID+"/"+st.Status), SessionID: s.id, Type: kind, Timestamp: unixTime(st.Timestamp), Data: data}
	if err := p.sink.Publish(ctx, e); err != nil {
		return fmt.Errorf("publish %s of %s: %w", st.Status, row.MessageID, err)
	}
	return nil
}
