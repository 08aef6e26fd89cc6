package cloudsim

import (
	"fmt"
	"log/slog"
	"net/http"
)

// CustomerSendText makes customer waID send text to a business phone number: it opens the 24h
// window and pushes a "messages" notification. It returns the inbound wamid.
func (s *Server) CustomerSendText(phoneNumberID, waID, text string) (string, error) {
	if text == "" {
		return "", fmt.Errorf("customer %s send: empty text: %w", waID, ErrInvalid)
	}
	return s.customerSend(phoneNumberID, waID, func(m *inboundMessage, _ *phone) error {
		m.Type, m.Text = "text", &textBody{Body: text}
		return nil
	})
}

// CustomerSendImage is CustomerSendText for an image: the bytes become media of the business
// (downloadable through GET /{media-id}); an empty mime is sniffed from data.
func (s *Server) CustomerSendImage(phoneNumberID, waID string, data []byte, mime, caption string) (string, error) {
	if len(data) == 0 {
		return "", fmt.Errorf("customer %s send image: no data: %w", waID, ErrInvalid)
	}
	if mime == "" {
		mime = http.DetectContentType(data)
	}
	return s.customerSend(phoneNumberID, waID, func(m *inboundMessage, p *phone) error {
		media := s.storeMediaLocked(p.waba, mime, data)
		m.Type = "image"
		m.Image = &inboundMedia{ID: media.id, MimeType: mime, SHA256: media.sha256, Caption: caption}
		return nil
	})
}

// CustomerReply sends text quoting contextWamid, a message of this conversation in either
// direction; context.from is the business number or the customer, whoever sent it.
func (s *Server) CustomerReply(phoneNumberID, waID, text, contextWamid string) (string, error) {
	if text == "" {
		return "", fmt.Errorf("customer %s reply: empty text: %w", waID, ErrInvalid)
	}
	return s.customerSend(phoneNumberID, waID, func(m *inboundMessage, p *phone) error {
		rec := s.messages[contextWamid]
		if rec == nil || rec.phoneID != p.id || rec.waID != waID {
			return fmt.Errorf("customer %s reply: context message %s: %w", waID, contextWamid, ErrNotFound)
		}
		from := digitsOf(p.display)
		if rec.inbound {
			from = waID
		}
		m.Type, m.Text = "text", &textBody{Body: text}
		m.Context = &messageContext{From: from, ID: contextWamid}
		return nil
	})
}

// customerSend records an inbound message built by fill (called under s.mu) and queues it.
func (s *Server) customerSend(phoneID, waID string, fill func(*inboundMessage, *phone) error) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.phones[phoneID]
	if p == nil {
		return "", fmt.Errorf("customer %s send: phone number %s: %w", waID, phoneID, ErrNotFound)
	}
	c := s.customers[waID]
	if c == nil {
		return "", fmt.Errorf("customer %s send: %w", waID, ErrNotFound)
	}
	now := s.now()
	m := inboundMessage{From: waID, ID: newWamid(), Timestamp: unixString(now)}
	if err := fill(&m, p); err != nil {
		return "", err
	}
	body, err := p.notificationBody(changeValue{
		Contacts: []contact{{Profile: profile{Name: c.name}, WaID: waID}},
		Messages: []inboundMessage{m},
	})
	if err != nil {
		return "", fmt.Errorf("customer %s send: %w", waID, err)
	}
	s.messages[m.ID] = &messageRecord{id: m.ID, phoneID: phoneID, waID: waID, inbound: true}
	p.lastInbound[waID] = now
	p.pusher.enqueue(false, body)
	s.log.Info("customer message", slog.String("phoneNumberId", phoneID), slog.String("waId", waID),
		slog.String("wamid", m.ID), slog.String("type", m.Type))
	return m.ID, nil
}
