package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/ThreeDotsLabs/watermill-redisstream/pkg/redisstream"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	"github.com/redis/go-redis/v9"

	"github.com/28web/hub/platform/log"
	"github.com/28web/hub/platform/retry"
)

// BatchHandler handles consecutive messages of a topic, in stream order, all or nothing: an error
// means none of them was handled.
type BatchHandler func(ctx context.Context, msgs []*message.Message) error

// ConsumeBatches consumes topic as consumer group group, handing h up to max messages at a time,
// until stop is called (stop waits for the batch in hand). It returns once subscribed, so the
// group misses nothing published after that. It is for consumers whose per-message cost is a
// round trip that batching shares (a projection writing one transaction per batch): on Redis a
// batch is one XREADGROUP and one XACK, where a Router handler pays both per message. The
// in-process bus hands over one message at a time.
//
// A batch that fails is retried per Config.Retry; if it still fails its messages are handled one
// by one with the same retries, and one that fails every retry (or panics) goes to PoisonTopic,
// as with Router handlers. Messages left unacknowledged by a crash are handled again on restart
// (the consumer's own pending entries first), and those of a consumer gone for MaxIdleTime are
// claimed.
func (b *Bus) ConsumeBatches(topic, group string, max int, h BatchHandler) (stop func(), err error) {
	if topic == "" || group == "" || max < 1 {
		return nil, errors.New("consume batches: topic, group and a positive max are required")
	}
	c := &batchConsumer{b: b, topic: topic, group: group, max: max, h: h,
		logger: b.logger.With(slog.String("topic", topic), slog.String("group", group))}
	ctx, cancel := context.WithCancel(context.Background())
	var run func()
	if b.inproc != nil {
		run, err = c.subscribeInProcess(ctx)
	} else {
		run, err = c.subscribeRedis(ctx)
	}
	if err != nil {
		cancel()
		return nil, err
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		run()
	}()
	return func() {
		cancel()
		<-done
	}, nil
}

type batchConsumer struct {
	b      *Bus
	topic  string
	group  string
	max    int
	h      BatchHandler
	logger *slog.Logger
}

func (c *batchConsumer) subscribeInProcess(ctx context.Context) (func(), error) {
	sub, err := c.b.Subscriber(c.group)
	if err != nil {
		return nil, err
	}
	msgs, err := sub.Subscribe(ctx, c.topic)
	if err != nil {
		return nil, fmt.Errorf("consume batches of %s: %w", c.topic, err)
	}
	return func() {
		for msg := range msgs {
			if err := c.handle(ctx, []*message.Message{msg}); err != nil {
				msg.Nack()
				continue
			}
			msg.Ack()
		}
	}, nil
}

func (c *batchConsumer) subscribeRedis(ctx context.Context) (func(), error) {
	cli := redis.NewClient(c.b.redisOpts)
	stream := c.b.cfg.Namespace + c.topic
	c.b.expect(stream, c.group)
	createCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := ensureGroup(createCtx, cli, stream, c.group); err != nil {
		_ = cli.Close()
		return nil, fmt.Errorf("consume batches: %w", err)
	}
	return func() {
		defer func() { _ = cli.Close() }()
		c.readRedis(ctx, cli, stream)
	}, nil
}

func (c *batchConsumer) readRedis(ctx context.Context, cli *redis.Client, stream string) {
	consumer := c.b.cfg.ConsumerName
	// Our own pending entries first: delivered to a previous run under this name that died.
	from := "0"
	nextClaim := time.Now().Add(c.b.cfg.ClaimInterval)
	for ctx.Err() == nil {
		if time.Now().After(nextClaim) {
			c.claim(ctx, cli, stream)
			nextClaim = time.Now().Add(c.b.cfg.ClaimInterval)
		}
		args := &redis.XReadGroupArgs{Group: c.group, Consumer: consumer, Streams: []string{stream, from}, Count: int64(c.max)}
		if from == ">" {
			args.Block = min(c.b.cfg.ClaimInterval, time.Second)
		}
		res, err := cli.XReadGroup(ctx, args).Result()
		if errors.Is(err, redis.Nil) {
			continue
		}
		if redis.HasErrorPrefix(err, "NOGROUP") {
			c.recreateGroup(ctx, cli, stream)
			from = "0"
			continue
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			c.logger.Warn("read batch", log.ErrorAttr(err))
			retry.Sleep(ctx, time.Second)
			continue
		}
		var entries []redis.XMessage
		if len(res) > 0 {
			entries = res[0].Messages
		}
		if from == "0" && len(entries) == 0 {
			from = ">" // nothing left from before: new messages from now on
			continue
		}
		c.process(ctx, cli, stream, entries)
	}
}

