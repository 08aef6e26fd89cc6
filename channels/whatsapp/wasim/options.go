package wasim

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// DefaultRootSeed derives the default root certificate key pair. whatsmeow.WACertPubKey is
// process-global, so every simulator in a process must share one root key: this fixed, documented
// seed guarantees it. Private key = clamp(SHA-256(DefaultRootSeed)).
const DefaultRootSeed = "github.com/28web/hub/channels/whatsapp/wasim root key v1"

// Config is the koanf-loadable part of Options (used by cmd/wasim).
type Config struct {
	// Addr is the listen address; optional, default "127.0.0.1:0" (loopback, random port).
	Addr string `koanf:"addr"`
	// RootSeed derives the root key pair; optional, default DefaultRootSeed.
	RootSeed string `koanf:"root_seed"`
	// RoutedLogSize bounds the in-memory Routed() log; optional, default 10000, negative disables it.
	RoutedLogSize int `koanf:"routed_log_size"`
	// DedupeWindow is how many recent (sender, id) pairs are remembered to drop resends; optional, default 100000.
	DedupeWindow int `koanf:"dedupe_window"`
	// MaxQueue bounds the stanzas kept for one device (offline or unacknowledged); the oldest
	// are dropped beyond it. Optional, default 10000.
	MaxQueue int `koanf:"max_queue"`
	// CertValidity is the certificate lifetime around now; optional, default 10 years.
	CertValidity time.Duration `koanf:"cert_validity"`
	// ControlAPI also serves ControlHandler (/_sim/...) on the simulator's port; optional, default false.
	ControlAPI bool `koanf:"control_api"`
}

// Options configure a Simulator.
type Options struct {
	Config
	// Logger receives the simulator's logs; optional, default discards.
	Logger *slog.Logger
	// RootPrivateKey overrides the key derived from RootSeed; optional.
	RootPrivateKey *[32]byte
}

// SetDefaults fills every unset optional field with its documented default.
func (o *Options) SetDefaults() {
	if o.Addr == "" {
		o.Addr = "127.0.0.1:0"
	}
	if o.RootSeed == "" {
		o.RootSeed = DefaultRootSeed
	}
	if o.RoutedLogSize == 0 {
		o.RoutedLogSize = 10000
	}
	if o.DedupeWindow == 0 {
		o.DedupeWindow = 100000
	}
	if o.MaxQueue == 0 {
		o.MaxQueue = 10000
	}
	if o.CertValidity == 0 {
		o.CertValidity = 10 * 365 * 24 * time.Hour
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// Validate reports every problem at once.
func (o *Options) Validate() error {
	var errs []error
	if o.Addr == "" {
		errs = append(errs, errors.New("addr is required"))
	}
	if o.DedupeWindow < 1 {
		errs = append(errs, fmt.Errorf("dedupe_window must be >= 1, got %d", o.DedupeWindow))
	}
	if o.MaxQueue < 1 {
		errs = append(errs, fmt.Errorf("max_queue must be >= 1, got %d", o.MaxQueue))
	}
	if o.CertValidity < time.Minute {
		errs = append(errs, fmt.Errorf("cert_validity must be >= 1m, got %s", o.CertValidity))
	}
	return errors.Join(errs...)
}

// rootPrivateKey returns the configured or seed-derived root private key.
func (o *Options) rootPrivateKey() [32]byte {
	if o.RootPrivateKey != nil {
		return clampKey(*o.RootPrivateKey)
	}
	return clampKey(sha256.Sum256([]byte(o.RootSeed)))
}

func clampKey(k [32]byte) [32]byte {
	k[0] &= 248
	k[31] &= 127
	k[31] |= 64
	return k
}
