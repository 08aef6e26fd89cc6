package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestSmoke builds and runs the whole command at its smallest (-short: 10 sessions, every
// scenario, the baseline), about a minute and a half on two cores. It runs only when asked:
// GWBENCH_SMOKE=1 and not -short, so that go test ./... stays fast.
func TestSmoke(t *testing.T) {
	if testing.Short() || os.Getenv("GWBENCH_SMOKE") != "1" {
		t.Skip("set GWBENCH_SMOKE=1 (without -short) to run the bench end to end")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "gwbench")
	build := exec.CommandContext(t.Context(), "go", "build", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "%s", out)

	outDir := filepath.Join(dir, "results")
	cmd := exec.CommandContext(t.Context(), bin, "-short", "-idle", "2s", "-settle", "1s", "-send-duration", "2s", "-inbound-duration", "2s", "-out", outDir)
	cmd.Dir = "." // inside the module: the command finds the module root with go env GOMOD
	out, err = cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.Contains(t, string(out), "# gwbench results")

	var sess results
	b, err := os.ReadFile(filepath.Join(outDir, "sessions.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &sess))
	require.Len(t, sess.Sessions, 1)
	require.Positive(t, sess.Sessions[0].Gateway.RSSKB)
	require.NotNil(t, sess.Sessions[0].Baseline)
	require.Positive(t, sess.Sessions[0].Baseline.RSSKB)

	var send results
	b, err = os.ReadFile(filepath.Join(outDir, "send.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &send))
	require.Len(t, send.Send, 1)
	r := send.Send[0]
	require.Equal(t, r.Messages, r.Gateway.Accepted)
	require.Zero(t, r.Gateway.DeliveredMissing)
	require.NotNil(t, r.Baseline)
	require.Equal(t, r.Messages, r.Baseline.Accepted)
	require.Positive(t, r.Gateway.CPUPerMessageMS)

	var in results
	b, err = os.ReadFile(filepath.Join(outDir, "inbound.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &in))
	require.Len(t, in.Inbound, 1)
	require.Equal(t, in.Inbound[0].Events, in.Inbound[0].Gateway.Received)

	for _, file := range []string{"sessions-rss.png", "send-cpu.png", "inbound-latency.png", "summary.md"} {
		require.FileExists(t, filepath.Join(outDir, file))
	}
}
