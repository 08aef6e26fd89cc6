package webhook_test

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/fx"

	"github.com/28web/hub/channels/core/webhook"
	"github.com/28web/hub/migrations"
	"github.com/28web/hub/platform/bus"
	"github.com/28web/hub/platform/db"
	"github.com/28web/hub/platform/db/dbtest"
	"github.com/28web/hub/platform/health"
	"github.com/28web/hub/platform/httpserver"
)

func TestPruneOldDeliveries(t *testing.T) {
	eachDB(t, func(t *testing.T, d *db.DB) {
		rc := newReceiver(t, nil)
		cfg := fastConfig(rc.URL)
		cfg.Retention = time.Second // long enough that "fresh" is still young when Prune runs, even under -race
		svc := startService(t, d, cfg)
		old := event("s1", "old")
		require.NoError(t, svc.Ingest(t.Context(), old))
		deliveryOf(t, svc, old.ID, webhook.StatusSucceeded)
		waitFor(t, "retention to pass", func() bool {
			ds, _ := svc.Deliveries(t.Context(), webhook.DeliveryFilter{Until: time.Now().Add(-cfg.Retention)})
			return len(ds) == 1
		})
		fresh := event("s1", "fresh")
		require.NoError(t, svc.Ingest(t.Context(), fresh))
		deliveryOf(t, svc, fresh.ID, webhook.StatusSucceeded)

		n, err := svc.Prune(t.Context())
		require.NoError(t, err)
		assert.Equal(t, int64(1), n)
		ds, err := svc.Deliveries(t.Context(), webhook.DeliveryFilter{})
		require.NoError(t, err)
		require.Len(t, ds, 1)
		assert.Equal(t, fresh.ID, ds[0].EventID)
	})
}

func TestMetrics(t *testing.T) {
	d := dbtest.SQLite(t, migrations.Webhooks)
	var calls atomic.Int64
	rc := newReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) bool {
		if calls.Add(1) == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return false
		}
		w.WriteHeader(http.StatusOK)
		return true
	})
	reg := prometheus.NewRegistry()
	svc, err := webhook.New(fastConfig(rc.URL), d, nil, reg, testLogger(), webhook.WithLatencyMetrics())
	require.NoError(t, err)
	require.NoError(t, svc.Start(t.Context()))
	t.Cleanup(func() { assert.NoError(t, svc.Stop(context.Background())) })
	ev := event("s1", "counted")
	require.NoError(t, svc.Ingest(t.Context(), ev))
	deliveryOf(t, svc, ev.ID, webhook.StatusSucceeded)

	// The counters move just after the delivery row is updated, so poll them.
	var values map[string]float64
	waitFor(t, "the success to be counted", func() bool {
		values = gather(t, reg)
		return values[`gateway_webhook_attempt_duration_seconds_count`] == 2 &&
			values[`gateway_webhook_deliveries_total{status="succeeded"}`] == 1
	})
	assert.Equal(t, 1.0, values[`gateway_webhook_attempts_total{outcome="failure"}`])
	assert.Equal(t, 1.0, values[`gateway_webhook_attempts_total{outcome="success"}`])
	assert.Equal(t, 1.0, values[`gateway_webhook_deliveries_total{status="succeeded"}`])
	assert.Equal(t, 1.0, values[`gateway_webhook_retries_total`])
	assert.Equal(t, 2.0, values[`gateway_webhook_attempt_duration_seconds_count`])
	for _, name := range []string{"gateway_webhook_queue_depth", "gateway_webhook_inflight", "gateway_webhook_endpoints_disabled"} {
		_, ok := values[name]
		assert.True(t, ok, name)
	}
}

// gather flattens a registry into "name{label=\"value\"}" → value.
func gather(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			key := mf.GetName()
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+`="`+l.GetValue()+`"`)
			}
			if len(labels) > 0 {
				key += "{" + strings.Join(labels, ",") + "}"
			}
			switch {
			case m.GetCounter() != nil:
				out[key] = m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				out[key] = m.GetGauge().GetValue()
			case m.GetHistogram() != nil:
				out[key+"_count"] = float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return out
}

// The fx module starts with its dependencies, registers its operations and health check, and
// stops cleanly.
func TestModule(t *testing.T) {
	d := dbtest.SQLite(t, migrations.Webhooks)
	bs, err := bus.New(bus.Config{}, testLogger())
	require.NoError(t, err)
	t.Cleanup(func() { _ = bs.Close() })
	hcfg := httpserver.Config{APIKey: apiKey}
	hcfg.SetDefaults()
	srv, err := httpserver.New(hcfg, httpserver.APIInfo{Title: "t", Version: "1"}, testLogger())
	require.NoError(t, err)

	var checks []health.Check
	app := fx.New(
		fx.NopLogger,
		fx.Supply(fastConfig(""), d, bs, testLogger(), fx.Annotate(srv.API(), fx.As(new(huma.API))), srv.Errors()),
		fx.Provide(func() prometheus.Registerer { return prometheus.NewRegistry() }),
		webhook.Module,
		fx.Invoke(fx.Annotate(func(cs []health.Check) { checks = cs }, fx.ParamTags(`group:"health_checks"`))),
	)
	require.NoError(t, app.Err())
	require.NoError(t, app.Start(t.Context()))
	require.NoError(t, app.Stop(context.Background()))
	require.Len(t, checks, 1)
	assert.Equal(t, "webhooks", checks[0].Name)
	assert.NotNil(t, srv.API().OpenAPI().Paths["/api/v1/webhooks/deliveries"])
	assert.NotEmpty(t, srv.API().OpenAPI().Webhooks)
}
