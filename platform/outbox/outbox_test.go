package outbox_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/28web/hub/migrations"
	"github.com/28web/hub/platform/bus"
	"github.com/28web/hub/platform/bus/bustest"
	"github.com/28web/hub/platform/db"
	"github.com/28web/hub/platform/db/dbtest"
	"github.com/28web/hub/platform/outbox"
)

const wait = 20 * time.Second

func logger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func newBus(t *testing.T, cfg bus.Config) *bus.Bus {
	t.Helper()
	cfg.ConsumerName = "gw1"
	b, err := bus.New(cfg, logger())
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	return b
}

func newOutbox(t *testing.T, d *db.DB, b *bus.Bus) *outbox.Outbox {
	t.Helper()
	o, err := outbox.New(outbox.Config{ReconcileInterval: 20 * time.Millisecond}, d, b, logger(), nil)
	require.NoError(t, err)
	return o
}

func start(t *testing.T, o *outbox.Outbox) {
	t.Helper()
	require.NoError(t, o.Start(t.Context()))
	t.Cleanup(func() { _ = o.Stop(context.Background()) })
}

// received collects what a consumer group got, by payload.
type received struct {
	mu  sync.Mutex
	got map[string]int
}

func (r *received) all(n int) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range n {
		if r.got[fmt.Sprint(i)] == 0 {
			return false
		}
	}
	return true
}

func consume(t *testing.T, b *bus.Bus, topic, group string) *received {
	t.Helper()
	r := &received{got: map[string]int{}}
	stop, err := b.ConsumeBatches(topic, group, 64, func(_ context.Context, msgs []*message.Message) error {
		r.mu.Lock()
		defer r.mu.Unlock()
		for _, m := range msgs {
			r.got[string(m.Payload)]++
		}
		return nil
	})
	require.NoError(t, err)
	t.Cleanup(stop)
	return r
}

func publishN(t *testing.T, o *outbox.Outbox, topic string, from, n int) {
	t.Helper()
	for i := from; i < from+n; i++ {
		m := message.NewMessage(fmt.Sprintf("uuid-%d", i), []byte(fmt.Sprint(i)))
		m.Metadata.Set("k", "v")
		m.SetContext(t.Context())
		require.NoError(t, o.Publish(topic, m))
	}
}

func rows(t *testing.T, d *db.DB) int {
	t.Helper()
	n, err := d.Bun().NewSelect().Table("outbox").Count(t.Context())
	require.NoError(t, err)
	return int(n)
}

// eachSetup runs body on SQLite with the in-process bus and on PostgreSQL with Redis.
func eachSetup(t *testing.T, body func(t *testing.T, d *db.DB, cfg bus.Config)) {
	t.Run("sqlite+inprocess", func(t *testing.T) { body(t, dbtest.SQLite(t, migrations.Outbox), bustest.Config()) })
	t.Run("postgres+redis", func(t *testing.T) { body(t, dbtest.Postgres(t, migrations.Outbox), bustest.Redis(t)) })
}

// Every published message reaches every group, in order, with its metadata, and leaves the
// table once every group acknowledged it.
func TestPublishedMessagesReachEveryGroupThenLeave(t *testing.T) {
	eachSetup(t, func(t *testing.T, d *db.DB, cfg bus.Config) {
		b := newBus(t, cfg)
		var mu sync.Mutex
		var order []string
		stop, err := b.ConsumeBatches("events", "ordered", 64, func(_ context.Context, msgs []*message.Message) error {
			mu.Lock()
			defer mu.Unlock()
			for _, m := range msgs {
				assert.Equal(t, "v", m.Metadata.Get("k"))
				order = append(order, string(m.Payload))
			}
			return nil
		})
		require.NoError(t, err)
		t.Cleanup(stop)
		other := consume(t, b, "events", "other")
		o := newOutbox(t, d, b)
		start(t, o)

		const n = 300
		publishN(t, o, "events", 0, n)
		require.Eventually(t, func() bool { return other.all(n) }, wait, 10*time.Millisecond)
		require.Eventually(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(order) >= n }, wait, 10*time.Millisecond)
		mu.Lock()
		for i, p := range order {
			require.Equal(t, fmt.Sprint(i), p, "in publish order")
		}
		mu.Unlock()
		require.Eventually(t, func() bool { return rows(t, d) == 0 }, wait, 10*time.Millisecond, "consumed rows are deleted")
		require.NoError(t, o.Check(t.Context()))
	})
}

