package webhook_test

import (
	"encoding/json"
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

func TestDeliverySignedEnvelope(t *testing.T) {
	eachDB(t, func(t *testing.T, d *db.DB) {
		rc := newReceiver(t, nil)
		cfg := fastConfig(rc.URL + "/hook?token=abc")
		cfg.Secret = webhook.NewSecret()
		svc := startService(t, d, cfg)

		ev := event("s1", "hello")
		require.NoError(t, svc.Ingest(t.Context(), ev))
		got := rc.waitCount(t, 1)[0]

		assert.True(t, verifyStandardWebhook(cfg.Secret, got.Header, got.Body, 5*time.Minute), "signature verifies independently")
		assert.False(t, verifyStandardWebhook(webhook.NewSecret(), got.Header, got.Body, 5*time.Minute), "another secret does not verify")
		assert.Equal(t, string(ev.ID), got.Header.Get("webhook-id"), "webhook-id is the event id")
		assert.Equal(t, "gw-test-key", got.Header.Get("x-28web-gateway-key"))
		assert.Equal(t, "application/json", got.Header.Get("Content-Type"))

		var env map[string]json.RawMessage
		require.NoError(t, json.Unmarshal(got.Body, &env))
		assert.ElementsMatch(t, []string{"id", "sessionId", "event", "timestamp", "data"}, keys(env))
		assert.Equal(t, ev.ID, got.Event.ID)
		assert.Equal(t, core.SessionID("s1"), got.Event.SessionID)
		assert.Equal(t, core.EventMessage, got.Event.Type)
		assert.Equal(t, "hello", got.Event.Data.(*core.MessageEvent).Body)

		// Ingesting the same event again (a bus redelivery) creates nothing new.
		require.NoError(t, svc.Ingest(t.Context(), ev))
		dels, err := svc.Deliveries(t.Context(), webhook.DeliveryFilter{EventID: ev.ID})
		require.NoError(t, err)
		require.Len(t, dels, 1)
		waitFor(t, "delivery succeeded", func() bool {
			dels, err := svc.Deliveries(t.Context(), webhook.DeliveryFilter{EventID: ev.ID})
			return err == nil && len(dels) == 1 && dels[0].Status == webhook.StatusSucceeded
		})
		assert.Len(t, rc.requests(), 1)
	})
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// deliveryOf waits for the single delivery of an event to reach status and returns it with
// its attempts.
func deliveryOf(t *testing.T, svc *webhook.Service, id core.EventID, status webhook.DeliveryStatus) (webhook.Delivery, []webhook.Attempt) {
	t.Helper()
	var found webhook.Delivery
	waitFor(t, "delivery "+string(status), func() bool {
		dels, err := svc.Deliveries(t.Context(), webhook.DeliveryFilter{EventID: id})
		if err != nil || len(dels) != 1 {
			return false
		}
		found = dels[0]
		return found.Status == status
	})
	d, atts, err := svc.Delivery(t.Context(), found.ID)
	require.NoError(t, err)
	return d, atts
}

func TestRetriesOnFailures(t *testing.T) {
	cases := []struct {
		name string
		// fail answers the first `failures` requests, which are not recorded as accepted
		fail     func(w http.ResponseWriter, r *http.Request)
		failures int
		wantErr  string
	}{
		{name: "500", failures: 2, wantErr: "HTTP 500: boom", fail: func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "boom", http.StatusInternalServerError)
		}},
		{name: "timeout", failures: 1, wantErr: "timeout", fail: func(_ http.ResponseWriter, r *http.Request) {
			<-r.Context().Done()
		}},
		{name: "connection closed", failures: 2, wantErr: "EOF", fail: func(w http.ResponseWriter, _ *http.Request) {
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				_ = conn.Close()
			}
		}},
		{name: "408", failures: 1, wantErr: "HTTP 408", fail: func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusRequestTimeout)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			eachDB(t, func(t *testing.T, d *db.DB) {
				var calls atomic.Int64
				rc := newReceiver(t, func(_ int, w http.ResponseWriter, r *http.Request) bool {
					if calls.Add(1) <= int64(tc.failures) {
						tc.fail(w, r)
						return false
					}
					w.WriteHeader(http.StatusOK)
					return true
				})
				cfg := fastConfig(rc.URL)
				cfg.Timeout = 200 * time.Millisecond
				svc := startService(t, d, cfg)
				ev := event("s1", "retry")
				require.NoError(t, svc.Ingest(t.Context(), ev))
				rc.waitCount(t, 1)

				del, atts := deliveryOf(t, svc, ev.ID, webhook.StatusSucceeded)
				assert.Equal(t, tc.failures+1, del.Attempts)
				require.Len(t, atts, tc.failures+1)
				for i, a := range atts[:tc.failures] {
					assert.Equal(t, i+1, a.Attempt)
					assert.Contains(t, a.Error, tc.wantErr)
					assert.False(t, a.NextAttemptAt.IsZero(), "a failed attempt says when the next one is")
				}
				last := atts[tc.failures]
				assert.Equal(t, http.StatusOK, last.StatusCode)
				assert.Empty(t, last.Error)
				assert.Len(t, rc.requests(), 1)
			})
		})
	}
}

