package config_test

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/providers/file"
	"github.com/knadh/koanf/v2"
	"github.com/stretchr/testify/require"

	"github.com/28web/hub/cmd/internal/config"
)

func load(t *testing.T, file string, environ ...string) (*config.Config, error) {
	t.Helper()
	return config.Load(config.LoadOptions{File: file, Environ: append([]string{}, environ...)})
}

func TestDefaults(t *testing.T) {
	cfg, err := load(t, "")
	require.NoError(t, err)
	require.Equal(t, config.Development, cfg.Env)
	require.Equal(t, 3001, cfg.HTTP.Port)
	require.Equal(t, 10*time.Second, cfg.Webhook.Timeout)
	require.Equal(t, 30*time.Second, cfg.Health.CheckInterval)
	require.Equal(t, "./sessions", cfg.SessionsPath)
	require.Equal(t, filepath.Join("sessions", "data"), filepath.Clean(cfg.DB.DataDir), "SQLite follows SESSIONS_PATH")
	require.Empty(t, cfg.DB.URL)
	require.Empty(t, cfg.Bus.RedisURL)
	require.Equal(t, "info", cfg.Log.Level)
}

func TestEveryEnvName(t *testing.T) {
	dir := t.TempDir()
	cfg, err := load(t, "",
		"NODE_ENV=production",
		"PORT=8080",
		"HOST=127.0.0.1",
		"API_KEY=k-123",
		"TRUST_PROXY=true",
		"REDIS_URL=redis://127.0.0.1:6379/2",
		"REDIS_PASSWORD=pw",
		"DATABASE_URL=postgres://u@127.0.0.1:5432/db?sslmode=disable",
		"APP_WEBHOOK_URL=https://hub.example/webhook",
		"WEBHOOK_TIMEOUT=45",
		"HEALTH_CHECK_INTERVAL=60000",
		"PERFORMANCE_MONITORING=true",
		"SESSIONS_PATH="+dir,
		"LOG_LEVEL=debug",
		"WHATSAPP_CLOUD_GRAPH_URL=http://127.0.0.1:8090",
		"WHATSAPP_CLOUD_ENCRYPTION_KEY=AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
		"HOME=/root", "PATH=/usr/bin", // unrelated variables are ignored
	)
	require.NoError(t, err)
	require.Equal(t, config.Production, cfg.Env)
	require.Equal(t, 8080, cfg.HTTP.Port)
	require.Equal(t, "127.0.0.1", cfg.HTTP.Host)
	require.Equal(t, "k-123", cfg.HTTP.APIKey)
	require.True(t, cfg.HTTP.TrustProxyHeaders)
	require.Equal(t, "redis://127.0.0.1:6379/2", cfg.Bus.RedisURL)
	require.Equal(t, "pw", cfg.Bus.RedisPassword)
	require.Equal(t, "postgres://u@127.0.0.1:5432/db?sslmode=disable", cfg.DB.URL)
	require.Equal(t, "https://hub.example/webhook", cfg.Webhook.URL)
	require.Equal(t, 45*time.Millisecond, cfg.Webhook.Timeout, "bare numbers are milliseconds")
	require.Equal(t, time.Minute, cfg.Health.CheckInterval)
	require.True(t, cfg.PerformanceMonitoring)
	require.Equal(t, dir, cfg.SessionsPath)
	require.Equal(t, "debug", cfg.Log.Level)
	require.Equal(t, "http://127.0.0.1:8090", cfg.WhatsAppCloud.GraphURL)
	require.Equal(t, "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", cfg.WhatsAppCloud.EncryptionKey)
	require.Len(t, config.EnvNames(), 24, "a new variable needs a line in this test")
}

// The private-target switches exist as variables for the simulator walk-through, and are refused
// in production.
func TestPrivateTargetSwitchesAreDevelopmentOnly(t *testing.T) {
	cfg, err := load(t, "", "WEBHOOK_ALLOW_PRIVATE_TARGETS=true", "MEDIA_ALLOW_PRIVATE_NETWORKS=true", "SESSIONS_PATH="+t.TempDir())
	require.NoError(t, err)
	require.True(t, cfg.Webhook.AllowPrivateTargets)
	require.True(t, cfg.Media.AllowPrivateNetworks)
	_, err = load(t, "", "NODE_ENV=production", "API_KEY=k", "WEBHOOK_ALLOW_PRIVATE_TARGETS=true", "MEDIA_ALLOW_PRIVATE_NETWORKS=true")
	require.ErrorContains(t, err, "webhook.allow_private_targets (WEBHOOK_ALLOW_PRIVATE_TARGETS) is for development")
	require.ErrorContains(t, err, "media.allow_private_networks (MEDIA_ALLOW_PRIVATE_NETWORKS) is for development")
}

