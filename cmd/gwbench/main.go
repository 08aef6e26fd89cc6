// Command gwbench measures the gateway against bare whatsmeow, side by side, on one machine.
//
// It builds cmd/wasim and cmd/gateway (CGO_ENABLED=0), starts each as a process of its own on
// loopback (the gateway on its embedded defaults, SQLite + in-process bus, or on PostgreSQL and
// Redis with -database-url and -redis-url), pairs N sessions through the gateway's REST API and
// the simulator's control API, and runs the scenarios:
//
//   - sessions: restart the gateway, time until every session is connected again, let it idle
//     and read its CPU and RSS from /proc and its heap and goroutines from /metrics;
//   - send: POST messages at an offered rate, open loop; accept, sent and delivered latency
//     (from the bench's webhook receiver), acked/s, gateway CPU per message;
//   - inbound: the phones send at a rate; phone → webhook latency, gateway CPU per event.
//
// Each is repeated with the baseline: the same devices, read from the gateway's database once
// it stopped, connected by bare whatsmeow clients in a child process, which sends to the same
// recipients and receives the same load. Results go to -out (docs/benchmarks): one JSON file
// per scenario, summary.md and PNG plots; the summary is also printed.
//
//	go run ./cmd/gwbench                                   # defaults: a few minutes on 2 cores
//	go run ./cmd/gwbench -sizes 10,100,1000 -idle 60s
//	go run ./cmd/gwbench -short                            # smallest of everything
//	go run ./cmd/gwbench -database-url postgres://… -redis-url redis://…
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "baseline-child" {
		if err := runBaselineChild(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "gwbench baseline-child:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "gwbench:", err)
		os.Exit(1)
	}
}

// config is what the flags set.
type config struct {
	scenarios       map[string]bool
	sizes           []int
	rates           []float64
	inboundRates    []float64
	sendDuration    time.Duration
	inboundDuration time.Duration
	idle            time.Duration
	settle          time.Duration
	out             string
	databaseURL     string
	redisURL        string
	pairConcurrency int
	gatewayLogLevel string
	baseline        bool
	keep            bool
	// render: only redraw summary.md and the plots from the JSON files in out.
	render bool
}

var allScenarios = []string{"sessions", "send", "inbound"}

