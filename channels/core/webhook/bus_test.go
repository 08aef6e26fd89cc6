package webhook_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/28web/hub/channels/core"
	"github.com/28web/hub/channels/core/eventbus"
	"github.com/28web/hub/channels/core/webhook"
	"github.com/28web/hub/migrations"
	"github.com/28web/hub/platform/bus"
	"github.com/28web/hub/platform/db"
	"github.com/28web/hub/platform/db/dbtest"
)

const envRedisURL = "TEST_REDIS_URL"

func suffix(t testing.TB) string {
	b := make([]byte, 6)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return hex.EncodeToString(b)
}

// busTransport is one bus flavour with a topic of the test's own.
type busTransport struct {
	bus   *bus.Bus
	topic string
}

// eachBus runs body on the in-process bus and, with TEST_REDIS_URL, on Redis Streams.
func eachBus(t *testing.T, body func(t *testing.T, tr busTransport)) {
	t.Helper()
	cfg := func() bus.Config {
		return bus.Config{ClaimInterval: 100 * time.Millisecond, MaxIdleTime: 2 * time.Second, PoisonTopic: "poison." + suffix(t),
			CloseTimeout: 5 * time.Second, ConsumerName: "webhook-test-" + suffix(t),
			Retry: bus.RetryConfig{MaxRetries: 2, InitialInterval: 10 * time.Millisecond, MaxInterval: 50 * time.Millisecond, Multiplier: 2}}
	}
	newBus := func(t *testing.T, c bus.Config) *bus.Bus {
		b, err := bus.New(c, testLogger())
		require.NoError(t, err)
		t.Cleanup(func() { assert.NoError(t, b.Close()) })
		require.NoError(t, b.Ping(t.Context()))
		return b
	}
	t.Run("inprocess", func(t *testing.T) {
		body(t, busTransport{bus: newBus(t, cfg()), topic: core.TopicEvents})
	})
	t.Run("redis", func(t *testing.T) {
		url := os.Getenv(envRedisURL)
		if url == "" {
			t.Skipf("%s is not set", envRedisURL)
		}
		c := cfg()
		c.RedisURL = url
		topic := "events.webhook-test." + suffix(t)
		opts, err := redis.ParseURL(url)
		require.NoError(t, err)
		admin := redis.NewClient(opts)
		t.Cleanup(func() {
			_ = admin.Del(context.Background(), topic, c.PoisonTopic).Err()
			_ = admin.Close()
		})
		body(t, busTransport{bus: newBus(t, c), topic: topic})
	})
}

func TestBusToWebhook(t *testing.T) {
	eachBus(t, func(t *testing.T, tr busTransport) {
		d := dbtest.SQLite(t, migrations.Webhooks)
		rc := newReceiver(t, nil)
		cfg := fastConfig(rc.URL)
		cfg.Secret = webhook.NewSecret()
		svc, err := webhook.New(cfg, d, tr.bus, nil, testLogger(), webhook.WithTopic(tr.topic))
		require.NoError(t, err)
		require.NoError(t, svc.Start(t.Context()))
		t.Cleanup(func() { assert.NoError(t, svc.Stop(context.Background())) })

		var evs []core.Event
		for i := range 10 {
			evs = append(evs, event("s1", fmt.Sprintf("bus-%02d", i)))
		}
		pub := tr.bus.Publisher()
		for _, ev := range evs {
			msg, err := eventbus.EncodeEvent(ev)
			require.NoError(t, err)
			require.NoError(t, pub.Publish(tr.topic, msg))
		}
		// A duplicate on the bus (at-least-once) must not become a second delivery.
		dup, err := eventbus.EncodeEvent(evs[3])
		require.NoError(t, err)
		require.NoError(t, pub.Publish(tr.topic, dup))

		got := rc.waitCount(t, len(evs))
		for i, r := range got[:len(evs)] {
			assert.Equal(t, evs[i].ID, r.Event.ID, "bus order kept")
			assert.True(t, verifyStandardWebhook(cfg.Secret, r.Header, r.Body, time.Minute))
		}
		waitFor(t, "duplicate consumed", func() bool {
			ds, err := svc.Deliveries(t.Context(), webhook.DeliveryFilter{EventID: evs[3].ID})
			return err == nil && len(ds) == 1 && ds[0].Status == webhook.StatusSucceeded
		})
		assert.Never(t, func() bool { return len(rc.requests()) > len(evs) }, 200*time.Millisecond, 20*time.Millisecond)
	})
}

// The database is also what the bus handler waits for: with it gone the message is not acked.
func TestIngestFailsWithoutDatabase(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		rc := newReceiver(t, nil)
		svc := startService(t, d, fastConfig(rc.URL))
		require.NoError(t, d.Close())
		err := svc.Ingest(t.Context(), event("s1", "lost?"))
		assert.Error(t, err, "no ack without the row")
	}, migrations.Webhooks)
}
