// Package remote is a core.Provider that drives a gateway over its REST API with the generated Go
// client, for the hub's remote mode: the hub's code talks to core.Provider whether the WhatsApp
// channel runs in its own process or in a gateway. Events arrive from the gateway's bus (Redis
// Streams shared with the gateway) and are handed to the hub's EventSink.
package remote

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/28web/hub/channels/core"
	"github.com/28web/hub/channels/core/eventbus"
	"github.com/28web/hub/openapi/client"
	"github.com/28web/hub/platform/log"
)

// DefaultChannel is the channel a gateway runs unless told otherwise.
const DefaultChannel core.Channel = "whatsapp"

// Provider is the gateway seen through its API. Create it with New.
type Provider struct {
	channel core.Channel
	api     *client.ClientWithResponses
	events  message.Subscriber
	sink    core.EventSink
	logger  *slog.Logger

	mu     sync.Mutex
	info   core.ChannelInfo // the gateway's own, once Start read it
	cancel context.CancelFunc
	done   chan struct{}
}

var (
	_ core.Provider         = (*Provider)(nil)
	_ core.QRLogin          = (*Provider)(nil)
	_ core.PairingCodeLogin = (*Provider)(nil)
	_ core.MessageEditor    = (*Provider)(nil)
	_ core.MessageRevoker   = (*Provider)(nil)
	_ core.ReadMarker       = (*Provider)(nil)
	_ core.PresenceSender   = (*Provider)(nil)
	_ core.MediaDownloader  = (*Provider)(nil)
	_ core.ContactBook      = (*Provider)(nil)
)

// New returns a provider on the gateway that api talks to, whose sessions are of channel (empty:
// DefaultChannel). events, subscribed to the gateway's core.TopicEvents, feeds sink while the
// provider runs; nil disables event forwarding.
func New(api *client.ClientWithResponses, channel core.Channel, events message.Subscriber, sink core.EventSink, logger *slog.Logger) *Provider {
	if channel == "" {
		channel = DefaultChannel
	}
	return &Provider{channel: channel, api: api, events: events, sink: sink, logger: logger,
		info: core.ChannelInfo{Channel: channel}}
}

// Info implements core.Provider: the limits and message types the gateway reported for the
// channel when Start reached it. Before that it names the channel with no types and no limits
// (nothing is accepted yet: the gateway decides).
func (p *Provider) Info() core.ChannelInfo {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.info
}

// readInfo asks the gateway for its channel's limits and message types.
func (p *Provider) readInfo(ctx context.Context) error {
	res, err := p.api.ListChannelsWithResponse(ctx)
	if err := check("list channels", err, res, http.StatusOK); err != nil {
		return err
	}
	if res.JSON200.Channels != nil {
		for _, c := range *res.JSON200.Channels {
			if core.Channel(c.Channel) != p.channel {
				continue
			}
			info := core.ChannelInfo{Channel: p.channel, MaxTextLength: int(c.MaxTextLength), MaxMediaBytes: c.MaxMediaBytes}
			if c.MessageTypes != nil {
				for _, t := range *c.MessageTypes {
					info.MessageTypes = append(info.MessageTypes, core.MessageType(t))
				}
			}
			p.mu.Lock()
			p.info = info
			p.mu.Unlock()
			return nil
		}
	}
	return fmt.Errorf("gateway runs no channel %q: %w", p.channel, core.ErrNotFound)
}

// Start checks that the gateway answers, starts forwarding its events and then reports every
// session's current status as a session.status event, so the hub starts from the gateway's state
// rather than from what it saw before it stopped.
func (p *Provider) Start(ctx context.Context) error {
	res, err := p.api.GetHealthWithResponse(ctx)
	if err != nil {
		return fmt.Errorf("reach gateway: %w", err)
	}
	if res.StatusCode() != http.StatusOK {
		return fmt.Errorf("gateway health: status %d", res.StatusCode())
	}
	if err := p.readInfo(ctx); err != nil {
		return err
	}
	if p.events == nil {
		return nil
	}
	if err := p.forwardEvents(ctx); err != nil {
		return err
	}
	return p.ReportSessions(ctx)
}

