package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// sendResult is the send scenario at one size and offered rate.
type sendResult struct {
	Sessions int         `json:"sessions"`
	Rate     float64     `json:"offered_per_sec"`
	Messages int         `json:"messages"`
	Gateway  sendFigures `json:"gateway"`
	// Baseline is bare whatsmeow SendMessage on the same devices, to the same recipients, on
	// the same schedule.
	Baseline *sendFigures `json:"baseline,omitempty"`
}

// sendFigures are one side's figures. Gateway: Accept is POST → 202 (from when the request was
// due), Sent is 202 → the message_create webhook (the simulator acknowledged it), Delivered is
// 202 → the message_ack webhook (the phone's delivery receipt). Baseline: Sent is due →
// SendMessage returned (the server's ack), Delivered is due → the delivery receipt event.
type sendFigures struct {
	Accepted         int             `json:"accepted"`
	Failed           int             `json:"failed"`
	FirstError       string          `json:"first_error,omitempty"`
	Accept           *latencySummary `json:"accept,omitempty"`
	Sent             latencySummary  `json:"sent"`
	Delivered        latencySummary  `json:"delivered"`
	SentMissing      int             `json:"sent_missing"`
	DeliveredMissing int             `json:"delivered_missing"`
	// AckedPerSec is messages acknowledged by the simulator per second, from the first due
	// request to the last acknowledgement.
	AckedPerSec float64 `json:"acked_per_sec"`
	// CPUSeconds is the process's CPU from the first request until every message was delivered
	// (receipt seen); CPUPerMessageMS is that per message, in CPU-milliseconds.
	CPUSeconds       float64 `json:"cpu_seconds"`
	CPUPerMessageMS  float64 `json:"cpu_per_message_ms"`
	SimCPUPerMessage float64 `json:"sim_cpu_per_message_ms"`
	// WebhooksPerMessage is how many webhook deliveries (all events) the gateway made per
	// message in the round, part of its CPU.
	WebhooksPerMessage float64 `json:"webhooks_per_message,omitempty"`
	RSSKB              int64   `json:"rss_kb"`
}

// messagesFor is how many messages a round offers: rate × duration, at least one per session.
func messagesFor(rate float64, d time.Duration, sessions int) int {
	return max(int(rate*d.Seconds()), sessions)
}

// warmRate sends the warm-up (one message per session) within about five seconds.
func warmRate(sessions int) float64 { return max(50, float64(sessions)/5) }

// gatewaySend offers count messages at rate through the API and follows them to delivered.
func gatewaySend(ctx context.Context, s *stack, rate float64, count int) (sendFigures, error) {
	reqs := make([]sendRequest, s.n)
	for i := range s.n {
		reqs[i] = s.api.newSendRequest(s.sessionIDs[i], s.customers[i], "gwbench send")
	}
	s.hooks.reset()
	gw0, err := sampleProc(s.gw.pid())
	if err != nil {
		return sendFigures{}, err
	}
	sim0, err := sampleProc(s.sim.pid())
	if err != nil {
		return sendFigures{}, err
	}
	var mu sync.Mutex
	var f sendFigures
	accepts := make([]time.Duration, 0, count)
	ids := make([]string, 0, count)
	acceptedAt := make(map[string]time.Time, count)
	start := time.Now()
	openLoop(ctx, start, rate, count, 512, func(i int, due time.Time) {
		id, err := s.api.send(ctx, reqs[i%s.n])
		at := time.Now()
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			f.Failed++
			if f.FirstError == "" {
				f.FirstError = err.Error()
			}
			return
		}
		accepts = append(accepts, at.Sub(due))
		ids = append(ids, id)
		acceptedAt[id] = at
	})
	if err := ctx.Err(); err != nil {
		return f, err
	}
	timeout := 2*time.Minute + time.Duration(count)*10*time.Millisecond
	if f.SentMissing, err = s.hooks.waitAll(ctx, sentMap, ids, timeout); err != nil {
		return f, err
	}
	if f.DeliveredMissing, err = s.hooks.waitAll(ctx, deliveredMap, ids, timeout); err != nil {
		return f, err
	}
	gw1, err := sampleProc(s.gw.pid())
	if err != nil {
		return f, err
	}
	sim1, err := sampleProc(s.sim.pid())
	if err != nil {
		return f, err
	}
	f.Accepted = len(ids)
	acc := summarize(accepts)
	f.Accept = &acc
	var sent, delivered []time.Duration
	var lastSent time.Time
	for id, t := range s.hooks.times(sentMap, ids) {
		sent = append(sent, t.Sub(acceptedAt[id]))
		if t.After(lastSent) {
			lastSent = t
		}
	}
	for id, t := range s.hooks.times(deliveredMap, ids) {
		delivered = append(delivered, t.Sub(acceptedAt[id]))
	}
	f.Sent, f.Delivered = summarize(sent), summarize(delivered)
	if len(sent) > 0 {
		f.AckedPerSec = float64(len(sent)) / lastSent.Sub(start).Seconds()
	}
	f.CPUSeconds = cpuSince(gw0, gw1)
	if f.Accepted > 0 {
		f.CPUPerMessageMS = 1000 * f.CPUSeconds / float64(f.Accepted)
		f.SimCPUPerMessage = 1000 * cpuSince(sim0, sim1) / float64(f.Accepted)
		total := 0
		for _, n := range s.hooks.eventCounts() {
			total += n
		}
		f.WebhooksPerMessage = float64(total) / float64(f.Accepted)
	}
	f.RSSKB = gw1.RSSKB
	return f, nil
}