// Publish returns once the message is stored: a process that dies before its relay published
// it (or before every group consumed it) leaves it to the next run, which publishes it.
func TestWhatACrashLeftIsPublishedByTheNextRun(t *testing.T) {
	eachSetup(t, func(t *testing.T, d *db.DB, cfg bus.Config) {
		first := newBus(t, cfg)
		crashed := newOutbox(t, d, first)
		publishN(t, crashed, "events", 0, 50) // relay never started: the process died at once
		require.Equal(t, 50, rows(t, d))

		// The next run, on a new bus (in-process: everything in memory died with the process).
		b := first
		if first.InProcess() {
			b = newBus(t, cfg)
		}
		got := consume(t, b, "events", "g")
		o := newOutbox(t, d, b)
		start(t, o)
		publishN(t, o, "events", 50, 50)
		require.Eventually(t, func() bool { return got.all(100) }, wait, 10*time.Millisecond)
		require.Eventually(t, func() bool { return rows(t, d) == 0 }, wait, 10*time.Millisecond)
	})
}

// Redis restarted without its data: the messages no group had acknowledged are gone from the
// broker. The outbox notices (the incarnation changed and they are missing) and publishes them
// again; the consumer, whose group was recreated, gets every message.
func TestMessagesTheBrokerLostArePublishedAgain(t *testing.T) {
	d := dbtest.Postgres(t, migrations.Outbox)
	cfg := bustest.Redis(t)
	opts, err := redis.ParseURL(cfg.RedisURL)
	require.NoError(t, err)
	admin := redis.NewClient(opts)
	t.Cleanup(func() { _ = admin.Close() })

	b := newBus(t, cfg)
	hold := make(chan struct{})
	var mu sync.Mutex
	got := map[string]int{}
	stop, err := b.ConsumeBatches("events", "g", 16, func(ctx context.Context, msgs []*message.Message) error {
		select {
		case <-hold:
		case <-ctx.Done():
			return ctx.Err()
		}
		mu.Lock()
		defer mu.Unlock()
		for _, m := range msgs {
			got[string(m.Payload)]++
		}
		return nil
	})
	require.NoError(t, err)
	t.Cleanup(stop)
	o := newOutbox(t, d, b)
	start(t, o)

	const n = 100
	publishN(t, o, "events", 0, n)
	require.Eventually(t, func() bool {
		l, err := admin.XLen(t.Context(), cfg.Namespace+"events").Result()
		return err == nil && l == n
	}, wait, 10*time.Millisecond, "published, not consumed")

	// The broker loses everything of this deployment: streams, groups, the incarnation marker.
	keys, err := admin.Keys(t.Context(), cfg.Namespace+"*").Result()
	require.NoError(t, err)
	require.NoError(t, admin.Del(t.Context(), keys...).Err())
	close(hold)

	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		for i := range n {
			if got[fmt.Sprint(i)] == 0 {
				return false
			}
		}
		return true
	}, wait, 10*time.Millisecond, "every message reached the consumer after the loss")
	require.Eventually(t, func() bool { return rows(t, d) == 0 }, wait, 10*time.Millisecond)
}

// While the bus is down the outbox keeps the messages and says so; they go out when it is back.
func TestMessagesWaitForAnUnreachableBus(t *testing.T) {
	d := dbtest.SQLite(t, migrations.Outbox)
	cfg := bustest.Config()
	cfg.RedisURL = "redis://127.0.0.1:1/0" // nothing listens there
	b := newBus(t, cfg)
	o := newOutbox(t, d, b)
	start(t, o)
	publishN(t, o, "events", 0, 3)
	assert.Equal(t, 3, rows(t, d), "stored although the bus cannot take them")
}
