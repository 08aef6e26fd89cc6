// Command wasim serves the WhatsApp network simulator on a loopback port, with its JSON control
// API under /_sim/ (see wasim.Simulator.ControlHandler). Point whatsmeow clients at it with
// wasim.ConfigureClient (Go) or, from other languages, by dialling every WhatsApp host
// (web.whatsapp.com, media hosts) to this address and trusting the root key from GET /_sim/info.
//
// Usage: wasim [-addr 127.0.0.1:8765] [-log-level info] [-phones 5511999990001,5511999990002]
// Environment: WASIM_ADDR, WASIM_LOG_LEVEL, WASIM_PHONES (flags win).
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/28web/hub/channels/whatsapp/wasim"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "wasim:", err)
		os.Exit(1)
	}
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func run() error {
	addr := flag.String("addr", envOr("WASIM_ADDR", "127.0.0.1:8765"), "listen address (loopback)")
	level := flag.String("log-level", envOr("WASIM_LOG_LEVEL", "info"), "debug|info|warn|error")
	phones := flag.String("phones", envOr("WASIM_PHONES", ""), "comma-separated phone numbers to create at start")
	flag.Parse()
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*level)); err != nil {
		return fmt.Errorf("log level %q: %w", *level, err)
	}
	logger := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: lvl}))

	opts := wasim.Options{Logger: logger}
	opts.Addr = *addr
	opts.ControlAPI = true
	sim, err := wasim.New(opts)
	if err != nil {
		return err
	}
	for _, number := range strings.Split(*phones, ",") {
		if number = strings.TrimSpace(number); number == "" {
			continue
		}
		p, err := sim.NewPhone(number)
		if err != nil {
			return fmt.Errorf("create phone: %w", err)
		}
		logger.Info("phone created", slog.String("jid", p.JID().String()), slog.String("lid", p.LID().String()))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := sim.Start(ctx); err != nil {
		return err
	}
	logger.Info("wasim ready", slog.String("addr", sim.Addr()), slog.String("control", "http://"+sim.Addr()+"/_sim/info"))
	<-ctx.Done()
	return sim.Close()
}
