package main

import (
	"context"
	"math"
	"slices"
	"sync"
	"time"
)

// latencySummary is a distribution in milliseconds.
type latencySummary struct {
	Count int     `json:"count"`
	P50   float64 `json:"p50_ms"`
	P95   float64 `json:"p95_ms"`
	P99   float64 `json:"p99_ms"`
	Max   float64 `json:"max_ms"`
}

// percentile is the nearest-rank percentile (p in 0..100) of sorted: the smallest value with at
// least p % of the values at or below it. NaN when sorted is empty.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// summarize sorts ds in place and summarises it; an empty input gives a zero summary.
func summarize(ds []time.Duration) latencySummary {
	if len(ds) == 0 {
		return latencySummary{}
	}
	slices.Sort(ds)
	return latencySummary{
		Count: len(ds),
		P50:   ms(percentile(ds, 50)),
		P95:   ms(percentile(ds, 95)),
		P99:   ms(percentile(ds, 99)),
		Max:   ms(ds[len(ds)-1]),
	}
}

// openLoop issues count calls of fn at rate per second from start, on schedule whatever the
// earlier calls do: call i is due at start + i/rate and runs in a goroutine of its own, so a
// slow answer never delays the next request (no coordinated omission). fn gets its due time,
// from which it measures latency. At most inflight calls run at once; beyond that the scheduler
// waits, which the due times still charge to the server. It returns when every call returned,
// or early (without starting more) when ctx ends.
func openLoop(ctx context.Context, start time.Time, rate float64, count, inflight int, fn func(i int, due time.Time)) {
	sem := make(chan struct{}, max(inflight, 1))
	var wg sync.WaitGroup
	defer wg.Wait()
	timer := time.NewTimer(0)
	defer timer.Stop()
	<-timer.C
	for i := range count {
		due := start.Add(time.Duration(float64(i) * float64(time.Second) / rate))
		if wait := time.Until(due); wait > 0 {
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-ctx.Done():
				return
			}
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return
		}
		wg.Go(func() {
			defer func() { <-sem }()
			fn(i, due)
		})
	}
}
