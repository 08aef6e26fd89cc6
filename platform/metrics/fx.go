package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/fx"

	"github.com/28web/hub/platform/httpserver"
)

// Module provides the *prometheus.Registry (and it as prometheus.Registerer) and serves it on
// GET /metrics of the HTTP server.
var Module = fx.Module("metrics",
	fx.Provide(
		NewRegistry,
		func(r *prometheus.Registry) prometheus.Registerer { return r },
	),
	fx.Invoke(Serve),
)

// Serve mounts the registry on GET /metrics of srv (behind the API key) and documents it.
func Serve(srv *httpserver.Server, r *prometheus.Registry) {
	srv.Mux().Handle("GET /metrics", Handler(r))
	Document(srv.API().OpenAPI())
}
