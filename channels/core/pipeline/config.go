package pipeline

import (
	"errors"
	"fmt"
	"time"

	"github.com/28web/hub/channels/core/store"
)

// Config tunes the send pipeline (key "queue").
type Config struct {
	// Concurrency bounds how many messages are being sent at once across all sessions.
	// Optional, default 64.
	Concurrency int `koanf:"concurrency"`
	// MaxAttempts is how often a message is tried before it is marked failed. Optional, default 5.
	MaxAttempts int `koanf:"max_attempts"`
	// InitialBackoff is the wait after the first failed attempt, doubled each time up to
	// MaxBackoff. Optional, defaults 1s and 1m.
	InitialBackoff time.Duration `koanf:"initial_backoff"`
	MaxBackoff     time.Duration `koanf:"max_backoff"`
	// PerSessionPerMinute paces each session to at most this many messages a minute, spaced with
	// random jitter, to keep numbers from being flagged as bulk senders. Optional, 0 = no pacing.
	PerSessionPerMinute int `koanf:"per_session_per_minute"`
	// PacingJitter is the relative random spread of the pacing interval (0.3 = ±30 %).
	// Optional, default 0.3.
	PacingJitter float64 `koanf:"pacing_jitter"`
	// Order is what a message waiting for a retry holds back: "chat" (later messages to the same
	// chat; other chats go on) or "session" (every later message of the session: strict order).
	// Optional, default chat.
	Order store.QueueOrder `koanf:"order"`
	// ScanInterval is how often the database is scanned for accepted messages nothing is sending
	// (their bus command was lost in a crash). Scheduled messages are woken on time regardless.
	// Optional, default 30s.
	ScanInterval time.Duration `koanf:"scan_interval"`
}

// SetDefaults fills every optional field left at zero.
func (c *Config) SetDefaults() {
	if c.Concurrency == 0 {
		c.Concurrency = 64
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = 5
	}
	if c.InitialBackoff == 0 {
		c.InitialBackoff = time.Second
	}
	if c.MaxBackoff == 0 {
		c.MaxBackoff = time.Minute
	}
	if c.PacingJitter == 0 {
		c.PacingJitter = 0.3
	}
	if c.Order == "" {
		c.Order = store.OrderChat
	}
	if c.ScanInterval == 0 {
		c.ScanInterval = 30 * time.Second
	}
}

// Validate reports every problem at once.
func (c Config) Validate() error {
	var errs []error
	if c.Concurrency < 1 {
		errs = append(errs, fmt.Errorf("queue.concurrency must be at least 1, got %d", c.Concurrency))
	}
	if c.MaxAttempts < 1 {
		errs = append(errs, fmt.Errorf("queue.max_attempts must be at least 1, got %d", c.MaxAttempts))
	}
	if c.InitialBackoff <= 0 || c.MaxBackoff < c.InitialBackoff {
		errs = append(errs, errors.New("queue: want 0 < initial_backoff <= max_backoff"))
	}
	if c.PerSessionPerMinute < 0 {
		errs = append(errs, errors.New("queue.per_session_per_minute must not be negative"))
	}
	if c.PacingJitter < 0 || c.PacingJitter >= 1 {
		errs = append(errs, errors.New("queue.pacing_jitter must be in [0, 1)"))
	}
	if c.Order != store.OrderChat && c.Order != store.OrderSession {
		errs = append(errs, fmt.Errorf("queue.order %q: want chat or session", c.Order))
	}
	if c.ScanInterval <= 0 {
		errs = append(errs, errors.New("queue.scan_interval must be positive"))
	}
	return errors.Join(errs...)
}