func parseFlags(args []string) (*config, error) {
	fs := flag.NewFlagSet("gwbench", flag.ContinueOnError)
	scenarios := fs.String("scenarios", strings.Join(allScenarios, ","), "scenarios to run: sessions,send,inbound")
	sizes := fs.String("sizes", "10,100", "session counts, each with a fresh simulator and gateway")
	rates := fs.String("rates", "50,200", "send: offered messages per second")
	inRates := fs.String("inbound-rates", "50,200", "inbound: messages per second the phones send")
	short := fs.Bool("short", false, "smallest run: -sizes 10 -rates 50 -inbound-rates 50 -idle 5s -settle 2s -send-duration 5s -inbound-duration 5s (explicit flags still win)")
	var cfg config
	fs.DurationVar(&cfg.sendDuration, "send-duration", 10*time.Second, "send: length of each offered-rate round")
	fs.DurationVar(&cfg.inboundDuration, "inbound-duration", 10*time.Second, "inbound: length of each round")
	fs.DurationVar(&cfg.idle, "idle", 20*time.Second, "sessions: idle window over which CPU is measured (the issue's figure is 60s)")
	fs.DurationVar(&cfg.settle, "settle", 5*time.Second, "sessions: wait after all are connected before the idle window")
	fs.StringVar(&cfg.out, "out", "docs/benchmarks", "results directory (relative to the module root)")
	fs.StringVar(&cfg.databaseURL, "database-url", "", "PostgreSQL server URL: a database is created (and dropped) per size; empty: SQLite")
	fs.StringVar(&cfg.redisURL, "redis-url", "", "Redis URL for the gateway's bus (a namespace per size); empty: in-process")
	fs.IntVar(&cfg.pairConcurrency, "pair-concurrency", 8, "sessions paired at once")
	fs.StringVar(&cfg.gatewayLogLevel, "gateway-log-level", "info", "the gateway's LOG_LEVEL (info is its default: one line per request)")
	fs.BoolVar(&cfg.baseline, "baseline", true, "also measure bare whatsmeow on the same devices")
	fs.BoolVar(&cfg.keep, "keep", false, "keep the working directory (logs, databases) instead of removing it")
	fs.BoolVar(&cfg.render, "render", false, "measure nothing: redraw summary.md and the plots from the JSON results in -out")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if *short {
		for name, v := range map[string]string{"sizes": "10", "rates": "50", "inbound-rates": "50", "idle": "5s", "settle": "2s", "send-duration": "5s", "inbound-duration": "5s"} {
			if !set[name] {
				if err := fs.Set(name, v); err != nil {
					return nil, err
				}
			}
		}
	}
	var errs []error
	cfg.scenarios = map[string]bool{}
	for sc := range strings.SplitSeq(*scenarios, ",") {
		sc = strings.TrimSpace(sc)
		if !contains(allScenarios, sc) {
			errs = append(errs, fmt.Errorf("unknown scenario %q (want %s)", sc, strings.Join(allScenarios, ",")))
		}
		cfg.scenarios[sc] = true
	}
	var err error
	if cfg.sizes, err = parseList(*sizes, strconv.Atoi); err != nil {
		errs = append(errs, fmt.Errorf("-sizes: %w", err))
	}
	parseRate := func(s string) (float64, error) { return strconv.ParseFloat(s, 64) }
	if cfg.rates, err = parseList(*rates, parseRate); err != nil {
		errs = append(errs, fmt.Errorf("-rates: %w", err))
	}
	if cfg.inboundRates, err = parseList(*inRates, parseRate); err != nil {
		errs = append(errs, fmt.Errorf("-inbound-rates: %w", err))
	}
	if cfg.idle <= 0 || cfg.sendDuration <= 0 || cfg.inboundDuration <= 0 {
		errs = append(errs, errors.New("-idle, -send-duration and -inbound-duration must be positive"))
	}
	if cfg.redisURL != "" && cfg.databaseURL == "" {
		slog.Warn("-redis-url without -database-url: SQLite with the Redis bus")
	}
	return &cfg, errors.Join(errs...)
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// parseList parses a comma-separated list of positive numbers.
func parseList[T int | float64](s string, parse func(string) (T, error)) ([]T, error) {
	var out []T
	for part := range strings.SplitSeq(s, ",") {
		v, err := parse(strings.TrimSpace(part))
		if err != nil {
			return nil, err
		}
		if v <= 0 {
			return nil, fmt.Errorf("%v: must be positive", v)
		}
		out = append(out, v)
	}
	return out, nil
}

// results is everything one run measured.
type results struct {
	Machine  machineInfo      `json:"machine"`
	Settings settings         `json:"settings"`
	Sessions []sessionsResult `json:"sessions,omitempty"`
	Send     []sendResult     `json:"send,omitempty"`
	Inbound  []inboundResult  `json:"inbound,omitempty"`
}

// settings are the run's parameters, for the report.
type settings struct {
	Deployment      string    `json:"deployment"`
	Sizes           []int     `json:"sizes"`
	Rates           []float64 `json:"send_rates"`
	InboundRates    []float64 `json:"inbound_rates"`
	SendDuration    string    `json:"send_duration"`
	InboundDuration string    `json:"inbound_duration"`
	Idle            string    `json:"idle"`
	Settle          string    `json:"settle"`
	PairConcurrency int       `json:"pair_concurrency"`
	GatewayLogLevel string    `json:"gateway_log_level"`
	Baseline        string    `json:"baseline"`
}

const baselineDescription = "bare whatsmeow clients on the same devices (read from the gateway's database after it stopped), in a child process of the bench"

func run(args []string) error {
	cfg, err := parseFlags(args)
	if err != nil {
		return err
	}
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo})))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	procs := newProcGroup()
	defer procs.stopAll()

	root, err := moduleRoot(ctx)
	if err != nil {
		return err
	}
	out := cfg.out
	if !filepath.IsAbs(out) {
		out = filepath.Join(root, out)
	}
	if cfg.render {
		res, err := readResults(out)
		if err != nil {
			return err
		}
		summary, err := writeReport(out, &res)
		if err != nil {
			return err
		}
		fmt.Println(summary)
		return nil
	}
	work, err := os.MkdirTemp("", "gwbench-")
	if err != nil {
		return fmt.Errorf("working directory: %w", err)
	}
	if cfg.keep {
		slog.Info("working directory kept", "dir", work)
	} else {
		defer os.RemoveAll(work)
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("own executable: %w", err)
	}
	slog.Info("building cmd/gateway and cmd/wasim (CGO_ENABLED=0)")
	gateway, wasim, err := buildBinaries(ctx, root, work)
	if err != nil {
		return err
	}
	bins := binaries{gateway: gateway, wasim: wasim, self: self}
	hooks, err := startWebhookReceiver()
	if err != nil {
		return err
	}
	defer hooks.close()

	res := results{Machine: readMachineInfo(ctx, root), Settings: settings{
		Deployment: deploymentName(cfg), Sizes: cfg.sizes, Rates: cfg.rates, InboundRates: cfg.inboundRates,
		SendDuration: cfg.sendDuration.String(), InboundDuration: cfg.inboundDuration.String(),
		Idle: cfg.idle.String(), Settle: cfg.settle.String(), PairConcurrency: cfg.pairConcurrency,
		GatewayLogLevel: cfg.gatewayLogLevel, Baseline: "none",
	}}
	if cfg.baseline {
		res.Settings.Baseline = baselineDescription
	}
	for _, n := range cfg.sizes {
		if err := runSize(ctx, cfg, procs, bins, work, hooks, n, &res); err != nil {
			return fmt.Errorf("%d sessions: %w", n, err)
		}
	}
	summary, err := writeReport(out, &res)
	if err != nil {
		return err
	}
	fmt.Println(summary)
	return nil
}

