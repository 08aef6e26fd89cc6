package whatsappcloud

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/28web/hub/channels/core"
	"github.com/28web/hub/platform/log"
)

// SendMessage sends one message through the Graph API. The core's id of the message is mapped
// to the wamid the API assigns; sending an id again returns the first send's result without a
// second message. (A crash between the API's answer and recording the wamid is the one window in
// which a retry sends twice: the Graph API takes no idempotency key.)
func (p *Provider) SendMessage(ctx context.Context, id core.SessionID, msg core.OutgoingMessage) (core.SendResult, error) {
	s, err := p.session(id)
	if err != nil {
		return core.SendResult{}, err
	}
	if !s.connected() {
		return core.SendResult{}, fmt.Errorf("session %s is %s: %w", id, s.snapshot().Status, core.ErrNotConnected)
	}
	if err := p.ValidateAddress(msg.To); err != nil {
		return core.SendResult{}, err
	}
	waID := waIDOf(msg.To)
	if msg.ID != "" {
		if row, err := p.repo.sent(ctx, id, msg.ID); err == nil {
			res := core.SendResult{ID: msg.ID, ChatID: chatOf(row.WaID), Timestamp: row.CreatedAt}
			p.announceSent(ctx, s, msg, res)
			return res, nil
		} else if !errors.Is(err, core.ErrNotFound) {
			return core.SendResult{}, fmt.Errorf("%w: %w", core.ErrUnavailable, err)
		}
	}
	if msg.Type != core.MessageTemplate {
		// The window may have closed while the message waited in the queue.
		if err := p.checkWindow(ctx, s, waID); err != nil {
			return core.SendResult{}, err
		}
	}
	if err := p.waitThroughput(ctx, s); err != nil {
		return core.SendResult{}, err
	}
	if wait := s.pairWait(waID, p.now()); wait > 0 {
		return core.SendResult{}, fmt.Errorf("pair rate limit of %s reached (next in %s): %w", waID, wait.Round(time.Millisecond), core.ErrUnavailable)
	}
	payload, err := p.payload(ctx, s, waID, msg)
	if err != nil {
		return core.SendResult{}, err
	}
	s.inFlight.RLock()
	out, err := p.graph.send(ctx, s.token, s.phoneNumberID, payload)
	if err != nil {
		s.inFlight.RUnlock()
		p.noteAuthFailure(ctx, s, err)
		return core.SendResult{}, fmt.Errorf("send %s to %s: %w", msg.Type, waID, err)
	}
	wamid := out.Messages[0].ID
	if len(out.Contacts) > 0 && out.Contacts[0].WaID != "" {
		waID = out.Contacts[0].WaID
	}
	coreID := msg.ID
	if coreID == "" {
		coreID = core.MessageID(wamid)
	}
	err = p.repo.recordSent(ctx, messageRow{SessionID: id, MessageID: coreID, WAMID: wamid, WaID: waID})
	s.inFlight.RUnlock()
	if err != nil {
		// Sent, but its statuses cannot be matched: report it rather than send it again.
		p.logger.Error("record sent message; its statuses will not be matched", slog.String(log.SessionKey, string(id)),
			slog.String("messageId", string(coreID)), log.ErrorAttr(err))
	}
	res := core.SendResult{ID: coreID, ChatID: chatOf(waID), Timestamp: p.now().UTC()}
	p.announceSent(ctx, s, msg, res)
	return res, nil
}

// announceSent reports a sent message as message_create (the same event id for a resend).
func (p *Provider) announceSent(ctx context.Context, s *session, msg core.OutgoingMessage, res core.SendResult) {
	ev := &core.MessageEvent{Kind: core.EventMessageCreate, ID: res.ID, ChatID: res.ChatID, From: s.account, To: res.ChatID, FromMe: true,
		Type: msg.Type, Body: bodyOf(msg), Timestamp: res.Timestamp, HasMedia: msg.Type.IsMedia(), QuotedMessageID: msg.QuotedMessageID,
		Location: msg.Location, Contact: msg.Contact, Reaction: msg.Reaction}
	if msg.Media != nil {
		ev.Media = &core.MediaInfo{MimeType: msg.Media.MimeType, FileName: msg.Media.FileName, Size: int64(len(msg.Media.Data)), Caption: msg.Text}
	}
	e := core.Event{ID: core.DerivedEventID(s.id, core.EventMessageCreate, string(res.ID)), SessionID: s.id, Type: core.EventMessageCreate,
		Timestamp: res.Timestamp, Data: ev}
	if err := p.sink.Publish(ctx, e); err != nil {
		p.logger.Warn("publish message_create of a sent message", slog.String(log.SessionKey, string(s.id)), log.ErrorAttr(err))
	}
}

