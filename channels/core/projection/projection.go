// Package projection keeps the store in step with the canonical events: messages both ways,
// receipts, edits, revokes and session status. It consumes the events topic as its own consumer
// group, so it sees every event once per deployment and retries on database errors. Events come
// in batches, in stream order, each batch applied in one transaction: one commit and two bus
// round trips per batch instead of per event, so statuses keep up with the sends.
package projection

import (
	"context"
	"encoding/json"
	"errors"
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
	return p.apply(ctx, p.store, e)
}

// ApplyBatch records events in order in one transaction: all or none.
func (p *Projector) ApplyBatch(ctx context.Context, events []core.Event) error {
	if len(events) == 1 {
		return p.apply(ctx, p.store, events[0])
	}
	return p.store.InTx(ctx, func(ctx context.Context, tx *store.Store) error {
		for _, e := range events {
			if err := p.apply(ctx, tx, e); err != nil {
				return fmt.Errorf("event %s (%s): %w", e.ID, e.Type, err)
			}
		}
		return nil
	})
}

func (p *Projector) apply(ctx context.Context, st *store.Store, e core.Event) error {
	switch d := e.Data.(type) {
	case *core.MessageEvent:
		if d.Kind != core.EventMessageCreate {
			return nil // message_create carries every message; message repeats the incoming ones
		}
		err := recordMessage(ctx, st, e.SessionID, d)
		if errors.Is(err, core.ErrNotFound) {
			// The session was deleted, or never registered: nothing to attach the message to.
			p.logger.Warn("message of an unknown session not stored", slog.String(log.SessionKey, string(e.SessionID)),
				slog.String("messageId", string(d.ID)), slog.String("eventId", string(e.ID)))
			return nil
		}
		return err
	case *core.MessageAckEvent:
		_, err := st.ApplyAck(ctx, e.SessionID, d.ID, d.Ack, e.Timestamp)
		return err
	case *core.MessageFailedEvent:
		// The pipeline recorded its own failures already; this catches the network's later ones.
		return st.ApplyFailure(ctx, e.SessionID, d.ID, d.Error, d.ErrorType)
	case *core.MessageEditEvent:
		_, err := st.ApplyEdit(ctx, e.SessionID, d.ID, d.Body, d.Timestamp)
		return err
	case *core.MessageRevokeEvent:
		return st.ApplyRevoke(ctx, e.SessionID, d.ID, d.Timestamp)
	case *core.SessionStatusEvent:
		return st.ApplySession(ctx, core.Session{ID: e.SessionID, Status: d.Status, Reason: d.Reason, BannedUntil: d.BannedUntil,
			Account: d.Account, AccountLID: d.AccountLID, PushName: d.PushName})
	}
	return nil
}

func recordMessage(ctx context.Context, st *store.Store, session core.SessionID, d *core.MessageEvent) error {
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
	return st.RecordMessage(ctx, m)
}

// batchSize bounds the events applied in one transaction.
const batchSize = 256

// Start applies the events topic in the background from now on; stop ends it and waits for the
// batch in hand.
func (p *Projector) Start(b *bus.Bus) (stop func(), err error) {
	stop, err = b.ConsumeBatches(core.TopicEvents, ConsumerGroup, batchSize, func(ctx context.Context, msgs []*message.Message) error {
		events := make([]core.Event, 0, len(msgs))
		for _, msg := range msgs {
			e, err := eventbus.DecodeEvent(msg)
			if err != nil {
				return err // poisoned after retries: an undecodable event never becomes decodable
			}
			events = append(events, e)
		}
		if err := p.ApplyBatch(ctx, events); err != nil {
			p.logger.Warn("project events", slog.Int("events", len(events)), log.ErrorAttr(err))
			return err
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("start projection: %w", err)
	}
	return stop, nil
}
