package bus

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"time"

	"github.com/redis/go-redis/v9"
)

// Config selects and tunes the message bus. cmd/internal/config maps REDIS_URL to
// RedisURL and composes this struct under the key "bus".
type Config struct {
	// RedisURL selects Redis Streams (redis:// or rediss://). Optional: empty selects the
	// in-process bus, which loses undelivered messages on exit.
	RedisURL string `koanf:"redis_url"`
	// RedisPassword overrides the password in RedisURL, so the secret can come from its own
	// variable. Optional.
	RedisPassword string `koanf:"redis_password"`
	// Namespace prefixes every topic (stream) name, so that several deployments, or parallel
	// test runs, can share one Redis. Optional, default none.
	Namespace string `koanf:"namespace"`
	// ConsumerName identifies this process inside every consumer group. It must be stable across
	// restarts and unique among replicas. Optional, default the hostname.
	ConsumerName string `koanf:"consumer_name"`
	// ClaimInterval is how often a subscriber looks for messages a dead consumer left pending.
	// Optional, default 1s (the library's 5s is too slow for a crashed send to be retried).
	ClaimInterval time.Duration `koanf:"claim_interval"`
	// MaxIdleTime is how long a delivered, unacknowledged message waits before another consumer
	// may take it over. A handler running longer than this may see its message delivered again
	// elsewhere, so handlers (retries included) must finish well within it. Optional, default
	// 10s (the library's 60s leaves a crashed consumer's messages stuck for a minute).
	MaxIdleTime time.Duration `koanf:"max_idle_time"`
	// MaxLen caps, approximately, the Redis streams no consumer group reads (the poison topic).
	// Streams with groups are trimmed behind their slowest group instead, never past a message
	// some group has not acknowledged. Optional, default 100000; negative: unbounded.
	MaxLen int64 `koanf:"max_len"`
	// TrimInterval is how often the streams this process publishes to are trimmed, and their
	// groups' lag read. Optional, default 5s.
	TrimInterval time.Duration `koanf:"trim_interval"`
	// LagWarning is how many unacknowledged messages a consumer group may have before the bus's
	// health check reports it degraded. Optional, default 10000.
	LagWarning int64 `koanf:"lag_warning"`
	// Retry is the in-handler retry schedule before a message goes to PoisonTopic.
	Retry RetryConfig `koanf:"retry"`
	// PoisonTopic receives messages whose handler failed every retry or panicked, with the reason
	// in the "reason_poisoned" metadata. Optional, default "poison".
	PoisonTopic string `koanf:"poison_topic"`
	// CloseTimeout bounds how long a router waits for in-flight handlers when stopping.
	// Optional, default 30s.
	CloseTimeout time.Duration `koanf:"close_timeout"`
}

// RetryConfig is an exponential backoff: InitialInterval, then multiplied by Multiplier up to
// MaxInterval, MaxRetries times.
type RetryConfig struct {
	// MaxRetries after the first attempt. Optional, default 3; -1 disables retries.
	MaxRetries      int           `koanf:"max_retries"`
	InitialInterval time.Duration `koanf:"initial_interval"` // default 100ms
	MaxInterval     time.Duration `koanf:"max_interval"`     // default 2s
	Multiplier      float64       `koanf:"multiplier"`       // default 2
}

