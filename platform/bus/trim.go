package bus

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/28web/hub/platform/log"
)

// trimLoop keeps the Redis streams this process publishes to short without losing anything: each
// is trimmed behind the oldest message some consumer group has not acknowledged (XTRIM MINID),
// never past it. A group that lags holds the stream back; Check reports it. Streams no group
// reads (the poison topic) are capped at MaxLen instead.
func (b *Bus) trimLoop(ctx context.Context) {
	t := time.NewTicker(b.cfg.TrimInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		b.trimOnce(ctx)
	}
}

func (b *Bus) trimOnce(ctx context.Context) {
	for _, topic := range b.publishedTopics() {
		f, err := redisFloor(ctx, b.redisClient, b.markerKey(), topic, b.expectedGroups(topic))
		if err != nil {
			if ctx.Err() == nil {
				b.logger.Warn("read consumer groups to trim a stream", slog.String("stream", topic), log.ErrorAttr(err))
			}
			continue
		}
		b.mu.Lock()
		b.floors[topic] = f
		b.mu.Unlock()
		switch {
		case len(f.Groups) == 0:
			if b.cfg.MaxLen > 0 && f.Length > b.cfg.MaxLen {
				err = b.redisClient.XTrimMaxLenApprox(ctx, topic, b.cfg.MaxLen, 0).Err()
			}
		case !f.Below.IsZero():
			// Approximate trimming removes only whole nodes of ids below Below: never more.
			err = b.redisClient.XTrimMinIDApprox(ctx, topic, f.Below.String(), 0).Err()
		}
		if err != nil && ctx.Err() == nil {
			b.logger.Warn("trim stream", slog.String("stream", topic), log.ErrorAttr(err))
		}
	}
}

func (b *Bus) publishedTopics() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Sorted(maps.Keys(b.published))
}

// TopicLag is the state of one topic's consumer groups.
type TopicLag struct {
	Topic  string       `json:"topic"`
	Length int64        `json:"length"`
	Groups []GroupState `json:"groups"`
}

// Lag reports, for every topic this process publishes to, how far behind each consumer group
// is. On Redis it is the trim loop's latest reading (every TrimInterval).
func (b *Bus) Lag() []TopicLag {
	topics := b.publishedTopics()
	out := make([]TopicLag, 0, len(topics))
	for _, topic := range topics {
		var f Floor
		if b.inproc != nil {
			f = b.inproc.floor(topic)
		} else {
			b.mu.Lock()
			f = b.floors[topic]
			b.mu.Unlock()
		}
		groups := slices.Clone(f.Groups)
		slices.SortFunc(groups, func(x, y GroupState) int { return strings.Compare(x.Name, y.Name) })
		out = append(out, TopicLag{Topic: strings.TrimPrefix(topic, b.cfg.Namespace), Length: f.Length, Groups: groups})
	}
	return out
}

// Check is the bus's health: Redis answers, and no consumer group has more than LagWarning
// messages to handle (a lagging group holds its stream back from trimming, so Redis grows).
func (b *Bus) Check(ctx context.Context) error {
	if err := b.Ping(ctx); err != nil {
		return err
	}
	var lagging []string
	for _, tl := range b.Lag() {
		for _, g := range tl.Groups {
			if n := g.Unacknowledged(); n > b.cfg.LagWarning {
				lagging = append(lagging, fmt.Sprintf("group %s lags %d messages on %s", g.Name, n, tl.Topic))
			}
		}
	}
	if len(lagging) > 0 {
		return fmt.Errorf("%s; streams are not trimmed past what a group has not acknowledged", strings.Join(lagging, "; "))
	}
	return nil
}
