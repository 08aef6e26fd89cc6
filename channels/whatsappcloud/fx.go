package whatsappcloud

import (
	"fmt"
	"log/slog"

	"go.uber.org/fx"

	"github.com/28web/hub/channels/core"
	"github.com/28web/hub/platform/db"
	"github.com/28web/hub/platform/httpserver"
)

// Module provides *Provider (also as a core.Provider in core.ChannelsGroup) on the gateway's
// database, started and stopped with the app, and serves its webhook on the API server. It
// expects Config, *db.DB, core.EventSink, *slog.Logger and *httpserver.Server in the graph;
// []Option is optional. Migrations of migrations.WhatsappCloud are the caller's.
var Module = fx.Module("whatsappcloud",
	fx.Provide(
		NewFx,
		fx.Annotate(func(p *Provider) core.Provider { return p }, fx.ResultTags(core.ChannelsGroup)),
	),
	fx.Invoke(func(srv *httpserver.Server, p *Provider) { RegisterRoutes(srv.API(), p, srv.Errors()) }),
)

// Params are NewFx's dependencies.
type Params struct {
	fx.In

	Lifecycle fx.Lifecycle
	Config    Config
	DB        *db.DB
	Sink      core.EventSink
	Logger    *slog.Logger
	Options   []Option `optional:"true"`
}

// NewFx builds the provider for an fx app, started and stopped with it.
func NewFx(p Params) (*Provider, error) {
	prov, err := New(p.Config, p.DB.Bun(), p.Sink, p.Logger, p.Options...)
	if err != nil {
		return nil, fmt.Errorf("whatsapp-cloud module: %w", err)
	}
	p.Lifecycle.Append(fx.StartStopHook(prov.Start, prov.Stop))
	return prov, nil
}
