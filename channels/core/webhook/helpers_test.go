package webhook_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/28web/hub/channels/core"
	"github.com/28web/hub/channels/core/webhook"
	"github.com/28web/hub/migrations"
	"github.com/28web/hub/platform/db"
	"github.com/28web/hub/platform/db/dbtest"
)

// wait bounds every wait on a condition.
const wait = 10 * time.Second

func testLogger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	return slog.New(slog.DiscardHandler)
}

// fastConfig retries in milliseconds.
func fastConfig(url string) webhook.Config {
	return webhook.Config{
		URL:                 url,
		APIKey:              "gw-test-key",
		Timeout:             500 * time.Millisecond,
		RetrySchedule:       []time.Duration{10 * time.Millisecond, 20 * time.Millisecond, 40 * time.Millisecond},
		Jitter:              -1,
		PollInterval:        50 * time.Millisecond,
		AllowPrivateTargets: true,
		PruneInterval:       time.Hour,
	}
}

// eachDB runs body on SQLite and, with TEST_DATABASE_URL, PostgreSQL.
func eachDB(t *testing.T, body func(t *testing.T, d *db.DB)) {
	t.Helper()
	dbtest.Each(t, body, migrations.Webhooks)
}

// startService builds and starts a service without a bus; events go in with Ingest.
func startService(t *testing.T, d *db.DB, cfg webhook.Config, opts ...webhook.Option) *webhook.Service {
	t.Helper()
	svc, err := webhook.New(cfg, d, nil, nil, testLogger(), opts...)
	require.NoError(t, err)
	require.NoError(t, svc.Start(t.Context()))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		require.NoError(t, svc.Stop(ctx))
	})
	return svc
}

// received is one request a receiver got.
type received struct {
	Header http.Header
	Body   []byte
	Event  core.Event
}

// receiver is a real HTTP endpoint on 127.0.0.1 recording what it gets; respond decides each
// answer (nil: 204).
type receiver struct {
	*httptest.Server
	mu      sync.Mutex
	got     []received
	respond func(n int, w http.ResponseWriter, r *http.Request) bool
	notify  chan struct{}
}

func newReceiver(t *testing.T, respond func(n int, w http.ResponseWriter, r *http.Request) bool) *receiver {
	t.Helper()
	rc := &receiver{respond: respond, notify: make(chan struct{}, 1)}
	rc.Server = httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(rc.Close)
	return rc
}

// serve records the request when respond (if any) reports it as accepted; a nil respond
// accepts everything with 204.
func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	n := len(rc.got)
	rc.mu.Unlock()
	if rc.respond != nil && !rc.respond(n, w, r) {
		return
	}
	var ev core.Event
	_ = json.Unmarshal(body, &ev)
	rc.mu.Lock()
	rc.got = append(rc.got, received{Header: r.Header.Clone(), Body: body, Event: ev})
	rc.mu.Unlock()
	select {
	case rc.notify <- struct{}{}:
	default:
	}
	if rc.respond == nil {
		w.WriteHeader(http.StatusNoContent)
	}
}

func (rc *receiver) requests() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.got...)
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitCount waits until rc has at least n accepted requests.
func (rc *receiver) waitCount(t *testing.T, n int) []received {
	t.Helper()
	waitFor(t, strconv.Itoa(n)+" requests", func() bool { return len(rc.requests()) >= n })
	return rc.requests()
}

func event(session core.SessionID, body string) core.Event {
	return core.NewEvent(session, &core.MessageEvent{Kind: core.EventMessage, ID: core.MessageID("m-" + body),
		ChatID: "5511999990001@s.whatsapp.net", From: "5511999990001@s.whatsapp.net", Type: core.MessageText,
		Body: body, Timestamp: time.Now().UTC()})
}

// verifyStandardWebhook checks a request the Standard Webhooks way, written from the spec
// (https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md)
// without the package's signer: the signed content is "<webhook-id>.<webhook-timestamp>.<body>",
// HMAC-SHA256 keyed with the base64-decoded part of the whsec_ secret, sent as space-separated
// "v1,<base64>" entries; the timestamp must be within tolerance of now.
func verifyStandardWebhook(secret string, h http.Header, body []byte, tolerance time.Duration) bool {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return false
	}
	id, ts := h.Get("webhook-id"), h.Get("webhook-timestamp")
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || id == "" {
		return false
	}
	if d := time.Since(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return false
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "." + string(body)))
	want := mac.Sum(nil)
	for _, sig := range strings.Fields(h.Get("webhook-signature")) {
		version, b64, ok := strings.Cut(sig, ",")
		if !ok || version != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(b64)
		if err == nil && hmac.Equal(got, want) {
			return true
		}
	}
	return false
}

// listEndpoints lists every endpoint of svc.
func listEndpoints(t *testing.T, svc *webhook.Service) []webhook.EndpointView {
	t.Helper()
	eps, err := svc.Endpoints(t.Context())
	require.NoError(t, err)
	return eps
}

// must returns a function unwrapping (value, error) pairs, failing the test on error.
func must[T any](t *testing.T) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		require.NoError(t, err)
		return v
	}
}
