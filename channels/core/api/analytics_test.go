package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/28web/hub/channels/core"
	"github.com/28web/hub/channels/core/api"
	"github.com/28web/hub/channels/core/channeltest"
	"github.com/28web/hub/channels/core/store"
	"github.com/28web/hub/channels/core/webhook"
	"github.com/28web/hub/migrations"
	"github.com/28web/hub/openapi/contracttest"
	"github.com/28web/hub/platform/db"
	"github.com/28web/hub/platform/db/dbtest"
	"github.com/28web/hub/platform/httpserver"
	"github.com/28web/hub/platform/log"
)

// analyticsAPI serves the API on d with webhook delivery, its messages and deliveries written
// straight to the tables with chosen times.
type analyticsAPI struct {
	t    *testing.T
	d    *db.DB
	base string
	n    int
}

func newAnalyticsAPI(t *testing.T, d *db.DB) *analyticsAPI {
	st := store.New(d.Bun())
	hooks, err := webhook.New(webhook.Config{}, d, nil, nil, log.Discard())
	require.NoError(t, err)
	cfg := httpserver.Config{Host: "127.0.0.1", APIKey: key}
	cfg.SetDefaults()
	cfg.RateLimit.PerIP.Disabled, cfg.RateLimit.PerKey.Disabled = true, true
	srv, err := httpserver.New(cfg, httpserver.APIInfo{Title: "test", Version: "test"}, log.Discard(), httpserver.WithErrorMappings(api.ErrorMappings()...))
	require.NoError(t, err)
	api.Register(srv.API(), api.Deps{Store: st, Errors: srv.Errors(), Logger: log.Discard(), Webhooks: hooks})
	require.NoError(t, srv.Start(t.Context()))
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	return &analyticsAPI{t: t, d: d, base: "http://" + srv.Addr()}
}

func (a *analyticsAPI) session(id core.SessionID, status core.SessionStatus) {
	a.t.Helper()
	require.NoError(a.t, store.New(a.d.Bun()).CreateSession(a.t.Context(), store.SessionRow{ID: id, Channel: "fake", Status: status}))
}

// message stores a message; an outbound one with sent set was sent by the gateway then.
func (a *analyticsAPI) message(session core.SessionID, chat core.ChatID, dir core.Direction, status core.MessageStatus, created, sent time.Time) {
	a.t.Helper()
	a.n++
	m := store.Message{SessionID: session, ID: core.MessageID(fmt.Sprintf("M%d", a.n)), ChatID: chat, Direction: dir, Status: status,
		Type: core.MessageText, CreatedAt: created, UpdatedAt: created}
	if !sent.IsZero() {
		m.SentAt, m.Attempts = &sent, 1
	}
	_, err := a.d.Bun().NewInsert().Model(&m).Exec(a.t.Context())
	require.NoError(a.t, err)
}

func (a *analyticsAPI) delivery(status webhook.DeliveryStatus, created time.Time) {
	a.t.Helper()
	a.n++
	_, err := a.d.Bun().NewRaw(`INSERT INTO webhook_deliveries (event_id, endpoint_id, session_id, event_type, payload, status, created_at, updated_at)
		VALUES (?, 'global', 's1', 'message', '{}', ?, ?, ?)`, fmt.Sprintf("E%d", a.n), status, created.UnixMilli(), created.UnixMilli()).Exec(a.t.Context())
	require.NoError(a.t, err)
}

