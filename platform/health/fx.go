package health

import (
	"time"

	"github.com/danielgtaylor/huma/v2"
	"go.uber.org/fx"
)

// ChecksGroup is the fx value group Check values are collected from.
const ChecksGroup = "health_checks"

// Params are the module's dependencies.
type Params struct {
	fx.In

	Version  string  `name:"version"`
	DiskPath string  `name:"data_dir"`
	Checks   []Check `group:"health_checks"`
}

// Module provides the *Registry from every Check in ChecksGroup and registers the operations.
var Module = fx.Module("health",
	fx.Provide(func(p Params) (*Registry, error) {
		return NewRegistry(p.Version, 5*time.Second, p.DiskPath, p.Checks...)
	}),
	fx.Invoke(func(api huma.API, r *Registry) { Register(api, r) }),
)

// AsCheck annotates a constructor of Check for ChecksGroup.
func AsCheck(f any) any {
	return fx.Annotate(f, fx.ResultTags(`group:"health_checks"`))
}