func TestDeadLetterAfterLastAttempt(t *testing.T) {
	eachDB(t, func(t *testing.T, d *db.DB) {
		rc := newReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) bool {
			w.WriteHeader(http.StatusBadGateway)
			return false
		})
		svc := startService(t, d, fastConfig(rc.URL))
		ev := event("s1", "doomed")
		require.NoError(t, svc.Ingest(t.Context(), ev))
		del, atts := deliveryOf(t, svc, ev.ID, webhook.StatusDead)
		// The first attempt plus one per schedule entry.
		assert.Equal(t, 4, del.Attempts)
		assert.Len(t, atts, 4)
		assert.True(t, atts[3].NextAttemptAt.IsZero())
		assert.Equal(t, http.StatusBadGateway, del.LastStatus)
	})
}

func TestNoRetryOn4xx(t *testing.T) {
	eachDB(t, func(t *testing.T, d *db.DB) {
		rc := newReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) bool {
			http.Error(w, "bad payload", http.StatusBadRequest)
			return false
		})
		svc := startService(t, d, fastConfig(rc.URL))
		ev := event("s1", "rejected")
		require.NoError(t, svc.Ingest(t.Context(), ev))
		del, atts := deliveryOf(t, svc, ev.ID, webhook.StatusDead)
		assert.Equal(t, 1, del.Attempts)
		require.Len(t, atts, 1)
		assert.Equal(t, http.StatusBadRequest, atts[0].StatusCode)
		assert.Contains(t, atts[0].Error, "bad payload")
	})
}

func TestRetryAfterHonoured(t *testing.T) {
	eachDB(t, func(t *testing.T, d *db.DB) {
		var firstAt atomic.Pointer[time.Time]
		rc := newReceiver(t, func(n int, w http.ResponseWriter, _ *http.Request) bool {
			if now := time.Now(); firstAt.CompareAndSwap(nil, &now) {
				w.Header().Set("Retry-After", "1")
				w.WriteHeader(http.StatusTooManyRequests)
				return false
			}
			w.WriteHeader(http.StatusOK)
			return true
		})
		svc := startService(t, d, fastConfig(rc.URL))
		ev := event("s1", "throttled")
		require.NoError(t, svc.Ingest(t.Context(), ev))
		rc.waitCount(t, 1)
		// The schedule says 10 ms; Retry-After asked for a second.
		assert.GreaterOrEqual(t, time.Since(*firstAt.Load()), 900*time.Millisecond)
		_, atts := deliveryOf(t, svc, ev.ID, webhook.StatusSucceeded)
		require.Len(t, atts, 2)
		assert.Equal(t, http.StatusTooManyRequests, atts[0].StatusCode)
		assert.InDelta(t, time.Second.Seconds(), atts[0].NextAttemptAt.Sub(atts[0].At).Seconds(), 0.05)
	})
}

func TestGoneDisablesEndpointAndEnableRecovers(t *testing.T) {
	eachDB(t, func(t *testing.T, d *db.DB) {
		var gone atomic.Bool
		gone.Store(true)
		rc := newReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) bool {
			if gone.Load() {
				w.WriteHeader(http.StatusGone)
				return false
			}
			w.WriteHeader(http.StatusOK)
			return true
		})
		disabled := make(chan webhook.EndpointView, 1)
		svc := startService(t, d, fastConfig(rc.URL), webhook.WithDisableHook(func(v webhook.EndpointView) { disabled <- v }))
		first := event("s1", "first")
		require.NoError(t, svc.Ingest(t.Context(), first))
		del, _ := deliveryOf(t, svc, first.ID, webhook.StatusDead)
		assert.Equal(t, 1, del.Attempts)
		eps := listEndpoints(t, svc)
		require.Len(t, eps, 1)
		assert.True(t, eps[0].Disabled)
		assert.Contains(t, eps[0].DisabledReason, "410")
		assert.ErrorContains(t, svc.Check(t.Context()), "disabled")
		select {
		case v := <-disabled:
			assert.Equal(t, webhook.GlobalEndpointID, v.ID)
			assert.Empty(t, v.Secret)
		case <-time.After(wait):
			t.Fatal("disable hook not called")
		}
		stats, err := svc.Stats(t.Context())
		require.NoError(t, err)
		assert.Equal(t, webhook.Stats{Endpoints: 1, DisabledEndpoints: 1}, stats)

		// While disabled, events are logged dead at once and nothing is sent.
		second := event("s1", "second")
		require.NoError(t, svc.Ingest(t.Context(), second))
		del2, atts := deliveryOf(t, svc, second.ID, webhook.StatusDead)
		assert.Zero(t, del2.Attempts)
		assert.Empty(t, atts)

		// Recovery: re-enable, then redeliver what failed meanwhile.
		gone.Store(false)
		_, err = svc.EnableEndpoint(t.Context(), webhook.GlobalEndpointID)
		require.NoError(t, err)
		require.NoError(t, svc.Check(t.Context()))
		n, err := svc.RedeliverFailed(t.Context(), webhook.DeliveryFilter{Since: time.Now().Add(-time.Minute)})
		require.NoError(t, err)
		assert.Equal(t, 2, n)
		got := rc.waitCount(t, 2)
		assert.Equal(t, first.ID, got[0].Event.ID, "redelivery keeps the order")
		assert.Equal(t, second.ID, got[1].Event.ID)
		deliveryOf(t, svc, second.ID, webhook.StatusSucceeded)
	})
}
