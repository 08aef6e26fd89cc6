package httpserver

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestConfigDefaults(t *testing.T) {
	var c Config
	c.SetDefaults()
	assert.Equal(t, 0, c.Port, "0 means any free port; 3001 is the configuration's default")
	assert.Equal(t, int64(1<<20), c.BodyLimit)
	assert.Equal(t, 10*time.Second, c.ReadHeaderTimeout)
	assert.Equal(t, 15*time.Second, c.ShutdownTimeout)
	assert.Equal(t, RateLimitRule{RequestsPerSecond: 50, Burst: 100}, c.RateLimit.PerIP)
	assert.Equal(t, RateLimitRule{RequestsPerSecond: 100, Burst: 200}, c.RateLimit.PerKey)
	assert.False(t, c.TrustProxyHeaders)

	// Defaults only fill what is unset.
	c = Config{Port: 8080, RateLimit: RateLimitConfig{PerIP: RateLimitRule{Burst: 5}}}
	c.SetDefaults()
	assert.Equal(t, 8080, c.Port)
	assert.Equal(t, RateLimitRule{RequestsPerSecond: 50, Burst: 5}, c.RateLimit.PerIP)

	// Only the key is missing after defaults.
	require.EqualError(t, c.Validate(), "http.api_key: required (env API_KEY)")
	c.APIKey = "k"
	require.NoError(t, c.Validate())
}

func TestConfigValidateReportsEverything(t *testing.T) {
	c := Config{
		Port:      70000,
		BodyLimit: -1,
		RateLimit: RateLimitConfig{
			PerIP:  RateLimitRule{RequestsPerSecond: math.NaN(), Burst: 0},
			PerKey: RateLimitRule{Disabled: true}, // not checked when off
		},
	}
	err := c.Validate()
	require.Error(t, err)
	for _, want := range []string{
		"http.port", "http.api_key", "http.body_limit",
		"http.read_header_timeout", "http.read_timeout", "http.write_timeout",
		"http.idle_timeout", "http.shutdown_timeout",
		"http.rate_limit.per_ip.requests_per_second", "http.rate_limit.per_ip.burst",
	} {
		assert.Contains(t, err.Error(), want)
	}
	assert.NotContains(t, err.Error(), "per_key")
}
