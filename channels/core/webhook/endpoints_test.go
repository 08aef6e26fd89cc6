package webhook_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/28web/hub/channels/core"
	"github.com/28web/hub/channels/core/webhook"
	"github.com/28web/hub/migrations"
	"github.com/28web/hub/platform/db"
	"github.com/28web/hub/platform/db/dbtest"
)

func ack(session core.SessionID) core.Event {
	return core.NewEvent(session, &core.MessageAckEvent{ID: "m-1", ChatID: "5511999990001@s.whatsapp.net", Ack: core.Ack(2)})
}

func TestSessionEndpointsAndFilters(t *testing.T) {
	eachDB(t, func(t *testing.T, d *db.DB) {
		global := newReceiver(t, nil)
		s1All := newReceiver(t, nil)
		s1Acks := newReceiver(t, nil)
		s2All := newReceiver(t, nil)
		cfg := fastConfig(global.URL)
		cfg.Events = []string{string(core.EventMessage)}
		svc := startService(t, d, cfg)

		views, err := svc.SetSessionEndpoints(t.Context(), "s1", []webhook.EndpointInput{
			{URL: s1All.URL, Headers: map[string]string{"authorization": "Bearer t0k"}},
			{URL: s1Acks.URL, Events: []core.EventType{core.EventMessageAck}},
		})
		require.NoError(t, err)
		require.Len(t, views, 2)
		for _, v := range views {
			assert.True(t, strings.HasPrefix(v.Secret, "whsec_"), "a new endpoint's secret is returned once")
			assert.Equal(t, core.SessionID("s1"), v.SessionID)
		}
		assert.Equal(t, map[string]string{"Authorization": "[redacted]"}, views[0].Headers)
		s2, err := svc.CreateSessionEndpoint(t.Context(), "s2", webhook.EndpointInput{URL: s2All.URL})
		require.NoError(t, err)

		evs := []core.Event{event("s1", "one"), ack("s1"), event("s2", "two"), ack("s2"), event("s3", "three")}
		for _, ev := range evs {
			require.NoError(t, svc.Ingest(t.Context(), ev))
		}
		// Global: messages only, every session.
		g := global.waitCount(t, 3)
		s1a := s1All.waitCount(t, 2)
		s1k := s1Acks.waitCount(t, 1)
		s2a := s2All.waitCount(t, 2)
		ids := func(rs []received) []core.EventID {
			var out []core.EventID
			for _, r := range rs {
				out = append(out, r.Event.ID)
			}
			return out
		}
		assert.ElementsMatch(t, []core.EventID{evs[0].ID, evs[2].ID, evs[4].ID}, ids(g))
		assert.Equal(t, []core.EventID{evs[0].ID, evs[1].ID}, ids(s1a))
		assert.Equal(t, []core.EventID{evs[1].ID}, ids(s1k))
		assert.Equal(t, []core.EventID{evs[2].ID, evs[3].ID}, ids(s2a))

		// Per-session endpoints are signed with their own secret, carry their headers, and never
		// get the gateway's API key.
		assert.True(t, verifyStandardWebhook(views[0].Secret, s1a[0].Header, s1a[0].Body, time.Minute))
		assert.True(t, verifyStandardWebhook(s2.Secret, s2a[0].Header, s2a[0].Body, time.Minute))
		assert.Equal(t, "Bearer t0k", s1a[0].Header.Get("Authorization"))
		assert.Empty(t, s1a[0].Header.Get("x-28web-gateway-key"))
		assert.Equal(t, "gw-test-key", g[0].Header.Get("x-28web-gateway-key"))

		// Replacing keeps a listed URL's endpoint (same id, no secret shown) and drops the rest.
		again, err := svc.SetSessionEndpoints(t.Context(), "s1", []webhook.EndpointInput{{URL: s1All.URL, Events: []core.EventType{core.EventMessageAck}}})
		require.NoError(t, err)
		require.Len(t, again, 1)
		assert.Equal(t, views[0].ID, again[0].ID)
		assert.Empty(t, again[0].Secret)
		assert.Equal(t, []core.EventType{core.EventMessageAck}, again[0].Events)
		assert.Len(t, must[[]webhook.EndpointView](t)(svc.SessionEndpoints(t.Context(), "s1")), 1)

		// Input errors wrap core.ErrInvalid or ErrConflict.
		_, err = svc.CreateSessionEndpoint(t.Context(), "s2", webhook.EndpointInput{URL: s2All.URL})
		assert.ErrorIs(t, err, core.ErrConflict)
		for _, in := range []webhook.EndpointInput{
			{URL: "ftp://example.com/x"},
			{URL: "https://user:pw@example.com/x"},
			{URL: "https://example.com/x", Events: []core.EventType{"nope"}},
			{URL: "https://example.com/x", Headers: map[string]string{"webhook-signature": "x"}},
			{URL: "https://example.com/x", Headers: map[string]string{"X-Bad": "a\r\nb"}},
		} {
			_, err := svc.CreateSessionEndpoint(t.Context(), "s2", in)
			assert.ErrorIs(t, err, core.ErrInvalid, "%+v", in)
		}

		require.NoError(t, svc.DeleteSessionEndpoint(t.Context(), "s2", s2.ID))
		assert.ErrorIs(t, svc.DeleteSessionEndpoint(t.Context(), "s2", s2.ID), core.ErrNotFound)
		require.NoError(t, svc.DeleteSessionEndpoints(t.Context(), "s1"))
		assert.Len(t, listEndpoints(t, svc), 1, "only the global endpoint is left")
	})
}

