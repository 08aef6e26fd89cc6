package httpserver

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Config configures the HTTP server. The config loader composes it under the
// key `http`; the seed's env names PORT and API_KEY map to Port and APIKey.
// New does not apply defaults: call SetDefaults first, then set what differs.
type Config struct {
	// Host is the interface to listen on; empty means all interfaces.
	Host string `koanf:"host"`
	// Port is the TCP port (env PORT). The configuration's default is
	// DefaultPort (3001); 0 picks a free port, which Server.Addr reports once
	// started (tests), so SetDefaults leaves it alone.
	Port int `koanf:"port"`
	// APIKey is the value clients send in the x-28web-gateway-key header
	// (env API_KEY). Required: the server never runs unauthenticated.
	APIKey string `koanf:"api_key"`
	// RateLimit limits requests per client IP and per API key.
	RateLimit RateLimitConfig `koanf:"rate_limit"`
	// BodyLimit caps request bodies of raw mux handlers (413 beyond it).
	// huma operations are capped by their Operation.MaxBodyBytes instead,
	// whose huma default is the same 1 MiB. Default 1 MiB.
	BodyLimit int64 `koanf:"body_limit"`
	// ReadHeaderTimeout bounds reading request headers (slowloris). Default 10s.
	ReadHeaderTimeout time.Duration `koanf:"read_header_timeout"`
	// ReadTimeout bounds reading a whole request. Default 30s.
	ReadTimeout time.Duration `koanf:"read_timeout"`
	// WriteTimeout bounds writing a response; streaming handlers extend it
	// with http.ResponseController. Default 60s.
	WriteTimeout time.Duration `koanf:"write_timeout"`
	// IdleTimeout bounds how long a keep-alive connection waits for the next
	// request. Default 120s.
	IdleTimeout time.Duration `koanf:"idle_timeout"`
	// ShutdownTimeout bounds the graceful shutdown: in-flight requests get
	// this long to finish before connections are closed. Default 15s.
	ShutdownTimeout time.Duration `koanf:"shutdown_timeout"`
	// TrustProxyHeaders takes the client IP from the last X-Forwarded-For
	// entry (the one the nearest proxy appended). Enable only behind a
	// reverse proxy that sets it; otherwise clients can spoof their IP.
	TrustProxyHeaders bool `koanf:"trust_proxy_headers"`
}

// RateLimitConfig holds the two token-bucket limits. Both apply: a request
// must pass its client IP's bucket (checked before authentication, so key
// guessing is throttled too) and then its API key's bucket.
type RateLimitConfig struct {
	// PerIP limits each client IP (IPv6 clients by /64). Default 50/s, burst 100.
	PerIP RateLimitRule `koanf:"per_ip"`
	// PerKey limits each API key. Default 100/s, burst 200.
	PerKey RateLimitRule `koanf:"per_key"`
}

// RateLimitRule is one token bucket: Burst requests at once, refilled at
// RequestsPerSecond.
type RateLimitRule struct {
	// Disabled turns this limit off. Off is opt-in so that a zero value
	// (e.g. a config file without the section) keeps the protection.
	Disabled bool `koanf:"disabled"`
	// RequestsPerSecond is the refill rate; fractions are allowed.
	RequestsPerSecond float64 `koanf:"requests_per_second"`
	// Burst is the bucket capacity, reported as RateLimit-Limit.
	Burst int `koanf:"burst"`
}

// DefaultPort is the seed's port.
const DefaultPort = 3001

// SetDefaults fills zero fields: BodyLimit 1 MiB, timeouts
// (read header 10s, read 30s, write 60s, idle 120s, shutdown 15s) and rate
// limits (per IP 50/s burst 100, per key 100/s burst 200).
func (c *Config) SetDefaults() {
	if c.BodyLimit == 0 {
		c.BodyLimit = 1 << 20
	}
	setDuration(&c.ReadHeaderTimeout, 10*time.Second)
	setDuration(&c.ReadTimeout, 30*time.Second)
	setDuration(&c.WriteTimeout, 60*time.Second)
	setDuration(&c.IdleTimeout, 120*time.Second)
	setDuration(&c.ShutdownTimeout, 15*time.Second)
	c.RateLimit.PerIP.setDefaults(50, 100)
	c.RateLimit.PerKey.setDefaults(100, 200)
}

func setDuration(d *time.Duration, def time.Duration) {
	if *d == 0 {
		*d = def
	}
}

func (r *RateLimitRule) setDefaults(rps float64, burst int) {
	if r.RequestsPerSecond == 0 {
		r.RequestsPerSecond = rps
	}
	if r.Burst == 0 {
		r.Burst = burst
	}
}

// Validate reports every invalid field at once.
func (c Config) Validate() error {
	var errs []error
	if c.Port < 0 || c.Port > 65535 {
		errs = append(errs, fmt.Errorf("http.port: %d is out of range 0-65535", c.Port))
	}
	if c.APIKey == "" {
		errs = append(errs, errors.New("http.api_key: required (env API_KEY)"))
	}
	if c.BodyLimit <= 0 {
		errs = append(errs, fmt.Errorf("http.body_limit: must be positive, got %d", c.BodyLimit))
	}
	for _, d := range []struct {
		name  string
		value time.Duration
	}{
		{"read_header_timeout", c.ReadHeaderTimeout},
		{"read_timeout", c.ReadTimeout},
		{"write_timeout", c.WriteTimeout},
		{"idle_timeout", c.IdleTimeout},
		{"shutdown_timeout", c.ShutdownTimeout},
	} {
		if d.value <= 0 {
			errs = append(errs, fmt.Errorf("http.%s: must be positive, got %s", d.name, d.value))
		}
	}
	errs = append(errs, c.RateLimit.PerIP.validate("http.rate_limit.per_ip"))
	errs = append(errs, c.RateLimit.PerKey.validate("http.rate_limit.per_key"))
	return errors.Join(errs...)
}

func (r RateLimitRule) validate(name string) error {
	if r.Disabled {
		return nil
	}
	var errs []error
	if !(r.RequestsPerSecond > 0) || math.IsInf(r.RequestsPerSecond, 1) { // also rejects NaN
		errs = append(errs, fmt.Errorf("%s.requests_per_second: must be positive, got %g", name, r.RequestsPerSecond))
	}
	if r.Burst < 1 {
		errs = append(errs, fmt.Errorf("%s.burst: must be at least 1, got %d", name, r.Burst))
	}
	return errors.Join(errs...)
}
