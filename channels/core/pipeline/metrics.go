package pipeline

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/28web/hub/channels/core"
	"github.com/28web/hub/platform/metrics"
)

// Metrics counts what the pipeline does, for /metrics and /health/performance.
type Metrics struct {
	accepted prometheus.Counter
	sent     prometheus.Counter
	failed   prometheus.Counter
	retries  prometheus.Counter
	depth    prometheus.Gauge
	// latency and recent are kept only with metrics.Options.Latency (PERFORMANCE_MONITORING).
	latency prometheus.Histogram
	// sentByType counts sends by channel and message type.
	sentByType *prometheus.CounterVec

	mu     sync.Mutex
	recent []time.Duration // ring of the latest accept→sent latencies
	next   int
	// Mirrors of the counters, readable without scraping: sent, failed; accepted.
	counts    [2]uint64
	acceptedN uint64
}

const recentSize = 2048

// NewMetrics returns unregistered metrics; Register adds them to a registry. The latency
// histogram and percentiles are recorded only with opts.Latency.
func NewMetrics(opts metrics.Options) *Metrics {
	m := &Metrics{
		accepted: prometheus.NewCounter(prometheus.CounterOpts{Namespace: metrics.Namespace, Subsystem: "queue", Name: "accepted_total", Help: "Messages accepted by the API."}),
		sent:     prometheus.NewCounter(prometheus.CounterOpts{Namespace: metrics.Namespace, Subsystem: "queue", Name: "sent_total", Help: "Messages handed to the channel."}),
		failed:   prometheus.NewCounter(prometheus.CounterOpts{Namespace: metrics.Namespace, Subsystem: "queue", Name: "failed_total", Help: "Messages marked failed."}),
		retries:  prometheus.NewCounter(prometheus.CounterOpts{Namespace: metrics.Namespace, Subsystem: "queue", Name: "retries_total", Help: "Send attempts retried after an error."}),
		depth:    prometheus.NewGauge(prometheus.GaugeOpts{Namespace: metrics.Namespace, Subsystem: "queue", Name: "depth", Help: "Accepted messages not sent yet, as of the latest count."}),
		sentByType: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: metrics.Namespace, Subsystem: "messages", Name: "sent_total",
			Help: "Messages sent, by channel and type."}, []string{"channel", "type"}),
	}
	if opts.Latency {
		m.latency = prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: metrics.Namespace, Subsystem: "queue", Name: "send_latency_seconds",
			Help: "From acceptance (or the scheduled time) to the channel accepting the message.", Buckets: prometheus.ExponentialBuckets(0.001, 2, 16)})
		m.recent = make([]time.Duration, 0, recentSize)
	}
	return m
}

// Register adds the collectors to r.
func (m *Metrics) Register(r prometheus.Registerer) error {
	cs := []prometheus.Collector{m.accepted, m.sent, m.failed, m.retries, m.depth, m.sentByType}
	if m.latency != nil {
		cs = append(cs, m.latency)
	}
	for _, c := range cs {
		if err := r.Register(c); err != nil {
			return err
		}
	}
	return nil
}

func (m *Metrics) observeSent(channel core.Channel, typ core.MessageType, d time.Duration) {
	m.sent.Inc()
	m.sentByType.WithLabelValues(string(channel), string(typ)).Inc()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.counts[0]++
	if m.latency == nil {
		return
	}
	m.latency.Observe(d.Seconds())
	if len(m.recent) < recentSize {
		m.recent = append(m.recent, d)
	} else {
		m.recent[m.next] = d
	}
	m.next = (m.next + 1) % recentSize
}

// Stats is the pipeline's figures for /health/performance.
type Stats struct {
	QueueDepth int    `json:"queueDepth" doc:"Accepted messages not sent yet (queued in the database, scheduled ones included)."`
	Accepted   uint64 `json:"accepted" doc:"Messages accepted since start."`
	Processed  uint64 `json:"processed" doc:"Messages handed to the channel since start."`
	Failed     uint64 `json:"failed" doc:"Messages marked failed since start."`
	// Latencies are over the latest sends, acceptance to the channel accepting them; recorded
	// only with PERFORMANCE_MONITORING.
	LatencyP50MS *float64 `json:"latencyP50Ms,omitempty" doc:"Send latency percentiles over the latest sends (acceptance to the channel accepting them); present only with PERFORMANCE_MONITORING."`
	LatencyP95MS *float64 `json:"latencyP95Ms,omitempty"`
	LatencyP99MS *float64 `json:"latencyP99Ms,omitempty"`
}

func (m *Metrics) snapshot() Stats {
	m.mu.Lock()
	recent := slices.Clone(m.recent)
	st := Stats{Accepted: m.acceptedN, Processed: m.counts[0], Failed: m.counts[1]}
	monitored := m.latency != nil
	m.mu.Unlock()
	if !monitored {
		return st
	}
	slices.Sort(recent)
	q := func(p float64) *float64 {
		v := 0.0
		if len(recent) > 0 {
			v = float64(recent[int(p*float64(len(recent)-1))].Microseconds()) / 1000
		}
		return &v
	}
	st.LatencyP50MS, st.LatencyP95MS, st.LatencyP99MS = q(0.50), q(0.95), q(0.99)
	return st
}

func (m *Metrics) countAccepted() {
	m.accepted.Inc()
	m.mu.Lock()
	m.acceptedN++
	m.mu.Unlock()
}

func (m *Metrics) countFailed() {
	m.failed.Inc()
	m.mu.Lock()
	m.counts[1]++
	m.mu.Unlock()
}

// Stats reports queue depth (read from the database), counts and latency percentiles.
func (p *Pipeline) Stats(ctx context.Context) (Stats, error) {
	st := p.metrics.snapshot()
	n, err := p.store.CountQueued(ctx, "")
	if err != nil {
		return Stats{}, err
	}
	st.QueueDepth = n
	p.metrics.depth.Set(float64(n))
	return st, nil
}
