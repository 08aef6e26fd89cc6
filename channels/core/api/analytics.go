package api

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/28web/hub/channels/core"
	"github.com/28web/hub/channels/core/store"
	"github.com/28web/hub/channels/core/webhook"
	"github.com/28web/hub/platform/httpserver"
)

const tagAnalytics = "Analytics"

const (
	// defaultAnalyticsDays is the daily report's span when from is not given.
	defaultAnalyticsDays = 7
	// maxAnalyticsDays bounds the daily report's span: about a quarter, which keeps its scan of
	// the messages table bounded.
	maxAnalyticsDays = 92
	// analyticsWindow is the span of the overview's latency and webhook figures.
	analyticsWindow = 24 * time.Hour
)

// AnalyticsOverview is the gateway at a glance.
type AnalyticsOverview struct {
	GeneratedAt      time.Time         `json:"generatedAt" doc:"When the figures were computed (UTC); the 24-hour windows end here." example:"2026-12-01T15:04:05Z"`
	SessionsByStatus map[string]int    `json:"sessionsByStatus" doc:"Registered sessions by their last reported status. Every status is present, zero included: connecting, qr_code, connected, disconnected, logged_out, banned, failed." example:"{\"connecting\":0,\"qr_code\":1,\"connected\":3,\"disconnected\":0,\"logged_out\":0,\"banned\":0,\"failed\":0}"`
	QueueDepth       int               `json:"queueDepth" minimum:"0" doc:"Outbound messages accepted and not sent yet, in every session; scheduled ones not due yet included." example:"12"`
	OldestQueuedAge  float64           `json:"oldestQueuedAgeSeconds" minimum:"0" doc:"Seconds the oldest due queued message has been waiting: since it was accepted, or since its sendAt for a scheduled one. 0 when none waits." example:"4.25"`
	Today            AnalyticsToday    `json:"today" doc:"Messages of the current UTC day, every session."`
	AcceptToSent     AnalyticsLatency  `json:"acceptToSent" doc:"Time from acceptance to sent of the messages the gateway sent in the last 24 hours."`
	Webhooks         AnalyticsWebhooks `json:"webhooks" doc:"Webhook deliveries created in the last 24 hours, by where they stand now."`
}

// AnalyticsToday counts the current UTC day's messages.
type AnalyticsToday struct {
	Day         string `json:"day" format:"date" doc:"The UTC day counted." example:"2026-12-01"`
	MessagesIn  int    `json:"messagesIn" minimum:"0" doc:"Messages received." example:"240"`
	MessagesOut int    `json:"messagesOut" minimum:"0" doc:"Messages sent or accepted for sending, including those sent from the phone." example:"310"`
	Sent        int    `json:"sent" minimum:"0" doc:"Outbound messages the network took (whatever happened after)." example:"305"`
	Delivered   int    `json:"delivered" minimum:"0" doc:"Outbound messages delivered to the recipient's phone, read ones included." example:"290"`
	Read        int    `json:"read" minimum:"0" doc:"Outbound messages read." example:"201"`
	Failed      int    `json:"failed" minimum:"0" doc:"Outbound messages that failed." example:"3"`
}

// AnalyticsLatency is the accept-to-sent latency distribution.
type AnalyticsLatency struct {
	P50Ms   *float64 `json:"p50Ms" minimum:"0" doc:"Median, in milliseconds (interpolated between ranks, as percentile_cont); null without samples." example:"180.5"`
	P95Ms   *float64 `json:"p95Ms" minimum:"0" doc:"95th percentile, in milliseconds (interpolated between ranks); null without samples." example:"950"`
	Samples int      `json:"samples" minimum:"0" doc:"Messages measured: those the gateway sent in the window (not those sent from the phone), from acceptance, or a scheduled message's sendAt, to the sent time the channel reports (WhatsApp's server time is to the second; an earlier one counts as 0)." example:"1520"`
}

// AnalyticsWebhooks counts webhook deliveries.
type AnalyticsWebhooks struct {
	Delivered   int     `json:"delivered" minimum:"0" doc:"Deliveries the endpoint acknowledged (2xx)." example:"1490"`
	Failed      int     `json:"failed" minimum:"0" doc:"Deliveries dead-lettered (retries exhausted or a non-retryable answer)." example:"10"`
	Pending     int     `json:"pending" minimum:"0" doc:"Deliveries waiting for their first attempt or a retry." example:"4"`
	SuccessRate float64 `json:"successRate" minimum:"0" maximum:"1" doc:"delivered / (delivered + failed); 0 when none finished." example:"0.9933"`
}

