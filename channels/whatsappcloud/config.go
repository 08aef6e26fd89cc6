package whatsappcloud

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"time"
)

// Config tunes the Cloud API channel; the gateway loads it under "whatsapp_cloud". Every field is
// optional: SetDefaults documents and fills the defaults.
type Config struct {
	// GraphURL is the Graph API's base URL (cloudsim's in tests and demos). Default
	// https://graph.facebook.com.
	GraphURL string `koanf:"graph_url"`
	// APIVersion is the Graph API version of every path. Default v21.0.
	APIVersion string `koanf:"api_version"`
	// EncryptionKey encrypts the sessions' access tokens, app secrets and verify tokens at rest:
	// 32 bytes, base64 [WHATSAPP_CLOUD_ENCRYPTION_KEY]. Without it no Cloud session can be created.
	EncryptionKey string `koanf:"encryption_key"`
	// Throughput is the messages per second one phone number may send (Meta's default is 80).
	// Default 80.
	Throughput int `koanf:"throughput"`
	// PairBurst and PairInterval are the pair rate limit: PairBurst messages to one customer at
	// once, then one per PairInterval. Defaults 45 and 6s, Meta's documented limit.
	PairBurst    int           `koanf:"pair_burst"`
	PairInterval time.Duration `koanf:"pair_interval"`
	// ConversationWindow is how long after a customer's last message free-form messages may be
	// sent; afterwards only templates. Default 24h (Meta's rule; shorten it only in tests).
	ConversationWindow time.Duration `koanf:"conversation_window"`
	// RequestTimeout bounds each Graph API call. Default 20s.
	RequestTimeout time.Duration `koanf:"request_timeout"`
	// TemplateCacheTTL is how long a session's template list is reused. Default 5m.
	TemplateCacheTTL time.Duration `koanf:"template_cache_ttl"`
	// MaxMediaBytes is the largest attachment sent. Default 16 MiB (Meta's limit for audio and
	// video; images are limited to 5 MB by Meta itself).
	MaxMediaBytes int64 `koanf:"max_media_bytes"`
}

// SetDefaults fills every unset field with its documented default.
func (c *Config) SetDefaults() {
	if c.GraphURL == "" {
		c.GraphURL = "https://graph.facebook.com"
	}
	if c.APIVersion == "" {
		c.APIVersion = "v21.0"
	}
	if c.Throughput == 0 {
		c.Throughput = 80
	}
	if c.PairBurst == 0 {
		c.PairBurst = 45
	}
	if c.PairInterval == 0 {
		c.PairInterval = 6 * time.Second
	}
	if c.ConversationWindow == 0 {
		c.ConversationWindow = 24 * time.Hour
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = 20 * time.Second
	}
	if c.TemplateCacheTTL == 0 {
		c.TemplateCacheTTL = 5 * time.Minute
	}
	if c.MaxMediaBytes == 0 {
		c.MaxMediaBytes = 16 << 20
	}
}

// Validate reports every invalid field.
func (c Config) Validate() error {
	var errs []error
	if u, err := url.Parse(c.GraphURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("whatsapp_cloud.graph_url: want an http(s) URL, got %q", c.GraphURL))
	}
	if c.EncryptionKey != "" {
		if k, err := base64.StdEncoding.DecodeString(c.EncryptionKey); err != nil || len(k) != 32 {
			errs = append(errs, errors.New("whatsapp_cloud.encryption_key: want 32 bytes, base64-encoded (openssl rand -base64 32)"))
		}
	}
	if c.Throughput < 0 || c.PairBurst < 0 || c.PairInterval < 0 || c.ConversationWindow < 0 || c.RequestTimeout < 0 || c.MaxMediaBytes < 0 {
		errs = append(errs, errors.New("whatsapp_cloud: limits cannot be negative"))
	}
	return errors.Join(errs...)
}
