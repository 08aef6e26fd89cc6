package metrics

// Options say which metrics are recorded.
type Options struct {
	// Latency enables the processing-latency histograms (HTTP request duration, accept→sent,
	// webhook attempt duration) and the send-latency percentiles of /health/performance
	// (PERFORMANCE_MONITORING). Counters and gauges are always recorded: they cost an atomic add.
	// Off, the histograms are neither observed nor exported.
	Latency bool
}
