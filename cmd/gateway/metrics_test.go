package main

import (
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/28web/hub/channels/core/channeltest"
	"github.com/28web/hub/cmd/internal/config"
	"github.com/28web/hub/openapi/client"
)

// scrape reads /metrics of g.
func (g *e2eGateway) scrape(t *testing.T) string {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, g.base+"/metrics", nil)
	require.NoError(t, err)
	req.Header.Set("x-28web-gateway-key", e2eKey)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(b)
}

// metric finds one series' value line, or "".
func metric(text, pattern string) string {
	return regexp.MustCompile(`(?m)^` + pattern + ` (\S+)$`).FindString(text)
}

// /metrics carries what it claims after real traffic: HTTP requests by route and status,
// sessions by state, sends and receipts by type, reconnects; with PERFORMANCE_MONITORING, the
// latency histograms, which are absent without it.
func TestMetricsAfterTraffic(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end")
	}
	for _, monitoring := range []bool{true, false} {
		name := map[bool]string{true: "monitoring", false: "no-monitoring"}[monitoring]
		t.Run(name, func(t *testing.T) {
			sim := newSim(t)
			g := startE2E(t, sim, []string{"SESSIONS_PATH=" + t.TempDir()}, func(c *config.Config) { c.PerformanceMonitoring = monitoring })
			agent, err := sim.NewPhone(e2eNumber())
			require.NoError(t, err)
			customer, err := sim.NewPhone(e2eNumber())
			require.NoError(t, err)
			g.pair(t, "support", agent)
			id := g.send(t, "support", client.SendMessageRequest{To: "+" + customer.Number(), Type: client.SendMessageRequestTypeText, Text: ptr("counted")})
			g.waitStatus(t, "support", id, client.MessageStatusSent)
			_, err = customer.SendText(t.Context(), agent.JID(), "and back")
			require.NoError(t, err)
			// A dropped link: the session reconnects by itself.
			require.NoError(t, sim.Faults.DropConnection(deviceOf(t, sim, agent)))

			var text string
			channeltest.Eventually(t, 20*time.Second, "every series moved", func() bool {
				text = g.scrape(t)
				return metric(text, `gateway_messages_received_total\{channel="whatsapp",type="text"\}`) != "" &&
					metric(text, `gateway_sessions_reconnects_total\{channel="whatsapp"\}`) != "gateway_sessions_reconnects_total{channel=\"whatsapp\"} 0"
			})
			require.Equal(t, `gateway_http_requests_total{method="POST",route="POST /api/v1/sessions/{id}/messages",status="202"} 1`,
				metric(text, `gateway_http_requests_total\{method="POST",route="POST /api/v1/sessions/\{id\}/messages",status="202"\}`))
			require.NotEmpty(t, metric(text, `gateway_sessions\{channel="whatsapp",status="(connected|connecting|disconnected)"\}`))
			require.Equal(t, `gateway_messages_sent_total{channel="whatsapp",type="text"} 1`,
				metric(text, `gateway_messages_sent_total\{channel="whatsapp",type="text"\}`))
			require.Equal(t, monitoring, strings.Contains(text, "gateway_http_request_duration_seconds_bucket"))
			require.Equal(t, monitoring, strings.Contains(text, "gateway_queue_send_latency_seconds_bucket"))

			perf, err := g.api.GetPerformanceWithResponse(t.Context())
			require.NoError(t, err)
			require.NotNil(t, perf.JSON200)
			require.Equal(t, monitoring, perf.JSON200.LatencyP99Ms != nil, "latency percentiles only with monitoring")
		})
	}
}