type analyticsOverviewOutput struct {
	Body AnalyticsOverview
}

type analyticsDailyInput struct {
	SessionID string    `query:"sessionId" pattern:"^[A-Za-z0-9_-]{1,64}$" maxLength:"64" doc:"Only this session (404 if unknown); every session by default." example:"support-1"`
	From      time.Time `query:"from" timeFormat:"2006-01-02" doc:"First UTC day, inclusive; by default six days before to." example:"2026-11-25"`
	To        time.Time `query:"to" timeFormat:"2006-01-02" doc:"Last UTC day, inclusive; by default today. At most 92 days from from." example:"2026-12-01"`
}

// Resolve fills the default span and checks it.
func (in *analyticsDailyInput) Resolve(huma.Context) []error {
	if in.To.IsZero() {
		in.To = time.Now().UTC().Truncate(24 * time.Hour)
	}
	if in.From.IsZero() {
		in.From = in.To.AddDate(0, 0, -(defaultAnalyticsDays - 1))
	}
	if in.From.After(in.To) {
		return []error{&huma.ErrorDetail{Location: "query.from", Value: in.From.Format(time.DateOnly), Message: "must not be after to (" + in.To.Format(time.DateOnly) + ")"}}
	}
	if days := int(in.To.Sub(in.From)/(24*time.Hour)) + 1; days > maxAnalyticsDays {
		return []error{&huma.ErrorDetail{Location: "query.to", Value: in.To.Format(time.DateOnly),
			Message: fmt.Sprintf("the span from %s is %d days, at most %d", in.From.Format(time.DateOnly), days, maxAnalyticsDays)}}
	}
	return nil
}

// AnalyticsDaily is the per-session, per-day report.
type AnalyticsDaily struct {
	From string         `json:"from" format:"date" doc:"First UTC day of the report." example:"2026-11-25"`
	To   string         `json:"to" format:"date" doc:"Last UTC day of the report." example:"2026-12-01"`
	Days []AnalyticsDay `json:"days" nullable:"false" doc:"One entry per session and UTC day with at least one message, ordered by day then session id; days without messages are left out."`
}

// AnalyticsDay is one session's messages of one UTC day. Messages count on the day they were
// created (accepted, or received), with the status they have now.
type AnalyticsDay struct {
	SessionID               core.SessionID `json:"sessionId" doc:"The session." example:"support-1"`
	Day                     string         `json:"day" format:"date" doc:"The UTC day." example:"2026-12-01"`
	MessagesIn              int            `json:"messagesIn" minimum:"0" doc:"Messages received." example:"40"`
	MessagesOut             int            `json:"messagesOut" minimum:"0" doc:"Messages sent or accepted for sending, including those sent from the phone." example:"52"`
	Sent                    int            `json:"sent" minimum:"0" doc:"Outbound messages the network took (whatever happened after): the rates' denominator." example:"50"`
	Delivered               int            `json:"delivered" minimum:"0" doc:"Outbound messages delivered to the recipient's phone, read ones included." example:"48"`
	Read                    int            `json:"read" minimum:"0" doc:"Outbound messages read." example:"30"`
	Failed                  int            `json:"failed" minimum:"0" doc:"Outbound messages that failed." example:"1"`
	DeliveryRate            float64        `json:"deliveryRate" minimum:"0" maximum:"1" doc:"delivered / sent; 0 when nothing was sent." example:"0.96"`
	ReadRate                float64        `json:"readRate" minimum:"0" maximum:"1" doc:"read / sent; 0 when nothing was sent." example:"0.6"`
	MedianFirstReplySeconds *float64       `json:"medianFirstReplySeconds" minimum:"0" doc:"Median over the day's conversations (chats with an inbound message that day) of the seconds from the day's first inbound message to the session's next outbound message in that chat; null when none was answered." example:"95.5"`
}

type analyticsDailyOutput struct {
	Body AnalyticsDaily
}

