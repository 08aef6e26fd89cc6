// Package app wires the binaries from the modules: the gateway and the hub share the platform and
// core wiring and differ only in where the channel runs (in this process, or in a gateway reached
// over HTTP and its bus), the one switch Tempo-style single binaries keep in the wiring.
package app

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/danielgtaylor/huma/v2"
	"go.uber.org/fx"

	"github.com/28web/hub/channels/core"
	"github.com/28web/hub/channels/core/api"
	"github.com/28web/hub/channels/core/eventbus"
	"github.com/28web/hub/channels/core/media"
	"github.com/28web/hub/channels/core/pipeline"
	"github.com/28web/hub/channels/core/projection"
	"github.com/28web/hub/channels/core/store"
	"github.com/28web/hub/channels/core/webhook"
	"github.com/28web/hub/channels/whatsapp"
	"github.com/28web/hub/channels/whatsappcloud"
	"github.com/28web/hub/cmd/internal/config"
	"github.com/28web/hub/dashboard"
	"github.com/28web/hub/migrations"
	"github.com/28web/hub/openapi"
	"github.com/28web/hub/platform/bus"
	"github.com/28web/hub/platform/db"
	"github.com/28web/hub/platform/health"
	"github.com/28web/hub/platform/httpserver"
	"github.com/28web/hub/platform/log"
	"github.com/28web/hub/platform/metrics"
	"github.com/28web/hub/platform/outbox"
)

// APIVersion is the version of the REST API's contract (the OpenAPI document's info.version),
// apart from the binary's version, which /health reports.
const APIVersion = "1.0.0"

// GatewayInfo is the OpenAPI info block of the gateway's API.
func GatewayInfo() httpserver.APIInfo {
	return httpserver.APIInfo{
		Title:   "28web WhatsApp Gateway",
		Version: APIVersion,
		Description: "REST API of the 28web channel gateway: WhatsApp sessions, messages and contacts. " +
			"Every operation except GET /health and the API documents requires the x-28web-gateway-key header.",
	}
}

// MigrationSets are the schema of every module a binary runs.
func MigrationSets() []migrations.Set {
	return []migrations.Set{migrations.Core, migrations.Whatsapp, migrations.WhatsappCloud, migrations.HubRemote, migrations.Webhooks, migrations.Outbox}
}

// Platform wires configuration, logging, the database (migrated at start), the bus, the HTTP
// server, metrics and health.
func Platform(cfg *config.Config, info httpserver.APIInfo, version string, logger *slog.Logger) fx.Option {
	return fx.Options(
		fx.Supply(cfg.Log, cfg.HTTP, cfg.DB, cfg.Bus, cfg.Outbox, cfg.Queue, info, logger,
			metrics.Options{Latency: cfg.PerformanceMonitoring}),
		fx.Supply(
			fx.Annotate(version, fx.ResultTags(`name:"version"`)),
			fx.Annotate(cfg.DataDir(), fx.ResultTags(`name:"data_dir"`)),
			fx.Annotate(cfg.Health.CheckInterval, fx.ResultTags(`name:"health_interval"`)),
		),
		log.FxLogger,
		db.Module,
		// A module of its own, declared first: fx runs child modules' invokes in order and before
		// the root's, so this start hook precedes every other and nothing runs on an old schema.
		fx.Module("migrations", fx.Invoke(migrateOnStart)),
		bus.Module,
		outbox.Module,
		httpserver.Module,
		httpserver.ProvideErrorMappings(api.ErrorMappings()...),
		metrics.Module,
		health.Module,
		fx.Provide(
			health.AsCheck(func(d *db.DB) health.Check { return health.Check{Name: "database", Func: d.Ping} }),
			health.AsCheck(func(b *bus.Bus) health.Check { return health.Check{Name: "bus", Func: b.Check} }),
			health.AsCheck(func(o *outbox.Outbox) health.Check { return health.Check{Name: "outbox", Func: o.Check} }),
		),
	)
}