func TestPrivateTargetsRefused(t *testing.T) {
	eachDB(t, func(t *testing.T, d *db.DB) {
		cfg := fastConfig("")
		cfg.AllowPrivateTargets = false
		svc := startService(t, d, cfg)
		for _, u := range []string{"http://127.0.0.1:8080/x", "http://localhost/x", "http://10.0.0.5/x", "http://[::1]/x",
			"http://169.254.169.254/latest/meta-data", "http://192.168.1.1/", "http://100.64.0.1/"} {
			_, err := svc.CreateSessionEndpoint(t.Context(), "s1", webhook.EndpointInput{URL: u})
			assert.ErrorIs(t, err, core.ErrInvalid, u)
		}
		_, err := svc.CreateSessionEndpoint(t.Context(), "s1", webhook.EndpointInput{URL: "https://hooks.example.com/x"})
		assert.NoError(t, err)

		bad := fastConfig("http://user:pw@127.0.0.1:9/x")
		bad.AllowPrivateTargets = false
		_, err = webhook.New(bad, d, nil, nil, testLogger())
		assert.Error(t, err, "credentials in the global URL")
	})
}

func TestRedeliverAndRotate(t *testing.T) {
	eachDB(t, func(t *testing.T, d *db.DB) {
		rc := newReceiver(t, nil)
		cfg := fastConfig(rc.URL)
		cfg.Secret = webhook.NewSecret()
		svc := startService(t, d, cfg)
		ev := event("s1", "again")
		require.NoError(t, svc.Ingest(t.Context(), ev))
		first := rc.waitCount(t, 1)[0]
		del, _ := deliveryOf(t, svc, ev.ID, webhook.StatusSucceeded)

		_, err := svc.Redeliver(t.Context(), del.ID+1000)
		assert.ErrorIs(t, err, core.ErrNotFound)

		_, err = svc.RotateSecret(t.Context(), webhook.GlobalEndpointID)
		assert.ErrorIs(t, err, core.ErrConflict, "a configured secret is rotated in the configuration")

		// Without a configured secret the stored one rotates through the API.
		require.NoError(t, svc.Stop(t.Context()))
		oldSecret := cfg.Secret
		cfg.Secret = ""
		svc = startService(t, d, cfg)
		rotated, err := svc.RotateSecret(t.Context(), webhook.GlobalEndpointID)
		require.NoError(t, err)
		cfg.Secret = oldSecret
		require.NotEqual(t, cfg.Secret, rotated.Secret)
		require.NotNil(t, rotated.PreviousSecretExpiresAt)

		_, err = svc.Redeliver(t.Context(), del.ID)
		require.NoError(t, err)
		second := rc.waitCount(t, 2)[1]
		assert.Equal(t, first.Header.Get("webhook-id"), second.Header.Get("webhook-id"), "a redelivery keeps the idempotency key")
		assert.Equal(t, first.Body, second.Body)
		assert.Len(t, strings.Fields(second.Header.Get("webhook-signature")), 2, "both secrets sign during the grace period")
		assert.True(t, verifyStandardWebhook(cfg.Secret, second.Header, second.Body, time.Minute), "old secret still verifies")
		assert.True(t, verifyStandardWebhook(rotated.Secret, second.Header, second.Body, time.Minute), "new secret verifies")

		del, atts := deliveryOf(t, svc, ev.ID, webhook.StatusSucceeded)
		assert.Equal(t, 2, del.Attempts)
		assert.Len(t, atts, 2)

		// A configured secret that changed at start is a rotation too.
		require.NoError(t, svc.Stop(t.Context()))
		cfg.Secret = webhook.NewSecret()
		svc2 := startService(t, d, cfg)
		eps := listEndpoints(t, svc2)
		require.Len(t, eps, 1)
		assert.NotNil(t, eps[0].PreviousSecretExpiresAt)
	})
}

