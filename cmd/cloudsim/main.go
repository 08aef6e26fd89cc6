// Command cloudsim serves the fake WhatsApp Business Cloud API (Graph API v<major>.<minor>) on a
// loopback port, with its JSON control API under /_sim/ (see channels/whatsappcloud/cloudsim).
//
// Usage: cloudsim [-addr 127.0.0.1:8090] [-throughput 0] [-pair-burst 0] [-pair-window 6s]
// [-auto-approve=true] [-auto-deliver=true]
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/28web/hub/channels/whatsappcloud/cloudsim"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "cloudsim:", err)
		os.Exit(1)
	}
}

func run() error {
	cfg := cloudsim.DefaultConfig()
	addr := flag.String("addr", "127.0.0.1:8090", "listen address (loopback)")
	flag.IntVar(&cfg.Throughput, "throughput", 0, "messages/second per phone number; 0 = unlimited")
	flag.IntVar(&cfg.PairRateBurst, "pair-burst", 0, "messages to one recipient per pair window; 0 = unlimited")
	flag.DurationVar(&cfg.PairRateWindow, "pair-window", 0, "pair rate window (default 6s when -pair-burst is set)")
	flag.BoolVar(&cfg.AutoApproveTemplates, "auto-approve", true, "created templates are APPROVED at once")
	flag.BoolVar(&cfg.AutoDeliver, "auto-deliver", true, "push \"delivered\" after \"sent\" by itself")
	flag.Parse()
	cfg.Logger = slog.New(slog.NewJSONHandler(os.Stdout, nil))

	sim := cloudsim.New(cfg)
	if err := sim.Start(*addr); err != nil {
		return err
	}
	cfg.Logger.Info("cloudsim ready", slog.String("url", sim.URL()))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	cfg.Logger.Info("cloudsim stopping")
	return sim.Close()
}
