package api

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/28web/hub/channels/core"
	"github.com/28web/hub/platform/metrics"
)

// sessionCollector exports the sessions by channel and status, read from the provider when
// /metrics is scraped (in memory: no network).
type sessionCollector struct {
	provider core.Provider
	desc     *prometheus.Desc
}

// NewSessionCollector returns the collector of gateway_sessions{channel,status}.
func NewSessionCollector(p core.Provider) prometheus.Collector {
	return &sessionCollector{provider: p, desc: prometheus.NewDesc(metrics.Namespace+"_sessions",
		"Sessions by channel and status.", []string{"channel", "status"}, nil)}
}

func (c *sessionCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *sessionCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	sessions, err := c.provider.Sessions(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.desc, err)
		return
	}
	channel := string(c.provider.Info().Channel)
	counts := make(map[core.SessionStatus]int, len(core.SessionStatuses))
	for _, st := range core.SessionStatuses {
		counts[st] = 0 // every status present, zero included, so dashboards need no absent()
	}
	for _, s := range sessions {
		counts[s.Status]++
	}
	for st, n := range counts {
		m, err := prometheus.NewConstMetric(c.desc, prometheus.GaugeValue, float64(n), channel, string(st))
		if err != nil {
			m = prometheus.NewInvalidMetric(c.desc, err)
		}
		ch <- m
	}
}
