package webhook

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metricsNamespace matches platform/metrics.Namespace.
const metricsNamespace = "gateway"

// metrics are the delivery collectors, registered on the gateway's registry.
type metrics struct {
	attempts   *prometheus.CounterVec
	deliveries *prometheus.CounterVec
	retries    prometheus.Counter
	latency    prometheus.Histogram // nil unless latency metrics are on
	queueDepth prometheus.Gauge
	inflight   prometheus.Gauge
	disabled   prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer, latency bool) (*metrics, error) {
	m := &metrics{
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metricsNamespace, Subsystem: "webhook", Name: "attempts_total",
			Help: "Webhook HTTP attempts by outcome (success, failure).",
		}, []string{"outcome"}),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metricsNamespace, Subsystem: "webhook", Name: "deliveries_total",
			Help: "Webhook deliveries finished, by final status (succeeded, dead).",
		}, []string{"status"}),
		retries: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: metricsNamespace, Subsystem: "webhook", Name: "retries_total",
			Help: "Webhook attempts that failed and were scheduled again.",
		}),
		queueDepth: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: metricsNamespace, Subsystem: "webhook", Name: "queue_depth",
			Help: "Webhook deliveries pending or retrying (from the database, refreshed every poll).",
		}),
		inflight: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: metricsNamespace, Subsystem: "webhook", Name: "inflight",
			Help: "Webhook attempts in flight.",
		}),
		disabled: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: metricsNamespace, Subsystem: "webhook", Name: "endpoints_disabled",
			Help: "Webhook endpoints currently disabled.",
		}),
	}
	cs := []prometheus.Collector{m.attempts, m.deliveries, m.retries, m.queueDepth, m.inflight, m.disabled}
	if latency {
		m.latency = prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: metricsNamespace, Subsystem: "webhook", Name: "attempt_duration_seconds",
			Help:    "Duration of webhook HTTP attempts.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		})
		cs = append(cs, m.latency)
	}
	if reg == nil {
		return m, nil
	}
	var errs []error
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("register webhook metrics: %w", err)
	}
	return m, nil
}
