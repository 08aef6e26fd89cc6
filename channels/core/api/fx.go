package api

import (
	"github.com/danielgtaylor/huma/v2"
	"go.uber.org/fx"
)

// Module registers the operations on the app's huma.API.
var Module = fx.Module("api", fx.Invoke(func(a huma.API, d Deps) { Register(a, d) }))
