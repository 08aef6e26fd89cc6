package bus_test

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/28web/hub/platform/bus"
)

// redisAdmin is a client of TEST_REDIS_URL for inspecting streams; it skips without one.
func redisAdmin(t *testing.T) *redis.Client {
	t.Helper()
	url := os.Getenv(envRedisURL)
	if url == "" {
		t.Skipf("%s is not set", envRedisURL)
	}
	opts, err := redis.ParseURL(url)
	require.NoError(t, err)
	c := redis.NewClient(opts)
	t.Cleanup(func() { _ = c.Close() })
	require.NoError(t, c.Ping(t.Context()).Err())
	return c
}

// A consumer whose group vanished (Redis restarted without its data) creates it again and goes
// on consuming, for both kinds of consumers: Router handlers and ConsumeBatches.
func TestConsumersRecreateTheirGroupAfterNOGROUP(t *testing.T) {
	admin := redisAdmin(t)
	for _, kind := range []string{"router", "batches"} {
		t.Run(kind, func(t *testing.T) {
			cfg := testConfig("poison." + randomSuffix(t))
			cfg.RedisURL = os.Getenv(envRedisURL)
			cfg.Namespace = "test." + randomSuffix(t) + "."
			b := newBus(t, cfg)
			t.Cleanup(func() {
				keys, _ := admin.Keys(context.Background(), cfg.Namespace+"*").Result()
				if len(keys) > 0 {
					admin.Del(context.Background(), keys...)
				}
			})
			got := make(chan string, 100)
			switch kind {
			case "router":
				r := newRouter(t, b)
				require.NoError(t, r.Handle("events", "g", func(m *message.Message) error { got <- string(m.Payload); return nil }))
				runRouter(t, r)
			case "batches":
				consumeBatches(t, b, "events", "g", 10, func(_ context.Context, msgs []*message.Message) error {
					for _, m := range msgs {
						got <- string(m.Payload)
					}
					return nil
				})
			}
			publish(t, b, "events", "before", "")
			assert.Equal(t, "before", receive(t, got, "the message before the loss"))

			// What a Redis restarted empty looks like to a consumer: no stream, no group.
			require.NoError(t, admin.Del(t.Context(), cfg.Namespace+"events").Err())
			publish(t, b, "events", "after", "")
			assert.Equal(t, "after", receive(t, got, "the message after the loss"))
		})
	}
}

// A lagging consumer group holds its stream back from trimming: nothing it has not acknowledged
// is trimmed, the bus reports the lag, and once it consumes it gets every message.
func TestTrimmingNeverDropsWhatAGroupHasNotAcknowledged(t *testing.T) {
	admin := redisAdmin(t)
	cfg := testConfig("poison." + randomSuffix(t))
	cfg.RedisURL = os.Getenv(envRedisURL)
	cfg.Namespace = "test." + randomSuffix(t) + "."
	cfg.TrimInterval = 20 * time.Millisecond
	cfg.LagWarning = 100
	cfg.MaxLen = 10 // would trim everything if it applied to streams with groups
	b := newBus(t, cfg)
	t.Cleanup(func() {
		keys, _ := admin.Keys(context.Background(), cfg.Namespace+"*").Result()
		if len(keys) > 0 {
			admin.Del(context.Background(), keys...)
		}
	})

	var fast atomic.Int64
	consumeBatches(t, b, "events", "fast", 50, func(_ context.Context, msgs []*message.Message) error {
		fast.Add(int64(len(msgs)))
		return nil
	})
	release := make(chan struct{})
	var slowMu sync.Mutex
	var slow []string
	consumeBatches(t, b, "events", "slow", 50, func(ctx context.Context, msgs []*message.Message) error {
		select {
		case <-release:
		case <-ctx.Done():
			return ctx.Err()
		}
		slowMu.Lock()
		defer slowMu.Unlock()
		for _, m := range msgs {
			slow = append(slow, string(m.Payload))
		}
		return nil
	})

	const n = 1000
	for i := range n {
		publish(t, b, "events", fmt.Sprint(i), "")
	}
	require.Eventually(t, func() bool { return fast.Load() == n }, wait, 10*time.Millisecond, "the fast group consumed everything")
	require.Eventually(t, func() bool { return b.Check(t.Context()) != nil }, wait, 10*time.Millisecond, "the lag is reported")
	assert.ErrorContains(t, b.Check(t.Context()), "group slow lags")
	length, err := admin.XLen(t.Context(), cfg.Namespace+"events").Result()
	require.NoError(t, err)
	assert.EqualValues(t, n, length, "nothing the slow group has not acknowledged was trimmed")

	close(release)
	require.Eventually(t, func() bool { slowMu.Lock(); defer slowMu.Unlock(); return len(slow) == n }, wait, 10*time.Millisecond)
	slowMu.Lock()
	for i, p := range slow {
		require.Equal(t, fmt.Sprint(i), p)
	}
	slowMu.Unlock()
	require.Eventually(t, func() bool {
		l, err := admin.XLen(t.Context(), cfg.Namespace+"events").Result()
		return err == nil && l < n
	}, wait, 10*time.Millisecond, "trimmed once both groups consumed")
	require.Eventually(t, func() bool { return b.Check(t.Context()) == nil }, wait, 10*time.Millisecond, "no lag reported any more")
}

