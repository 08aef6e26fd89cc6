package outbox

import (
	"fmt"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/fx"

	"github.com/28web/hub/platform/bus"
	"github.com/28web/hub/platform/db"
)

// Module provides the *Outbox. Its relay is started by Relay, which a binary invokes after every
// consumer of the bus is wired, so that the in-process bus has every consumer group subscribed
// before the first message is republished at start.
var Module = fx.Module("outbox", fx.Provide(NewFx))

// Relay runs the outbox's relay for the app's lifetime; put it after the modules that consume.
var Relay = fx.Invoke(func(lc fx.Lifecycle, o *Outbox) { lc.Append(fx.StartStopHook(o.Start, o.Stop)) })

// Params are NewFx's dependencies.
type Params struct {
	fx.In

	Config  Config
	DB      *db.DB
	Bus     *bus.Bus
	Logger  *slog.Logger
	Metrics prometheus.Registerer
}

// NewFx builds the outbox for an fx app.
func NewFx(p Params) (*Outbox, error) {
	m := NewMetrics()
	if err := m.Register(p.Metrics); err != nil {
		return nil, fmt.Errorf("register outbox metrics: %w", err)
	}
	return New(p.Config, p.DB, p.Bus, p.Logger, m)
}
