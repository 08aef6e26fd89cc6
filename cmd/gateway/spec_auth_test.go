package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/fx"
	"go.yaml.in/yaml/v3"

	"github.com/28web/hub/channels/core"
	"github.com/28web/hub/cmd/internal/app"
	"github.com/28web/hub/cmd/internal/config"
	"github.com/28web/hub/platform/httpserver"
	"github.com/28web/hub/platform/log"
)

// startApp runs the whole gateway wiring in-process on a free loopback port.
func startApp(t *testing.T, environ ...string) string {
	t.Helper()
	env := append([]string{"SESSIONS_PATH=" + t.TempDir(), "API_KEY=spec-key", "HOST=127.0.0.1", "PORT=0"}, environ...)
	cfg, err := config.Load(config.LoadOptions{Environ: env})
	require.NoError(t, err)
	var srv *httpserver.Server
	app := fx.New(app.Gateway(cfg, "test", log.Discard()), fx.Populate(&srv), fx.NopLogger)
	require.NoError(t, app.Err())
	require.NoError(t, app.Start(t.Context()))
	t.Cleanup(func() { require.NoError(t, app.Stop(context.Background())) })
	return "http://" + srv.Addr()
}

// TestCommittedSpecOperationsRequireTheKey walks every operation of the committed spec against
// the running gateway: without the key each answers 401, except the public ones.
func TestCommittedSpecOperationsRequireTheKey(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "openapi", "openapi.yaml"))
	require.NoError(t, err)
	var spec struct {
		Security []map[string][]string `yaml:"security"`
		Paths    map[string]map[string]struct {
			Security *[]map[string][]string `yaml:"security"`
		} `yaml:"paths"`
	}
	require.NoError(t, yaml.Unmarshal(raw, &spec))
	// Meta calls the Cloud API webhook without the gateway's key: it is authenticated by the
	// verify token and the body's signature instead (tested in channels/whatsappcloud).
	public := map[string]bool{"GET /health": true,
		"GET /webhooks/whatsapp-cloud/{sessionId}": true, "POST /webhooks/whatsapp-cloud/{sessionId}": true}

	base := startApp(t)
	checked := 0
	for path, ops := range spec.Paths {
		for method, op := range ops {
			method = strings.ToUpper(method)
			if method == "PARAMETERS" {
				continue
			}
			name := method + " " + path
			declaredPublic := op.Security != nil && len(*op.Security) == 0
			require.Equal(t, public[name], declaredPublic, "%s: public in the spec must match the intended public set", name)

			url := base + strings.NewReplacer("{id}", "s1", "{messageId}", "M1", "{sessionId}", "s1", "{name}", "t1").Replace(path)
			req, err := http.NewRequestWithContext(t.Context(), method, url, strings.NewReader("{}"))
			require.NoError(t, err)
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			_ = resp.Body.Close()
			if public[name] {
				require.NotEqual(t, http.StatusUnauthorized, resp.StatusCode, name)
			} else {
				require.Equal(t, http.StatusUnauthorized, resp.StatusCode, "%s must require the key", name)
				require.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"), name)
			}
			checked++
		}
	}
	require.Greater(t, checked, 20, "the spec lists the API's operations")
}

// The gateway serves exactly the committed documents (which TestCommittedSpecIsCurrent keeps
// equal to what the code generates), and their JSON forms with the same content.
func TestServedDocumentsAreTheCommittedBytes(t *testing.T) {
	sim := newSim(t)
	g := startE2E(t, sim, []string{"SESSIONS_PATH=" + t.TempDir()}, func(*config.Config) {})
	get := func(path string) ([]byte, string) {
		resp, err := http.Get(g.base + path)
		require.NoError(t, err)
		defer resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode, path)
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return b, resp.Header.Get("Content-Type")
	}
	for path, file := range map[string]string{"/openapi.yaml": "openapi.yaml", "/openapi-3.0.yaml": "openapi-3.0.yaml"} {
		committed, err := os.ReadFile(filepath.Join("..", "..", "openapi", file))
		require.NoError(t, err)
		served, ct := get(path)
		require.Equal(t, "application/openapi+yaml", ct)
		require.Equal(t, string(committed), string(served), "%s serves openapi/%s byte for byte", path, file)

		asJSON, ct := get(strings.TrimSuffix(path, ".yaml") + ".json")
		require.Equal(t, "application/openapi+json", ct)
		var fromYAML, fromJSON any
		require.NoError(t, yaml.Unmarshal(committed, &fromYAML))
		require.NoError(t, json.Unmarshal(asJSON, &fromJSON))
		want, err := json.Marshal(fromYAML)
		require.NoError(t, err)
		got, err := json.Marshal(fromJSON)
		require.NoError(t, err)
		require.JSONEq(t, string(want), string(got))
	}
}

// Every enumeration of event types in the spec lists exactly the core's event types (the enum
// tags repeat the list: a new event must be added to each).
func TestSpecEventEnumsAreComplete(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "openapi", "openapi.yaml"))
	require.NoError(t, err)
	var doc any
	require.NoError(t, yaml.Unmarshal(raw, &doc))
	want := make([]string, len(core.EventTypes))
	for i, e := range core.EventTypes {
		want[i] = string(e)
	}
	found := 0
	var walk func(v any)
	walk = func(v any) {
		switch n := v.(type) {
		case map[string]any:
			if enum, ok := n["enum"].([]any); ok && len(enum) > 1 && slices.Contains(enum, any(string(core.EventMessageAck))) {
				got := make([]string, len(enum))
				for i, e := range enum {
					got[i], _ = e.(string)
				}
				require.ElementsMatch(t, want, got)
				found++
			}
			for _, c := range n {
				walk(c)
			}
		case []any:
			for _, c := range n {
				walk(c)
			}
		}
	}
	walk(doc)
	require.GreaterOrEqual(t, found, 5, "the endpoint bodies (inline at session creation too), the delivery views and filters")
}
