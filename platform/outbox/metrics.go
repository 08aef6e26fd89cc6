package outbox

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/28web/hub/platform/metrics"
)

// Metrics counts what the outbox does, for /metrics.
type Metrics struct {
	appended    prometheus.Counter
	published   prometheus.Counter
	consumed    prometheus.Counter
	republished prometheus.Counter
	unconsumed  prometheus.Gauge
}

// NewMetrics returns unregistered metrics; Register adds them to a registry.
func NewMetrics() *Metrics {
	c := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Namespace: metrics.Namespace, Subsystem: "outbox", Name: name, Help: help})
	}
	return &Metrics{
		appended:    c("appended_total", "Messages stored in the outbox."),
		published:   c("published_total", "Messages published to the bus (republished ones included)."),
		consumed:    c("consumed_total", "Messages deleted from the outbox once every consumer group acknowledged them."),
		republished: c("republished_total", "Messages published again because the bus lost them."),
		unconsumed: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: metrics.Namespace, Subsystem: "outbox", Name: "unconsumed",
			Help: "Published messages not yet acknowledged by every consumer group, as of the latest reconcile."}),
	}
}

// Register adds the collectors to r.
func (m *Metrics) Register(r prometheus.Registerer) error {
	for _, c := range []prometheus.Collector{m.appended, m.published, m.consumed, m.republished, m.unconsumed} {
		if err := r.Register(c); err != nil {
			return err
		}
	}
	return nil
}
