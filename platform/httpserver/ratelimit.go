package httpserver

import (
	"math"
	"sync"
	"time"
)

// rateDecision is the outcome of one limiter check, with what the
// RateLimit-* and Retry-After headers report.
type rateDecision struct {
	Allowed   bool
	Limit     int           // bucket capacity (burst)
	Remaining int           // whole tokens left after this request
	Reset     time.Duration // until the bucket is full again
	// RetryAfter is how long until one token is available; zero when allowed.
	RetryAfter time.Duration
}

type bucket struct {
	tokens float64
	last   time.Time
}

// rateLimiter is a set of token buckets keyed by client (IP or API key).
//
// A bucket that has been idle long enough to refill completely is
// indistinguishable from a new one, so it is dropped: memory stays
// proportional to the clients seen within one refill period. Sweeping happens
// inline, at most once per refill period, so no goroutine is needed.
// Safe for concurrent use.
type rateLimiter struct {
	rate  float64 // tokens per second
	burst float64
	// fullAfter is how long an empty bucket takes to refill completely.
	fullAfter time.Duration

	mu        sync.Mutex
	buckets   map[string]*bucket
	lastSweep time.Time
}

func newRateLimiter(rule RateLimitRule) *rateLimiter {
	fullAfter := time.Duration(float64(rule.Burst) / rule.RequestsPerSecond * float64(time.Second))
	return &rateLimiter{
		rate:      rule.RequestsPerSecond,
		burst:     float64(rule.Burst),
		fullAfter: max(fullAfter, time.Second),
		buckets:   make(map[string]*bucket),
	}
}

// allow takes one token from key's bucket if it has one.
func (l *rateLimiter) allow(key string, now time.Time) rateDecision {
	l.mu.Lock()
	defer l.mu.Unlock()

	l.sweepLocked(now)

	b, ok := l.buckets[key]
	if !ok {
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[key] = b
	}
	if elapsed := now.Sub(b.last); elapsed > 0 {
		b.tokens = math.Min(l.burst, b.tokens+elapsed.Seconds()*l.rate)
		b.last = now
	}

	d := rateDecision{Limit: int(l.burst)}
	if b.tokens >= 1 {
		b.tokens--
		d.Allowed = true
	} else {
		d.RetryAfter = l.secondsToDuration((1 - b.tokens) / l.rate)
	}
	d.Remaining = int(math.Floor(b.tokens))
	d.Reset = l.secondsToDuration((l.burst - b.tokens) / l.rate)
	return d
}

func (l *rateLimiter) secondsToDuration(s float64) time.Duration {
	return time.Duration(s * float64(time.Second))
}

// sweepLocked drops buckets that are full again. Called with l.mu held.
func (l *rateLimiter) sweepLocked(now time.Time) {
	if now.Sub(l.lastSweep) < l.fullAfter {
		return
	}
	l.lastSweep = now
	for key, b := range l.buckets {
		if now.Sub(b.last) >= l.fullAfter {
			delete(l.buckets, key)
		}
	}
}

// size reports the number of tracked buckets.
func (l *rateLimiter) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}
