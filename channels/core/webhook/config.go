package webhook

import (
	"errors"
	"fmt"
	"time"
)

// Config tunes webhook delivery. cmd/internal/config composes it under the key "webhook"
// (APP_WEBHOOK_URL → url, WEBHOOK_TIMEOUT → timeout, ms) and copies the gateway's API key into
// APIKey.
type Config struct {
	// URL is the global endpoint receiving every event of every session (APP_WEBHOOK_URL).
	// Optional: empty delivers to per-session endpoints only.
	URL string `koanf:"url"`
	// Events filters the global endpoint's events; empty means all. Optional.
	Events []string `koanf:"events"`
	// Secret is the global endpoint's Standard Webhooks secret (whsec_<base64>). Optional: empty
	// keeps the one stored in the database, generating it on first start; read it once with the
	// rotate-secret operation.
	Secret string `koanf:"secret"`
	// APIKey is the gateway's API key, sent in the x-28web-gateway-key header to the global
	// endpoint only (per-session endpoints may belong to third parties). Optional.
	APIKey string `koanf:"-"`
	// Timeout bounds one delivery attempt (WEBHOOK_TIMEOUT). Optional, default 10s.
	Timeout time.Duration `koanf:"timeout"`
	// RetrySchedule is the wait before each retry; its length is the number of retries. Optional,
	// default 5s, 5m, 30m, 2h, 5h, 10h, 10h (Standard Webhooks' schedule).
	RetrySchedule []time.Duration `koanf:"retry_schedule"`
	// Jitter randomises each wait by ±Jitter (a fraction). Optional, default 0.2; negative
	// disables it.
	Jitter float64 `koanf:"jitter"`
	// MaxRetryAfter caps the wait a Retry-After header may ask for. Optional, default 1h.
	MaxRetryAfter time.Duration `koanf:"max_retry_after"`
	// Concurrency bounds attempts in flight over all endpoints. Optional, default 256.
	Concurrency int `koanf:"concurrency"`
	// EndpointConcurrency bounds attempts in flight to one endpoint. Optional, default 16.
	EndpointConcurrency int `koanf:"endpoint_concurrency"`
	// MaxQueuedPerEndpoint bounds the deliveries of one endpoint kept in memory; beyond it they
	// wait in the database and are loaded as the queue drains. Optional, default 10000.
	MaxQueuedPerEndpoint int `koanf:"max_queued_per_endpoint"`
	// PollInterval is how often the database is read for deliveries not in memory (left by a
	// previous run or over MaxQueuedPerEndpoint). Optional, default 5s.
	PollInterval time.Duration `koanf:"poll_interval"`
	// DisableAfter disables an endpoint that has failed without a single success for this long.
	// Optional, default 5 days; negative never disables.
	DisableAfter time.Duration `koanf:"disable_after"`
	// RotationGrace is how long the previous secret keeps signing after a rotation. Optional,
	// default 24h.
	RotationGrace time.Duration `koanf:"rotation_grace"`
	// Retention prunes finished deliveries (and their attempts) older than this. Optional,
	// default 30 days; negative keeps them forever.
	Retention time.Duration `koanf:"retention"`
	// PruneInterval is how often pruning runs. Optional, default 1h.
	PruneInterval time.Duration `koanf:"prune_interval"`
	// MaxResponseBody is how much of a response body is read (and kept in the log). Optional,
	// default 4096 bytes.
	MaxResponseBody int64 `koanf:"max_response_body"`
	// AllowPrivateTargets lets per-session endpoints (URLs given through the API) resolve to
	// loopback, private, link-local and other non-public addresses. Optional, default false
	// (SSRF protection); tests and local setups enable it. The global URL is the operator's and
	// is never restricted.
	AllowPrivateTargets bool `koanf:"allow_private_targets"`
}

// DefaultRetrySchedule is Standard Webhooks' schedule after the first attempt.
var defaultRetrySchedule = []time.Duration{5 * time.Second, 5 * time.Minute, 30 * time.Minute,
	2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 10 * time.Hour}

// SetDefaults fills every optional field left at its zero value.
func (c *Config) SetDefaults() {
	if c.Timeout == 0 {
		c.Timeout = 10 * time.Second
	}
	if c.RetrySchedule == nil {
		c.RetrySchedule = append([]time.Duration(nil), defaultRetrySchedule...)
	}
	if c.Jitter == 0 {
		c.Jitter = 0.2
	}
	if c.MaxRetryAfter == 0 {
		c.MaxRetryAfter = time.Hour
	}
	if c.Concurrency == 0 {
		c.Concurrency = 256
	}
	if c.EndpointConcurrency == 0 {
		c.EndpointConcurrency = 16
	}
	if c.MaxQueuedPerEndpoint == 0 {
		c.MaxQueuedPerEndpoint = 10_000
	}
	if c.PollInterval == 0 {
		c.PollInterval = 5 * time.Second
	}
	if c.DisableAfter == 0 {
		c.DisableAfter = 5 * 24 * time.Hour
	}
	if c.RotationGrace == 0 {
		c.RotationGrace = 24 * time.Hour
	}
	if c.Retention == 0 {
		c.Retention = 30 * 24 * time.Hour
	}
	if c.PruneInterval == 0 {
		c.PruneInterval = time.Hour
	}
	if c.MaxResponseBody == 0 {
		c.MaxResponseBody = 4096
	}
}

// Validate reports every problem at once. Call SetDefaults first.
func (c Config) Validate() error {
	var errs []error
	if c.URL != "" {
		// The operator's own backend may well be internal: no private-target check here.
		if _, err := validateURL(c.URL, true); err != nil {
			errs = append(errs, fmt.Errorf("webhook: url (APP_WEBHOOK_URL): %w", err))
		}
	}
	if _, err := parseEvents(c.Events); err != nil {
		errs = append(errs, fmt.Errorf("webhook: events: %w", err))
	}
	if c.Secret != "" {
		if _, err := decodeSecret(c.Secret); err != nil {
			errs = append(errs, fmt.Errorf("webhook: secret: %w", err))
		}
	}
	if c.Timeout <= 0 {
		errs = append(errs, fmt.Errorf("webhook: timeout (WEBHOOK_TIMEOUT) must be positive, got %s", c.Timeout))
	}
	for i, d := range c.RetrySchedule {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("webhook: retry_schedule[%d] must be positive, got %s", i, d))
		}
	}
	if c.Jitter >= 1 {
		errs = append(errs, fmt.Errorf("webhook: jitter must be below 1, got %g", c.Jitter))
	}
	positive := map[string]time.Duration{"max_retry_after": c.MaxRetryAfter, "poll_interval": c.PollInterval,
		"rotation_grace": c.RotationGrace, "prune_interval": c.PruneInterval}
	for name, d := range positive {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("webhook: %s must be positive, got %s", name, d))
		}
	}
	if c.Concurrency < 1 || c.EndpointConcurrency < 1 || c.MaxQueuedPerEndpoint < 1 {
		errs = append(errs, fmt.Errorf("webhook: concurrency (%d), endpoint_concurrency (%d) and max_queued_per_endpoint (%d) must be at least 1",
			c.Concurrency, c.EndpointConcurrency, c.MaxQueuedPerEndpoint))
	}
	if c.MaxResponseBody < 0 {
		errs = append(errs, fmt.Errorf("webhook: max_response_body must not be negative, got %d", c.MaxResponseBody))
	}
	return errors.Join(errs...)
}
