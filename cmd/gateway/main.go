// Command gateway is the standalone 28web WhatsApp gateway: REST API, send queue, webhooks.
//
//	gateway [--config FILE] [serve|migrate|healthcheck|openapi|version]
//
// With no arguments it serves on embedded defaults: SQLite under ./sessions/data and an
// in-process bus.
package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"

	"go.uber.org/fx"

	"github.com/28web/hub/cmd/internal/app"
	"github.com/28web/hub/platform/config"
	"github.com/28web/hub/platform/log"
)

//go:generate go run . openapi --out ../../openapi/openapi.yaml
//go:generate go run . openapi --format 3.0 --out ../../openapi/openapi-3.0.yaml

// version is set at build time with -ldflags "-X main.version=..."; otherwise the module version.
var version = ""

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func buildVersion() string { return app.Version(version) }

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("gateway", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configFile := fs.String("config", "", "YAML configuration file (or CONFIG_FILE)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: gateway [--config FILE] [serve|migrate|healthcheck|openapi [--format yaml|json|3.0]|version]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cmd, rest := "serve", []string(nil)
	if fs.NArg() > 0 {
		cmd, rest = fs.Arg(0), fs.Args()[1:]
	}

	switch cmd {
	case "version":
		fmt.Fprintln(stdout, buildVersion())
		return 0
	case "openapi":
		return printOpenAPI(rest, stdout, stderr)
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
	return serve(cfg, logger, stdout)
}

func serve(cfg *config.Config, logger *slog.Logger, stdout io.Writer) int {
	channel, err := app.ChannelOptions(cfg, logger)
	if err != nil {
		logger.Error("channel", log.ErrorAttr(err))
		return 1
	}
	return app.Serve("gateway", cfg, logger, stdout, func() fx.Option { return app.Gateway(cfg, buildVersion(), logger, channel...) })
}

func printOpenAPI(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("openapi", flag.ContinueOnError)
	fs.SetOutput(stderr)
	format := fs.String("format", "yaml", "yaml (OpenAPI 3.1), json (3.1) or 3.0 (YAML, for older generators)")
	outFile := fs.String("out", "", "write to this file instead of stdout")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	doc, err := app.OpenAPIDocument(app.GatewayInfo(buildVersion()))
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	var out []byte
	switch *format {
	case "yaml":
		out, err = doc.YAML()
	case "json":
		out, err = doc.MarshalJSON()
	case "3.0":
		out, err = app.OpenAPI30YAML(doc)
	default:
		fmt.Fprintf(stderr, "unknown format %q\n", *format)
		return 2
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if *outFile != "" {
		if err := os.WriteFile(*outFile, out, 0o644); err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		return 0
	}
	if _, err := stdout.Write(out); err != nil {
		return 1
	}
	return 0
}
