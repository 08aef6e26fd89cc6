package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"
)

// sessionsResult is the sessions scenario at one size: the gateway restored after a restart
// and idle, then the same devices connected by bare whatsmeow and idle.
type sessionsResult struct {
	Sessions int `json:"sessions"`
	// PairSeconds is how long pairing every session through the API took (create, QR, scan,
	// connected), pair_concurrency at a time.
	PairSeconds float64 `json:"pair_seconds"`
	// PairGatewayCPUSeconds is the gateway's CPU over the pairing.
	PairGatewayCPUSeconds float64     `json:"pair_gateway_cpu_seconds,omitempty"`
	Gateway               idleFigures `json:"gateway"`
	// Baseline is bare whatsmeow on the same devices (nil with -baseline=false).
	Baseline *idleFigures `json:"baseline,omitempty"`
	// SimIdleCPUPercent is the simulator's CPU over the gateway's idle window.
	SimIdleCPUPercent float64 `json:"sim_idle_cpu_percent"`
}

// idleFigures are one process holding every session, connected and idle.
type idleFigures struct {
	// ConnectSeconds: gateway, from the restarted process's start until the API lists every
	// session connected (restore_ramp spreads the reconnects over 2 s by default); baseline,
	// from the connect request until every client is logged in.
	ConnectSeconds float64 `json:"connect_seconds"`
	// IdleCPUPercent is the process's CPU over the idle window, in % of one core.
	IdleCPUPercent float64 `json:"idle_cpu_percent"`
	IdleSeconds    float64 `json:"idle_seconds"`
	// RSSKB is VmRSS at the end of the idle window; RSSPerSessionKB is RSSKB / sessions.
	RSSKB           int64   `json:"rss_kb"`
	RSSPerSessionKB float64 `json:"rss_per_session_kb"`
	// Runtime: the gateway's /metrics (Go collector) or the baseline's runtime.MemStats.
	Runtime gatewayFigures `json:"runtime"`
}

// measureIdle lets the process settle, then samples its CPU over the idle window and its
// memory at the end.
func measureIdle(ctx context.Context, cfg *config, pid, simPID int, sessions int, runtimeFigures func(context.Context) (gatewayFigures, error)) (idleFigures, float64, error) {
	if err := sleepCtx(ctx, cfg.settle); err != nil {
		return idleFigures{}, 0, err
	}
	a, err := sampleProc(pid)
	if err != nil {
		return idleFigures{}, 0, err
	}
	simA, err := sampleProc(simPID)
	if err != nil {
		return idleFigures{}, 0, err
	}
	if err := sleepCtx(ctx, cfg.idle); err != nil {
		return idleFigures{}, 0, err
	}
	b, err := sampleProc(pid)
	if err != nil {
		return idleFigures{}, 0, err
	}
	simB, err := sampleProc(simPID)
	if err != nil {
		return idleFigures{}, 0, err
	}
	rt, err := runtimeFigures(ctx)
	if err != nil {
		return idleFigures{}, 0, err
	}
	return idleFigures{
		IdleCPUPercent:  cpuPercent(a, b),
		IdleSeconds:     b.At.Sub(a.At).Seconds(),
		RSSKB:           b.RSSKB,
		RSSPerSessionKB: float64(b.RSSKB) / float64(sessions),
		Runtime:         rt,
	}, cpuPercent(simA, simB), nil
}

// gatewaySessions restarts the gateway, times the restore and measures it idle.
func gatewaySessions(ctx context.Context, s *stack) (sessionsResult, error) {
	res := sessionsResult{Sessions: s.n, PairSeconds: s.pairSeconds, PairGatewayCPUSeconds: s.pairCPUSeconds}
	restored, err := s.restartGateway(ctx)
	if err != nil {
		return res, fmt.Errorf("restart: %w", err)
	}
	slog.Info("gateway restored", "sessions", s.n, "took", restored.Round(time.Millisecond))
	idle, simCPU, err := measureIdle(ctx, s.cfg, s.gw.pid(), s.sim.pid(), s.n, s.gatewayFigures)
	if err != nil {
		return res, fmt.Errorf("gateway idle: %w", err)
	}
	idle.ConnectSeconds = restored.Seconds()
	res.Gateway, res.SimIdleCPUPercent = idle, simCPU
	slog.Info("gateway idle", "sessions", s.n, "rss_kb", idle.RSSKB, "cpu_pct", fmt.Sprintf("%.2f", idle.IdleCPUPercent))
	return res, nil
}

// baselineSessions measures the connected baseline child idle.
func baselineSessions(ctx context.Context, s *stack, c *baselineChild, connected childAnswer) (idleFigures, error) {
	idle, _, err := measureIdle(ctx, s.cfg, c.p.pid(), s.sim.pid(), s.n, func(ctx context.Context) (gatewayFigures, error) {
		ans, err := c.call(ctx, childRequest{Op: "runtime"})
		if err != nil || ans.Runtime == nil {
			return gatewayFigures{}, fmt.Errorf("baseline runtime: %w", err)
		}
		return *ans.Runtime, nil
	})
	if err != nil {
		return idle, fmt.Errorf("baseline idle: %w", err)
	}
	idle.ConnectSeconds = connected.ConnectSeconds
	slog.Info("baseline idle", "sessions", s.n, "rss_kb", idle.RSSKB, "cpu_pct", fmt.Sprintf("%.2f", idle.IdleCPUPercent))
	return idle, nil
}
