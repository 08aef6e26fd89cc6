package whatsappcloud

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/28web/hub/channels/core"
)

// CheckSend refuses at accept time what the Cloud API would refuse after accepting it: a
// free-form message outside the customer-service window, or a template that does not exist, is
// not approved, or gets the wrong number of parameters.
func (p *Provider) CheckSend(ctx context.Context, id core.SessionID, msg core.OutgoingMessage) error {
	s, err := p.session(id)
	if err != nil {
		return err
	}
	if msg.Type == core.MessageTemplate {
		if msg.Template == nil {
			return fmt.Errorf("%w: template message without template", core.ErrInvalid)
		}
		return p.checkTemplate(ctx, s, msg.Template)
	}
	return p.checkWindow(ctx, s, waIDOf(msg.To))
}

// checkWindow says whether free-form messages may go to the customer now.
func (p *Provider) checkWindow(ctx context.Context, s *session, waID string) error {
	c, err := p.repo.customer(ctx, s.id, waID)
	if errors.Is(err, core.ErrNotFound) {
		return fmt.Errorf("%w: %s never wrote to this number, so only a template message can start the conversation", core.ErrInvalid, waID)
	}
	if err != nil {
		return fmt.Errorf("%w: %w", core.ErrUnavailable, err)
	}
	if closed := c.LastInboundAt.Add(p.cfg.ConversationWindow); p.now().After(closed) {
		return fmt.Errorf("%w: %s last wrote at %s; the %s customer-service window closed at %s, so only a template message can reopen it",
			core.ErrInvalid, waID, c.LastInboundAt.UTC().Format(time.RFC3339), p.cfg.ConversationWindow, closed.UTC().Format(time.RFC3339))
	}
	return nil
}

// MarkRead sends read receipts for received messages (their ids are their wamids).
func (p *Provider) MarkRead(ctx context.Context, id core.SessionID, _ core.ChatID, msgs []core.MessageID) error {
	s, err := p.session(id)
	if err != nil {
		return err
	}
	for _, m := range msgs {
		if err := p.graph.markRead(ctx, s.token, s.phoneNumberID, string(m), false); err != nil {
			p.noteAuthFailure(ctx, s, err)
			return fmt.Errorf("mark %s read: %w", m, err)
		}
	}
	return nil
}

// SendPresence shows the typing indicator in a chat. The Cloud API shows it only as part of a
// read receipt of the customer's last message (which it marks read) and knows no other presence.
func (p *Provider) SendPresence(ctx context.Context, id core.SessionID, chat core.ChatID, presence core.Presence) error {
	s, err := p.session(id)
	if err != nil {
		return err
	}
	if presence != core.PresenceTyping {
		return fmt.Errorf("%w: the Cloud API shows only typing, not %s", core.ErrInvalid, presence)
	}
	c, err := p.repo.customer(ctx, id, waIDOf(string(chat)))
	if errors.Is(err, core.ErrNotFound) {
		return fmt.Errorf("%w: the typing indicator answers a customer's message, and %s never wrote", core.ErrInvalid, chat)
	}
	if err != nil {
		return fmt.Errorf("%w: %w", core.ErrUnavailable, err)
	}
	if err := p.graph.markRead(ctx, s.token, s.phoneNumberID, c.LastWAMID, true); err != nil {
		p.noteAuthFailure(ctx, s, err)
		return fmt.Errorf("typing indicator: %w", err)
	}
	return nil
}

// DownloadMedia fetches the attachment of a received message from the Graph API.
func (p *Provider) DownloadMedia(ctx context.Context, id core.SessionID, msg core.MessageID) (core.DownloadedMedia, error) {
	s, err := p.session(id)
	if err != nil {
		return core.DownloadedMedia{}, err
	}
	m, err := p.repo.media(ctx, id, msg)
	if err != nil {
		return core.DownloadedMedia{}, err
	}
	got, err := p.graph.downloadMedia(ctx, s.token, m.MediaID)
	if err != nil {
		p.noteAuthFailure(ctx, s, err)
		return core.DownloadedMedia{}, fmt.Errorf("download media of %s: %w", msg, err)
	}
	if got.MimeType == "" {
		got.MimeType = m.MimeType
	}
	return got, nil
}
