// Command hub runs the 28web Hub's WhatsApp channel API: the same sessions, messages and events
// as the gateway, with the channel either in this process (HUB_CHANNEL=inprocess, the default)
// or in a gateway it drives over HTTP, reading the gateway's events from Redis
// (HUB_CHANNEL=remote, GATEWAY_URL, GATEWAY_API_KEY, REDIS_URL). One switch, in the wiring only.
//
//	hub [--config FILE] [serve|migrate|healthcheck|version]
package main

import (
	"io"
	"log/slog"
	"os"

	"go.uber.org/fx"

	"github.com/28web/hub/channels/whatsapp"
	"github.com/28web/hub/cmd/internal/app"
	"github.com/28web/hub/cmd/internal/config"
)

// version is set at build time with -ldflags "-X main.version=..."; otherwise the module version.
var version = ""

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func buildVersion() string { return app.Version(version) }

func run(args []string, stdout, stderr io.Writer) int {
	return app.CLI{
		Name:    "hub",
		Version: buildVersion(),
		Wire: func(cfg *config.Config, logger *slog.Logger, channel []whatsapp.Option) fx.Option {
			return app.Hub(cfg, buildVersion(), logger, channel...)
		},
	}.Run(args, stdout, stderr)
}
