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

	"github.com/28web/hub/channels/whatsapp"
	"github.com/28web/hub/cmd/internal/app"
	"github.com/28web/hub/cmd/internal/config"
	"github.com/28web/hub/platform/httpserver"
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
	return app.CLI{
		Name:    "gateway",
		Version: buildVersion(),
		Wire: func(cfg *config.Config, logger *slog.Logger, channel []whatsapp.Option) fx.Option {
			return app.Gateway(cfg, buildVersion(), logger, channel...)
		},
		Extra: map[string]app.Subcommand{
			"openapi": {Usage: "[--format yaml|json|3.0] [--out FILE]", Run: printOpenAPI},
		},
	}.Run(args, stdout, stderr)
}

func printOpenAPI(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("openapi", flag.ContinueOnError)
	fs.SetOutput(stderr)
	format := fs.String("format", "yaml", "yaml (OpenAPI 3.1), json (3.1) or 3.0 (YAML, for older generators)")
	outFile := fs.String("out", "", "write to this file instead of stdout")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	doc, err := app.OpenAPIDocument(app.GatewayInfo())
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
		out, err = httpserver.OpenAPI30YAML(doc)
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
