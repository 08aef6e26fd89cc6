package bus

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ThreeDotsLabs/watermill-redisstream/pkg/redisstream"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/redis/go-redis/v9"

	"github.com/28web/hub/platform/retry"
)

// Tailed is one message of a topic as a tail reads it, with its position in the topic.
type Tailed struct {
	// ID is the message's position ("ms-seq"); passed back as Tail's after, the tail resumes
	// behind it.
	ID  string
	Msg *message.Message
}

// tailBuffer bounds what a tail holds for a reader that is behind, and (in process) how many
// recent messages of a topic a resuming tail can replay.
const tailBuffer = 1024

// ErrTailBehind ends a tail whose reader fell too far behind (in process): resume from the last
// position read.
var ErrTailBehind = errors.New("tail reader fell behind")

// Tail follows topic from the position after (exclusive; empty: from now on) until ctx ends,
// without a consumer group: it acknowledges nothing and holds nothing back from trimming, so it
// suits live views (server-sent events), not processing that must see every message. Positions
// older than what the topic still holds resume from its oldest. On Redis each tail holds one
// connection; in process, a resume replays at most the last 1024 messages. The channel closes
// when the tail ends; err, read after that, says why (nil when ctx ended).
func (b *Bus) Tail(ctx context.Context, topic, after string) (<-chan Tailed, func() error, error) {
	var from StreamID
	if after != "" {
		id, err := ParseStreamID(after)
		if err != nil {
			return nil, nil, fmt.Errorf("tail %s: %w", topic, err)
		}
		from = id
	}
	if b.inproc != nil {
		return b.inproc.tail(ctx, topic, after != "", from)
	}
	out := make(chan Tailed, tailBuffer)
	var tailErr error
	done := make(chan struct{})
	cli := redis.NewClient(b.redisOpts)
	start := "$"
	if after != "" {
		start = from.String()
	}
	go func() {
		defer close(done)
		defer close(out)
		defer func() { _ = cli.Close() }()
		tailErr = readTail(ctx, cli, b.cfg.Namespace+topic, start, out)
	}()
	wait := func() error {
		<-done
		return tailErr
	}
	return out, wait, nil
}

// readTail is Tail's loop on Redis: XREAD from last, blocking a second at a time (a cancelled tail ends within it).
func readTail(ctx context.Context, cli *redis.Client, stream, last string, out chan<- Tailed) error {
	for ctx.Err() == nil {
		res, err := cli.XRead(ctx, &redis.XReadArgs{Streams: []string{stream, last}, Count: 100, Block: time.Second}).Result()
		if errors.Is(err, redis.Nil) {
			continue
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			retry.Sleep(ctx, time.Second) // Redis away for a moment: the position is kept
			continue
		}
		for _, s := range res {
			for _, e := range s.Messages {
				last = e.ID
				msg, err := redisstream.DefaultMarshallerUnmarshaller{}.Unmarshal(e.Values)
				if err != nil {
					continue // not a Watermill message: nothing a tail can show
				}
				select {
				case out <- Tailed{ID: e.ID, Msg: msg}:
				case <-ctx.Done():
					return nil
				}
			}
		}
	}
	return nil
}