// Core wires the channel-agnostic core over whichever core.Provider the graph holds: store,
// event sink, projection, send pipeline, webhook delivery and the REST API. Call it once the API
// key is settled: the global webhook endpoint is sent the key.
func Core(cfg *config.Config) fx.Option {
	hooks := cfg.Webhook
	hooks.APIKey = cfg.HTTP.APIKey
	return fx.Options(
		fx.Supply(hooks, cfg.Media),
		fx.Provide(func(s *store.Store) webhook.SessionChecker { return s }),
		// Every channel module of the binary, routed to by session.
		fx.Provide(fx.Annotate(func(s *store.Store, providers []core.Provider) (*core.Channels, error) {
			return core.NewChannels(s, whatsapp.Channel, providers...)
		}, fx.ParamTags(``, core.ChannelsGroup))),
		store.Module, eventbus.Module, media.Module, projection.Module, pipeline.Module, webhook.Module, api.Module,
		// Last: the relay starts once every consumer of the bus is subscribed.
		outbox.Relay,
	)
}

// InProcessChannel runs the WhatsApp channel in this process. opts go to the channel (the
// simulator in demos and tests).
func InProcessChannel(cfg whatsapp.Config, opts ...whatsapp.Option) fx.Option {
	return fx.Options(
		fx.Supply(cfg, opts),
		fx.Provide(
			// The message store serves the channel's previousBody of edits and revokes.
			func(s *store.Store) whatsapp.MessageBodies { return s },
			// Catches sessions marked connected whose socket is dead.
			health.AsCheck(func(p *whatsapp.Provider) health.Check { return health.Check{Name: "whatsapp", Func: p.HealthCheck} }),
		),
		whatsapp.Module,
	)
}

// CloudChannel runs the WhatsApp Business Cloud API channel in this process. opts go to the
// channel (a Graph API client for tests).
func CloudChannel(cfg whatsappcloud.Config, opts ...whatsappcloud.Option) fx.Option {
	return fx.Options(fx.Supply(cfg, opts), whatsappcloud.Module)
}

// Gateway is the standalone gateway: platform, core and both channels in-process.
func Gateway(cfg *config.Config, version string, logger *slog.Logger, channel ...whatsapp.Option) fx.Option {
	return fx.Options(Platform(cfg, GatewayInfo(), version, logger), Core(cfg), InProcessChannel(cfg.WhatsApp, channel...),
		CloudChannel(cfg.WhatsAppCloud),
		// The gateway serves the committed documents its SDKs are generated from (a test keeps
		// them equal to what the code generates).
		fx.Supply(httpserver.DocumentsLoader(func() (httpserver.Documents, error) {
			return httpserver.Documents{YAML31: openapi.YAML31, YAML30: openapi.YAML30}, nil
		})),
		health.Background,
		dashboard.Module)
}

// migrateOnStart applies pending migrations before anything else starts serving.
func migrateOnStart(lc fx.Lifecycle, d *db.DB, logger *slog.Logger) {
	lc.Append(fx.StartHook(func(ctx context.Context) error {
		if err := db.Migrate(ctx, d, MigrationSets()...); err != nil {
			return fmt.Errorf("apply migrations: %w", err)
		}
		logger.Debug("migrations applied", slog.String("dialect", string(d.Dialect())))
		return nil
	}))
}

// OpenAPIDocument builds the API's operations without starting anything, for the openapi
// subcommand and the spec check.
func OpenAPIDocument(info httpserver.APIInfo) (*huma.OpenAPI, error) {
	cfg := httpserver.Config{APIKey: "unused-while-documenting"}
	cfg.SetDefaults()
	srv, err := httpserver.New(cfg, info, log.Discard())
	if err != nil {
		return nil, err
	}
	reg, err := health.NewRegistry("", 0, ".")
	if err != nil {
		return nil, err
	}
	health.Register(srv.API(), reg)
	api.Register(srv.API(), api.Deps{})
	webhook.RegisterRoutes(srv.API(), nil, nil, srv.Errors())
	webhook.DocumentWebhooks(srv.API())
	whatsappcloud.RegisterRoutes(srv.API(), nil, srv.Errors())
	metrics.Document(srv.API().OpenAPI())
	return srv.API().OpenAPI(), nil
}