// SetDefaults fills every optional field left at its zero value.
func (c *Config) SetDefaults() {
	if c.ConsumerName == "" {
		if host, err := os.Hostname(); err == nil && host != "" {
			c.ConsumerName = host
		} else {
			c.ConsumerName = "gateway"
		}
	}
	if c.ClaimInterval == 0 {
		c.ClaimInterval = time.Second
	}
	if c.MaxIdleTime == 0 {
		c.MaxIdleTime = 10 * time.Second
	}
	if c.MaxLen == 0 {
		c.MaxLen = 100_000
	}
	if c.TrimInterval == 0 {
		c.TrimInterval = 5 * time.Second
	}
	if c.LagWarning == 0 {
		c.LagWarning = 10_000
	}
	if c.PoisonTopic == "" {
		c.PoisonTopic = "poison"
	}
	if c.CloseTimeout == 0 {
		c.CloseTimeout = 30 * time.Second
	}
	if c.Retry.MaxRetries == 0 {
		c.Retry.MaxRetries = 3
	}
	if c.Retry.InitialInterval == 0 {
		c.Retry.InitialInterval = 100 * time.Millisecond
	}
	if c.Retry.MaxInterval == 0 {
		c.Retry.MaxInterval = 2 * time.Second
	}
	if c.Retry.Multiplier == 0 {
		c.Retry.Multiplier = 2
	}
}

// Validate reports every problem in c at once. Call SetDefaults first.
func (c Config) Validate() error {
	var errs []error
	if c.RedisURL != "" {
		if _, err := c.redisOptions(); err != nil {
			errs = append(errs, err)
		}
	}
	if c.ConsumerName == "" {
		errs = append(errs, errors.New("bus: consumer_name is required"))
	}
	if c.ClaimInterval <= 0 {
		errs = append(errs, fmt.Errorf("bus: claim_interval must be positive, got %s", c.ClaimInterval))
	}
	if c.MaxIdleTime <= 0 {
		errs = append(errs, fmt.Errorf("bus: max_idle_time must be positive, got %s", c.MaxIdleTime))
	}
	if c.PoisonTopic == "" {
		errs = append(errs, errors.New("bus: poison_topic is required"))
	}
	if c.TrimInterval <= 0 {
		errs = append(errs, fmt.Errorf("bus: trim_interval must be positive, got %s", c.TrimInterval))
	}
	if c.LagWarning < 1 {
		errs = append(errs, fmt.Errorf("bus: lag_warning must be at least 1, got %d", c.LagWarning))
	}
	if c.CloseTimeout <= 0 {
		errs = append(errs, fmt.Errorf("bus: close_timeout must be positive, got %s", c.CloseTimeout))
	}
	r := c.Retry
	if r.MaxRetries < -1 {
		errs = append(errs, fmt.Errorf("bus: retry.max_retries must be -1 (off) or more, got %d", r.MaxRetries))
	}
	if r.InitialInterval <= 0 || r.MaxInterval < r.InitialInterval {
		errs = append(errs, fmt.Errorf("bus: retry intervals must satisfy 0 < initial_interval (%s) <= max_interval (%s)",
			r.InitialInterval, r.MaxInterval))
	}
	if r.Multiplier < 1 {
		errs = append(errs, fmt.Errorf("bus: retry.multiplier must be at least 1, got %g", r.Multiplier))
	}
	// Retries run inside the handler while the message stays pending: if they outlast
	// MaxIdleTime, another consumer takes the message over and both process it.
	if c.RedisURL != "" && c.MaxIdleTime > 0 && r.totalBackoff() >= c.MaxIdleTime {
		errs = append(errs, fmt.Errorf("bus: retry schedule waits %s in total, not less than max_idle_time %s",
			r.totalBackoff(), c.MaxIdleTime))
	}
	return errors.Join(errs...)
}

// totalBackoff is the sum of the waits between attempts.
func (r RetryConfig) totalBackoff() time.Duration {
	var total time.Duration
	interval := r.InitialInterval
	for range max(r.MaxRetries, 0) {
		total += interval
		interval = min(time.Duration(float64(interval)*r.Multiplier), r.MaxInterval)
	}
	return total
}

// redisOptions parses RedisURL and applies RedisPassword.
func (c Config) redisOptions() (*redis.Options, error) {
	opts, err := redis.ParseURL(c.RedisURL)
	if err != nil {
		// url.Parse errors quote the whole URL, password included: keep only the reason.
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return nil, fmt.Errorf("bus: redis_url does not parse: %w", err)
	}
	if c.RedisPassword != "" {
		opts.Password = c.RedisPassword
	}
	return opts, nil
}