func TestLayering(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "gateway.yaml")
	require.NoError(t, os.WriteFile(file, []byte(`
env: development
http:
  port: 4000
  host: 127.0.0.1
webhook:
  url: https://from-file.example/hook
  timeout: 15000
health:
  check_interval: 2m
`), 0o600))

	cfg, err := load(t, file)
	require.NoError(t, err)
	require.Equal(t, 4000, cfg.HTTP.Port, "file over defaults")
	require.Equal(t, 15*time.Second, cfg.Webhook.Timeout, "YAML bare number is milliseconds")
	require.Equal(t, 2*time.Minute, cfg.Health.CheckInterval, "YAML duration string")
	require.Equal(t, file, cfg.File)

	cfg, err = load(t, "", "CONFIG_FILE="+file, "PORT=5000", "WEBHOOK_TIMEOUT=2s")
	require.NoError(t, err)
	require.Equal(t, 5000, cfg.HTTP.Port, "environment over file")
	require.Equal(t, "127.0.0.1", cfg.HTTP.Host, "file value kept where env is silent")
	require.Equal(t, 2*time.Second, cfg.Webhook.Timeout)
}

func TestSecretsFromFiles(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "api_key")
	require.NoError(t, os.WriteFile(keyFile, []byte("from-file-key\n"), 0o600))
	cfg, err := load(t, "", "API_KEY_FILE="+keyFile)
	require.NoError(t, err)
	require.Equal(t, "from-file-key", cfg.HTTP.APIKey, "trailing newline trimmed")

	_, err = load(t, "", "API_KEY_FILE="+keyFile, "API_KEY=x")
	require.ErrorContains(t, err, "API_KEY and API_KEY_FILE are both set")

	_, err = load(t, "", "DATABASE_URL_FILE="+filepath.Join(dir, "missing"))
	require.ErrorContains(t, err, "DATABASE_URL_FILE")

	// Only secrets take _FILE; other names are ignored.
	_, err = load(t, "", "PORT_FILE="+keyFile)
	require.NoError(t, err)
}

func TestBrowserOnlyVariablesAreReportedUnused(t *testing.T) {
	cfg, err := load(t, "", "CHROME_BIN=/usr/bin/chromium", "WWEBJS_AUTH_PATH=./.wwebjs_auth", "CHROME_ARGS=--no-sandbox")
	require.NoError(t, err)
	require.Equal(t, []string{"CHROME_ARGS", "CHROME_BIN", "WWEBJS_AUTH_PATH"}, cfg.Unused)
}

func TestBadValuesListEveryProblem(t *testing.T) {
	_, err := load(t, "",
		"PORT=abc",
		"NODE_ENV=staging",
		"WEBHOOK_TIMEOUT=soon",
		"PERFORMANCE_MONITORING=maybe",
		"APP_WEBHOOK_URL=not a url",
		"LOG_LEVEL=loud",
		"API_KEY=secret-value-that-must-not-leak",
		"HEALTH_CHECK_INTERVAL=10",
	)
	require.Error(t, err)
	msg := err.Error()
	for _, want := range []string{"PORT", "NODE_ENV", "WEBHOOK_TIMEOUT", "PERFORMANCE_MONITORING", "APP_WEBHOOK_URL", "log.level", "HEALTH_CHECK_INTERVAL"} {
		require.Contains(t, msg, want)
	}
	require.True(t, strings.HasPrefix(msg, "invalid configuration:"), msg)
	require.NotContains(t, msg, "secret-value-that-must-not-leak")
}

func TestBadFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "bad.yaml")
	require.NoError(t, os.WriteFile(file, []byte("http:\n  prot: 1\n"), 0o600))
	_, err := load(t, file)
	require.ErrorContains(t, err, "prot", "unknown keys are typos, not silently ignored")

	_, err = load(t, filepath.Join(dir, "absent.yaml"))
	require.ErrorContains(t, err, "absent.yaml")
}

func TestExampleFileIsValidAndComplete(t *testing.T) {
	path := filepath.Join("..", "..", "..", "config.example.yaml")
	cfg, err := load(t, path)
	require.NoError(t, err, "config.example.yaml must load")
	require.Equal(t, 3001, cfg.HTTP.Port)

	k := koanf.New(".")
	require.NoError(t, k.Load(file.Provider(path), yaml.Parser()))
	for _, key := range koanfKeys(reflect.TypeFor[config.Config](), "") {
		require.True(t, k.Exists(key), "config.example.yaml must document %q", key)
	}
}

