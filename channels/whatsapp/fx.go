package whatsapp

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/fx"

	"github.com/28web/hub/channels/core"
	"github.com/28web/hub/channels/core/media"
	"github.com/28web/hub/platform/db"
)

// Module provides *Provider (also as a core.Provider in the core.ChannelsGroup) on the gateway's database, started and
// stopped with the app. It expects Config, *db.DB, core.EventSink and *slog.Logger in the graph;
// MessageBodies and []Option are optional (tagged `optional:"true"`). Migrations of
// migrations.Whatsapp are the caller's, as for every module.
var Module = fx.Module("whatsapp",
	fx.Provide(
		NewFx,
		fx.Annotate(func(p *Provider) core.Provider { return p }, fx.ResultTags(core.ChannelsGroup)),
	),
)

// Params are NewFx's dependencies.
type Params struct {
	fx.In

	Lifecycle fx.Lifecycle
	Config    Config
	DB        *db.DB
	Sink      core.EventSink
	Logger    *slog.Logger
	Bodies    MessageBodies         `optional:"true"`
	Fetcher   *media.Fetcher        `optional:"true"`
	Metrics   prometheus.Registerer `optional:"true"`
	Options   []Option              `optional:"true"`
}

// NewFx builds the provider for an fx app: whatsmeow's store on the shared database, the bun
// session repository, Start on app start and Stop on app stop.
func NewFx(p Params) (*Provider, error) {
	container, err := OpenDeviceStore(context.Background(), p.DB, p.Logger)
	if err != nil {
		return nil, fmt.Errorf("whatsapp module: %w", err)
	}
	opts := p.Options
	if p.Metrics != nil {
		opts = append([]Option{WithMetrics(p.Metrics)}, opts...)
	}
	if p.Fetcher != nil {
		opts = append([]Option{WithMediaFetcher(p.Fetcher)}, opts...)
	}
	prov, err := New(p.Config, container, NewBunRepository(p.DB.Bun()), p.Sink, p.Bodies, p.Logger, opts...)
	if err != nil {
		return nil, err
	}
	p.Lifecycle.Append(fx.StartStopHook(prov.Start, prov.Stop))
	return prov, nil
}
