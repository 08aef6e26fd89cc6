// Package bus is the gateway's message bus on Watermill: Redis Streams with consumer groups
// when a Redis URL is configured, an in-process equivalent otherwise. Both give at-least-once
// delivery to every consumer group, one message in flight per consumer, and a Router whose
// handlers retry with backoff and then park failing messages on a poison topic.
package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill-redisstream/pkg/redisstream"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/redis/go-redis/v9"
)

// Bus owns the publisher and every subscriber it hands out. It is safe for concurrent use.
type Bus struct {
	cfg       Config
	logger    *slog.Logger
	wlogger   watermill.LoggerAdapter
	startedAt time.Time

	publisher message.Publisher
	// Redis mode: the options every client is built from, and the publisher's client (also used
	// for Ping). In-process mode: inproc.
	redisOpts   *redis.Options
	redisClient *redis.Client
	inproc      *inProcess

	mu          sync.Mutex
	closed      bool
	subscribers []message.Subscriber
}

// New builds the bus cfg describes (SetDefaults is applied here). It does not contact Redis: use
// Ping to check it.
func New(cfg Config, logger *slog.Logger) (*Bus, error) {
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("new bus: %w", err)
	}
	b := &Bus{
		cfg:    cfg,
		logger: logger,
		// Watermill logs every subscription and handler start at info: keep that at debug.
		wlogger: quietCancel{watermill.NewSlogLoggerWithLevelMapping(logger, map[slog.Level]slog.Level{
			slog.LevelInfo: slog.LevelDebug,
		})},
		startedAt: time.Now(),
	}
	if cfg.RedisURL == "" {
		b.inproc = newInProcess(b.wlogger)
		b.publisher = b.inproc
		logger.Info("message bus ready", "transport", "in-process")
		return b, nil
	}

	opts, err := cfg.redisOptions()
	if err != nil {
		return nil, fmt.Errorf("new bus: %w", err)
	}
	b.redisOpts = opts
	// Each redisstream publisher and subscriber closes the client it is given, so each gets its
	// own.
	b.redisClient = redis.NewClient(opts)
	pub, err := redisstream.NewPublisher(redisstream.PublisherConfig{
		Client:        b.redisClient,
		DefaultMaxlen: max(cfg.MaxLen, 0), // 0 is the library's "no limit"
	}, b.wlogger)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("new bus: redis publisher: %w", err), b.redisClient.Close())
	}
	b.publisher = pub
	logger.Info("message bus ready", "transport", "redis-streams", "addr", opts.Addr, "consumer", cfg.ConsumerName)
	return b, nil
}

// InProcess reports whether the bus runs without Redis.
func (b *Bus) InProcess() bool { return b.inproc != nil }

// Config is the effective configuration, defaults applied.
func (b *Bus) Config() Config { return b.cfg }

// Publisher publishes to the bus. It is safe for concurrent use and shared: its Close does
// nothing (a Router closes the publishers of its handlers); Bus.Close closes it.
func (b *Bus) Publisher() message.Publisher {
	return sharedPublisher{publisher: b.publisher, namespace: b.cfg.Namespace}
}

// sharedPublisher applies the namespace and ignores Close.
type sharedPublisher struct {
	publisher message.Publisher
	namespace string
}

func (p sharedPublisher) Publish(topic string, msgs ...*message.Message) error {
	return p.publisher.Publish(p.namespace+topic, msgs...)
}

func (sharedPublisher) Close() error { return nil }

// namespacedSubscriber applies the namespace to subscriptions.
type namespacedSubscriber struct {
	message.Subscriber
	namespace string
}

func (s namespacedSubscriber) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	return s.Subscriber.Subscribe(ctx, s.namespace+topic)
}

// Subscriber returns a subscriber consuming as consumerGroup: every group gets every message of
// a topic, and within a group each message goes to one consumer (this process is consumer
// Config.ConsumerName). The Bus closes it on Close; closing it earlier is allowed.
func (b *Bus) Subscriber(consumerGroup string) (message.Subscriber, error) {
	if consumerGroup == "" {
		return nil, errors.New("bus subscriber: consumer group is required")
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, errors.New("bus subscriber: bus closed")
	}
	var sub message.Subscriber
	if b.inproc != nil {
		sub = b.inproc.subscriber(consumerGroup)
	} else {
		name := b.cfg.ConsumerName
		s, err := redisstream.NewSubscriber(redisstream.SubscriberConfig{
			Client:                        redis.NewClient(b.redisOpts),
			ConsumerGroup:                 consumerGroup,
			Consumer:                      name,
			DisableIndefiniteInitialBlock: true,
			ClaimInterval:                 b.cfg.ClaimInterval,
			MaxIdleTime:                   b.cfg.MaxIdleTime,
			// Messages pending under our own name were either delivered to this process (in
			// flight: claiming them would run them twice) or to a previous run under the same
			// name that died (claim them). The idle time tells which.
			ShouldClaimPendingMessage: func(xp redis.XPendingExt) bool {
				return xp.Consumer != name || xp.Idle > time.Since(b.startedAt)
			},
			// A closed subscription shows up as a read error; stop at once instead of retrying
			// after the library's 500 ms pause.
			ShouldStopOnReadErrors: func(err error) bool { return errors.Is(err, context.Canceled) },
		}, b.wlogger)
		if err != nil {
			return nil, fmt.Errorf("bus subscriber %s: %w", consumerGroup, err)
		}
		sub = s
	}
	b.subscribers = append(b.subscribers, sub)
	if b.cfg.Namespace != "" {
		return namespacedSubscriber{Subscriber: sub, namespace: b.cfg.Namespace}, nil
	}
	return sub, nil
}

// Ping checks the transport: a Redis PING, or nothing in-process.
func (b *Bus) Ping(ctx context.Context) error {
	if b.redisClient == nil {
		return nil
	}
	if err := b.redisClient.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("ping redis: %w", err)
	}
	return nil
}

// Close closes every subscriber handed out, then the publisher. Unacknowledged Redis messages
// stay pending and are claimed by another consumer after MaxIdleTime (or by this consumer name
// when it comes back). It is idempotent.
func (b *Bus) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	subs := b.subscribers
	b.subscribers = nil
	b.mu.Unlock()

	var errs []error
	for _, s := range subs {
		if err := s.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close subscriber: %w", err))
		}
	}
	if b.inproc != nil {
		b.inproc.shutdown()
	} else if err := b.publisher.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close publisher: %w", err))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close bus: %w", err)
	}
	return nil
}
