package webhook_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/28web/hub/channels/core"
	"github.com/28web/hub/channels/core/eventbus"
	"github.com/28web/hub/channels/core/webhook"
	"github.com/28web/hub/migrations"
	"github.com/28web/hub/platform/bus"
	"github.com/28web/hub/platform/db"
	"github.com/28web/hub/platform/db/dbtest"
)

// Benchmark parameters: 500 events/s for benchSeconds, spread over benchSessions sessions.
const (
	benchRate     = 500
	benchSeconds  = 10
	benchSessions = 50
	slowDelay     = 2 * time.Second
)

// BenchmarkDeliveryLatency measures event published on the bus → webhook received at a fast
// local receiver, at 500 events/s: alone, and with one extra endpoint taking 2 s per request
// receiving every event. It reports p50/p95/p99 in ms. Run it with
//
//	CGO_ENABLED=0 go test ./channels/core/webhook -run '^$' -bench DeliveryLatency -benchtime 1x
//
// TEST_DATABASE_URL and TEST_REDIS_URL add the PostgreSQL and Redis Streams variants.
func BenchmarkDeliveryLatency(b *testing.B) {
	type backend struct {
		name string
		db   func(b *testing.B) *db.DB
		bus  func(b *testing.B) (*bus.Bus, string)
	}
	inproc := func(b *testing.B) (*bus.Bus, string) {
		bs, err := bus.New(bus.Config{}, testLogger())
		require.NoError(b, err)
		b.Cleanup(func() { _ = bs.Close() })
		return bs, core.TopicEvents
	}
	backends := []backend{{name: "sqlite+inprocess", db: func(b *testing.B) *db.DB { return dbtest.SQLite(b, migrations.Webhooks) }, bus: inproc}}
	if os.Getenv(dbtest.EnvPostgresURL) != "" && os.Getenv(envRedisURL) != "" {
		backends = append(backends, backend{name: "postgres+redis",
			db: func(b *testing.B) *db.DB { return dbtest.Postgres(b, migrations.Webhooks) },
			bus: func(b *testing.B) (*bus.Bus, string) {
				bs, err := bus.New(bus.Config{RedisURL: os.Getenv(envRedisURL), ConsumerName: "bench-" + suffix(b)}, testLogger())
				require.NoError(b, err)
				topic := "events.webhook-bench." + suffix(b)
				b.Cleanup(func() { _ = bs.Close() })
				return bs, topic
			}})
	}
	for _, be := range backends {
		for _, withSlow := range []bool{false, true} {
			name := be.name + "/fast"
			if withSlow {
				name = be.name + "/fast+slow2s"
			}
			b.Run(name, func(b *testing.B) {
				var all []time.Duration
				var rate float64
				for range b.N {
					lat, r := runLatencyScenario(b, be.db(b), be.bus, withSlow)
					all = append(all, lat...)
					rate += r / float64(b.N)
				}
				b.ReportMetric(rate, "delivered/s")
				slices.Sort(all)
				pct := func(p float64) float64 {
					return float64(all[min(len(all)-1, int(p*float64(len(all))))].Microseconds()) / 1000
				}
				b.ReportMetric(pct(0.50), "p50-ms")
				b.ReportMetric(pct(0.95), "p95-ms")
				b.ReportMetric(pct(0.99), "p99-ms")
				b.ReportMetric(float64(all[len(all)-1].Microseconds())/1000, "max-ms")
				b.ReportMetric(0, "ns/op")
			})
		}
	}
}

// runLatencyScenario publishes benchRate events/s for benchSeconds and returns the latency of
// each at the fast receiver, and the rate at which they were delivered.
func runLatencyScenario(b *testing.B, d *db.DB, newBus func(*testing.B) (*bus.Bus, string), withSlow bool) ([]time.Duration, float64) {
	total := benchRate * benchSeconds
	var mu sync.Mutex
	lat := make([]time.Duration, 0, total)
	done := make(chan struct{})
	fast := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var env struct {
			Timestamp time.Time `json:"timestamp"`
		}
		if json.Unmarshal(body, &env) == nil {
			mu.Lock()
			lat = append(lat, time.Since(env.Timestamp))
			if len(lat) == total {
				close(done)
			}
			mu.Unlock()
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer fast.Close()
	stopSlow := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(slowDelay):
		case <-r.Context().Done():
		case <-stopSlow:
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer slow.Close()
	defer close(stopSlow)

	cfg := webhook.Config{AllowPrivateTargets: true, PollInterval: time.Second}
	if withSlow {
		cfg.URL = slow.URL
	}
	bs, topic := newBus(b)
	svc, err := webhook.New(cfg, d, bs, nil, testLogger(), webhook.WithTopic(topic))
	require.NoError(b, err)
	require.NoError(b, svc.Start(b.Context()))
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		require.NoError(b, svc.Stop(ctx))
	}()
	sessions := make([]core.SessionID, benchSessions)
	for i := range sessions {
		sessions[i] = core.SessionID(fmt.Sprintf("bench-%02d", i))
		_, err := svc.SetSessionEndpoints(b.Context(), sessions[i], []webhook.EndpointInput{{URL: fast.URL + "/" + string(sessions[i])}})
		require.NoError(b, err)
	}

	pub := bs.Publisher()
	b.ResetTimer()
	start := time.Now()
	interval := time.Second / benchRate
	for i := range total {
		if wait := time.Until(start.Add(time.Duration(i) * interval)); wait > 0 {
			time.Sleep(wait)
		}
		msg, err := eventbus.EncodeEvent(event(sessions[i%benchSessions], fmt.Sprintf("bench-%05d", i)))
		require.NoError(b, err)
		require.NoError(b, pub.Publish(topic, msg))
	}
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		b.Fatalf("only %d of %d events arrived", len(lat), total)
	}
	b.StopTimer()
	elapsed := time.Since(start)
	mu.Lock()
	defer mu.Unlock()
	return append([]time.Duration(nil), lat...), float64(total) / elapsed.Seconds()
}
