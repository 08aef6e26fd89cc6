package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/fx"

	"github.com/28web/hub/cmd/internal/app"
	"github.com/28web/hub/cmd/internal/config"
	"github.com/28web/hub/platform/httpserver"
	"github.com/28web/hub/platform/log"
)

func TestWiringValidates(t *testing.T) {
	cfg, err := config.Load(config.LoadOptions{Environ: []string{"SESSIONS_PATH=" + t.TempDir(), "API_KEY=k"}})
	require.NoError(t, err)
	require.NoError(t, fx.ValidateApp(app.Gateway(cfg, "test", log.Discard())))
}

func TestVersionAndOpenAPICommands(t *testing.T) {
	var out, errOut bytes.Buffer
	require.Equal(t, 0, run([]string{"version"}, &out, &errOut))
	require.NotEmpty(t, strings.TrimSpace(out.String()))

	out.Reset()
	require.Equal(t, 0, run([]string{"openapi"}, &out, &errOut), errOut.String())
	require.Contains(t, out.String(), "openapi: 3.1")
	require.Contains(t, out.String(), "/health")

	out.Reset()
	require.Equal(t, 0, run([]string{"openapi", "--format", "3.0"}, &out, &errOut), errOut.String())
	require.Contains(t, out.String(), "openapi: 3.0")

	require.Equal(t, 2, run([]string{"frobnicate"}, &out, &errOut))
}

func TestMigrateCommandIsIdempotent(t *testing.T) {
	t.Setenv("SESSIONS_PATH", t.TempDir())
	var out, errOut bytes.Buffer
	require.Equal(t, 0, run([]string{"migrate"}, &out, &errOut), out.String()+errOut.String())
	require.Equal(t, 0, run([]string{"migrate"}, &out, &errOut), out.String()+errOut.String())
}

func TestProductionWithoutKeyRefusesToStart(t *testing.T) {
	t.Setenv("SESSIONS_PATH", t.TempDir())
	t.Setenv("NODE_ENV", "production")
	t.Setenv("API_KEY", "")
	var out, errOut bytes.Buffer
	require.Equal(t, 1, run([]string{"serve"}, &out, &errOut))
	require.Contains(t, out.String(), "API_KEY is required in production")
}

func TestInvalidConfigListsEveryProblem(t *testing.T) {
	t.Setenv("PORT", "abc")
	t.Setenv("NODE_ENV", "staging")
	var out, errOut bytes.Buffer
	require.Equal(t, 1, run(nil, &out, &errOut))
	require.Contains(t, errOut.String(), "PORT")
	require.Contains(t, errOut.String(), "NODE_ENV")
}

// TestGatewayBinaryStartsOnEmbeddedDefaults builds the real binary, runs it on a clean data
// directory (SQLite, in-process bus) and checks /health, the generated key and graceful exit.
func TestGatewayBinaryStartsOnEmbeddedDefaults(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	dir := t.TempDir()
	bin := gatewayBinary(t)

	work := filepath.Join(dir, "run")
	require.NoError(t, os.Mkdir(work, 0o755))
	cmd := exec.Command(bin)
	cmd.Dir = work
	// A clean environment but for what the test sets: no API_KEY, no DATABASE_URL, no REDIS_URL.
	cmd.Env = []string{"PORT=0", "HOST=127.0.0.1", "HOME=" + dir, "PATH=" + os.Getenv("PATH")}
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })

	addrRE := listeningRE
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var addr, key string
	deadline := time.After(30 * time.Second)
	for addr == "" {
		select {
		case line, ok := <-lines:
			require.True(t, ok, "gateway exited before listening")
			var entry struct {
				Message  string
				Metadata map[string]any
			}
			require.NoError(t, json.Unmarshal([]byte(line), &entry), "every stdout line is JSON: %s", line)
			if entry.Metadata["notice"] == "generated_api_key" {
				key, _ = entry.Metadata["apiKey"].(string)
			}
			if m := addrRE.FindStringSubmatch(line); m != nil {
				addr = m[1]
			}
		case <-deadline:
			t.Fatal("gateway did not report its address within 30s")
		}
	}
	go func() {
		for range lines { // keep draining so the gateway never blocks on stdout
		}
	}()
	require.NotEmpty(t, key, "a generated key is printed once")
	stored, err := os.ReadFile(filepath.Join(work, "sessions", "data", config.APIKeyFile))
	require.NoError(t, err)
	require.Equal(t, key, strings.TrimSpace(string(stored)))
	_, err = os.Stat(filepath.Join(work, "sessions", "data", "gateway.db"))
	require.NoError(t, err, "SQLite database under SESSIONS_PATH/data")

	resp, err := http.Get("http://" + addr + "/health")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	var health struct{ Status string }
	require.NoError(t, json.Unmarshal(body, &health))
	require.Equal(t, "ok", health.Status)

	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+addr+"/health/detailed", nil)
	req.Header.Set("x-28web-gateway-key", key)
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	probe := exec.CommandContext(t.Context(), bin, "healthcheck")
	probe.Env = []string{"PORT=" + addr[strings.LastIndex(addr, ":")+1:], "HOST=127.0.0.1", "API_KEY=unused"}
	out, err := probe.CombinedOutput()
	require.NoError(t, err, "healthcheck subcommand: %s", out)

	require.NoError(t, cmd.Process.Signal(os.Interrupt))
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		require.NoError(t, err, "graceful exit")
	case <-time.After(20 * time.Second):
		t.Fatal("gateway did not stop within 20s of SIGINT")
	}
}

// TestCommittedSpecIsCurrent fails when the code's OpenAPI document and the committed files
// differ: run `go generate ./cmd/gateway` (or `make generate`) and commit the result.
func TestCommittedSpecIsCurrent(t *testing.T) {
	doc, err := app.OpenAPIDocument(app.GatewayInfo())
	require.NoError(t, err)
	want31, err := doc.YAML()
	require.NoError(t, err)
	want30, err := httpserver.OpenAPI30YAML(doc)
	require.NoError(t, err)
	for file, want := range map[string][]byte{"openapi.yaml": want31, "openapi-3.0.yaml": want30} {
		got, err := os.ReadFile(filepath.Join("..", "..", "openapi", file))
		require.NoError(t, err)
		require.Equal(t, string(want), string(got), "openapi/%s is stale: run go generate ./cmd/gateway", file)
	}
}
