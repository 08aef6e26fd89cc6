package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
	"go.uber.org/fx"

	"github.com/28web/hub/channels/core"
	"github.com/28web/hub/channels/core/api"
	"github.com/28web/hub/channels/core/eventbus"
	"github.com/28web/hub/channels/core/pipeline"
	"github.com/28web/hub/channels/core/projection"
	"github.com/28web/hub/channels/core/store"
	"github.com/28web/hub/channels/whatsapp"
	"github.com/28web/hub/migrations"
	"github.com/28web/hub/platform/bus"
	"github.com/28web/hub/platform/config"
	"github.com/28web/hub/platform/db"
	"github.com/28web/hub/platform/health"
	"github.com/28web/hub/platform/httpserver"
	"github.com/28web/hub/platform/log"
	"github.com/28web/hub/platform/metrics"
)

// apiInfo is the OpenAPI info block of the gateway's API.
func apiInfo(version string) httpserver.APIInfo {
	return httpserver.APIInfo{
		Title:   "28web WhatsApp Gateway",
		Version: version,
		Description: "REST API of the 28web channel gateway: WhatsApp sessions, messages and contacts. " +
			"Every operation except GET /health and the API documents requires the x-28web-gateway-key header.",
	}
}

// coreErrorMappings maps the core's sentinel errors to HTTP statuses, once for every operation.
func coreErrorMappings() []httpserver.ErrorMapping {
	return []httpserver.ErrorMapping{
		{Target: core.ErrNotFound, Status: http.StatusNotFound},
		{Target: core.ErrConflict, Status: http.StatusConflict},
		{Target: core.ErrNotConnected, Status: http.StatusConflict},
		{Target: core.ErrInvalid, Status: http.StatusUnprocessableEntity},
		{Target: core.ErrUnavailable, Status: http.StatusServiceUnavailable},
		{Target: core.ErrNotSupported, Status: http.StatusNotImplemented},
	}
}

// migrationSets are the schema of every module the gateway runs.
func migrationSets() []migrations.Set {
	return []migrations.Set{migrations.Core, migrations.Whatsapp}
}

// appOptions wires the gateway: platform (config, log, database migrated at start, bus, HTTP
// server, metrics, health), the core (store, event sink, projection, send pipeline, API) and the
// WhatsApp channel. channel options (the simulator in demos and tests) go to the channel.
func appOptions(cfg *config.Config, version string, logger *slog.Logger, channel ...whatsapp.Option) fx.Option {
	return fx.Options(
		fx.Supply(cfg.Log, cfg.HTTP, cfg.DB, cfg.Bus, cfg.Queue, cfg.WhatsApp, apiInfo(version), logger, channel),
		fx.Supply(
			fx.Annotate(version, fx.ResultTags(`name:"version"`)),
			fx.Annotate(cfg.DataDir(), fx.ResultTags(`name:"data_dir"`)),
		),
		log.FxLogger,
		db.Module,
		// A module of its own, declared first: fx runs child modules' invokes in order and before
		// the root's, so this start hook precedes every other and nothing runs on an old schema.
		fx.Module("migrations", fx.Invoke(migrateOnStart)),
		bus.Module,
		httpserver.Module,
		httpserver.ProvideErrorMappings(coreErrorMappings()...),
		metrics.Module,
		health.Module,
		fx.Provide(
			health.AsCheck(func(d *db.DB) health.Check { return health.Check{Name: "database", Func: d.Ping} }),
			health.AsCheck(func(b *bus.Bus) health.Check { return health.Check{Name: "bus", Func: b.Ping} }),
			// The message store serves the channel's previousBody of edits and revokes.
			func(s *store.Store) whatsapp.MessageBodies { return s },
		),
		store.Module,
		eventbus.Module,
		projection.Module,
		whatsapp.Module,
		pipeline.Module,
		api.Module,
	)
}

// migrateOnStart applies pending migrations before anything else starts serving.
func migrateOnStart(lc fx.Lifecycle, d *db.DB, logger *slog.Logger) {
	lc.Append(fx.StartHook(func(ctx context.Context) error {
		if err := db.Migrate(ctx, d, migrationSets()...); err != nil {
			return fmt.Errorf("apply migrations: %w", err)
		}
		logger.Debug("migrations applied", slog.String("dialect", string(d.Dialect())))
		return nil
	}))
}

// openAPIDocument builds the API's operations without starting anything, for the openapi
// subcommand and the spec check.
func openAPIDocument(version string) (*huma.OpenAPI, error) {
	cfg := httpserver.Config{APIKey: "unused-while-documenting"}
	cfg.SetDefaults()
	srv, err := httpserver.New(cfg, apiInfo(version), log.Discard())
	if err != nil {
		return nil, err
	}
	reg, err := health.NewRegistry(version, 0, ".")
	if err != nil {
		return nil, err
	}
	health.Register(srv.API(), reg)
	api.Register(srv.API(), api.Deps{})
	metrics.Document(srv.API().OpenAPI())
	return srv.API().OpenAPI(), nil
}
