package api

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/28web/hub/channels/core"
	"github.com/28web/hub/platform/metrics"
)

// sessionCollector exports the sessions by channel and status, read from the providers when
// /metrics is scraped (in memory: no network).
type sessionCollector struct {
	channels *core.Channels
	desc     *prometheus.Desc
}

// NewSessionCollector returns the collector of gateway_sessions{channel,status}.
func NewSessionCollector(channels *core.Channels) prometheus.Collector {
	return &sessionCollector{channels: channels, desc: prometheus.NewDesc(metrics.Namespace+"_sessions",
		"Sessions by channel and status.", []string{"channel", "status"}, nil)}
}

func (c *sessionCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *sessionCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, p := range c.channels.All() {
		c.collect(ctx, ch, p)
	}
}

func (c *sessionCollector) collect(ctx context.Context, ch chan<- prometheus.Metric, p core.Provider) {
	sessions, err := p.Sessions(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.desc, err)
		return
	}
	channel := string(p.Info().Channel)
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
