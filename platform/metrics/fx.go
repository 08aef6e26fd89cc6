package metrics

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/fx"

	"github.com/28web/hub/platform/httpserver"
)

// Module provides the *prometheus.Registry (and it as prometheus.Registerer) and serves it on
// GET /metrics of the HTTP server. It needs Options.
var Module = fx.Module("metrics",
	fx.Provide(
		NewRegistry,
		func(r *prometheus.Registry) prometheus.Registerer { return r },
	),
	fx.Invoke(Serve),
)

// Serve mounts the registry on GET /metrics of srv (behind the API key), documents it, and
// counts srv's requests.
func Serve(srv *httpserver.Server, r *prometheus.Registry, opts Options) error {
	srv.Mux().Handle("GET /metrics", Handler(r))
	Document(srv.API().OpenAPI())
	m, err := NewHTTPMetrics(r, opts)
	if err != nil {
		return fmt.Errorf("register http metrics: %w", err)
	}
	srv.SetObserver(m)
	return nil
}
