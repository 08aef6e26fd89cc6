package archtest

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const module = "github.com/28web/hub"

// deps lists every package pkgs link, their own included.
func deps(t *testing.T, pkgs ...string) []string {
	t.Helper()
	args := append([]string{"list", "-deps", "-f", "{{.ImportPath}}"}, pkgs...)
	cmd := exec.Command("go", args...)
	cmd.Dir = ".."
	cmd.Env = append(cmd.Environ(), "CGO_ENABLED=0")
	out, err := cmd.Output()
	require.NoError(t, err, "go list -deps %v", pkgs)
	return strings.Fields(string(out))
}

// The production gateway and hub do not ship the WhatsApp simulator's server; simulator mode
// links only its small client side.
func TestBinariesDoNotLinkTheSimulator(t *testing.T) {
	for _, bin := range []string{"./cmd/gateway", "./cmd/hub"} {
		for _, d := range deps(t, bin) {
			require.NotEqualf(t, module+"/channels/whatsapp/wasim", d, "%s links the simulator server", bin)
		}
	}
}

// The platform is channel-agnostic: no platform package imports a channel (the composed
// configuration lives with the binaries, in cmd/internal/config).
func TestPlatformImportsNoChannel(t *testing.T) {
	for _, d := range deps(t, "./platform/...") {
		require.Falsef(t, strings.HasPrefix(d, module+"/channels/"), "the platform links %s", d)
		require.Falsef(t, strings.HasPrefix(d, module+"/cmd/"), "the platform links %s", d)
	}
}

// The core links no whatsmeow or libsignal package: a channel brings its own network.
func TestCoreLinksNoWhatsmeow(t *testing.T) {
	for _, d := range deps(t, "./channels/core/...") {
		require.Falsef(t, strings.HasPrefix(d, "go.mau.fi/"), "the core links %s", d)
		require.Falsef(t, strings.HasPrefix(d, module+"/channels/whatsapp"), "the core links %s", d)
	}
}
