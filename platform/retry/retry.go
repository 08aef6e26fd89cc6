// Package retry is the gateway's one backoff policy: exponential delays, capped, with a choice of
// jitter, and a context-aware sleep. Every retry loop (send pipeline, bus consumers, outbox relay,
// channel reconnects, the hub's remote client) takes its delays from a Policy, so that retries
// behave alike and are tuned in one way.
package retry

import (
	"context"
	"math/rand/v2"
	"time"
)

// Jitter says how a delay is randomised, so that clients failing together do not retry together.
type Jitter int

const (
	// NoJitter keeps the exponential delay as it is.
	NoJitter Jitter = iota
	// Proportional spreads the delay by ±Policy.Spread (0.2 = ±20 %).
	Proportional
	// Equal keeps half the delay and randomises the other half ("equal jitter").
	Equal
	// Full draws the delay uniformly from [0, delay] ("full jitter"): the widest spread, for
	// reconnect storms of thousands of clients.
	Full
)

// Policy is an exponential backoff: Initial, multiplied by Multiplier per attempt, capped at Max.
// The zero Multiplier means 2.
type Policy struct {
	Initial    time.Duration
	Max        time.Duration
	Multiplier float64
	Jitter     Jitter
	// Spread is the relative spread of Proportional jitter. Optional, default 0.2.
	Spread float64
}

// Delay is the wait before retry attempt n (1-based: the wait after the first failure).
func (p Policy) Delay(n int) time.Duration {
	mult := p.Multiplier
	if mult < 1 {
		mult = 2
	}
	d := float64(p.Initial)
	for i := 1; i < n && (p.Max <= 0 || d < float64(p.Max)); i++ {
		d *= mult
	}
	if p.Max > 0 && d > float64(p.Max) {
		d = float64(p.Max)
	}
	switch p.Jitter {
	case Proportional:
		spread := p.Spread
		if spread <= 0 {
			spread = 0.2
		}
		d *= 1 + spread*(2*rand.Float64()-1)
	case Equal:
		d = d/2 + rand.Float64()*d/2
	case Full:
		d = rand.Float64() * d
	}
	return time.Duration(d)
}

// Sleep waits d or until ctx ends; it reports whether the whole wait elapsed.
func Sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
