package metrics

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// HTTPMetrics counts the HTTP server's requests by route, method and status, and (with
// Options.Latency) their duration. Routes are the server's patterns ("POST
// /api/v1/sessions/{id}/messages"), never raw paths, so label values stay few.
type HTTPMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec // nil without Options.Latency
}

// NewHTTPMetrics registers the collectors on r.
func NewHTTPMetrics(r prometheus.Registerer, opts Options) (*HTTPMetrics, error) {
	m := &HTTPMetrics{requests: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Subsystem: "http",
		Name: "requests_total", Help: "HTTP requests answered, by route pattern (\"unmatched\" when none, \"unparsed\" when net/http refused the request itself), method and status."},
		[]string{"route", "method", "status"})}
	if err := r.Register(m.requests); err != nil {
		return nil, err
	}
	if opts.Latency {
		m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace, Subsystem: "http",
			Name: "request_duration_seconds", Help: "HTTP request duration, by route pattern, method and status class.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}},
			[]string{"route", "method", "class"})
		if err := r.Register(m.duration); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// ObserveRequest implements httpserver.RequestObserver.
func (m *HTTPMetrics) ObserveRequest(route, method string, status int, d time.Duration) {
	if route == "" {
		route = "unmatched"
	}
	m.requests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
	if m.duration != nil {
		m.duration.WithLabelValues(route, method, strconv.Itoa(status/100)+"xx").Observe(d.Seconds())
	}
}