func TestDisabledAfterFailingTooLong(t *testing.T) {
	eachDB(t, func(t *testing.T, d *db.DB) {
		rc := newReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) bool {
			w.WriteHeader(http.StatusInternalServerError)
			return false
		})
		cfg := fastConfig(rc.URL)
		cfg.DisableAfter = 30 * time.Millisecond
		cfg.RetrySchedule = []time.Duration{20 * time.Millisecond, 20 * time.Millisecond, 20 * time.Millisecond, 20 * time.Millisecond}
		svc := startService(t, d, cfg)
		require.NoError(t, svc.Ingest(t.Context(), event("s1", "x")))
		waitFor(t, "endpoint disabled", func() bool {
			eps := listEndpoints(t, svc)
			return len(eps) == 1 && eps[0].Disabled
		})
		eps := listEndpoints(t, svc)
		assert.Contains(t, eps[0].DisabledReason, "failing")
		assert.Error(t, svc.Check(t.Context()))
		v, err := svc.EnableEndpoint(t.Context(), webhook.GlobalEndpointID)
		require.NoError(t, err)
		assert.False(t, v.Disabled)
		assert.Nil(t, v.FailingSince)
	})
}

// Before Start has loaded the endpoints, endpoint operations answer ErrUnavailable instead of
// acting on an empty set.
func TestEndpointOperationsWaitForStart(t *testing.T) {
	d := dbtest.SQLite(t, migrations.Webhooks)
	svc, err := webhook.New(fastConfig(""), d, nil, nil, testLogger())
	require.NoError(t, err)
	_, err = svc.Endpoints(t.Context())
	assert.ErrorIs(t, err, core.ErrUnavailable)
	_, err = svc.SetSessionEndpoints(t.Context(), "s1", nil)
	assert.ErrorIs(t, err, core.ErrUnavailable)
	_, err = svc.RotateSecret(t.Context(), webhook.GlobalEndpointID)
	assert.ErrorIs(t, err, core.ErrUnavailable)
	require.NoError(t, svc.Start(t.Context()))
	t.Cleanup(func() { assert.NoError(t, svc.Stop(context.Background())) })
	_, err = svc.Endpoints(t.Context())
	assert.NoError(t, err)
}

// The global endpoint is the operator's: it may be an internal address even when per-session
// endpoints may not.
func TestGlobalEndpointMayBeInternal(t *testing.T) {
	d := dbtest.SQLite(t, migrations.Webhooks)
	rc := newReceiver(t, nil)
	cfg := fastConfig(rc.URL)
	cfg.AllowPrivateTargets = false
	svc := startService(t, d, cfg)
	ev := event("s1", "internal")
	require.NoError(t, svc.Ingest(t.Context(), ev))
	assert.Equal(t, ev.ID, rc.waitCount(t, 1)[0].Event.ID)
	_, err := svc.CreateSessionEndpoint(t.Context(), "s1", webhook.EndpointInput{URL: rc.URL})
	assert.ErrorIs(t, err, core.ErrInvalid)
}