// runSize runs every chosen scenario at n sessions: first on the gateway, then, the gateway
// stopped, on the baseline.
func runSize(ctx context.Context, cfg *config, procs *procGroup, bins binaries, work string, hooks *webhookReceiver, n int, res *results) error {
	slog.Info("size", "sessions", n)
	s, err := startStack(ctx, cfg, procs, bins, work, hooks, n)
	if s != nil {
		defer s.close()
	}
	if err != nil {
		return err
	}
	var sess *sessionsResult
	if cfg.scenarios["sessions"] {
		r, err := gatewaySessions(ctx, s)
		if err != nil {
			return err
		}
		sess = &r
	}
	var sends []sendResult
	if cfg.scenarios["send"] {
		if err := warmGateway(ctx, s); err != nil {
			return err
		}
		for _, rate := range cfg.rates {
			r := sendResult{Sessions: n, Rate: rate, Messages: messagesFor(rate, cfg.sendDuration, n)}
			if r.Gateway, err = gatewaySend(ctx, s, rate, r.Messages); err != nil {
				return err
			}
			logSend("gateway", r, r.Gateway)
			sends = append(sends, r)
		}
	}
	var ins []inboundResult
	if cfg.scenarios["inbound"] {
		if err := warmInbound(ctx, s, gatewayInbound); err != nil {
			return err
		}
		for _, rate := range cfg.inboundRates {
			r := inboundResult{Sessions: n, Rate: rate, Events: messagesFor(rate, cfg.inboundDuration, n)}
			if r.Gateway, err = gatewayInbound(ctx, s, rate, r.Events); err != nil {
				return err
			}
			logInbound("gateway", r, r.Gateway)
			ins = append(ins, r)
		}
	}
	if cfg.baseline {
		if err := runBaseline(ctx, cfg, s, sess, sends, ins); err != nil {
			return err
		}
	}
	if sess != nil {
		res.Sessions = append(res.Sessions, *sess)
	}
	res.Send = append(res.Send, sends...)
	res.Inbound = append(res.Inbound, ins...)
	return nil
}

// runBaseline stops the gateway and repeats the scenarios with bare whatsmeow on its devices.
func runBaseline(ctx context.Context, cfg *config, s *stack, sess *sessionsResult, sends []sendResult, ins []inboundResult) error {
	if err := s.procs.stop(s.gw, 30*time.Second); err != nil {
		return err
	}
	c, connected, err := startBaseline(ctx, s)
	if c != nil {
		defer func() {
			if err := c.quit(context.Background(), s.procs); err != nil {
				slog.Warn("baseline quit", "err", err)
			}
		}()
	}
	if err != nil {
		return err
	}
	slog.Info("baseline connected", "sessions", connected.Sessions, "took", fmt.Sprintf("%.2fs", connected.ConnectSeconds))
	if sess != nil {
		idle, err := baselineSessions(ctx, s, c, connected)
		if err != nil {
			return err
		}
		sess.Baseline = &idle
	}
	if len(sends) > 0 {
		if err := warmBaseline(ctx, s, c); err != nil {
			return err
		}
		for i := range sends {
			f, err := baselineSend(ctx, s, c, sends[i].Rate, sends[i].Messages)
			if err != nil {
				return err
			}
			sends[i].Baseline = &f
			logSend("baseline", sends[i], f)
		}
	}
	if len(ins) > 0 {
		warm := func(ctx context.Context, s *stack, rate float64, count int) (inboundFigures, error) {
			return baselineInbound(ctx, s, c, rate, count)
		}
		if err := warmInbound(ctx, s, warm); err != nil {
			return err
		}
		for i := range ins {
			f, err := baselineInbound(ctx, s, c, ins[i].Rate, ins[i].Events)
			if err != nil {
				return err
			}
			ins[i].Baseline = &f
			logInbound("baseline", ins[i], f)
		}
	}
	return nil
}

// warmInbound has every customer send once (not measured).
func warmInbound(ctx context.Context, s *stack, round func(context.Context, *stack, float64, int) (inboundFigures, error)) error {
	f, err := round(ctx, s, warmRate(s.n), s.n)
	if err != nil {
		return fmt.Errorf("inbound warm-up: %w", err)
	}
	return inboundError("inbound warm-up", f)
}
