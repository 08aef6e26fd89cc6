package bus

import (
	"errors"
	"fmt"
	"sync"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
)

// Router is a Watermill router whose handlers are wired with the bus's middleware, outermost
// first:
//
//  1. CorrelationID: messages a handler returns inherit the incoming correlation id;
//  2. PoisonQueue: an error that survived the retries publishes the message to
//     Config.PoisonTopic (reason in metadata key middleware.ReasonForPoisonedKey) and acks it,
//     so a bad message never loops;
//  3. Retry: exponential backoff from Config.Retry, inside the handler while the message is held;
//  4. Recoverer: a panic becomes an error, so it is retried and then poisoned like any failure.
//
// Run it with Run(ctx) (blocking) and wait for Running() before publishing in-process.
type Router struct {
	*message.Router
	bus *Bus

	mu       sync.Mutex
	handlers map[string]bool
}

// NewRouter returns an empty Router on this bus.
func (b *Bus) NewRouter() (*Router, error) {
	r, err := message.NewRouter(message.RouterConfig{CloseTimeout: b.cfg.CloseTimeout}, b.wlogger)
	if err != nil {
		return nil, fmt.Errorf("new router: %w", err)
	}
	return &Router{Router: r, bus: b, handlers: map[string]bool{}}, nil
}

// HandlerName is the name Handle gives the handler of topic for group.
func HandlerName(topic, group string) string { return group + "@" + topic }

// Handle consumes topic as consumer group group with h. One handler per (topic, group) and
// router. Handlers added after Run start on the next RunHandlers call.
func (r *Router) Handle(topic, group string, h message.NoPublishHandlerFunc) error {
	return r.add(topic, group, "", func(msg *message.Message) ([]*message.Message, error) {
		return nil, h(msg)
	})
}

// HandleAndPublish is Handle for a handler whose returned messages are published to
// publishTopic (after the handler succeeded, before the incoming message is acked), carrying
// the incoming message's correlation id.
func (r *Router) HandleAndPublish(topic, group, publishTopic string, h message.HandlerFunc) error {
	if publishTopic == "" {
		return errors.New("router handle: publish topic is required")
	}
	return r.add(topic, group, publishTopic, h)
}

func (r *Router) add(topic, group, publishTopic string, h message.HandlerFunc) error {
	if topic == "" {
		return errors.New("router handle: topic is required")
	}
	name := HandlerName(topic, group)
	r.mu.Lock()
	defer r.mu.Unlock()
	// Watermill panics on a duplicate name: refuse it here instead.
	if r.handlers[name] {
		return fmt.Errorf("router handle %s: already registered", name)
	}
	mws, err := r.bus.handlerMiddleware(topic)
	if err != nil {
		return fmt.Errorf("router handle %s: %w", name, err)
	}
	sub, err := r.bus.Subscriber(group)
	if err != nil {
		return fmt.Errorf("router handle %s: %w", name, err)
	}
	// The router closes a handler's publisher when the handler stops: the shared publisher's
	// Close is a no-op, so that is harmless.
	handler := r.AddHandler(name, topic, sub, publishTopic, r.bus.Publisher(), h)
	handler.AddMiddleware(mws...)
	r.handlers[name] = true
	return nil
}

// handlerMiddleware is the chain described on Router. A consumer of the poison topic gets no
// poison queue: its failures would poison into itself forever.
func (b *Bus) handlerMiddleware(topic string) ([]message.HandlerMiddleware, error) {
	mws := []message.HandlerMiddleware{middleware.CorrelationID}
	if topic != b.cfg.PoisonTopic {
		poison, err := middleware.PoisonQueue(b.Publisher(), b.cfg.PoisonTopic)
		if err != nil {
			return nil, fmt.Errorf("poison queue: %w", err)
		}
		mws = append(mws, poison)
	}
	if rc := b.cfg.Retry; rc.MaxRetries > 0 {
		mws = append(mws, middleware.Retry{
			MaxRetries:      rc.MaxRetries,
			InitialInterval: rc.InitialInterval,
			MaxInterval:     rc.MaxInterval,
			Multiplier:      rc.Multiplier,
			// Each attempt gets the message's original context, not one a previous attempt
			// decorated or let expire.
			ResetContextOnRetry: true,
			Logger:              b.wlogger,
		}.Middleware)
	}
	return append(mws, middleware.Recoverer), nil
}
