package retry_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/28web/hub/platform/retry"
)

func TestDelayGrowsAndCaps(t *testing.T) {
	p := retry.Policy{Initial: time.Second, Max: 10 * time.Second}
	assert.Equal(t, time.Second, p.Delay(1))
	assert.Equal(t, 2*time.Second, p.Delay(2))
	assert.Equal(t, 8*time.Second, p.Delay(4))
	assert.Equal(t, 10*time.Second, p.Delay(5))
	assert.Equal(t, 10*time.Second, p.Delay(500), "no overflow however many attempts")
	assert.Equal(t, 3*time.Second, retry.Policy{Initial: time.Second, Multiplier: 3}.Delay(2))
}

func TestJitterStaysInItsBounds(t *testing.T) {
	base := 8 * time.Second
	cases := map[string]struct {
		p        retry.Policy
		min, max time.Duration
	}{
		"proportional": {retry.Policy{Initial: base, Jitter: retry.Proportional, Spread: 0.25}, 6 * time.Second, 10 * time.Second},
		"equal":        {retry.Policy{Initial: base, Jitter: retry.Equal}, 4 * time.Second, base},
		"full":         {retry.Policy{Initial: base, Jitter: retry.Full}, 0, base},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			seen := map[time.Duration]bool{}
			for range 200 {
				d := c.p.Delay(1)
				assert.GreaterOrEqual(t, d, c.min)
				assert.LessOrEqual(t, d, c.max)
				seen[d] = true
			}
			assert.Greater(t, len(seen), 10, "delays are spread, not one value")
		})
	}
}

func TestSleepStopsWithTheContext(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	assert.False(t, retry.Sleep(ctx, time.Hour))
	assert.True(t, retry.Sleep(t.Context(), time.Millisecond))
}
