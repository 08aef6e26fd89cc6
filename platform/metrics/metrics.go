// Package metrics is the gateway's Prometheus registry and its GET /metrics endpoint (behind the
// API key, like every non-public route). Modules register their collectors on the Registerer.
package metrics

import (
	"net/http"

	"github.com/danielgtaylor/huma/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Namespace prefixes every metric of the gateway.
const Namespace = "gateway"

// NewRegistry returns a registry with the Go runtime and process collectors.
func NewRegistry() *prometheus.Registry {
	r := prometheus.NewRegistry()
	r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return r
}

// Handler serves the registry in the Prometheus text format.
func Handler(r *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(r, promhttp.HandlerOpts{Registry: r})
}

// Document adds GET /metrics to the OpenAPI document; it is a raw handler, not a huma operation.
func Document(doc *huma.OpenAPI) {
	doc.AddOperation(&huma.Operation{
		OperationID: "getMetrics", Method: http.MethodGet, Path: "/metrics", Tags: []string{"Health"},
		Summary:     "Prometheus metrics",
		Description: "HTTP, queue, session and webhook metrics in the Prometheus text format.",
		Responses: map[string]*huma.Response{
			"200": {Description: "Metrics.", Content: map[string]*huma.MediaType{"text/plain": {Schema: &huma.Schema{Type: huma.TypeString}}}},
			"401": {Description: "Missing or wrong API key.", Content: map[string]*huma.MediaType{"application/problem+json": {Schema: &huma.Schema{Ref: "#/components/schemas/ErrorModel"}}}},
		},
	})
}
