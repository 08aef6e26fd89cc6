package webhook_test

import (
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/28web/hub/channels/core"
	"github.com/28web/hub/channels/core/webhook"
	"github.com/28web/hub/platform/db"
)

// A stuck endpoint holds at most endpoint_concurrency requests and delays nobody else.
func TestSlowEndpointIsolated(t *testing.T) {
	eachDB(t, func(t *testing.T, d *db.DB) {
		release := make(chan struct{})
		var inflight, peak atomic.Int64
		slow := newReceiver(t, func(_ int, w http.ResponseWriter, r *http.Request) bool {
			n := inflight.Add(1)
			defer inflight.Add(-1)
			for {
				p := peak.Load()
				if n <= p || peak.CompareAndSwap(p, n) {
					break
				}
			}
			select {
			case <-release:
			case <-r.Context().Done():
				return false
			}
			w.WriteHeader(http.StatusOK)
			return true
		})
		fast := newReceiver(t, nil)
		cfg := fastConfig(slow.URL)
		cfg.EndpointConcurrency = 3
		cfg.Timeout = wait
		svc := startService(t, d, cfg)
		const sessions = 8
		for i := range sessions {
			_, err := svc.SetSessionEndpoints(t.Context(), core.SessionID(fmt.Sprint("s", i)), []webhook.EndpointInput{{URL: fast.URL}})
			require.NoError(t, err)
		}
		for i := range 5 * sessions {
			require.NoError(t, svc.Ingest(t.Context(), event(core.SessionID(fmt.Sprint("s", i%sessions)), fmt.Sprintf("e%02d", i))))
		}
		// Everything reaches the fast endpoint while the slow one is stuck.
		fast.waitCount(t, 5*sessions)
		assert.Empty(t, slow.requests())
		waitFor(t, "slow endpoint saturated", func() bool { return inflight.Load() == 3 })
		assert.Never(t, func() bool { return peak.Load() > 3 }, 100*time.Millisecond, 10*time.Millisecond)

		close(release)
		got := slow.waitCount(t, 5*sessions)
		assert.LessOrEqual(t, peak.Load(), int64(3))
		last := map[core.SessionID]string{}
		for _, r := range got {
			body := r.Event.Data.(*core.MessageEvent).Body
			assert.Greater(t, body, last[r.Event.SessionID], "order per session")
			last[r.Event.SessionID] = body
		}
	})
}

// Beyond max_queued_per_endpoint deliveries wait in the database and still go out, in order.
func TestQueueOverflowKeepsOrder(t *testing.T) {
	eachDB(t, func(t *testing.T, d *db.DB) {
		var up atomic.Bool
		rc := newReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) bool {
			if !up.Load() {
				w.WriteHeader(http.StatusServiceUnavailable)
				return false
			}
			w.WriteHeader(http.StatusOK)
			return true
		})
		cfg := fastConfig(rc.URL)
		cfg.MaxQueuedPerEndpoint = 3
		cfg.RetrySchedule = make([]time.Duration, 50)
		for i := range cfg.RetrySchedule {
			cfg.RetrySchedule[i] = 20 * time.Millisecond
		}
		svc := startService(t, d, cfg)
		var evs []core.Event
		for i := range 30 {
			ev := event(core.SessionID(fmt.Sprint("s", i%2)), fmt.Sprintf("o%02d", i))
			evs = append(evs, ev)
			require.NoError(t, svc.Ingest(t.Context(), ev))
		}
		deliveryOf(t, svc, evs[0].ID, webhook.StatusRetrying)
		up.Store(true)
		got := rc.waitCount(t, len(evs))
		last := map[core.SessionID]string{}
		seen := map[core.EventID]bool{}
		for _, r := range got {
			body := r.Event.Data.(*core.MessageEvent).Body
			assert.Greater(t, body, last[r.Event.SessionID], "order per session")
			last[r.Event.SessionID] = body
			assert.False(t, seen[r.Event.ID])
			seen[r.Event.ID] = true
		}
		assert.Len(t, seen, len(evs))
	})
}