// Floor tells, on both transports, below which position every group acknowledged everything.
func TestFloorFollowsTheSlowestGroup(t *testing.T) {
	eachTransport(t, func(t *testing.T, tr transport) {
		b := tr.bus(t, "c1")
		topic := tr.topic(t, "floor")
		msgs := []*message.Message{
			message.NewMessage(watermill.NewUUID(), []byte("a")),
			message.NewMessage(watermill.NewUUID(), []byte("b")),
		}
		ids, inc, err := b.Append(t.Context(), topic, msgs...)
		require.NoError(t, err)
		require.Len(t, ids, 2)
		require.True(t, ids[0].Less(ids[1]))

		f, err := b.Floor(t.Context(), topic)
		require.NoError(t, err)
		assert.Equal(t, inc, f.Incarnation)
		assert.True(t, f.Below.IsZero(), "no group: nothing acknowledged")

		release := make(chan struct{})
		var seen atomic.Int64
		consumeBatches(t, b, topic, "g", 1, func(ctx context.Context, _ []*message.Message) error {
			if seen.Add(1) == 2 {
				select {
				case <-release:
				case <-ctx.Done():
					return ctx.Err()
				}
			}
			return nil
		})
		require.Eventually(t, func() bool {
			f, err := b.Floor(t.Context(), topic)
			return err == nil && f.Below == ids[1]
		}, wait, 10*time.Millisecond, "the first is acknowledged, the second held")
		close(release)
		require.Eventually(t, func() bool {
			f, err := b.Floor(t.Context(), topic)
			return err == nil && ids[1].Less(f.Below)
		}, wait, 10*time.Millisecond, "both acknowledged")

		present, inc2, err := b.Present(t.Context(), topic, ids)
		require.NoError(t, err)
		assert.Equal(t, inc, inc2)
		if !b.InProcess() {
			assert.True(t, present[ids[0]] && present[ids[1]], "not trimmed yet")
		}
	})
}

func TestStreamIDs(t *testing.T) {
	id, err := bus.ParseStreamID("1700000000000-7")
	require.NoError(t, err)
	assert.Equal(t, bus.StreamID{Ms: 1700000000000, Seq: 7}, id)
	assert.Equal(t, "1700000000000-7", id.String())
	assert.Equal(t, bus.StreamID{Ms: 1700000000000, Seq: 8}, id.Next())
	assert.True(t, id.Less(id.Next()))
	bare, err := bus.ParseStreamID("5")
	require.NoError(t, err)
	assert.Equal(t, bus.StreamID{Ms: 5}, bare)
	_, err = bus.ParseStreamID("x-1")
	assert.Error(t, err)
}