func bodyOf(msg core.OutgoingMessage) string {
	switch {
	case msg.Interactive != nil:
		return msg.Interactive.Body
	case msg.Template != nil:
		return msg.Template.Name
	}
	return msg.Text
}

// noteAuthFailure fails the session when the Graph API refuses its token: every later call would
// be refused too, and the operator must create the session again with a new token.
func (p *Provider) noteAuthFailure(ctx context.Context, s *session, err error) {
	var ge *GraphError
	if errors.As(err, &ge) && ge.Code == codeAccessToken {
		if serr := p.setStatus(ctx, s, core.StatusFailed, "access token refused by the Graph API"); serr != nil {
			p.logger.Warn("record failed session", slog.String(log.SessionKey, string(s.id)), log.ErrorAttr(serr))
		}
	}
}

// waitThroughput waits for the number's next send slot (a short wait: Throughput per second).
func (p *Provider) waitThroughput(ctx context.Context, s *session) error {
	for {
		wait := s.throughputWait(p.now())
		if wait <= 0 {
			return nil
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// wamidOf is the Graph id of a message the core names id: the wamid of one this channel sent, or
// the id itself (received messages keep their wamid as id).
func (p *Provider) wamidOf(ctx context.Context, session core.SessionID, id core.MessageID) (string, error) {
	row, err := p.repo.sent(ctx, session, id)
	if err == nil {
		return row.WAMID, nil
	}
	if errors.Is(err, core.ErrNotFound) {
		return string(id), nil
	}
	return "", fmt.Errorf("%w: %w", core.ErrUnavailable, err)
}

// payload is the Graph API body of msg. Attachments are uploaded first and sent by media id.
func (p *Provider) payload(ctx context.Context, s *session, waID string, msg core.OutgoingMessage) (map[string]any, error) {
	body := map[string]any{"messaging_product": "whatsapp", "recipient_type": "individual", "to": waID, "type": string(msg.Type)}
	if msg.QuotedMessageID != "" {
		wamid, err := p.wamidOf(ctx, s.id, msg.QuotedMessageID)
		if err != nil {
			return nil, err
		}
		body["context"] = map[string]string{"message_id": wamid}
	}
	switch msg.Type {
	case core.MessageText:
		body["text"] = map[string]any{"body": msg.Text, "preview_url": msg.LinkPreview}
	case core.MessageImage, core.MessageVideo, core.MessageAudio, core.MessageDocument, core.MessageSticker:
		if msg.Media == nil || len(msg.Media.Data) == 0 {
			return nil, fmt.Errorf("%w: %s message without media", core.ErrInvalid, msg.Type)
		}
		mediaID, err := p.graph.uploadMedia(ctx, s.token, s.phoneNumberID, msg.Media.MimeType, msg.Media.FileName, msg.Media.Data)
		if err != nil {
			p.noteAuthFailure(ctx, s, err)
			return nil, fmt.Errorf("upload %s: %w", msg.Type, err)
		}
		media := map[string]any{"id": mediaID}
		if msg.Text != "" && msg.Type != core.MessageAudio && msg.Type != core.MessageSticker {
			media["caption"] = msg.Text
		}
		if msg.Type == core.MessageDocument && msg.Media.FileName != "" {
			media["filename"] = msg.Media.FileName
		}
		body[string(msg.Type)] = media
	case core.MessageLocation:
		if msg.Location == nil {
			return nil, fmt.Errorf("%w: location message without location", core.ErrInvalid)
		}
		body["location"] = map[string]any{"latitude": msg.Location.Latitude, "longitude": msg.Location.Longitude,
			"name": msg.Location.Name, "address": msg.Location.Address}
	case core.MessageContact:
		if msg.Contact == nil {
			return nil, fmt.Errorf("%w: contact message without contact", core.ErrInvalid)
		}
		body["type"] = "contacts"
		body["contacts"] = []any{contactOf(msg.Contact)}
	case core.MessageReaction:
		if msg.Reaction == nil {
			return nil, fmt.Errorf("%w: reaction message without reaction", core.ErrInvalid)
		}
		wamid, err := p.wamidOf(ctx, s.id, msg.Reaction.MessageID)
		if err != nil {
			return nil, err
		}
		body["reaction"] = map[string]string{"message_id": wamid, "emoji": msg.Reaction.Emoji}
	case core.MessageTemplate:
		if msg.Template == nil {
			return nil, fmt.Errorf("%w: template message without template", core.ErrInvalid)
		}
		body["template"] = templatePayload(msg.Template)
	case core.MessageInteractive:
		if msg.Interactive == nil {
			return nil, fmt.Errorf("%w: interactive message without interactive", core.ErrInvalid)
		}
		body["interactive"] = interactivePayload(msg.Interactive)
	default:
		return nil, &core.NotSupportedError{Channel: Channel, Capability: "send " + string(msg.Type)}
	}
	return body, nil
}

// contactOf turns a vCard into the Cloud API's structured contact: its name and TEL lines.
func contactOf(v *core.VCard) map[string]any {
	c := map[string]any{"name": map[string]string{"formatted_name": v.DisplayName, "first_name": v.DisplayName}}
	var phones []map[string]string
	for _, line := range strings.Split(strings.ReplaceAll(v.VCard, "\r\n", "\n"), "\n") {
		key, value, ok := strings.Cut(line, ":")
		if !ok || !strings.HasPrefix(strings.ToUpper(key), "TEL") {
			continue
		}
		phone := map[string]string{"phone": strings.TrimSpace(value)}
		if _, waid, ok := strings.Cut(key, "waid="); ok {
			phone["wa_id"] = strings.SplitN(waid, ";", 2)[0]
		}
		phones = append(phones, phone)
	}
	if len(phones) > 0 {
		c["phones"] = phones
	}
	return c
}

func templatePayload(t *core.TemplateMessage) map[string]any {
	out := map[string]any{"name": t.Name, "language": map[string]string{"code": t.Language}}
	var comps []map[string]any
	for _, c := range t.Components {
		comp := map[string]any{"type": c.Type}
		if c.Type == core.TemplateButton {
			comp["sub_type"] = c.SubType
			comp["index"] = strconv.Itoa(c.Index)
		}
		params := make([]map[string]any, 0, len(c.Parameters))
		for _, prm := range c.Parameters {
			switch prm.Type {
			case "payload":
				params = append(params, map[string]any{"type": "payload", "payload": prm.Payload})
			case "image", "video", "document":
				params = append(params, map[string]any{"type": prm.Type, prm.Type: map[string]string{"link": prm.MediaURL}})
			default:
				params = append(params, map[string]any{"type": "text", "text": prm.Text})
			}
		}
		comp["parameters"] = params
		comps = append(comps, comp)
	}
	if len(comps) > 0 {
		out["components"] = comps
	}
	return out
}

func interactivePayload(in *core.Interactive) map[string]any {
	out := map[string]any{"type": in.Type, "body": map[string]string{"text": in.Body}}
	if in.Header != "" {
		out["header"] = map[string]string{"type": "text", "text": in.Header}
	}
	if in.Footer != "" {
		out["footer"] = map[string]string{"text": in.Footer}
	}
	if in.Type == core.InteractiveList {
		sections := make([]map[string]any, 0, len(in.Sections))
		for _, sec := range in.Sections {
			rows := make([]map[string]string, 0, len(sec.Rows))
			for _, r := range sec.Rows {
				row := map[string]string{"id": r.ID, "title": r.Title}
				if r.Description != "" {
					row["description"] = r.Description
				}
				rows = append(rows, row)
			}
			section := map[string]any{"rows": rows}
			if sec.Title != "" {
				section["title"] = sec.Title
			}
			sections = append(sections, section)
		}
		out["action"] = map[string]any{"button": in.ListButton, "sections": sections}
		return out
	}
	buttons := make([]map[string]any, 0, len(in.Buttons))
	for _, b := range in.Buttons {
		buttons = append(buttons, map[string]any{"type": "reply", "reply": map[string]string{"id": b.ID, "title": b.Title}})
	}
	out["action"] = map[string]any{"buttons": buttons}
	return out
}
