package pipeline

import (
	"fmt"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/fx"

	"github.com/28web/hub/channels/core"
	"github.com/28web/hub/channels/core/store"
	"github.com/28web/hub/platform/bus"
	"github.com/28web/hub/platform/metrics"
)

// Module provides the *Pipeline, consuming send commands while the app runs. It needs Config,
// the store, the channel's core.Provider, the bus, a core.EventSink, a logger and a
// prometheus.Registerer.
var Module = fx.Module("pipeline", fx.Provide(NewFx))

// Params are NewFx's dependencies.
type Params struct {
	fx.In

	Lifecycle fx.Lifecycle
	Config    Config
	Store     *store.Store
	Channels  *core.Channels
	Bus       *bus.Bus
	Sink      core.EventSink
	Logger    *slog.Logger
	Metrics   prometheus.Registerer
	Options   metrics.Options
}

// NewFx builds the pipeline and binds it to the app's lifecycle.
func NewFx(p Params) (*Pipeline, error) {
	m := NewMetrics(p.Options)
	if err := m.Register(p.Metrics); err != nil {
		return nil, fmt.Errorf("register queue metrics: %w", err)
	}
	pl, err := New(p.Config, p.Store, p.Channels, p.Bus, p.Sink, p.Logger, m)
	if err != nil {
		return nil, err
	}
	p.Lifecycle.Append(fx.StartStopHook(pl.Start, pl.Stop))
	return pl, nil
}
