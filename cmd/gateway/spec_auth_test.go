package main

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/fx"
	"go.yaml.in/yaml/v3"

	"github.com/28web/hub/cmd/internal/app"
	"github.com/28web/hub/platform/config"
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
	public := map[string]bool{"GET /health": true}

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

			url := base + strings.NewReplacer("{id}", "s1", "{messageId}", "M1").Replace(path)
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