// get fetches path; a 200 is decoded into out.
func (a *analyticsAPI) get(path string, out any) response {
	a.t.Helper()
	req, err := http.NewRequestWithContext(a.t.Context(), http.MethodGet, a.base+path, nil)
	require.NoError(a.t, err)
	req.Header.Set("x-28web-gateway-key", key)
	resp, err := contracttest.Client(a.t).Do(req)
	require.NoError(a.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(a.t, err)
	if resp.StatusCode == http.StatusOK && out != nil {
		require.NoError(a.t, json.Unmarshal(b, out), string(b))
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

func ptr(f float64) *float64 { return &f }

func TestAnalyticsDaily(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		a := newAnalyticsAPI(t, d)
		a.session("s1", core.StatusConnected)
		a.session("s2", core.StatusConnected)
		day := func(n int, clock string) time.Time {
			at, err := time.Parse(time.DateTime, fmt.Sprintf("2026-03-%02d %s", n, clock))
			require.NoError(t, err)
			return at
		}
		none := time.Time{}
		in, out := core.DirectionIn, core.DirectionOut
		// March 10, s1: chat A answered after 60 s, B after 120 s, C after 600 s, E after 30 s
		// (median 90: halfway between the middle two); of five outbound messages four were sent,
		// two delivered (one of them read), one failed.
		a.message("s1", "A", in, core.MessageStatusReceived, day(10, "08:00:00"), none)
		a.message("s1", "A", out, core.MessageStatusRead, day(10, "08:01:00"), day(10, "08:01:01"))
		a.message("s1", "B", in, core.MessageStatusReceived, day(10, "09:00:00"), none)
		a.message("s1", "B", out, core.MessageStatusDelivered, day(10, "09:02:00"), day(10, "09:02:01"))
		a.message("s1", "C", in, core.MessageStatusReceived, day(10, "10:00:00"), none)
		a.message("s1", "C", out, core.MessageStatusSent, day(10, "10:10:00"), day(10, "10:10:01"))
		a.message("s1", "D", out, core.MessageStatusFailed, day(10, "11:00:00"), none)
		a.message("s1", "E", in, core.MessageStatusReceived, day(10, "12:00:00"), none)
		a.message("s1", "E", out, core.MessageStatusSent, day(10, "12:00:30"), day(10, "12:00:31"))
		// March 11, s2: one unanswered inbound message.
		a.message("s2", "A", in, core.MessageStatusReceived, day(11, "23:59:59"), none)

		var got api.AnalyticsDaily
		r := a.get("/api/v1/analytics/daily?from=2026-03-10&to=2026-03-12", &got)
		require.Equal(t, 200, r.status, string(r.body))
		require.Equal(t, api.AnalyticsDaily{From: "2026-03-10", To: "2026-03-12", Days: []api.AnalyticsDay{
			{SessionID: "s1", Day: "2026-03-10", MessagesIn: 4, MessagesOut: 5, Sent: 4, Delivered: 2, Read: 1, Failed: 1,
				DeliveryRate: 0.5, ReadRate: 0.25, MedianFirstReplySeconds: ptr(90)},
			{SessionID: "s2", Day: "2026-03-11", MessagesIn: 1},
		}}, got)
		require.Contains(t, string(r.body), `"medianFirstReplySeconds":null`, "no reply is null, not absent")

		r = a.get("/api/v1/analytics/daily?sessionId=s2&from=2026-03-10&to=2026-03-12", &got)
		require.Equal(t, 200, r.status, string(r.body))
		require.Len(t, got.Days, 1)
		require.Equal(t, core.SessionID("s2"), got.Days[0].SessionID)

		// Defaults: the last 7 days, today included.
		r = a.get("/api/v1/analytics/daily", &got)
		require.Equal(t, 200, r.status, string(r.body))
		today := time.Now().UTC()
		require.Contains(t, []string{today.Format(time.DateOnly), today.Add(-time.Minute).Format(time.DateOnly)}, got.To)
		to, err := time.Parse(time.DateOnly, got.To)
		require.NoError(t, err)
		require.Equal(t, to.AddDate(0, 0, -6).Format(time.DateOnly), got.From)
		require.Empty(t, got.Days)
		require.Contains(t, string(r.body), `"days":[]`)

		r = a.get("/api/v1/analytics/daily?from=2026-01-01&to=2026-04-02", nil)
		require.Equal(t, 200, r.status, "92 days is the most: %s", r.body)

		for _, c := range []struct{ query, detail string }{
			{"from=2026-02-30", "query.from"},
			{"from=10-03-2026", "query.from"},
			{"to=tomorrow", "query.to"},
			{"from=2026-03-12&to=2026-03-10", "must not be after to"},
			{"from=2026-01-01&to=2026-04-03", "at most 92"},
			{"sessionId=bad%20id", "query.sessionId"},
		} {
			requireProblem(t, a.get("/api/v1/analytics/daily?"+c.query, nil), 422, c.detail)
		}
		requireProblem(t, a.get("/api/v1/analytics/daily?sessionId=nope", nil), 404, "nope")
	}, migrations.Core, migrations.Webhooks)
}

func TestAnalyticsOverview(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		a := newAnalyticsAPI(t, d)
		a.session("s1", core.StatusConnected)
		a.session("s2", core.StatusQRCode)
		start := time.Now().UTC()
		midnight := start.Truncate(24 * time.Hour)
		none := time.Time{}
		in, out := core.DirectionIn, core.DirectionOut

		var empty api.AnalyticsOverview
		r := a.get("/api/v1/analytics/overview", &empty)
		require.Equal(t, 200, r.status, string(r.body))
		require.Contains(t, string(r.body), `"p50Ms":null`, "no samples: no percentiles")
		require.Equal(t, api.AnalyticsWebhooks{}, empty.Webhooks)

		// Today: one inbound message, three sent (200, 400 and 1000 ms after acceptance), one
		// failed, one waiting in the queue; yesterday's and older ones are not today's.
		a.message("s1", "A", in, core.MessageStatusReceived, midnight, none)
		a.message("s1", "A", out, core.MessageStatusRead, midnight.Add(time.Second), midnight.Add(1200*time.Millisecond))
		a.message("s1", "A", out, core.MessageStatusDelivered, midnight.Add(2*time.Second), midnight.Add(2400*time.Millisecond))
		a.message("s1", "B", out, core.MessageStatusSent, midnight.Add(3*time.Second), midnight.Add(4*time.Second))
		a.message("s1", "C", out, core.MessageStatusFailed, midnight.Add(4*time.Second), none)
		queuedAt := midnight.Add(5 * time.Second)
		a.message("s1", "D", out, core.MessageStatusQueued, queuedAt, none)
		a.message("s1", "A", in, core.MessageStatusReceived, midnight.Add(-time.Millisecond), none)
		a.message("s1", "A", out, core.MessageStatusSent, start.Add(-25*time.Hour), start.Add(-25*time.Hour+time.Hour))
		// Webhook deliveries of the last 24 hours: 3 succeeded, 1 dead, 2 open, 1 cancelled
		// (not counted); and an older one.
		for _, st := range []webhook.DeliveryStatus{webhook.StatusSucceeded, webhook.StatusSucceeded, webhook.StatusSucceeded,
			webhook.StatusDead, webhook.StatusPending, webhook.StatusRetrying, webhook.StatusCancelled} {
			a.delivery(st, start.Add(-time.Hour))
		}
		a.delivery(webhook.StatusDead, start.Add(-25*time.Hour))

		var got api.AnalyticsOverview
		r = a.get("/api/v1/analytics/overview", &got)
		end := time.Now().UTC()
		require.Equal(t, 200, r.status, string(r.body))
		if got.Today.Day != midnight.Format(time.DateOnly) {
			t.Skip("the UTC day changed during the test")
		}
		require.WithinRange(t, got.GeneratedAt, start, end)
		require.Equal(t, map[string]int{"connecting": 0, "qr_code": 1, "connected": 1, "disconnected": 0, "logged_out": 0, "banned": 0, "failed": 0},
			got.SessionsByStatus)
		require.Equal(t, 1, got.QueueDepth)
		require.InDelta(t, max(0, got.GeneratedAt.Sub(queuedAt).Seconds()), got.OldestQueuedAge, 0.001)
		require.Equal(t, api.AnalyticsToday{Day: midnight.Format(time.DateOnly), MessagesIn: 1, MessagesOut: 5, Sent: 3, Delivered: 2, Read: 1, Failed: 1},
			got.Today)
		// p50 is the middle value; p95 lies 90% of the way from 400 to 1000 ms.
		require.Equal(t, api.AnalyticsLatency{P50Ms: ptr(400), P95Ms: ptr(940), Samples: 3}, got.AcceptToSent)
		require.Equal(t, api.AnalyticsWebhooks{Delivered: 3, Failed: 1, Pending: 2, SuccessRate: 0.75}, got.Webhooks)
	}, migrations.Core, migrations.Webhooks)
}