// ReportSessions publishes every gateway session's current status as a session.status event:
// what a hub that was away missed is superseded by the state it starts from.
func (p *Provider) ReportSessions(ctx context.Context) error {
	sessions, err := p.Sessions(ctx)
	if err != nil {
		return err
	}
	for _, s := range sessions {
		ev := core.NewEvent(s.ID, &core.SessionStatusEvent{Status: s.Status, Reason: s.Reason, BannedUntil: s.BannedUntil})
		if err := p.sink.Publish(ctx, ev); err != nil {
			return fmt.Errorf("report session %s: %w", s.ID, err)
		}
	}
	return nil
}

func (p *Provider) forwardEvents(ctx context.Context) error {
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	msgs, err := p.events.Subscribe(runCtx, core.TopicEvents)
	if err != nil {
		cancel()
		return fmt.Errorf("subscribe to gateway events: %w", err)
	}
	done := make(chan struct{})
	p.mu.Lock()
	p.cancel, p.done = cancel, done
	p.mu.Unlock()
	go func() {
		defer close(done)
		for msg := range msgs {
			p.forward(runCtx, msg)
		}
	}()
	return nil
}

// forward hands one gateway event to the sink; a failed hand-off is redelivered.
func (p *Provider) forward(ctx context.Context, msg *message.Message) {
	e, err := eventbus.DecodeEvent(msg)
	if err != nil {
		p.logger.Error("drop undecodable gateway event", slog.String("uuid", msg.UUID), log.ErrorAttr(err))
		msg.Ack()
		return
	}
	if err := p.sink.Publish(ctx, e); err != nil {
		p.logger.Warn("forward gateway event", slog.String(log.SessionKey, string(e.SessionID)), log.ErrorAttr(err))
		msg.Nack()
		return
	}
	msg.Ack()
}

// Stop stops forwarding events; the gateway's sessions keep running.
func (p *Provider) Stop(ctx context.Context) error {
	p.mu.Lock()
	cancel, done := p.cancel, p.done
	p.cancel = nil
	p.mu.Unlock()
	if cancel == nil {
		return nil
	}
	cancel()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("stop event forwarding: %w", ctx.Err())
	}
}

// CreateSession implements core.Provider.
func (p *Provider) CreateSession(ctx context.Context, req core.CreateSessionRequest) (core.Session, error) {
	if err := req.ID.Validate(); err != nil {
		return core.Session{}, err
	}
	body := client.CreateSessionRequest{Id: string(req.ID), Channel: ptr(string(p.channel))}
	if len(req.Settings) > 0 {
		body.Settings = &req.Settings // the channel's credentials, for the gateway to seal
	}
	res, err := p.api.CreateSessionWithResponse(ctx, body)
	if err := check("create session", err, res, http.StatusCreated); err != nil {
		return core.Session{}, err
	}
	return session(*res.JSON201), nil
}

// Session implements core.Provider.
func (p *Provider) Session(ctx context.Context, id core.SessionID) (core.Session, error) {
	res, err := p.api.GetSessionWithResponse(ctx, string(id))
	if err := check("get session", err, res, http.StatusOK); err != nil {
		return core.Session{}, err
	}
	return session(*res.JSON200), nil
}

// Sessions implements core.Provider.
func (p *Provider) Sessions(ctx context.Context) ([]core.Session, error) {
	res, err := p.api.ListSessionsWithResponse(ctx)
	if err := check("list sessions", err, res, http.StatusOK); err != nil {
		return nil, err
	}
	var out []core.Session
	if res.JSON200.Sessions != nil {
		for _, s := range *res.JSON200.Sessions {
			out = append(out, session(s))
		}
	}
	return out, nil
}

// DeleteSession implements core.Provider.
// The hub's own API already decided what happens to its accepted messages, so the gateway is
// told to delete with force: whatever it still queued is failed and reported.
func (p *Provider) DeleteSession(ctx context.Context, id core.SessionID) error {
	force := true
	res, err := p.api.DeleteSessionWithResponse(ctx, string(id), &client.DeleteSessionParams{Force: &force})
	return check("delete session", err, res, http.StatusNoContent)
}

// Stats implements core.Provider.
func (p *Provider) Stats(ctx context.Context) (core.SessionStats, error) {
	res, err := p.api.GetSessionsHealthWithResponse(ctx)
	if err := check("session stats", err, res, http.StatusOK); err != nil {
		return core.SessionStats{}, err
	}
	s := res.JSON200
	return core.SessionStats{Total: int(s.Total), Active: int(s.Active), Connected: int(s.Connected),
		QRPending: int(s.QrPending), Disconnected: int(s.Disconnected)}, nil
}

