package config

import (
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// envKind says how an environment variable's text is parsed before it reaches koanf.
type envKind int

const (
	envString envKind = iota
	envInt
	envBool
	// envMillis is a duration given as bare milliseconds (the seed's convention) or with a unit.
	envMillis
	envURL
)

// envVar maps one flat environment name to its config key.
type envVar struct {
	key  string
	kind envKind
	// secret: the value may also come from NAME_FILE.
	secret bool
}

// envTable is the explicit mapping of every environment variable the gateway reads. Names are the
// seed gateway's; anything not listed here is ignored (a naive NAME→name.key transform would pick
// up HOME or PATH and mangle names with underscores).
var envTable = map[string]envVar{
	"NODE_ENV":        {key: "env"},
	"PORT":            {key: "http.port", kind: envInt},
	"HOST":            {key: "http.host"},
	"API_KEY":         {key: "http.api_key", secret: true},
	"TRUST_PROXY":     {key: "http.trust_proxy_headers", kind: envBool},
	"REDIS_URL":       {key: "bus.redis_url", kind: envURL, secret: true},
	"REDIS_PASSWORD":  {key: "bus.redis_password", secret: true},
	"DATABASE_URL":    {key: "db.url", kind: envURL, secret: true},
	"APP_WEBHOOK_URL": {key: "webhook.url", kind: envURL},
	"WEBHOOK_TIMEOUT": {key: "webhook.timeout", kind: envMillis},
	// Development only (refused in production): webhooks and media URLs on loopback or private
	// networks, as the simulator walk-through needs.
	"WEBHOOK_ALLOW_PRIVATE_TARGETS": {key: "webhook.allow_private_targets", kind: envBool},
	"MEDIA_ALLOW_PRIVATE_NETWORKS":  {key: "media.allow_private_networks", kind: envBool},
	"HEALTH_CHECK_INTERVAL":         {key: "health.check_interval", kind: envMillis},
	"PERFORMANCE_MONITORING":        {key: "performance_monitoring", kind: envBool},
	"SESSIONS_PATH":                 {key: "sessions_path"},
	"LOG_LEVEL":                     {key: "log.level"},
	"WASIM_URL":                     {key: "simulator_url", kind: envURL},
	"WHATSAPP_CLOUD_GRAPH_URL":      {key: "whatsapp_cloud.graph_url", kind: envURL},
	"WHATSAPP_CLOUD_ENCRYPTION_KEY": {key: "whatsapp_cloud.encryption_key", secret: true},
	"HUB_CHANNEL":                   {key: "hub.channel"},
	"GATEWAY_URL":                   {key: "hub.gateway_url", kind: envURL},
	"GATEWAY_API_KEY":               {key: "hub.gateway_api_key", secret: true},
	"HUB_EVENTS":                    {key: "hub.events"},
	"HUB_WEBHOOK_SECRET":            {key: "hub.webhook_secret", secret: true},
}

// browserOnlyEnv reports variables of the whatsapp-web.js gateway that configured its Chromium.
// They are accepted so existing deployments start unchanged, and reported as unused.
func browserOnlyEnv(name string) bool {
	return strings.HasPrefix(name, "CHROME_") || strings.HasPrefix(name, "PUPPETEER_") || name == "WWEBJS_AUTH_PATH"
}

// EnvNames lists every environment variable the gateway reads, for documentation tests.
func EnvNames() []string {
	names := make([]string, 0, len(envTable))
	for n := range envTable {
		names = append(names, n)
	}
	return names
}

// envReader turns an environment into koanf keys, collecting every problem.
type envReader struct {
	values map[string]any
	unused []string
	errs   []error
}

func readEnv(environ []string) envReader {
	r := envReader{values: map[string]any{}}
	vars := map[string]string{}
	for _, kv := range environ {
		name, value, ok := strings.Cut(kv, "=")
		if ok {
			vars[name] = value
		}
	}
	for name, value := range vars {
		if browserOnlyEnv(name) {
			r.unused = append(r.unused, name)
			continue
		}
		base, isFile := strings.CutSuffix(name, "_FILE")
		if isFile {
			spec, ok := envTable[base]
			if !ok || !spec.secret {
				continue
			}
			if _, both := vars[base]; both {
				r.errs = append(r.errs, fmt.Errorf("%s and %s are both set: keep one", base, name))
				continue
			}
			b, err := os.ReadFile(value)
			if err != nil {
				r.errs = append(r.errs, fmt.Errorf("%s: read secret file: %w", name, err))
				continue
			}
			r.set(base, spec, strings.TrimRight(string(b), "\r\n"))
			continue
		}
		if spec, ok := envTable[name]; ok {
			r.set(name, spec, value)
		}
	}
	return r
}

func (r *envReader) set(name string, spec envVar, raw string) {
	v, err := parseEnv(spec.kind, strings.TrimSpace(raw))
	if err != nil {
		// The value itself is not echoed: it may be a secret.
		r.errs = append(r.errs, fmt.Errorf("%s: %w", name, err))
		return
	}
	r.values[spec.key] = v
}

func parseEnv(kind envKind, s string) (any, error) {
	switch kind {
	case envInt:
		n, err := strconv.Atoi(s)
		if err != nil {
			return nil, fmt.Errorf("want a whole number, got %q", s)
		}
		return n, nil
	case envBool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return nil, fmt.Errorf("want true or false, got %q", s)
		}
		return b, nil
	case envMillis:
		d, err := parseMillis(s)
		if err != nil {
			return nil, err
		}
		return d, nil
	case envURL:
		if s == "" {
			return s, nil
		}
		u, err := url.Parse(s)
		if err != nil || u.Scheme == "" || u.Host == "" {
			return nil, fmt.Errorf("want an absolute URL (scheme://host/...)")
		}
		return s, nil
	}
	return s, nil
}

// parseMillis reads a duration: bare numbers are milliseconds, as in the seed; "10s" style
// strings are Go durations.
func parseMillis(s string) (time.Duration, error) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n < 0 {
			return 0, fmt.Errorf("want a non-negative duration, got %q", s)
		}
		return time.Duration(n) * time.Millisecond, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("want milliseconds (10000) or a duration (10s), got %q", s)
	}
	return d, nil
}