// Through the whole gateway: a customer writes, the session answers through the API, the
// answer is read; the figures follow.
func TestAnalyticsFollowTheGateway(t *testing.T) {
	g := newGateway(t, false)
	g.connected("s1")
	peer := g.net.NewAccount()
	require.NoError(t, g.net.Deliver(t.Context(), peer, g.account("s1"), core.OutgoingMessage{ID: "IN1", Type: core.MessageText, Text: "hello?"}))
	channeltest.Eventually(t, 10*time.Second, "incoming stored", func() bool {
		return g.do("GET", "/api/v1/sessions/s1/messages/IN1", nil).status == 200
	})
	r := g.do("POST", "/api/v1/sessions/s1/messages", map[string]any{"to": string(peer), "type": "text", "text": "hi! how can we help?"})
	require.Equal(t, 202, r.status, string(r.body))
	id := r.json(t)["id"].(string)
	g.waitMessage("s1", id, core.MessageStatusSent)
	require.NoError(t, g.prov.Ack(t.Context(), "s1", core.MessageID(id), core.AckRead))
	g.waitMessage("s1", id, core.MessageStatusRead)

	r = g.do("GET", "/api/v1/analytics/overview", nil)
	require.Equal(t, 200, r.status, string(r.body))
	var overview api.AnalyticsOverview
	require.NoError(t, json.Unmarshal(r.body, &overview))
	today := overview.Today.Day
	require.Equal(t, 1, overview.SessionsByStatus["connected"])
	require.Equal(t, 1, overview.AcceptToSent.Samples)
	require.NotNil(t, overview.AcceptToSent.P50Ms)

	r = g.do("GET", "/api/v1/analytics/daily?sessionId=s1&from="+today+"&to="+today, nil)
	require.Equal(t, 200, r.status, string(r.body))
	var daily api.AnalyticsDaily
	require.NoError(t, json.Unmarshal(r.body, &daily))
	if overview.Today.MessagesIn+overview.Today.MessagesOut != 2 {
		t.Skip("the UTC day changed during the test")
	}
	require.Len(t, daily.Days, 1)
	d := daily.Days[0]
	require.Equal(t, api.AnalyticsDay{SessionID: "s1", Day: today, MessagesIn: 1, MessagesOut: 1, Sent: 1, Delivered: 1, Read: 1,
		DeliveryRate: 1, ReadRate: 1, MedianFirstReplySeconds: d.MedianFirstReplySeconds}, d)
	require.NotNil(t, d.MedianFirstReplySeconds)
	require.GreaterOrEqual(t, *d.MedianFirstReplySeconds, 0.0)
	require.Less(t, *d.MedianFirstReplySeconds, 10.0)
}