// claim takes over entries another consumer of the group left pending for MaxIdleTime.
func (c *batchConsumer) claim(ctx context.Context, cli *redis.Client, stream string) {
	entries, _, err := cli.XAutoClaim(ctx, &redis.XAutoClaimArgs{Stream: stream, Group: c.group,
		Consumer: c.b.cfg.ConsumerName, MinIdle: c.b.cfg.MaxIdleTime, Start: "0-0", Count: int64(c.max)}).Result()
	if redis.HasErrorPrefix(err, "NOGROUP") {
		c.recreateGroup(ctx, cli, stream)
		return
	}
	if err != nil {
		if ctx.Err() == nil {
			c.logger.Warn("claim idle entries", log.ErrorAttr(err))
		}
		return
	}
	if len(entries) > 0 {
		c.process(ctx, cli, stream, entries)
	}
}

// recreateGroup creates the group again after Redis answered NOGROUP: it restarted without its
// data (or someone destroyed the group). The group reads the stream from its start, so nothing
// published since is missed.
func (c *batchConsumer) recreateGroup(ctx context.Context, cli *redis.Client, stream string) {
	if err := ensureGroup(ctx, cli, stream, c.group); err != nil {
		if ctx.Err() == nil {
			c.logger.Warn("recreate consumer group", log.ErrorAttr(err))
			retry.Sleep(ctx, time.Second)
		}
		return
	}
	c.logger.Warn("consumer group was missing (Redis restarted without its data?): recreated, reading the stream from its start")
}

// process handles entries and acknowledges them; on failure they stay pending, to be read again.
func (c *batchConsumer) process(ctx context.Context, cli *redis.Client, stream string, entries []redis.XMessage) {
	msgs := make([]*message.Message, 0, len(entries))
	ids := make([]string, 0, len(entries))
	for _, e := range entries {
		ids = append(ids, e.ID)
		msg, err := redisstream.DefaultMarshallerUnmarshaller{}.Unmarshal(e.Values)
		if err != nil {
			// Never decodable: poisoned as it is, fields and all.
			msg = message.NewMessage(e.ID, []byte(fmt.Sprint(e.Values)))
			if perr := c.poison(msg, fmt.Errorf("decode stream entry %s: %w", e.ID, err)); perr != nil {
				return
			}
			continue
		}
		msg.SetContext(ctx)
		msgs = append(msgs, msg)
	}
	if len(msgs) > 0 {
		if err := c.handle(ctx, msgs); err != nil {
			return
		}
	}
	// NOGROUP here means Redis lost the group with the entries: nothing is left to acknowledge.
	if err := cli.XAck(ctx, stream, c.group, ids...).Err(); err != nil && ctx.Err() == nil && !redis.HasErrorPrefix(err, "NOGROUP") {
		c.logger.Warn("acknowledge batch", log.ErrorAttr(err))
	}
}

// handle runs h on msgs with retries, then one by one, poisoning what never succeeds. It fails
// only when stopping or when a message could not be poisoned: the messages are then not acked.
func (c *batchConsumer) handle(ctx context.Context, msgs []*message.Message) error {
	if c.retry(ctx, msgs) == nil {
		return nil
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	for _, msg := range msgs {
		err := c.retry(ctx, []*message.Message{msg})
		if err == nil {
			continue
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if perr := c.poison(msg, err); perr != nil {
			return perr
		}
	}
	return nil
}

// retry calls h per Config.Retry, turning a panic into an error.
func (c *batchConsumer) retry(ctx context.Context, msgs []*message.Message) error {
	rc := c.b.cfg.Retry
	policy := retry.Policy{Initial: rc.InitialInterval, Max: rc.MaxInterval, Multiplier: rc.Multiplier}
	for attempt := 0; ; attempt++ {
		err := c.call(ctx, msgs)
		if err == nil || ctx.Err() != nil || attempt >= rc.MaxRetries {
			return err
		}
		c.logger.Info("batch failed; retrying", slog.Int("messages", len(msgs)), slog.Int("attempt", attempt+1), log.ErrorAttr(err))
		if !retry.Sleep(ctx, policy.Delay(attempt+1)) {
			return ctx.Err()
		}
	}
}

func (c *batchConsumer) call(ctx context.Context, msgs []*message.Message) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("batch handler panicked: %v", r)
		}
	}()
	return c.h(ctx, msgs)
}

func (c *batchConsumer) poison(msg *message.Message, cause error) error {
	c.logger.Error("message poisoned", slog.String("uuid", msg.UUID), log.ErrorAttr(cause))
	msg.Metadata.Set(middleware.ReasonForPoisonedKey, cause.Error())
	if err := c.b.Publisher().Publish(c.b.cfg.PoisonTopic, msg); err != nil {
		c.logger.Error("publish poisoned message", slog.String("uuid", msg.UUID), log.ErrorAttr(err))
		return err
	}
	return nil
}
