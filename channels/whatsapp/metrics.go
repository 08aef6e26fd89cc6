package whatsapp

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/28web/hub/channels/core"
	"github.com/28web/hub/platform/metrics"
)

// channelMetrics counts what only the channel sees: reconnects and received messages.
type channelMetrics struct {
	reconnects prometheus.Counter
	received   *prometheus.CounterVec
}

func newChannelMetrics() *channelMetrics {
	return &channelMetrics{
		reconnects: prometheus.NewCounter(prometheus.CounterOpts{Namespace: metrics.Namespace, Subsystem: "sessions",
			Name: "reconnects_total", Help: "Reconnect attempts scheduled after a session's link dropped.",
			ConstLabels: prometheus.Labels{"channel": string(Channel)}}),
		received: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: metrics.Namespace, Subsystem: "messages",
			Name: "received_total", Help: "Messages received, by channel and type.",
			ConstLabels: prometheus.Labels{"channel": string(Channel)}}, []string{"type"}),
	}
}

func (m *channelMetrics) register(r prometheus.Registerer) error {
	for _, c := range []prometheus.Collector{m.reconnects, m.received} {
		if err := r.Register(c); err != nil {
			return err
		}
	}
	return nil
}

func (m *channelMetrics) countReceived(t core.MessageType) {
	m.received.WithLabelValues(string(t)).Inc()
}
