package cloudsim

import "time"

// tokenBucket limits a phone number's throughput; it refills from the simulated clock so tests
// can exhaust it deterministically and refill it with AdvanceClock.
type tokenBucket struct {
	tokens float64
	last   time.Time
	primed bool
}

func (b *tokenBucket) allow(now time.Time, rate int) bool {
	if rate <= 0 {
		return true
	}
	if !b.primed {
		b.tokens, b.last, b.primed = float64(rate), now, true
	}
	if elapsed := now.Sub(b.last); elapsed > 0 {
		b.tokens = min(float64(rate), b.tokens+elapsed.Seconds()*float64(rate))
		b.last = now
	}
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// allowPair applies the (business, consumer) pair rate: at most burst sends in any window.
// It returns the pruned history, with now appended when allowed.
func allowPair(sends []time.Time, now time.Time, burst int, window time.Duration) ([]time.Time, bool) {
	if burst <= 0 {
		return sends, true
	}
	cutoff := now.Add(-window)
	kept := sends[:0]
	for _, t := range sends {
		if t.After(cutoff) {
			kept = append(kept, t)
		}
	}
	if len(kept) >= burst {
		return kept, false
	}
	return append(kept, now), true
}

// conversation is a 24h pricing conversation opened by the first billable message of a category.
type conversation struct {
	id      string
	origin  string
	expires time.Time
}

// conversationLocked returns the open conversation of that category with waID, opening one.
func (p *phone) conversationLocked(waID, category string, now time.Time) *conversation {
	key := waID + "/" + category
	if c := p.conversations[key]; c != nil && now.Before(c.expires) {
		return c
	}
	c := &conversation{id: newHexID(16), origin: category, expires: now.Add(24 * time.Hour)}
	p.conversations[key] = c
	return c
}

// customerServiceWindow is how long after a customer's last message free-form messages are allowed.
const customerServiceWindow = 24 * time.Hour

func (p *phone) windowOpenLocked(waID string, now time.Time) bool {
	last, ok := p.lastInbound[waID]
	return ok && now.Sub(last) <= customerServiceWindow
}
