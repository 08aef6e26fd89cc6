// Package projection keeps the store in step with the canonical events: messages both ways,
// receipts, edits, revokes and session status. It consumes the events topic as its own consumer
// group, so it sees every event once per deployment and retries on database errors.
package projection

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/28web/hub/channels/core"
	"github.com/28web/hub/channels/core/eventbus"
	"github.com/28web/hub/channels/core/store"
	"github.com/28web/hub/platform/bus"
	"github.com/28web/hub/platform/log"
)

// ConsumerGroup is the projection's consumer group on core.TopicEvents.
const ConsumerGroup = "projections"

// Projector applies events to the store.
type Projector struct {
	store  *store.Store
	logger *slog.Logger
}

// New returns a Projector on st.
func New(st *store.Store, logger *slog.Logger) *Projector {
	return &Projector{store: st, logger: logger}
}

// Apply records one event. It is idempotent: applying an event twice leaves the same state.
func (p *Projector) Apply(ctx context.Context, e core.Event) error {
	switch d := e.Data.(type) {
	case *core.MessageEvent:
		if d.Kind != core.EventMessageCreate {
			return nil // message_create carries every message; message repeats the incoming ones
		}
		return p.recordMessage(ctx, e.SessionID, d)
	case *core.MessageAckEvent:
		_, err := p.store.ApplyAck(ctx, e.SessionID, d.ID, d.Ack, e.Timestamp)
		return err
	case *core.MessageEditEvent:
		_, err := p.store.ApplyEdit(ctx, e.SessionID, d.ID, d.Body, d.Timestamp)
		return err
	case *core.MessageRevokeEvent:
		return p.store.ApplyRevoke(ctx, e.SessionID, d.ID, d.Timestamp)
	case *core.SessionStatusEvent:
		return p.store.ApplySession(ctx, core.Session{ID: e.SessionID, Status: d.Status, Reason: d.Reason, BannedUntil: d.BannedUntil})
	}
	return nil
}

func (p *Projector) recordMessage(ctx context.Context, session core.SessionID, d *core.MessageEvent) error {
	payload, err := json.Marshal(d)
	if err != nil {
		return fmt.Errorf("encode message event: %w", err)
	}
	m := store.Message{SessionID: session, ID: d.ID, ChatID: d.ChatID, Sender: d.From, Type: d.Type, Body: d.Body, Payload: payload}
	if d.FromMe {
		// Sent from the phone or another client; messages the API accepted already have a row.
		ts := d.Timestamp
		m.Direction, m.Status, m.SentAt = core.DirectionOut, core.MessageStatusSent, &ts
	} else {
		m.Direction, m.Status = core.DirectionIn, core.MessageStatusReceived
	}
	return p.store.RecordMessage(ctx, m)
}

// Register adds the projection's handler to router.
func (p *Projector) Register(router *bus.Router) error {
	return router.Handle(core.TopicEvents, ConsumerGroup, func(msg *message.Message) error {
		e, err := eventbus.DecodeEvent(msg)
		if err != nil {
			return err // poisoned after retries: an undecodable event never becomes decodable
		}
		if err := p.Apply(msg.Context(), e); err != nil {
			p.logger.Warn("project event", slog.String(log.SessionKey, string(e.SessionID)), slog.String("event", string(e.Type)), log.ErrorAttr(err))
			return err
		}
		return nil
	})
}
