package httpserver

import (
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRateLimiterBucket(t *testing.T) {
	l := newRateLimiter(RateLimitRule{RequestsPerSecond: 2, Burst: 3})
	now := time.Unix(1_000_000, 0)

	for i := range 3 {
		d := l.allow("a", now)
		require.True(t, d.Allowed, "request %d", i)
		assert.Equal(t, 3, d.Limit)
		assert.Equal(t, 2-i, d.Remaining)
		assert.Zero(t, d.RetryAfter)
	}
	d := l.allow("a", now)
	require.False(t, d.Allowed)
	assert.Equal(t, 0, d.Remaining)
	assert.Equal(t, 500*time.Millisecond, d.RetryAfter, "one token at 2/s")
	assert.Equal(t, 1500*time.Millisecond, d.Reset, "three tokens at 2/s")

	// Refill: after 250 ms half a token, not enough; after 500 ms one.
	assert.False(t, l.allow("a", now.Add(250*time.Millisecond)).Allowed)
	d = l.allow("a", now.Add(500*time.Millisecond))
	assert.True(t, d.Allowed)
	assert.Equal(t, 0, d.Remaining)

	// Another key has its own bucket.
	assert.True(t, l.allow("b", now).Allowed)

	// Never above the burst, however long the pause.
	d = l.allow("a", now.Add(time.Hour))
	assert.True(t, d.Allowed)
	assert.Equal(t, 2, d.Remaining)
}

func TestRateLimiterEvictsFullBuckets(t *testing.T) {
	// Refills completely in 2 s.
	l := newRateLimiter(RateLimitRule{RequestsPerSecond: 5, Burst: 10})
	now := time.Unix(1_000_000, 0)
	for i := range 1000 {
		l.allow(strconv.Itoa(i), now)
	}
	require.Equal(t, 1000, l.size())

	// Within the refill period nothing is dropped: those buckets still hold
	// state a new bucket would not.
	l.allow("x", now.Add(time.Second))
	assert.Equal(t, 1001, l.size())

	// Once they are full again they go, on the next call; "x" is not full yet.
	l.allow("y", now.Add(2*time.Second))
	assert.Equal(t, 2, l.size())

	// An evicted client starts again from a full bucket, as it would have had.
	assert.Equal(t, 9, l.allow("0", now.Add(2*time.Second)).Remaining)
}
