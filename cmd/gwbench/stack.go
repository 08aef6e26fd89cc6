package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Phone number prefixes of the simulated accounts: agents are the sessions' own accounts,
// customers the people they talk to (session i talks to customer i).
const (
	agentPrefix    = "5531"
	customerPrefix = "5541"
)

// stack is one size's simulator, gateway and sessions, in a directory of its own.
type stack struct {
	cfg   *config
	procs *procGroup
	bins  binaries
	dir   string
	hooks *webhookReceiver
	n     int

	sim    *proc
	simAPI *simAPI
	gw     *proc
	api    *gatewayAPI
	// gwEnv is the gateway's environment (kept for restarts).
	gwEnv []string
	// db is the deployment's database: a SQLite directory or a PostgreSQL database made for
	// this size.
	db deployment

	agents, customers []string
	sessionIDs        []string
	pairSeconds       float64
	// pairCPUSeconds is the gateway's CPU while pairing.
	pairCPUSeconds float64
}

// binaries are the built commands.
type binaries struct{ gateway, wasim, self string }

func sessionID(i int) string { return fmt.Sprintf("bench-%05d", i) }

// startStack starts the simulator and the gateway for n sessions and pairs them.
func startStack(ctx context.Context, cfg *config, procs *procGroup, bins binaries, root string, hooks *webhookReceiver, n int) (*stack, error) {
	dir, err := os.MkdirTemp(root, fmt.Sprintf("size-%d-", n))
	if err != nil {
		return nil, fmt.Errorf("stack dir: %w", err)
	}
	s := &stack{cfg: cfg, procs: procs, bins: bins, dir: dir, hooks: hooks, n: n}
	if s.db, err = newDeployment(ctx, cfg, dir, n); err != nil {
		return nil, err
	}
	if err := s.startSim(ctx); err != nil {
		return s, err
	}
	if err := s.startGateway(ctx); err != nil {
		return s, err
	}
	if err := s.pairAll(ctx); err != nil {
		return s, err
	}
	return s, nil
}

// close stops the processes and drops the size's database; the directory goes with the run's.
func (s *stack) close() {
	for _, p := range []*proc{s.gw, s.sim} {
		if p != nil {
			if err := s.procs.stop(p, 20*time.Second); err != nil {
				slog.Warn("stop", "err", err)
			}
		}
	}
	if s.db != nil {
		if err := s.db.drop(context.Background()); err != nil {
			slog.Warn("drop database", "err", err)
		}
	}
}

func minimalEnv(extra ...string) []string {
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	if t := os.Getenv("TMPDIR"); t != "" {
		env = append(env, "TMPDIR="+t)
	}
	return append(env, extra...)
}

func (s *stack) startSim(ctx context.Context) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	s.sim, _, _, err = s.procs.start("wasim", s.bins.wasim, []string{"-addr", addr, "-log-level", "warn"},
		procOptions{env: minimalEnv(), logPath: filepath.Join(s.dir, "wasim.log")})
	if err != nil {
		return err
	}
	s.simAPI = &simAPI{base: "http://" + addr, addr: addr}
	if err := waitHTTP(ctx, s.sim, s.simAPI.base+"/_sim/info", 30*time.Second); err != nil {
		return err
	}
	start := time.Now()
	if s.agents, err = s.simAPI.bulkPhones(ctx, agentPrefix, s.n); err != nil {
		return err
	}
	if s.customers, err = s.simAPI.bulkPhones(ctx, customerPrefix, s.n); err != nil {
		return err
	}
	slog.Info("phones provisioned", "phones", 2*s.n, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// gatewayConfig is the YAML the gateway reads (CONFIG_FILE): what has no environment variable.
// The rate limits are off: the bench is one client offering more than a client is allowed.
const gatewayConfig = `http:
  rate_limit:
    per_ip:
      disabled: true
    per_key:
      disabled: true
bus:
  namespace: %q
`

func (s *stack) startGateway(ctx context.Context) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	key := make([]byte, 16)
	_, _ = rand.Read(key)
	s.api = &gatewayAPI{base: "http://127.0.0.1:" + strconv.Itoa(port), key: hex.EncodeToString(key)}
	cfgPath := filepath.Join(s.dir, "gateway.yaml")
	if err := os.WriteFile(cfgPath, fmt.Appendf(nil, gatewayConfig, s.db.namespace()), 0o600); err != nil {
		return fmt.Errorf("gateway config: %w", err)
	}
	s.gwEnv = minimalEnv(
		"CONFIG_FILE="+cfgPath,
		"NODE_ENV=development",
		"API_KEY="+s.api.key,
		"HOST=127.0.0.1",
		"PORT="+strconv.Itoa(port),
		"SESSIONS_PATH="+filepath.Join(s.dir, "sessions"),
		"WASIM_URL="+s.simAPI.base,
		"APP_WEBHOOK_URL="+s.hooks.url,
		"LOG_LEVEL="+s.cfg.gatewayLogLevel,
	)
	s.gwEnv = append(s.gwEnv, s.db.gatewayEnv()...)
	return s.launchGateway(ctx)
}

