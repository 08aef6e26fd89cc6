package webhook_test

import (
	"context"
	"fmt"
	"net"
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

// switchable serves a receiver's handler on a fixed 127.0.0.1 port that can go down (connection
// refused) and come back.
type switchable struct {
	addr string
	h    http.Handler
	srv  *http.Server
}

func newSwitchable(t *testing.T, h http.Handler) *switchable {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s := &switchable{addr: ln.Addr().String(), h: h}
	s.serve(ln)
	t.Cleanup(s.down)
	return s
}

func (s *switchable) serve(ln net.Listener) {
	s.srv = &http.Server{Handler: s.h, ReadHeaderTimeout: time.Second}
	go func() { _ = s.srv.Serve(ln) }()
}

func (s *switchable) up(t *testing.T) {
	t.Helper()
	ln, err := net.Listen("tcp", s.addr)
	require.NoError(t, err)
	s.serve(ln)
}

func (s *switchable) down() {
	if s.srv != nil {
		_ = s.srv.Close()
		s.srv = nil
	}
}

func TestReceiverDownThenBack(t *testing.T) {
	eachDB(t, func(t *testing.T, d *db.DB) {
		rc := &receiver{notify: make(chan struct{}, 1)}
		// Half of the requests while up fail with 503 too, so retries interleave with fresh events.
		var n atomic.Int64
		rc.respond = func(_ int, w http.ResponseWriter, _ *http.Request) bool {
			if n.Add(1)%2 == 0 {
				w.WriteHeader(http.StatusServiceUnavailable)
				return false
			}
			w.WriteHeader(http.StatusNoContent)
			return true
		}
		srv := newSwitchable(t, http.HandlerFunc(rc.serve))
		cfg := fastConfig("http://" + srv.addr + "/hook")
		// Enough retries, 20-40 ms apart, to outlive the outage.
		cfg.RetrySchedule = make([]time.Duration, 60)
		for i := range cfg.RetrySchedule {
			cfg.RetrySchedule[i] = 20 * time.Millisecond
		}
		cfg.Jitter = 0.5
		svc := startService(t, d, cfg)

		sessions := []core.SessionID{"a", "b", "c"}
		const perSession = 15
		var sent []core.Event
		publish := func(from, to int) {
			for i := from; i < to; i++ {
				for _, s := range sessions {
					ev := event(s, fmt.Sprintf("%s-%02d", s, i))
					sent = append(sent, ev)
					require.NoError(t, svc.Ingest(t.Context(), ev))
				}
			}
		}
		publish(0, 5)
		srv.down()
		publish(5, 10)
		// Let the outage last a few retry rounds.
		waitFor(t, "retries during the outage", func() bool {
			ds, err := svc.Deliveries(t.Context(), webhook.DeliveryFilter{Status: webhook.StatusRetrying})
			return err == nil && len(ds) == len(sessions)
		})
		srv.up(t)
		publish(10, perSession)

		got := rc.waitCount(t, len(sent))
		// Every event accepted exactly once: a refused or failed attempt is not a delivery.
		seen := map[core.EventID]int{}
		lastBody := map[core.SessionID]string{}
		for _, r := range got {
			seen[r.Event.ID]++
			body := r.Event.Data.(*core.MessageEvent).Body
			assert.Greater(t, body, lastBody[r.Event.SessionID], "order kept within session %s", r.Event.SessionID)
			lastBody[r.Event.SessionID] = body
		}
		for _, ev := range sent {
			assert.Equal(t, 1, seen[ev.ID], "event %s accepted once", ev.Data.(*core.MessageEvent).Body)
		}
		assert.Len(t, got, len(sent))
		waitFor(t, "all succeeded", func() bool {
			ds, err := svc.Deliveries(t.Context(), webhook.DeliveryFilter{Status: webhook.StatusSucceeded, Limit: 500})
			return err == nil && len(ds) == len(sent)
		})
	})
}

func TestRestartDeliversPending(t *testing.T) {
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
		cfg.RetrySchedule = []time.Duration{50 * time.Millisecond, 50 * time.Millisecond, 50 * time.Millisecond,
			50 * time.Millisecond, 50 * time.Millisecond, 50 * time.Millisecond, 50 * time.Millisecond}
		svc, err := webhook.New(cfg, d, nil, nil, testLogger())
		require.NoError(t, err)
		require.NoError(t, svc.Start(t.Context()))
		var evs []core.Event
		for i := range 5 {
			for _, s := range []core.SessionID{"s1", "s2"} {
				ev := event(s, fmt.Sprintf("%s-pending-%d", s, i))
				evs = append(evs, ev)
				require.NoError(t, svc.Ingest(t.Context(), ev))
			}
		}
		// Each session's head has failed; the rest never left.
		deliveryOf(t, svc, evs[0].ID, webhook.StatusRetrying)
		deliveryOf(t, svc, evs[1].ID, webhook.StatusRetrying)
		ctx, cancel := context.WithTimeout(t.Context(), wait)
		defer cancel()
		require.NoError(t, svc.Stop(ctx))
		assert.Empty(t, rc.requests())

		// The receiver recovers while the gateway is down; a new instance on the same database
		// delivers everything, in order per session.
		up.Store(true)
		svc2 := startService(t, d, cfg)
		got := rc.waitCount(t, len(evs))
		last := map[core.SessionID]string{}
		seen := map[core.EventID]bool{}
		for _, r := range got {
			body := r.Event.Data.(*core.MessageEvent).Body
			assert.Greater(t, body, last[r.Event.SessionID])
			last[r.Event.SessionID] = body
			assert.False(t, seen[r.Event.ID], "delivered once")
			seen[r.Event.ID] = true
		}
		for _, ev := range evs {
			deliveryOf(t, svc2, ev.ID, webhook.StatusSucceeded)
		}
	})
}
