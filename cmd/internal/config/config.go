// Package config loads the gateway's configuration with koanf: built-in defaults, then an optional
// YAML file (--config or CONFIG_FILE), then the environment (the seed gateway's flat names, mapped
// by an explicit table). Invalid configuration stops start-up with one error listing every
// problem. config.example.yaml at the repository root documents every key.
package config

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/providers/confmap"
	"github.com/knadh/koanf/providers/file"
	"github.com/knadh/koanf/v2"

	"github.com/28web/hub/channels/core/media"
	"github.com/28web/hub/channels/core/pipeline"
	"github.com/28web/hub/channels/core/webhook"
	"github.com/28web/hub/channels/whatsapp"
	"github.com/28web/hub/channels/whatsappcloud"
	"github.com/28web/hub/platform/bus"
	"github.com/28web/hub/platform/db"
	"github.com/28web/hub/platform/httpserver"
	"github.com/28web/hub/platform/log"
	"github.com/28web/hub/platform/memlimit"
	"github.com/28web/hub/platform/outbox"
)

// Environment is the deployment mode (NODE_ENV in the seed).
type Environment string

const (
	Production  Environment = "production"
	Development Environment = "development"
)

// Config is the whole gateway configuration.
type Config struct {
	// Env is production or development (NODE_ENV). Optional, default development. Production
	// requires an API key; development generates one.
	Env Environment `koanf:"env"`
	// SessionsPath is the directory for local state (SESSIONS_PATH): the SQLite database and the
	// generated API key live in SessionsPath/data. Optional, default ./sessions.
	SessionsPath string `koanf:"sessions_path"`
	// SimulatorURL runs every WhatsApp client against the WhatsApp network simulator (cmd/wasim)
	// at this URL instead of WhatsApp (WASIM_URL), for demos, SDK tests and benchmarks. Refused in
	// production.
	SimulatorURL string `koanf:"simulator_url"`
	// PerformanceMonitoring enables the processing-latency histograms (PERFORMANCE_MONITORING).
	PerformanceMonitoring bool `koanf:"performance_monitoring"`

	Log      log.Config        `koanf:"log"`
	HTTP     httpserver.Config `koanf:"http"`
	DB       db.Config         `koanf:"db"`
	Bus      bus.Config        `koanf:"bus"`
	Outbox   outbox.Config     `koanf:"outbox"`
	Webhook  webhook.Config    `koanf:"webhook"`
	Health   HealthConfig      `koanf:"health"`
	Queue    pipeline.Config   `koanf:"queue"`
	Media    media.Config      `koanf:"media"`
	Memory   memlimit.Config   `koanf:"memory"`
	WhatsApp whatsapp.Config   `koanf:"whatsapp"`
	// WhatsAppCloud is the WhatsApp Business Cloud API channel's section.
	WhatsAppCloud whatsappcloud.Config `koanf:"whatsapp_cloud"`
	Hub           HubConfig            `koanf:"hub"`

	// Unused lists accepted environment variables that this gateway does not need (the seed's
	// browser settings); start-up reports them.
	Unused []string `koanf:"-"`
	// File is the YAML file that was loaded, if any.
	File string `koanf:"-"`
}

// HubConfig says where the hub's WhatsApp channel runs (cmd/hub only; the gateway ignores it).
type HubConfig struct {
	// Channel is "inprocess" (the hub runs the channel itself, like a gateway) or "remote" (it
	// drives a gateway over HTTP and reads the gateway's events from Redis) [HUB_CHANNEL].
	// Default inprocess.
	Channel string `koanf:"channel"`
	// GatewayURL is the gateway's base URL, required in remote mode [GATEWAY_URL].
	GatewayURL string `koanf:"gateway_url"`
	// GatewayAPIKey is the gateway's API key, required in remote mode [GATEWAY_API_KEY].
	GatewayAPIKey string `koanf:"gateway_api_key"`
	// GatewayNamespace is the bus namespace of the gateway's streams, where its events are read
	// in remote mode. It must differ from the hub's own bus.namespace: the hub's send queue must
	// not be consumed by the gateway's. Default "" (a gateway with no namespace).
	GatewayNamespace string `koanf:"gateway_namespace"`
	// Events is how remote mode takes the gateway's events: "redis" (its streams, shared Redis)
	// or "webhooks" (its signed webhooks: the gateway's APP_WEBHOOK_URL points at the hub's
	// /hub/gateway-events) [HUB_EVENTS]. Default redis.
	Events string `koanf:"events"`
	// WebhookSecret is the gateway's global webhook secret (whsec_…, its webhook.secret), which
	// signs what the hub takes in webhooks mode [HUB_WEBHOOK_SECRET].
	WebhookSecret string `koanf:"webhook_secret"`
}