// koanfKeys lists the leaf keys of a config struct by its koanf tags.
func koanfKeys(t reflect.Type, prefix string) []string {
	var keys []string
	for f := range t.Fields() {
		tag := f.Tag.Get("koanf")
		if tag == "" || tag == "-" {
			continue
		}
		if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeFor[time.Duration]() {
			keys = append(keys, koanfKeys(f.Type, prefix+tag+".")...)
			continue
		}
		keys = append(keys, prefix+tag)
	}
	return keys
}

func TestEnsureAPIKey(t *testing.T) {
	dir := t.TempDir()
	cfg, err := load(t, "", "SESSIONS_PATH="+dir)
	require.NoError(t, err)
	generated, err := cfg.EnsureAPIKey()
	require.NoError(t, err)
	require.True(t, generated)
	key := cfg.HTTP.APIKey
	require.True(t, strings.HasPrefix(key, "gw_"))
	info, err := os.Stat(filepath.Join(dir, "data", config.APIKeyFile))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), info.Mode().Perm())

	again, err := load(t, "", "SESSIONS_PATH="+dir)
	require.NoError(t, err)
	generated, err = again.EnsureAPIKey()
	require.NoError(t, err)
	require.False(t, generated, "the stored key is reused, not printed again")
	require.Equal(t, key, again.HTTP.APIKey)

	prod, err := load(t, "", "SESSIONS_PATH="+t.TempDir(), "NODE_ENV=production")
	require.NoError(t, err)
	_, err = prod.EnsureAPIKey()
	require.ErrorIs(t, err, config.ErrAPIKeyRequired)
}

func TestSimulatorURLIsForDevelopmentOnly(t *testing.T) {
	cfg, err := load(t, "", "WASIM_URL=http://127.0.0.1:8765")
	require.NoError(t, err)
	require.Equal(t, "http://127.0.0.1:8765", cfg.SimulatorURL)
	_, err = load(t, "", "WASIM_URL=http://127.0.0.1:8765", "NODE_ENV=production", "API_KEY=k")
	require.ErrorContains(t, err, "not allowed in production")
}

func TestHubModes(t *testing.T) {
	cfg, err := load(t, "")
	require.NoError(t, err)
	require.Equal(t, config.HubInProcess, cfg.Hub.Channel)

	cfg, err = load(t, "", "HUB_CHANNEL=remote", "GATEWAY_URL=http://gateway:3001", "GATEWAY_API_KEY=gk",
		"REDIS_URL=redis://127.0.0.1:6379/0", "CONFIG_FILE="+writeFile(t, "bus:\n  namespace: hub.\n"))
	require.NoError(t, err)
	require.Equal(t, "http://gateway:3001", cfg.Hub.GatewayURL)
	require.Equal(t, "gk", cfg.Hub.GatewayAPIKey)

	_, err = load(t, "", "HUB_CHANNEL=remote")
	require.Error(t, err)
	for _, want := range []string{"GATEWAY_URL", "GATEWAY_API_KEY", "REDIS_URL", "gateway_namespace"} {
		require.ErrorContains(t, err, want)
	}
	_, err = load(t, "", "HUB_CHANNEL=sideways")
	require.ErrorContains(t, err, "HUB_CHANNEL")
}

func writeFile(t *testing.T, content string) string {
	p := filepath.Join(t.TempDir(), "config.yaml")
	require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
	return p
}

func TestHubEventModes(t *testing.T) {
	base := []string{"HUB_CHANNEL=remote", "GATEWAY_URL=http://127.0.0.1:3001", "GATEWAY_API_KEY=k", "SESSIONS_PATH=" + t.TempDir()}
	_, err := config.Load(config.LoadOptions{Environ: append(base, "HUB_EVENTS=webhooks")})
	require.ErrorContains(t, err, "hub.webhook_secret", "webhooks mode needs the secret")
	cfg, err := config.Load(config.LoadOptions{Environ: append(base, "HUB_EVENTS=webhooks", "HUB_WEBHOOK_SECRET=whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYX")})
	require.NoError(t, err, "webhooks mode needs no Redis")
	require.Equal(t, config.HubEventsWebhooks, cfg.Hub.Events)
	_, err = config.Load(config.LoadOptions{Environ: base})
	require.ErrorContains(t, err, "REDIS_URL", "redis mode (the default) needs Redis")
	_, err = config.Load(config.LoadOptions{Environ: append(base, "HUB_EVENTS=carrier-pigeon")})
	require.ErrorContains(t, err, "hub.events")
}
