package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/28web/hub/channels/core"
	"github.com/28web/hub/migrations"
	"github.com/28web/hub/platform/db/dbtest"
	"github.com/28web/hub/platform/netguard"
)

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	cases := map[string]time.Duration{
		"":     0,
		"120":  2 * time.Minute,
		"-5":   0,
		"soon": 0,
		now.Add(90 * time.Second).Format(http.TimeFormat): 90 * time.Second,
		now.Add(-time.Hour).Format(http.TimeFormat):       0,
	}
	for in, want := range cases {
		assert.Equal(t, want, parseRetryAfter(in, now), in)
	}
}

// The dial-time check refuses a loopback target even when the URL gave no literal address to
// validate: what counts is the address actually dialled.
func TestDialRefusesPrivateTargets(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) }))
	defer srv.Close()
	port := srv.URL[strings.LastIndex(srv.URL, ":"):]

	strict := newHTTPClient(false, 4)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, "http://localhost"+port+"/", nil)
	require.NoError(t, err)
	_, err = strict.Do(req)
	require.Error(t, err)
	assert.True(t, errors.Is(err, netguard.ErrForbidden), err)

	lax := newHTTPClient(true, 4)
	req, err = http.NewRequestWithContext(t.Context(), http.MethodPost, "http://localhost"+port+"/", nil)
	require.NoError(t, err)
	resp, err := lax.Do(req)
	require.NoError(t, err)
	_ = resp.Body.Close()
}

func TestResponseBodyLimited(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte(strings.Repeat("x", 1<<20)))
	}))
	defer srv.Close()
	cfg := Config{AllowPrivateTargets: true, MaxResponseBody: 100}
	cfg.SetDefaults()
	m, err := newMetrics(nil, true)
	require.NoError(t, err)
	d := newDispatcher(cfg, nil, m, nil)
	res := d.send(context.Background(), &Endpoint{ID: "e", URL: srv.URL, Secret: NewSecret()}, "evt", []byte(`{}`))
	assert.Equal(t, verdictRetry, res.verdict)
	assert.Equal(t, "HTTP 500: "+strings.Repeat("x", 100), res.err)
}

func TestSignKnownVector(t *testing.T) {
	// From the Standard Webhooks reference libraries' tests.
	secret := "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	sig, err := Sign([]string{secret}, "msg_p5jXN8AQM9LWM0D4loKWxJek", time.Unix(1614265330, 0), []byte(`{"test": 2432232314}`))
	require.NoError(t, err)
	assert.Equal(t, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", sig)
}

func TestConfigValidate(t *testing.T) {
	var c Config
	c.SetDefaults()
	require.NoError(t, c.Validate())
	assert.Len(t, c.RetrySchedule, 7)

	bad := Config{URL: "ftp://x", Secret: "nope", Events: []string{"bogus"}, Timeout: -1, Jitter: 2,
		RetrySchedule: []time.Duration{-time.Second}}
	bad.SetDefaults()
	err := bad.Validate()
	require.Error(t, err)
	for _, want := range []string{"url", "secret", "events", "timeout", "retry_schedule[0]", "jitter"} {
		assert.Contains(t, err.Error(), want)
	}
	// The operator's global URL may point at an internal backend.
	internal := Config{URL: "http://backend:3000/hook"}
	internal.SetDefaults()
	assert.NoError(t, internal.Validate())
}

// An event whose rows were committed by a try that never handed them to the dispatcher (its
// context ended first) is delivered when the bus redelivers it.
func TestRedeliveredEventAdoptsOrphanRows(t *testing.T) {
	d := dbtest.SQLite(t, migrations.Webhooks)
	got := make(chan string, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Get(HeaderID)
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	cfg := Config{URL: srv.URL, AllowPrivateTargets: true, PollInterval: time.Hour}
	svc, err := New(cfg, d, nil, nil, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	require.NoError(t, svc.Start(t.Context()))
	defer func() { assert.NoError(t, svc.Stop(context.Background())) }()

	ev := core.NewEvent("s1", &core.BatteryEvent{Battery: 50})
	payload, err := json.Marshal(ev)
	require.NoError(t, err)
	_, err = svc.store.insertDeliveries(t.Context(), svc.store.db, ev, payload, svc.disp.match(ev), time.Now())
	require.NoError(t, err)
	select {
	case id := <-got:
		t.Fatalf("orphan row %s sent before the redelivery", id)
	case <-time.After(50 * time.Millisecond):
	}

	require.NoError(t, svc.Ingest(t.Context(), ev))
	select {
	case id := <-got:
		assert.Equal(t, string(ev.ID), id)
	case <-time.After(10 * time.Second):
		t.Fatal("orphan row not delivered")
	}
}

// A delivery the SSRF policy refuses at dial time (the endpoint's name resolves inside) is dead
// after its first attempt, with the reason: no later attempt would be allowed either.
func TestDeliveryRefusedByThePolicyIsDeadAtOnce(t *testing.T) {
	d := dbtest.SQLite(t, migrations.Webhooks)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) }))
	defer srv.Close()
	port := srv.URL[strings.LastIndex(srv.URL, ":"):]
	svc, err := New(Config{PollInterval: 50 * time.Millisecond}, d, nil, nil, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	require.NoError(t, svc.Start(t.Context()))
	defer func() { assert.NoError(t, svc.Stop(context.Background())) }()

	// Stored as if its name had resolved to a public address when it was created.
	now := time.Now()
	ep := &Endpoint{ID: "ep_inside", SessionID: "s1", URL: "http://localhost" + port + "/hook", Secret: NewSecret(), CreatedAt: now, UpdatedAt: now}
	require.NoError(t, svc.store.upsertEndpoint(t.Context(), svc.store.db, ep))
	svc.disp.putEndpoint(ep, false)

	ev := core.NewEvent("s1", &core.BatteryEvent{Battery: 1})
	require.NoError(t, svc.Ingest(t.Context(), ev))
	var row Delivery
	deadline := time.Now().Add(10 * time.Second)
	for {
		list, err := svc.Deliveries(t.Context(), DeliveryFilter{EndpointID: "ep_inside"})
		require.NoError(t, err)
		if len(list) == 1 && list[0].Status == StatusDead {
			row = list[0]
			break
		}
		require.True(t, time.Now().Before(deadline), "delivery not dead within 10s")
		time.Sleep(10 * time.Millisecond) // polling interval, bounded by the deadline above
	}
	assert.Equal(t, 1, row.Attempts)
	assert.Contains(t, row.LastError, "refused by the SSRF policy")
}