func (h *Handlers) registerAnalytics(api huma.API) {
	huma.Register(api, op("getAnalyticsOverview", http.MethodGet, "/analytics/overview", tagAnalytics, "Gateway overview",
		"Sessions by status, the send queue, today's messages, accept-to-sent latency and webhook delivery outcomes over the last "+
			"24 hours: the figures of a monitoring dashboard, computed by the database at each call.", 0),
		httpserver.Handle(h.Errors, h.analyticsOverview))
	huma.Register(api, withErrors(op("getAnalyticsDaily", http.MethodGet, "/analytics/daily", tagAnalytics, "Messages per session and day",
		"For each session and UTC day: messages in and out, delivered, read and failed, delivery and read rates, and the median time "+
			"to first reply. By default the last 7 days of every session; at most 92 days per call (422 beyond).", 0), notFound),
		httpserver.Handle(h.Errors, h.analyticsDaily))
}

func (h *Handlers) analyticsOverview(ctx context.Context, _ *struct{}) (*analyticsOverviewOutput, error) {
	now := time.Now().UTC()
	today := now.Truncate(24 * time.Hour)
	byStatus, err := h.Store.SessionsByStatus(ctx)
	if err != nil {
		return nil, err
	}
	depth, err := h.Store.CountQueued(ctx, "")
	if err != nil {
		return nil, err
	}
	age, _, err := h.Store.OldestDueAge(ctx, now)
	if err != nil {
		return nil, err
	}
	counts, err := h.Store.CountMessages(ctx, today, today.AddDate(0, 0, 1))
	if err != nil {
		return nil, err
	}
	latency, err := h.Store.AcceptToSent(ctx, now.Add(-analyticsWindow))
	if err != nil {
		return nil, err
	}
	// A gateway without webhook delivery has no deliveries to count.
	var deliveries webhook.DeliveryCounts
	if h.Webhooks != nil {
		if deliveries, err = h.Webhooks.DeliveryCounts(ctx, now.Add(-analyticsWindow)); err != nil {
			return nil, err
		}
	}

	out := AnalyticsOverview{
		GeneratedAt:      now,
		SessionsByStatus: make(map[string]int, len(byStatus)),
		QueueDepth:       depth,
		OldestQueuedAge:  age.Seconds(),
		Today: AnalyticsToday{Day: today.Format(time.DateOnly), MessagesIn: counts.In, MessagesOut: counts.Out, Sent: counts.Sent,
			Delivered: counts.Delivered, Read: counts.Read, Failed: counts.Failed},
		AcceptToSent: AnalyticsLatency{Samples: latency.Samples},
		Webhooks: AnalyticsWebhooks{Delivered: deliveries.Succeeded, Failed: deliveries.Dead, Pending: deliveries.Open,
			SuccessRate: ratio(deliveries.Succeeded, deliveries.Succeeded+deliveries.Dead)},
	}
	for st, n := range byStatus {
		out.SessionsByStatus[string(st)] = n
	}
	if latency.Samples > 0 {
		out.AcceptToSent.P50Ms, out.AcceptToSent.P95Ms = millis(latency.P50), millis(latency.P95)
	}
	return &analyticsOverviewOutput{Body: out}, nil
}

func (h *Handlers) analyticsDaily(ctx context.Context, in *analyticsDailyInput) (*analyticsDailyOutput, error) {
	session := core.SessionID(in.SessionID)
	if session != "" {
		if err := h.Store.SessionExists(ctx, session); err != nil {
			return nil, err
		}
	}
	days, err := h.Store.DailyActivity(ctx, store.ActivityFilter{Session: session, From: in.From, To: in.To})
	if err != nil {
		return nil, err
	}
	out := AnalyticsDaily{From: in.From.Format(time.DateOnly), To: in.To.Format(time.DateOnly), Days: make([]AnalyticsDay, len(days))}
	for i, d := range days {
		out.Days[i] = AnalyticsDay{SessionID: d.SessionID, Day: d.Day, MessagesIn: d.In, MessagesOut: d.Out, Sent: d.Sent,
			Delivered: d.Delivered, Read: d.Read, Failed: d.Failed,
			DeliveryRate: ratio(d.Delivered, d.Sent), ReadRate: ratio(d.Read, d.Sent)}
		if d.MedianFirstReply != nil {
			s := d.MedianFirstReply.Seconds()
			out.Days[i].MedianFirstReplySeconds = &s
		}
	}
	return &analyticsDailyOutput{Body: out}, nil
}

// ratio is part/whole, 0 for an empty whole.
func ratio(part, whole int) float64 {
	if whole == 0 {
		return 0
	}
	return float64(part) / float64(whole)
}

func millis(d time.Duration) *float64 {
	ms := float64(d) / float64(time.Millisecond)
	return &ms
}
