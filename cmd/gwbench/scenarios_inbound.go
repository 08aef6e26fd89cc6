package main

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// inboundResult is the inbound scenario at one size and rate: customer i's phone sends to
// session i, open loop, through the simulator's control API.
type inboundResult struct {
	Sessions int            `json:"sessions"`
	Rate     float64        `json:"offered_per_sec"`
	Events   int            `json:"events"`
	Gateway  inboundFigures `json:"gateway"`
	// Baseline is bare whatsmeow receiving the same load on the same devices.
	Baseline *inboundFigures `json:"baseline,omitempty"`
}

// inboundFigures: Latency is from when the phone's send was due (before the simulator encrypts
// and routes it) until the gateway's message webhook arrived at the bench, or the baseline
// client's events.Message fired.
type inboundFigures struct {
	Sent           int            `json:"sent"`
	Failed         int            `json:"failed"`
	FirstError     string         `json:"first_error,omitempty"`
	Received       int            `json:"received"`
	Latency        latencySummary `json:"latency"`
	CPUSeconds     float64        `json:"cpu_seconds"`
	CPUPerEventMS  float64        `json:"cpu_per_event_ms"`
	SimCPUPerEvent float64        `json:"sim_cpu_per_event_ms"`
	ReceivedPerSec float64        `json:"received_per_sec"`
	RSSKB          int64          `json:"rss_kb"`
}

// phonesSend has the customers send count messages at rate to their sessions; it returns the
// ids sent and when each was due.
func phonesSend(ctx context.Context, s *stack, rate float64, count int, f *inboundFigures) ([]string, map[string]time.Time) {
	var mu sync.Mutex
	ids := make([]string, 0, count)
	dues := make(map[string]time.Time, count)
	openLoop(ctx, time.Now(), rate, count, 512, func(i int, due time.Time) {
		id, err := s.simAPI.sendText(ctx, s.customers[i%s.n], s.agents[i%s.n], "gwbench inbound")
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			f.Failed++
			if f.FirstError == "" {
				f.FirstError = err.Error()
			}
			return
		}
		ids = append(ids, id)
		dues[id] = due
	})
	f.Sent = len(ids)
	return ids, dues
}

// receive fills the figures from the arrivals and the CPU samples.
func (f *inboundFigures) receive(arrivals, dues map[string]time.Time, p0, p1, sim0, sim1 procSample) {
	lat := make([]time.Duration, 0, len(arrivals))
	var first, last time.Time
	for id, at := range arrivals {
		lat = append(lat, at.Sub(dues[id]))
		if first.IsZero() || dues[id].Before(first) {
			first = dues[id]
		}
		if at.After(last) {
			last = at
		}
	}
	f.Received = len(arrivals)
	f.Latency = summarize(lat)
	if f.Received > 0 {
		f.ReceivedPerSec = float64(f.Received) / last.Sub(first).Seconds()
	}
	f.CPUSeconds = cpuSince(p0, p1)
	if f.Sent > 0 {
		f.CPUPerEventMS = 1000 * f.CPUSeconds / float64(f.Sent)
		f.SimCPUPerEvent = 1000 * cpuSince(sim0, sim1) / float64(f.Sent)
	}
	f.RSSKB = p1.RSSKB
}

func gatewayInbound(ctx context.Context, s *stack, rate float64, count int) (inboundFigures, error) {
	var f inboundFigures
	s.hooks.reset()
	p0, sim0, err := sampleBoth(s.gw, s.sim)
	if err != nil {
		return f, err
	}
	ids, dues := phonesSend(ctx, s, rate, count, &f)
	if _, err := s.hooks.waitAll(ctx, inboundMap, ids, 2*time.Minute+time.Duration(count)*10*time.Millisecond); err != nil {
		return f, err
	}
	p1, sim1, err := sampleBoth(s.gw, s.sim)
	if err != nil {
		return f, err
	}
	f.receive(s.hooks.times(inboundMap, ids), dues, p0, p1, sim0, sim1)
	return f, nil
}

func baselineInbound(ctx context.Context, s *stack, c *baselineChild, rate float64, count int) (inboundFigures, error) {
	var f inboundFigures
	p0, sim0, err := sampleBoth(c.p, s.sim)
	if err != nil {
		return f, err
	}
	ids, dues := phonesSend(ctx, s, rate, count, &f)
	timeout := 2*time.Minute + time.Duration(count)*10*time.Millisecond
	ans, err := c.call(ctx, childRequest{Op: "inbound", IDs: ids, TimeoutMS: timeout.Milliseconds()})
	if err != nil {
		return f, err
	}
	p1, sim1, err := sampleBoth(c.p, s.sim)
	if err != nil {
		return f, err
	}
	arrivals := make(map[string]time.Time, len(ans.Arrivals))
	for id, ns := range ans.Arrivals {
		arrivals[id] = time.Unix(0, ns)
	}
	f.receive(arrivals, dues, p0, p1, sim0, sim1)
	return f, nil
}

func sampleBoth(a, b *proc) (procSample, procSample, error) {
	sa, err := sampleProc(a.pid())
	if err != nil {
		return sa, procSample{}, err
	}
	sb, err := sampleProc(b.pid())
	return sa, sb, err
}

// inboundError fails a round in which phones could not send or messages never arrived.
func inboundError(what string, f inboundFigures) error {
	if f.Failed > 0 || f.Received < f.Sent {
		return fmt.Errorf("%s: %d sends failed (first: %s), %d of %d received", what, f.Failed, f.FirstError, f.Received, f.Sent)
	}
	return nil
}

func logInbound(side string, r inboundResult, f inboundFigures) {
	slog.Info(side+" inbound", "sessions", r.Sessions, "rate", r.Rate, "events", r.Events,
		"p50_ms", f.Latency.P50, "p99_ms", f.Latency.P99, "cpu_ms_per_event", fmt.Sprintf("%.3f", f.CPUPerEventMS),
		"received", f.Received, "sent", f.Sent)
}
