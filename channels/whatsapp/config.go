package whatsapp

import (
	"errors"
	"fmt"
	"time"
)

// Config tunes the WhatsApp channel; the gateway loads it under the key "whatsapp". Every field is
// optional: SetDefaults documents and fills the defaults.
type Config struct {
	// UnpairedTTL is how long a session that never paired keeps offering QR codes before it is
	// expired and removed. Default 5m.
	UnpairedTTL time.Duration `koanf:"unpaired_ttl"`
	// QRFirstTimeout is how long the first QR code of a batch is shown; WhatsApp's own client
	// uses 60 s. Default 60s.
	QRFirstTimeout time.Duration `koanf:"qr_first_timeout"`
	// QRTimeout is how long each following QR code is shown. Default 20s.
	QRTimeout time.Duration `koanf:"qr_timeout"`
	// ReconnectMin is the first reconnect delay after a dropped link; it doubles per failed
	// attempt up to ReconnectMax, with full jitter. Default 1s.
	ReconnectMin time.Duration `koanf:"reconnect_min"`
	// ReconnectMax caps the reconnect delay. Default 2m.
	ReconnectMax time.Duration `koanf:"reconnect_max"`
	// RestoreRamp spreads the reconnects of restored sessions over this window at Start, so a
	// restart is not a thundering herd (ConnectConcurrency bounds the handshakes in flight too).
	// Default 1s.
	RestoreRamp time.Duration `koanf:"restore_ramp"`
	// ConnectConcurrency bounds how many sessions connect (noise handshake + login) at once.
	// Default 64.
	ConnectConcurrency int `koanf:"connect_concurrency"`
	// HealthInterval is how often the shared sweeper checks that sessions reported connected still
	// have a live, logged-in socket, and expires unpaired sessions. Default 30s.
	HealthInterval time.Duration `koanf:"health_interval"`
	// KeepAliveMaxFail is how long keepalives may fail before the link is dropped and
	// reconnected. Default 90s.
	KeepAliveMaxFail time.Duration `koanf:"keepalive_max_fail"`
	// MaxMediaBytes is the largest attachment this channel sends. Default 64 MiB. (Fetching media
	// URLs is configured in the core's media section.)
	MaxMediaBytes int64 `koanf:"max_media_bytes"`
	// BodyCacheSize bounds the in-memory cache of recent message bodies used for previousBody of
	// edits and revokes when no MessageBodies store is given (shared by all sessions). Default 10000.
	BodyCacheSize int `koanf:"body_cache_size"`
	// DeviceName is the name the phone shows for linked sessions. Default "28web Hub".
	DeviceName string `koanf:"device_name"`
}

// SetDefaults fills every unset field with its documented default.
func (c *Config) SetDefaults() {
	setDur := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	setDur(&c.UnpairedTTL, 5*time.Minute)
	setDur(&c.QRFirstTimeout, 60*time.Second)
	setDur(&c.QRTimeout, 20*time.Second)
	setDur(&c.ReconnectMin, time.Second)
	setDur(&c.ReconnectMax, 2*time.Minute)
	setDur(&c.RestoreRamp, time.Second)
	setDur(&c.HealthInterval, 30*time.Second)
	setDur(&c.KeepAliveMaxFail, 90*time.Second)
	if c.ConnectConcurrency == 0 {
		c.ConnectConcurrency = 64
	}
	if c.MaxMediaBytes == 0 {
		c.MaxMediaBytes = 64 << 20
	}
	if c.BodyCacheSize == 0 {
		c.BodyCacheSize = 10000
	}
	if c.DeviceName == "" {
		c.DeviceName = "28web Hub"
	}
}

// Validate reports every problem at once.
func (c Config) Validate() error {
	var errs []error
	positive := func(name string, d time.Duration) {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("whatsapp.%s must be positive, got %s", name, d))
		}
	}
	positive("unpaired_ttl", c.UnpairedTTL)
	positive("qr_first_timeout", c.QRFirstTimeout)
	positive("qr_timeout", c.QRTimeout)
	positive("reconnect_min", c.ReconnectMin)
	positive("reconnect_max", c.ReconnectMax)
	positive("health_interval", c.HealthInterval)
	positive("keepalive_max_fail", c.KeepAliveMaxFail)
	if c.RestoreRamp < 0 {
		errs = append(errs, fmt.Errorf("whatsapp.restore_ramp must be >= 0, got %s", c.RestoreRamp))
	}
	if c.ReconnectMax < c.ReconnectMin {
		errs = append(errs, fmt.Errorf("whatsapp.reconnect_max (%s) must be >= reconnect_min (%s)", c.ReconnectMax, c.ReconnectMin))
	}
	if c.ConnectConcurrency < 1 {
		errs = append(errs, fmt.Errorf("whatsapp.connect_concurrency must be >= 1, got %d", c.ConnectConcurrency))
	}
	if c.MaxMediaBytes < 1 {
		errs = append(errs, fmt.Errorf("whatsapp.max_media_bytes must be >= 1, got %d", c.MaxMediaBytes))
	}
	if c.BodyCacheSize < 0 {
		errs = append(errs, fmt.Errorf("whatsapp.body_cache_size must be >= 0, got %d", c.BodyCacheSize))
	}
	if c.DeviceName == "" {
		errs = append(errs, errors.New("whatsapp.device_name is required"))
	}
	return errors.Join(errs...)
}