// Hub event modes.
const (
	HubEventsRedis    = "redis"
	HubEventsWebhooks = "webhooks"
)

// Hub channel modes.
const (
	HubInProcess = "inprocess"
	HubRemote    = "remote"
)

// HealthConfig tunes the background health checks.
type HealthConfig struct {
	// CheckInterval is how often components and sessions are probed (HEALTH_CHECK_INTERVAL,
	// milliseconds). Default 30000.
	CheckInterval time.Duration `koanf:"check_interval"`
}

// DataDir is where local state lives: SessionsPath/data.
func (c *Config) DataDir() string { return filepath.Join(c.SessionsPath, "data") }

// LoadOptions say where configuration comes from.
type LoadOptions struct {
	// File is a YAML file; empty falls back to CONFIG_FILE, then to no file.
	File string
	// Environ is the environment as KEY=value pairs; nil uses os.Environ.
	Environ []string
}

// defaults are the lowest layer. Sub-configs fill the rest of their own defaults in SetDefaults.
var defaults = map[string]any{
	"env":                   string(Development),
	"sessions_path":         "./sessions",
	"http.port":             httpserver.DefaultPort,
	"webhook.timeout":       10 * time.Second,
	"health.check_interval": 30 * time.Second,
	"log.level":             "info",
}

// Load reads defaults < file < environment, fills defaults and validates the result.
func Load(opts LoadOptions) (*Config, error) {
	environ := opts.Environ
	if environ == nil {
		environ = os.Environ()
	}
	k := koanf.New(".")
	if err := k.Load(confmap.Provider(defaults, "."), nil); err != nil {
		return nil, fmt.Errorf("load defaults: %w", err)
	}

	path := opts.File
	if path == "" {
		path = lookup(environ, "CONFIG_FILE")
	}
	if path != "" {
		if err := k.Load(file.Provider(path), yaml.Parser()); err != nil {
			return nil, fmt.Errorf("load config file %s: %w", path, err)
		}
	}

	envs := readEnv(environ)
	if err := k.Load(confmap.Provider(envs.values, "."), nil); err != nil {
		return nil, fmt.Errorf("load environment: %w", err)
	}

	var cfg Config
	if err := k.UnmarshalWithConf("", &cfg, koanf.UnmarshalConf{DecoderConfig: &mapstructure.DecoderConfig{
		DecodeHook: mapstructure.ComposeDecodeHookFunc(
			millisHook,
			mapstructure.TextUnmarshallerHookFunc(),
		),
		WeaklyTypedInput: true,
		ErrorUnused:      true,
		Result:           &cfg,
		TagName:          "koanf",
	}}); err != nil {
		return nil, fmt.Errorf("invalid configuration: %w", err)
	}
	cfg.File = path
	slices.Sort(envs.unused)
	cfg.Unused = envs.unused
	cfg.SetDefaults()

	errs := envs.errs
	if err := cfg.Validate(); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("invalid configuration:\n%w", errors.Join(sortErrors(errs)...))
	}
	return &cfg, nil
}

func lookup(environ []string, name string) string {
	for i := len(environ) - 1; i >= 0; i-- {
		if k, v, ok := cutEnv(environ[i]); ok && k == name {
			return v
		}
	}
	return ""
}

func cutEnv(kv string) (string, string, bool) {
	for i := 0; i < len(kv); i++ {
		if kv[i] == '=' {
			return kv[:i], kv[i+1:], true
		}
	}
	return "", "", false
}

func sortErrors(errs []error) []error {
	slices.SortFunc(errs, func(a, b error) int {
		switch {
		case a.Error() < b.Error():
			return -1
		case a.Error() > b.Error():
			return 1
		}
		return 0
	})
	return errs
}

// millisHook decodes bare numbers (YAML 15000, or the string "15000") into durations as
// milliseconds, the seed's convention, and other strings with time.ParseDuration.
func millisHook(from, to reflect.Type, data any) (any, error) {
	if to != reflect.TypeFor[time.Duration]() {
		return data, nil
	}
	switch v := data.(type) {
	case time.Duration:
		return v, nil
	case int:
		return time.Duration(v) * time.Millisecond, nil
	case int64:
		return time.Duration(v) * time.Millisecond, nil
	case uint64:
		return time.Duration(v) * time.Millisecond, nil
	case float64:
		return time.Duration(v * float64(time.Millisecond)), nil
	case string:
		if v == "" {
			return time.Duration(0), nil
		}
		return parseMillis(v)
	}
	return data, nil
}

