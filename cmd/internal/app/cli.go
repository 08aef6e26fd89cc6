package app

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"

	"go.uber.org/fx"

	"github.com/28web/hub/channels/whatsapp"
	"github.com/28web/hub/cmd/internal/config"
	"github.com/28web/hub/platform/log"
)

// CLI is the command line both binaries share:
//
//	NAME [--config FILE] [serve|migrate|healthcheck|version|EXTRA...]
type CLI struct {
	// Name is the binary's name ("gateway", "hub").
	Name string
	// Version is the binary's version.
	Version string
	// Wire builds the app to serve, once configuration and API key are settled.
	Wire func(cfg *config.Config, logger *slog.Logger, channel []whatsapp.Option) fx.Option
	// Extra are further subcommands that need no configuration, with their usage text.
	Extra map[string]Subcommand
}

// Subcommand is an extra command: it gets the arguments after its name.
type Subcommand struct {
	Usage string
	Run   func(args []string, stdout, stderr io.Writer) int
}

// Run parses args and runs the command; it returns the process exit code.
func (c CLI) Run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet(c.Name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	configFile := fs.String("config", "", "YAML configuration file (or CONFIG_FILE)")
	commands := []string{"serve", "migrate", "healthcheck"}
	for name, sub := range c.Extra {
		commands = append(commands, strings.TrimSpace(name+" "+sub.Usage))
	}
	slices.Sort(commands[3:])
	commands = append(commands, "version")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: %s [--config FILE] [%s]\n", c.Name, strings.Join(commands, "|"))
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cmd, rest := "serve", []string(nil)
	if fs.NArg() > 0 {
		cmd, rest = fs.Arg(0), fs.Args()[1:]
	}
	if sub, ok := c.Extra[cmd]; ok {
		return sub.Run(rest, stdout, stderr)
	}
	switch cmd {
	case "version":
		fmt.Fprintln(stdout, c.Version)
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
		return Migrate(cfg, logger)
	case "healthcheck":
		return Healthcheck(cfg, stderr)
	}
	channel, err := ChannelOptions(cfg, logger)
	if err != nil {
		logger.Error("channel", log.ErrorAttr(err))
		return 1
	}
	return Serve(c.Name, cfg, logger, stdout, func() fx.Option { return c.Wire(cfg, logger, channel) })
}