func (s *stack) launchGateway(ctx context.Context) error {
	var err error
	s.gw, _, _, err = s.procs.start("gateway", s.bins.gateway, nil,
		procOptions{env: s.gwEnv, logPath: filepath.Join(s.dir, fmt.Sprintf("gateway-%d.log", time.Now().UnixNano()))})
	if err != nil {
		return err
	}
	return waitHTTP(ctx, s.gw, s.api.base+"/health", time.Minute)
}

// restartGateway stops the gateway (SIGTERM, its graceful shutdown) and starts it again; it
// returns the time from the new process's start until every session is connected.
func (s *stack) restartGateway(ctx context.Context) (time.Duration, error) {
	if err := s.procs.stop(s.gw, 30*time.Second); err != nil {
		return 0, err
	}
	start := time.Now()
	if err := s.launchGateway(ctx); err != nil {
		return 0, err
	}
	if err := s.waitConnected(ctx, 5*time.Minute); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

// waitConnected polls the session list until all n sessions are connected.
func (s *stack) waitConnected(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		n, err := s.api.countConnected(ctx)
		if err == nil && n == s.n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d sessions connected after %s (last error: %v)", n, s.n, timeout, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// pairAll pairs the n sessions, cfg.pairConcurrency at a time, each as a user would: create it,
// read its QR, have its agent phone scan it, wait until it is connected.
func (s *stack) pairAll(ctx context.Context) error {
	start := time.Now()
	cpu0, err := sampleProc(s.gw.pid())
	if err != nil {
		return err
	}
	s.sessionIDs = make([]string, s.n)
	for i := range s.n {
		s.sessionIDs[i] = sessionID(i)
	}
	var next, done atomic.Int64
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for range max(s.cfg.pairConcurrency, 1) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= s.n {
					return
				}
				if err := s.pairOne(ctx, i); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
					return
				}
				if d := done.Add(1); d%100 == 0 {
					slog.Info("pairing", "paired", d, "of", s.n, "took", time.Since(start).Round(time.Millisecond))
				}
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("pair: %w", err)
	}
	s.pairSeconds = time.Since(start).Seconds()
	cpu1, err := sampleProc(s.gw.pid())
	if err != nil {
		return err
	}
	s.pairCPUSeconds = cpuSince(cpu0, cpu1)
	slog.Info("paired", "sessions", s.n, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

func (s *stack) pairOne(ctx context.Context, i int) error {
	id := s.sessionIDs[i]
	if err := s.api.createSession(ctx, id); err != nil {
		return err
	}
	deadline := time.Now().Add(time.Minute)
	var qr string
	for {
		var err error
		if qr, err = s.api.qr(ctx, id); err == nil {
			break
		}
		if !isStatus(err, 404, 409) || time.Now().After(deadline) {
			return fmt.Errorf("%s: QR: %w", id, err)
		}
		if err := sleepCtx(ctx, 20*time.Millisecond); err != nil {
			return err
		}
	}
	if _, err := s.simAPI.scan(ctx, s.agents[i], qr); err != nil {
		return fmt.Errorf("%s: scan: %w", id, err)
	}
	for {
		got, err := s.api.session(ctx, id)
		if err != nil {
			return fmt.Errorf("%s: %w", id, err)
		}
		if got.Status == "connected" {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: %s a minute after the scan", id, got.Status)
		}
		if err := sleepCtx(ctx, 20*time.Millisecond); err != nil {
			return err
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// gatewayFigures are the gateway's own view of itself, from GET /metrics.
type gatewayFigures struct {
	HeapInuseKB int64 `json:"heap_inuse_kb"`
	HeapAllocKB int64 `json:"heap_alloc_kb"`
	StackKB     int64 `json:"stack_inuse_kb"`
	Goroutines  int64 `json:"goroutines"`
}

func (s *stack) gatewayFigures(ctx context.Context) (gatewayFigures, error) {
	m, err := s.api.metrics(ctx, "go_memstats_heap_inuse_bytes", "go_memstats_heap_alloc_bytes", "go_memstats_stack_inuse_bytes", "go_goroutines")
	if err != nil {
		return gatewayFigures{}, err
	}
	return gatewayFigures{
		HeapInuseKB: int64(m["go_memstats_heap_inuse_bytes"] / 1024),
		HeapAllocKB: int64(m["go_memstats_heap_alloc_bytes"] / 1024),
		StackKB:     int64(m["go_memstats_stack_inuse_bytes"] / 1024),
		Goroutines:  int64(m["go_goroutines"]),
	}, nil
}