// SendMessage sends through the gateway and returns, as the contract asks, once WhatsApp took the
// message: it queues it at the gateway under msg.ID (when given) and waits until the gateway sent
// it (or failed it). A msg.ID the gateway already has answers with that message, so a retry with
// the same id never sends a second one.
func (p *Provider) SendMessage(ctx context.Context, id core.SessionID, msg core.OutgoingMessage) (core.SendResult, error) {
	s, err := p.Session(ctx, id)
	if err != nil {
		return core.SendResult{}, err
	}
	if s.Status != core.StatusConnected {
		return core.SendResult{}, fmt.Errorf("send from %s (%s): %w", id, s.Status, core.ErrNotConnected)
	}
	params := &client.SendMessageParams{}
	if msg.ID != "" {
		prev, err := p.api.GetMessageWithResponse(ctx, string(id), string(msg.ID))
		if err == nil && prev.JSON200 != nil {
			m := prev.JSON200
			return core.SendResult{ID: core.MessageID(m.Id), ChatID: core.ChatID(m.ChatId), Timestamp: m.CreatedAt}, nil
		}
		key := string(msg.ID)
		params.IdempotencyKey = &key
	}
	// The gateway stores the message under msg.ID, so its events name it as this side does.
	res, err := p.api.SendMessageWithResponse(ctx, string(id), params, sendRequest(msg))
	if err := check("send message", err, res, http.StatusAccepted); err != nil {
		return core.SendResult{}, err
	}
	return p.awaitSent(ctx, id, res.JSON202.Id)
}

// awaitSent polls the gateway until its message left the queue, with a growing interval.
func (p *Provider) awaitSent(ctx context.Context, session core.SessionID, msgID string) (core.SendResult, error) {
	wait := 5 * time.Millisecond
	for {
		res, err := p.api.GetMessageWithResponse(ctx, string(session), msgID)
		if err := check("get message", err, res, http.StatusOK); err != nil {
			return core.SendResult{}, err
		}
		m := res.JSON200
		switch m.Status {
		case client.MessageStatusFailed:
			var problemType string
			if m.ErrorType != nil {
				problemType = string(*m.ErrorType)
			}
			return core.SendResult{}, fmt.Errorf("message %s: %s: %w", msgID, deref(m.Error), core.SentinelOfProblemType(problemType))
		case client.MessageStatusQueued:
		default:
			ts := m.CreatedAt
			if m.SentAt != nil {
				ts = *m.SentAt
			}
			return core.SendResult{ID: core.MessageID(m.Id), ChatID: core.ChatID(m.ChatId), Timestamp: ts}, nil
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return core.SendResult{}, fmt.Errorf("wait for message %s: %w", msgID, ctx.Err())
		}
		wait = min(wait*2, 200*time.Millisecond)
	}
}

// Contacts implements core.Provider.
func (p *Provider) Contacts(ctx context.Context, id core.SessionID) ([]core.Contact, error) {
	res, err := p.api.ListContactsWithResponse(ctx, string(id))
	if err := check("list contacts", err, res, http.StatusOK); err != nil {
		return nil, err
	}
	return contacts(res.JSON200.Contacts), nil
}

// SyncContacts implements core.Provider.
func (p *Provider) SyncContacts(ctx context.Context, id core.SessionID) ([]core.Contact, error) {
	res, err := p.api.SyncContactsWithResponse(ctx, string(id))
	if err := check("sync contacts", err, res, http.StatusOK); err != nil {
		return nil, err
	}
	return contacts(res.JSON200.Contacts), nil
}

// LoginQR implements core.QRLogin.
func (p *Provider) LoginQR(ctx context.Context, id core.SessionID) (core.QRCode, error) {
	res, err := p.api.GetSessionQRWithResponse(ctx, string(id), nil)
	if err := check("get qr", err, res, http.StatusOK); err != nil {
		return core.QRCode{}, err
	}
	var qr client.QRCode
	if err := json.Unmarshal(res.Body, &qr); err != nil {
		return core.QRCode{}, fmt.Errorf("decode qr: %w", err)
	}
	png, err := decodeDataURL(qr.Image)
	if err != nil {
		return core.QRCode{}, err
	}
	return core.QRCode{Text: qr.Qr, PNG: png, ExpiresAt: qr.ExpiresAt}, nil
}

