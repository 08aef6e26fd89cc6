package api

import (
	"fmt"

	"github.com/danielgtaylor/huma/v2"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/fx"
)

// Module registers the operations on the app's huma.API, and the sessions gauge on the metrics
// registry.
var Module = fx.Module("api", fx.Invoke(func(a huma.API, d Deps, reg prometheus.Registerer) error {
	Register(a, d)
	if err := reg.Register(NewSessionCollector(d.Channels)); err != nil {
		return fmt.Errorf("register session metrics: %w", err)
	}
	return nil
}))
