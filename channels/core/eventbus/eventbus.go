// Package eventbus carries canonical events and commands over the Watermill bus: a core.EventSink
// that publishes every event to core.TopicEvents, and the codecs consumers use to read them back.
package eventbus

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/28web/hub/channels/core"
)

// Metadata keys set on every event message, so consumers can filter without decoding the body.
const (
	MetaEventType = "event"
	MetaSessionID = "session_id"
)

// Sink publishes events to the bus. Publish returns once the publisher accepted the message: with
// the outbox (the gateway's wiring) once it is committed to the database, so the event survives a
// crash of this process and a broker that loses its data.
type Sink struct {
	pub message.Publisher
}

var _ core.EventSink = (*Sink)(nil)

// NewSink returns a Sink publishing with pub.
func NewSink(pub message.Publisher) *Sink { return &Sink{pub: pub} }

// Publish implements core.EventSink.
func (s *Sink) Publish(ctx context.Context, e core.Event) error {
	msg, err := EncodeEvent(e)
	if err != nil {
		return err
	}
	msg.SetContext(ctx)
	if err := s.pub.Publish(core.TopicEvents, msg); err != nil {
		return fmt.Errorf("publish %s event %s: %w", e.Type, e.ID, err)
	}
	return nil
}

// EncodeEvent turns an event into a bus message whose UUID is the event id.
func EncodeEvent(e core.Event) (*message.Message, error) {
	body, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("encode %s event: %w", e.Type, err)
	}
	msg := message.NewMessage(string(e.ID), body)
	msg.Metadata.Set(MetaEventType, string(e.Type))
	msg.Metadata.Set(MetaSessionID, string(e.SessionID))
	return msg, nil
}

// DecodeEvent reads an event back from a bus message.
func DecodeEvent(msg *message.Message) (core.Event, error) {
	var e core.Event
	if err := json.Unmarshal(msg.Payload, &e); err != nil {
		return core.Event{}, fmt.Errorf("decode event message %s: %w", msg.UUID, err)
	}
	return e, nil
}

// EncodeCommand turns a command into a bus message with the given id (the message id of a send,
// so redelivery is recognisable), keyed by its session.
func EncodeCommand(id string, c core.Command) (*message.Message, error) {
	body, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("encode %s command: %w", c.Topic(), err)
	}
	msg := message.NewMessage(id, body)
	msg.Metadata.Set(MetaSessionID, string(c.Session()))
	return msg, nil
}

// DecodeCommand reads a command of type T back from a bus message.
func DecodeCommand[T core.Command](msg *message.Message) (T, error) {
	var c T
	if err := json.Unmarshal(msg.Payload, &c); err != nil {
		return c, fmt.Errorf("decode command message %s: %w", msg.UUID, err)
	}
	return c, nil
}