// RequestPairingCode implements core.PairingCodeLogin.
func (p *Provider) RequestPairingCode(ctx context.Context, id core.SessionID, phone string) (string, error) {
	res, err := p.api.RequestPairingCodeWithResponse(ctx, string(id), client.PairingCodeRequest{Phone: phone})
	if err := check("request pairing code", err, res, http.StatusOK); err != nil {
		return "", err
	}
	return res.JSON200.Code, nil
}

// EditMessage implements core.MessageEditor; the gateway knows the chat of its messages.
func (p *Provider) EditMessage(ctx context.Context, id core.SessionID, _ core.ChatID, msg core.MessageID, text string) error {
	res, err := p.api.EditMessageWithResponse(ctx, string(id), string(msg), client.EditMessageRequest{Text: text})
	return check("edit message", err, res, http.StatusOK)
}

// RevokeMessage implements core.MessageRevoker.
func (p *Provider) RevokeMessage(ctx context.Context, id core.SessionID, _ core.ChatID, msg core.MessageID) error {
	res, err := p.api.RevokeMessageWithResponse(ctx, string(id), string(msg))
	return check("revoke message", err, res, http.StatusNoContent)
}

// MarkRead implements core.ReadMarker.
func (p *Provider) MarkRead(ctx context.Context, id core.SessionID, _ core.ChatID, msgs []core.MessageID) error {
	for _, m := range msgs {
		res, err := p.api.MarkMessageReadWithResponse(ctx, string(id), string(m))
		if err := check("mark read", err, res, http.StatusNoContent); err != nil {
			return err
		}
	}
	return nil
}

// SendPresence implements core.PresenceSender.
func (p *Provider) SendPresence(ctx context.Context, id core.SessionID, chat core.ChatID, presence core.Presence) error {
	res, err := p.api.SendPresenceWithResponse(ctx, string(id), client.PresenceRequest{ChatId: string(chat), Presence: client.PresenceRequestPresence(presence)})
	return check("send presence", err, res, http.StatusNoContent)
}

// DownloadMedia implements core.MediaDownloader.
func (p *Provider) DownloadMedia(ctx context.Context, id core.SessionID, msg core.MessageID) (core.DownloadedMedia, error) {
	res, err := p.api.DownloadMessageMediaWithResponse(ctx, string(id), string(msg))
	if err := check("download media", err, res, http.StatusOK); err != nil {
		return core.DownloadedMedia{}, err
	}
	return core.DownloadedMedia{MimeType: res.HTTPResponse.Header.Get("Content-Type"), Data: res.Body}, nil
}

// response is what every generated response type offers: the status, and the raw body in
// its Body field, which bodyOf reads.
type response interface {
	StatusCode() int
}

// check turns a transport error or an unexpected status into an error wrapping the core
// sentinel the gateway's problem answer stands for.
func check(what string, err error, res response, want int) error {
	if err != nil {
		return fmt.Errorf("%s: %w: %w", what, core.ErrUnavailable, err)
	}
	status := res.StatusCode()
	if status == want {
		return nil
	}
	var problem struct {
		Type   string `json:"type"`
		Detail string `json:"detail"`
	}
	_ = json.Unmarshal(bodyOf(res), &problem) // a body that is no problem+json leaves both empty
	detail := problem.Detail
	var sentinel error
	switch {
	case problem.Type == core.ProblemNotConnected:
		sentinel = core.ErrNotConnected
	case status == http.StatusNotFound:
		sentinel = core.ErrNotFound
	case status == http.StatusConflict:
		sentinel = core.ErrConflict
	case status == http.StatusNotImplemented:
		return fmt.Errorf("%s: %w", what, &core.NotSupportedError{Channel: DefaultChannel, Capability: detail})
	case status == http.StatusBadRequest || status == http.StatusUnprocessableEntity || status == http.StatusRequestEntityTooLarge:
		sentinel = core.ErrInvalid
	default:
		sentinel = core.ErrUnavailable
	}
	return fmt.Errorf("%s: gateway answered %d %s: %w", what, status, detail, sentinel)
}