// SetDefaults fills every optional value left empty, including derived ones: the SQLite data
// directory follows SessionsPath.
func (c *Config) SetDefaults() {
	if c.Env == "" {
		c.Env = Development
	}
	if c.SessionsPath == "" {
		c.SessionsPath = "./sessions"
	}
	if c.DB.URL == "" && c.DB.DataDir == "" {
		c.DB.DataDir = c.DataDir()
	}
	if c.Hub.Channel == "" {
		c.Hub.Channel = HubInProcess
	}
	if c.Hub.Events == "" {
		c.Hub.Events = HubEventsRedis
	}
	if c.Health.CheckInterval == 0 {
		c.Health.CheckInterval = 30 * time.Second
	}
	c.Log.SetDefaults()
	c.HTTP.SetDefaults()
	c.DB.SetDefaults()
	c.Bus.SetDefaults()
	c.Outbox.SetDefaults()
	c.Webhook.SetDefaults()
	c.Queue.SetDefaults()
	c.Media.SetDefaults()
	c.Memory.SetDefaults()
	c.WhatsApp.SetDefaults()
	c.WhatsAppCloud.SetDefaults()
}

// Validate reports every problem at once. The API key is not required here: outside production
// the gateway generates one (see EnsureAPIKey).
func (c *Config) Validate() error {
	var errs []error
	if c.Env != Production && c.Env != Development {
		errs = append(errs, fmt.Errorf("env (NODE_ENV) %q: want production or development", c.Env))
	}
	if c.SimulatorURL != "" {
		if c.Env == Production {
			errs = append(errs, errors.New("simulator_url (WASIM_URL) is for development: not allowed in production"))
		}
		if u, err := url.Parse(c.SimulatorURL); err != nil || u.Scheme != "http" || u.Host == "" {
			errs = append(errs, errors.New("simulator_url (WASIM_URL): want http://host:port"))
		}
	}
	if c.Env == Production {
		if c.Webhook.AllowPrivateTargets {
			errs = append(errs, errors.New("webhook.allow_private_targets (WEBHOOK_ALLOW_PRIVATE_TARGETS) is for development: not allowed in production (the global APP_WEBHOOK_URL may point inside without it)"))
		}
		if c.Media.AllowPrivateNetworks {
			errs = append(errs, errors.New("media.allow_private_networks (MEDIA_ALLOW_PRIVATE_NETWORKS) is for development: not allowed in production"))
		}
	}
	switch c.Hub.Channel {
	case HubInProcess:
	case HubRemote:
		if u, err := url.Parse(c.Hub.GatewayURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, errors.New("hub.gateway_url (GATEWAY_URL): remote mode needs the gateway's http(s) URL"))
		}
		if c.Hub.GatewayAPIKey == "" {
			errs = append(errs, errors.New("hub.gateway_api_key (GATEWAY_API_KEY): remote mode needs the gateway's API key"))
		}
		switch c.Hub.Events {
		case HubEventsRedis:
			if c.Bus.RedisURL == "" {
				errs = append(errs, errors.New("hub remote mode with hub.events redis reads the gateway's events from Redis: set bus.redis_url (REDIS_URL), or hub.events webhooks"))
			}
			if c.Hub.GatewayNamespace == c.Bus.Namespace {
				errs = append(errs, errors.New("hub.gateway_namespace must differ from bus.namespace: the hub's queue is its own"))
			}
		case HubEventsWebhooks:
			if !strings.HasPrefix(c.Hub.WebhookSecret, "whsec_") {
				errs = append(errs, errors.New("hub.webhook_secret (HUB_WEBHOOK_SECRET): webhooks mode needs the whsec_ secret of the gateway's global endpoint (its webhook.secret)"))
			}
		default:
			errs = append(errs, fmt.Errorf("hub.events (HUB_EVENTS) %q: want redis or webhooks", c.Hub.Events))
		}
	default:
		errs = append(errs, fmt.Errorf("hub.channel (HUB_CHANNEL) %q: want inprocess or remote", c.Hub.Channel))
	}
	if c.Health.CheckInterval < time.Second {
		errs = append(errs, errors.New("health.check_interval (HEALTH_CHECK_INTERVAL) must be at least 1000 ms"))
	}
	for name, v := range map[string]interface{ Validate() error }{
		"log": c.Log, "db": &c.DB, "bus": &c.Bus, "outbox": c.Outbox, "queue": c.Queue, "media": c.Media, "memory": c.Memory, "whatsapp": c.WhatsApp, "whatsapp_cloud": c.WhatsAppCloud, "webhook": c.Webhook,
	} {
		if err := v.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
		}
	}
	if err := c.HTTP.Validate(); err != nil && !(c.HTTP.APIKey == "" && onlyMissingKey(c.HTTP)) {
		errs = append(errs, fmt.Errorf("http: %w", err))
	}
	return errors.Join(sortErrors(errs)...)
}

// onlyMissingKey reports whether the HTTP config's only problem is the missing API key, which
// EnsureAPIKey resolves later.
func onlyMissingKey(h httpserver.Config) bool {
	h.APIKey = "placeholder-for-validation"
	return h.Validate() == nil
}
