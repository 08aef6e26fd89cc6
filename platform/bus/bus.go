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
	"slices"
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
	// Redis mode: the options every client is built from, and the publisher (whose client also
	// serves Ping, Floor and trimming). In-process mode: inproc.
	redisOpts   *redis.Options
	redisClient *redis.Client
	redisPub    *redisPublisher
	inproc      *inProcess

	mu          sync.Mutex
	closed      bool
	subscribers []message.Subscriber
	// groups are the consumer groups this process consumes each topic as (namespaced topic →
	// groups); published are the topics it publishes to. Both feed Floor and trimming.
	groups    map[string][]string
	published map[string]bool
	// floors are the latest floors the trim loop read, for Lag.
	floors   map[string]Floor
	stopTrim context.CancelFunc
	trimDone chan struct{}
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
		groups:    map[string][]string{},
		published: map[string]bool{},
		floors:    map[string]Floor{},
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
	// Each redisstream subscriber closes the client it is given, so each gets its own.
	b.redisClient = redis.NewClient(opts)
	b.redisPub = &redisPublisher{client: b.redisClient}
	b.publisher = b.redisPub
	ctx, cancel := context.WithCancel(context.Background())
	b.stopTrim, b.trimDone = cancel, make(chan struct{})
	go func() {
		defer close(b.trimDone)
		b.trimLoop(ctx)
	}()
	logger.Info("message bus ready", "transport", "redis-streams", "addr", opts.Addr, "consumer", cfg.ConsumerName)
	return b, nil
}

// Append publishes msgs to topic like Publisher().Publish, in one round trip, and returns their
// positions and the incarnation of the broker's data they were written to, read before writing:
// if the broker restarted meanwhile, Present tells whether they survived.
func (b *Bus) Append(ctx context.Context, topic string, msgs ...*message.Message) ([]StreamID, string, error) {
	topic = b.cfg.Namespace + topic
	b.notePublished(topic)
	if b.inproc != nil {
		ids, err := b.inproc.append(topic, msgs)
		return ids, b.inproc.incarnation, err
	}
	inc := b.redisPub.cachedIncarnation()
	if inc == "" {
		var err error
		if inc, err = incarnation(ctx, b.redisClient, b.markerKey()); err != nil {
			return nil, "", err
		}
		b.redisPub.setIncarnation(inc)
	}
	ids, err := b.redisPub.append(ctx, topic, msgs)
	return ids, inc, err
}

// Floor reads how far every consumer group of topic got. Groups this process consumes topic as
// count even while the broker does not know them.
func (b *Bus) Floor(ctx context.Context, topic string) (Floor, error) {
	topic = b.cfg.Namespace + topic
	if b.inproc != nil {
		return b.inproc.floor(topic), nil
	}
	f, err := redisFloor(ctx, b.redisClient, b.markerKey(), topic, b.expectedGroups(topic))
	if err != nil {
		return Floor{}, err
	}
	b.redisPub.setIncarnation(f.Incarnation)
	return f, nil
}

// Present reports which of ids topic still holds, in the broker's current incarnation (which it
// returns). In-process, positions of this bus are always present and others never are; it is
// for positions written to another incarnation.
func (b *Bus) Present(ctx context.Context, topic string, ids []StreamID) (map[StreamID]bool, string, error) {
	if b.inproc != nil {
		return map[StreamID]bool{}, b.inproc.incarnation, nil
	}
	present, inc, err := redisPresent(ctx, b.redisClient, b.markerKey(), b.cfg.Namespace+topic, ids)
	if err == nil {
		b.redisPub.setIncarnation(inc)
	}
	return present, inc, err
}

// markerKey is the namespace's incarnation marker (see Floor).
func (b *Bus) markerKey() string { return b.cfg.Namespace + "bus.incarnation" }

// expect records that this process consumes topic (namespaced) as group.
func (b *Bus) expect(topic, group string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !slices.Contains(b.groups[topic], group) {
		b.groups[topic] = append(b.groups[topic], group)
	}
}

func (b *Bus) expectedGroups(topic string) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.groups[topic])
}

func (b *Bus) notePublished(topic string) {
	b.mu.Lock()
	if !b.published[topic] {
		b.published[topic] = true
	}
	b.mu.Unlock()
}

// InProcess reports whether the bus runs without Redis.
func (b *Bus) InProcess() bool { return b.inproc != nil }

// Config is the effective configuration, defaults applied.
func (b *Bus) Config() Config { return b.cfg }

// Publisher publishes to the bus. It is safe for concurrent use and shared: its Close does
// nothing (a Router closes the publishers of its handlers); Bus.Close closes it.
func (b *Bus) Publisher() message.Publisher { return b.trackingPublisher() }

// sharedPublisher applies the namespace and ignores Close.
type sharedPublisher struct {
	publisher message.Publisher
	namespace string
}

func (p sharedPublisher) Publish(topic string, msgs ...*message.Message) error {
	return p.publisher.Publish(p.namespace+topic, msgs...)
}

// Publisher returns the publisher; every topic it publishes to is trimmed behind its slowest
// consumer group.
func (b *Bus) trackingPublisher() message.Publisher {
	return trackingPublisher{sharedPublisher: sharedPublisher{publisher: b.publisher, namespace: b.cfg.Namespace}, b: b}
}

type trackingPublisher struct {
	sharedPublisher
	b *Bus
}

func (p trackingPublisher) Publish(topic string, msgs ...*message.Message) error {
	p.b.notePublished(p.namespace + topic)
	return p.sharedPublisher.Publish(topic, msgs...)
}

func (sharedPublisher) Close() error { return nil }

// groupSubscriber applies the namespace to subscriptions and records the group as a consumer of
// each topic it subscribes to.
type groupSubscriber struct {
	message.Subscriber
	b     *Bus
	group string
}

func (s groupSubscriber) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	topic = s.b.cfg.Namespace + topic
	s.b.expect(topic, s.group)
	return s.Subscriber.Subscribe(ctx, topic)
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
		client := redis.NewClient(b.redisOpts)
		client.AddHook(groupRecreator{group: consumerGroup, logger: b.logger})
		s, err := redisstream.NewSubscriber(redisstream.SubscriberConfig{
			Client:                        client,
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
	return groupSubscriber{Subscriber: sub, b: b, group: consumerGroup}, nil
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
	if b.stopTrim != nil {
		b.stopTrim()
		<-b.trimDone
	}

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
