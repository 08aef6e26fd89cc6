// Command hub runs the 28web Hub's WhatsApp channel API: the same sessions, messages and events
// as the gateway, with the channel either in this process (HUB_CHANNEL=inprocess, the default)
// or in a gateway it drives over HTTP, reading the gateway's events from Redis
// (HUB_CHANNEL=remote, GATEWAY_URL, GATEWAY_API_KEY, REDIS_URL). One switch, in the wiring only.
//
//	hub [--config FILE] [serve|migrate|healthcheck|version]
package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"go.uber.org/fx"

	"github.com/28web/hub/cmd/internal/app"
	"github.com/28web/hub/platform/config"
	"github.com/28web/hub/platform/log"
)

// version is set at build time with -ldflags "-X main.version=..."; otherwise the module version.
var version = ""

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func buildVersion() string { return app.Version(version) }

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("hub", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configFile := fs.String("config", "", "YAML configuration file (or CONFIG_FILE)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: hub [--config FILE] [serve|migrate|healthcheck|version]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cmd := "serve"
	if fs.NArg() > 0 {
		cmd = fs.Arg(0)
	}
	switch cmd {
	case "version":
		fmt.Fprintln(stdout, buildVersion())
		return 0
	case "serve", "migrate", "healthcheck":
	default:
		fmt.Fprintf(stderr, "unknown command %q\n", cmd)
		fs.Usage()
		return 2
	}
	cfg, err := config.Load(config.LoadOptions{File: *configFile})
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	logger, err := log.New(stdout, cfg.Log)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	switch cmd {
	case "migrate":
		return app.Migrate(cfg, logger)
	case "healthcheck":
		return app.Healthcheck(cfg, stderr)
	}
	channel, err := app.ChannelOptions(cfg, logger)
	if err != nil {
		logger.Error("channel", log.ErrorAttr(err))
		return 1
	}
	return app.Serve("hub", cfg, logger, stdout, func() fx.Option { return app.Hub(cfg, buildVersion(), logger, channel...) })
}