// baselineSend has the baseline child send count messages at rate over the same routes.
func baselineSend(ctx context.Context, s *stack, c *baselineChild, rate float64, count int) (sendFigures, error) {
	b0, err := sampleProc(c.p.pid())
	if err != nil {
		return sendFigures{}, err
	}
	sim0, err := sampleProc(s.sim.pid())
	if err != nil {
		return sendFigures{}, err
	}
	timeout := 2*time.Minute + time.Duration(count)*10*time.Millisecond
	ans, err := c.call(ctx, childRequest{Op: "send", Rate: rate, Count: count, Routes: routesOf(s), Text: "gwbench send", TimeoutMS: timeout.Milliseconds()})
	if err != nil {
		return sendFigures{}, err
	}
	b1, err := sampleProc(c.p.pid())
	if err != nil {
		return sendFigures{}, err
	}
	sim1, err := sampleProc(s.sim.pid())
	if err != nil {
		return sendFigures{}, err
	}
	f := sendFigures{
		Accepted: ans.Sent, Failed: ans.Failed, FirstError: ans.FirstError,
		Sent: ans.Ack, Delivered: ans.Delivered, DeliveredMissing: ans.DeliveredMissing,
		AckedPerSec: ans.AckedPerSec, CPUSeconds: cpuSince(b0, b1), RSSKB: b1.RSSKB,
	}
	if f.Accepted > 0 {
		f.CPUPerMessageMS = 1000 * f.CPUSeconds / float64(f.Accepted)
		f.SimCPUPerMessage = 1000 * cpuSince(sim0, sim1) / float64(f.Accepted)
	}
	return f, nil
}

// warmGateway sends one message per session (not measured): the first message to a contact
// fetches its devices and pre-keys, which steady-state sending does not.
func warmGateway(ctx context.Context, s *stack) error {
	f, err := gatewaySend(ctx, s, warmRate(s.n), s.n)
	if err != nil {
		return fmt.Errorf("warm-up: %w", err)
	}
	return roundError("gateway warm-up", f)
}

func warmBaseline(ctx context.Context, s *stack, c *baselineChild) error {
	f, err := baselineSend(ctx, s, c, warmRate(s.n), s.n)
	if err != nil {
		return fmt.Errorf("baseline warm-up: %w", err)
	}
	return roundError("baseline warm-up", f)
}

// roundError fails a round in which messages failed or were never delivered.
func roundError(what string, f sendFigures) error {
	var errs []error
	if f.Failed > 0 {
		errs = append(errs, fmt.Errorf("%d failed (first: %s)", f.Failed, f.FirstError))
	}
	if f.SentMissing > 0 || f.DeliveredMissing > 0 {
		errs = append(errs, fmt.Errorf("%d never sent, %d never delivered", f.SentMissing, f.DeliveredMissing))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

func logSend(side string, r sendResult, f sendFigures) {
	args := []any{"sessions", r.Sessions, "rate", r.Rate, "messages", r.Messages,
		"cpu_ms_per_msg", fmt.Sprintf("%.3f", f.CPUPerMessageMS), "acked_per_sec", fmt.Sprintf("%.0f", f.AckedPerSec),
		"sent_p99_ms", f.Sent.P99, "delivered_p99_ms", f.Delivered.P99}
	if f.Accept != nil {
		args = append(args, "accept_p99_ms", f.Accept.P99)
	}
	if f.Failed+f.SentMissing+f.DeliveredMissing > 0 {
		args = append(args, "failed", f.Failed, "sent_missing", f.SentMissing, "delivered_missing", f.DeliveredMissing)
	}
	slog.Info(side+" send", args...)
}
