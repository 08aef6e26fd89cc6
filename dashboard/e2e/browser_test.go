//go:build browser

// Package e2e runs the dashboard in a real browser: Debian's chromium driven by playwright-core
// (dashboard.mjs), against the gateway binary built from this tree and the WhatsApp simulator,
// both started here on loopback.
//
//	(cd dashboard/e2e && npm ci) && go test -tags browser -count=1 -v ./dashboard/e2e
//
// The build tag keeps it out of `go test ./...` (which would otherwise build the gateway and
// start a browser once more, and again under -race); .ci/run runs it in a step of its own.
// Without chromium (CHROMIUM_PATH, else chromium on PATH), node or node_modules/playwright-core
// the test is skipped, unless CI=true, where it fails: CI installs them (.ci/run). Screenshots of
// every step go to ARTIFACTS_DIR/dashboard (default ./artifacts/dashboard in this directory);
// with UPDATE_DOCS_SCREENSHOT=1 the session page's shot is also copied to docs/dashboard.png.
//
// The gateway runs as a subprocess (go build ./cmd/gateway, pointed at the simulator with
// WASIM_URL, exactly as a developer runs the demo): its wiring lives in cmd/internal/app, which
// Go's internal rule keeps out of reach of this package, and the browser then tests the very
// binary users run, assets embedded.
package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/28web/hub/channels/whatsapp/wasim"
	"github.com/28web/hub/platform/log"
)

const apiKey = "dashboard-e2e-key"

// need skips the test, or fails it under CI, when a tool is missing.
func need(t *testing.T, what string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("browser test: %s: %v (CI installs it: see .ci/run)", what, err)
	}
	t.Skipf("browser test skipped: %s: %v (install it, or set CI=true to make this a failure)", what, err)
}

func chromiumPath() (string, error) {
	if p := os.Getenv("CHROMIUM_PATH"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", err
		}
		return p, nil
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", errors.New("chromium not found (apt-get install chromium, or set CHROMIUM_PATH)")
}

// hookReceiver is the session's webhook endpoint: it answers 400 (no retry: the delivery is
// dead at once) until the browser script switches it to 200 through /mode?ok=1.
type hookReceiver struct {
	ok       atomic.Bool
	received atomic.Int64
}

func (h *hookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/mode":
		h.ok.Store(r.URL.Query().Get("ok") == "1")
		w.WriteHeader(http.StatusNoContent)
	case "/hook":
		_, _ = io.Copy(io.Discard, r.Body)
		h.received.Add(1)
		if h.ok.Load() {
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write([]byte(`{"ok":true}`))
			return
		}
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"error":"the test endpoint refuses until told otherwise"}`))
	default:
		http.NotFound(w, r)
	}
}

func TestBrowserDashboard(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test")
	}
	chromium, err := chromiumPath()
	need(t, "chromium", err)
	node, err := exec.LookPath("node")
	need(t, "node", err)
	_, err = os.Stat(filepath.Join("node_modules", "playwright-core", "package.json"))
	need(t, "playwright-core (npm ci in dashboard/e2e)", err)
	goTool, err := exec.LookPath("go")
	need(t, "go", err)

	ctx, cancel := context.WithTimeout(t.Context(), 8*time.Minute)
	defer cancel()

	// The simulator, with its control API, in this process.
	opts := wasim.Options{Logger: log.Discard()}
	opts.ControlAPI = true
	sim, err := wasim.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sim.Close() })
	simURL := "http://" + sim.Addr()

	hooks := &hookReceiver{}
	hookSrv := httptest.NewServer(hooks)
	t.Cleanup(hookSrv.Close)

	// The gateway binary from this tree.
	dir := t.TempDir()
	bin := filepath.Join(dir, "gateway")
	build := exec.CommandContext(ctx, goTool, "build", "-o", bin, "github.com/28web/hub/cmd/gateway")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/gateway: %v\n%s", err, out)
	}
	base := startGateway(t, ctx, bin, dir, simURL)

	artifacts := os.Getenv("ARTIFACTS_DIR")
	if artifacts == "" {
		artifacts = "artifacts"
	}
	artifacts, err = filepath.Abs(filepath.Join(artifacts, "dashboard"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(artifacts, 0o755); err != nil {
		t.Fatal(err)
	}

	cmd := exec.CommandContext(ctx, node, "dashboard.mjs")
	cmd.Env = append(os.Environ(),
		"BASE_URL="+base, "API_KEY="+apiKey, "SIM_URL="+simURL,
		"HOOK_URL="+hookSrv.URL+"/hook", "HOOK_CONTROL_URL="+hookSrv.URL+"/mode",
		"SCREENSHOTS_DIR="+artifacts, "CHROMIUM_PATH="+chromium)
	cmd.Stdout = testWriter{t}
	cmd.Stderr = testWriter{t}
	if err := cmd.Run(); err != nil {
		t.Fatalf("browser script failed: %v (screenshots in %s)", err, artifacts)
	}
	t.Logf("screenshots in %s", artifacts)
	if hooks.received.Load() < 2 {
		t.Errorf("the webhook endpoint was called %d times, want the failing attempt and the redelivery", hooks.received.Load())
	}
	if os.Getenv("UPDATE_DOCS_SCREENSHOT") == "1" {
		shot, err := os.ReadFile(filepath.Join(artifacts, "08b-webhook-redelivered.png"))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join("..", "..", "docs", "dashboard.png"), shot, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// startGateway runs the gateway binary on a free loopback port and returns its base URL, read
// from its "listening" log line.
func startGateway(t *testing.T, ctx context.Context, bin, dir, simURL string) string {
	t.Helper()
	gw := exec.Command(bin)
	// Nothing inherited (a developer's DATABASE_URL or API_KEY must not leak in): SQLite and the
	// in-process bus under a temporary directory.
	gw.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir,
		"API_KEY=" + apiKey, "HOST=127.0.0.1", "PORT=0", "NODE_ENV=development",
		"SESSIONS_PATH=" + filepath.Join(dir, "sessions"), "WASIM_URL=" + simURL,
		"WEBHOOK_ALLOW_PRIVATE_TARGETS=true", "LOG_LEVEL=info"}
	stdout, err := gw.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var logs lockedBuffer
	gw.Stderr = &logs
	if err := gw.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = gw.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = gw.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = gw.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("gateway log (tail):\n%s", logs.tail(8000))
		}
	})
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
		sent := false
		for sc.Scan() {
			line := sc.Text()
			_, _ = logs.Write([]byte(line + "\n"))
			if sent || !strings.Contains(line, "listening") {
				continue
			}
			var entry struct {
				Metadata struct {
					URL string `json:"url"`
				} `json:"metadata"`
			}
			if json.Unmarshal([]byte(line), &entry) == nil && entry.Metadata.URL != "" {
				urls <- entry.Metadata.URL
				sent = true
			}
		}
	}()
	select {
	case u := <-urls:
		return u
	case <-time.After(60 * time.Second):
		t.Fatalf("the gateway did not say it listens within 60 s; log:\n%s", logs.tail(8000))
	case <-ctx.Done():
		t.Fatal(ctx.Err())
	}
	return ""
}

type lockedBuffer struct {
	mu sync.Mutex
	b  []byte
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b = append(l.b, p...)
	return len(p), nil
}

func (l *lockedBuffer) tail(n int) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.b) > n {
		return string(l.b[len(l.b)-n:])
	}
	return string(l.b)
}

// testWriter forwards the script's output to the test log, line by line.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
