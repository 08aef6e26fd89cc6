package webhook

import (
	"context"
	"log/slog"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/fx"

	"github.com/28web/hub/channels/core"
	"github.com/28web/hub/platform/bus"
	"github.com/28web/hub/platform/db"
	"github.com/28web/hub/platform/health"
	"github.com/28web/hub/platform/httpserver"
	platmetrics "github.com/28web/hub/platform/metrics"
)

// Module provides *Service (started with the app, stopped before the bus and database), its
// "webhooks" health check, and registers the API operations and the OpenAPI webhooks section.
// It needs a Config (APIKey filled with the gateway's key), *db.DB migrated with
// migrations.Webhooks before it starts, *bus.Bus, huma.API, *httpserver.ErrorMapper and a
// *slog.Logger; a prometheus.Registerer and a SessionChecker are optional (without the latter
// the session operations do not answer 404 for unknown sessions).
var Module = fx.Module("webhook",
	fx.Provide(
		NewFx,
		health.AsCheck(func(s *Service) health.Check { return health.Check{Name: "webhooks", Func: s.Check} }),
	),
	fx.Invoke(func(p RoutesParams) {
		RegisterRoutes(p.API, p.Service, p.Sessions, p.Errors)
		DocumentWebhooks(p.API)
	}),
)

// Params are NewFx's dependencies.
type Params struct {
	fx.In

	Lifecycle  fx.Lifecycle
	Config     Config
	DB         *db.DB
	Bus        *bus.Bus
	Registerer prometheus.Registerer `optional:"true"`
	Metrics    platmetrics.Options   `optional:"true"`
	Logger     *slog.Logger
	// Sink, when present, receives a webhook.disabled event whenever an endpoint is disabled.
	Sink core.EventSink `optional:"true"`
}

// RoutesParams are the API registration's dependencies.
type RoutesParams struct {
	fx.In

	API      huma.API
	Service  *Service
	Errors   *httpserver.ErrorMapper
	Sessions SessionChecker `optional:"true"`
}

// NewFx builds the service and binds its Start and Stop to the app's lifecycle.
func NewFx(p Params) (*Service, error) {
	logger := p.Logger.With("component", "webhook")
	var opts []Option
	if p.Metrics.Latency {
		opts = append(opts, WithLatencyMetrics())
	}
	if p.Sink != nil {
		opts = append(opts, WithDisableHook(reportDisabled(p.Sink, logger)))
	}
	s, err := New(p.Config, p.DB, p.Bus, p.Registerer, logger, opts...)
	if err != nil {
		return nil, err
	}
	p.Lifecycle.Append(fx.StartStopHook(s.Start, s.Stop))
	return s, nil
}

// reportDisabled publishes a webhook.disabled event for each disabled endpoint. The hook must not
// block the dispatcher, so the event is published from a goroutine of its own.
func reportDisabled(sink core.EventSink, logger *slog.Logger) func(EndpointView) {
	return func(ep EndpointView) {
		ev := core.NewEvent(ep.SessionID, &core.WebhookDisabledEvent{EndpointID: string(ep.ID), URL: ep.URL, Reason: ep.DisabledReason})
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := sink.Publish(ctx, ev); err != nil {
				logger.Error("publish webhook.disabled", slog.String("endpoint", string(ep.ID)), slog.String("error", err.Error()))
			}
		}()
	}
}
