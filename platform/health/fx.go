package health

import (
	"context"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"go.uber.org/fx"
)

// ChecksGroup is the fx value group Check values are collected from.
const ChecksGroup = "health_checks"

// Params are the module's dependencies.
type Params struct {
	fx.In

	Version  string        `name:"version"`
	DiskPath string        `name:"data_dir"`
	Interval time.Duration `name:"health_interval"`
	Checks   []Check       `group:"health_checks"`
}

// Module provides the *Registry from every Check in ChecksGroup and registers the operations.
var Module = fx.Module("health",
	fx.Provide(func(p Params) (*Registry, error) {
		return NewRegistry(p.Version, 5*time.Second, p.DiskPath, p.Checks...)
	}),
	fx.Invoke(func(api huma.API, r *Registry) { Register(api, r) }),
)

// Background probes every Params.Interval (HEALTH_CHECK_INTERVAL) while the app runs, first when
// it starts. Put it last in the app's options: its start hook then runs after the components'
// own, so the first probe sees them running.
var Background = fx.Invoke(func(lc fx.Lifecycle, r *Registry, p Params) {
	ctx, cancel := context.WithCancel(context.Background())
	lc.Append(fx.Hook{
		OnStart: func(context.Context) error { r.Run(ctx, p.Interval); return nil },
		OnStop:  func(context.Context) error { cancel(); return nil },
	})
})

// AsCheck annotates a constructor of Check for ChecksGroup.
func AsCheck(f any) any {
	return fx.Annotate(f, fx.ResultTags(`group:"health_checks"`))
}
