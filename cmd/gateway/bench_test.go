package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime/pprof"
	"runtime/trace"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.mau.fi/whatsmeow"
	"go.uber.org/fx"

	"github.com/28web/hub/channels/core"
	"github.com/28web/hub/channels/core/store"
	"github.com/28web/hub/channels/whatsapp"
	"github.com/28web/hub/channels/whatsapp/wasim"
	"github.com/28web/hub/cmd/internal/app"
	"github.com/28web/hub/cmd/internal/config"
	"github.com/28web/hub/openapi/client"
	"github.com/28web/hub/platform/bus/bustest"
	"github.com/28web/hub/platform/db/dbtest"
	"github.com/28web/hub/platform/httpserver"
	"github.com/28web/hub/platform/log"
)

// benchSessions is how many sessions the send benchmark spreads its messages over.
const benchSessions = 100

// BenchmarkSendThroughput offers b.N messages to POST /api/v1/sessions/{id}/messages at a fixed
// rate (BENCH_SEND_RATE per second, default 2000) across 100 connected sessions, on PostgreSQL +
// Redis Streams when their URLs are given (else SQLite + in-process), with the simulator in this
// process, and measures until every one is acknowledged by the simulator (status sent), then
// until every phone's delivery receipt is projected (status delivered). It reports the offered,
// accepted, acknowledged and delivered rates and the accept latency percentiles. One minute at
// the target is -benchtime=120000x.
func BenchmarkSendThroughput(b *testing.B) {
	bg := startBenchGateway(b)
	recipients := make([]string, benchSessions)
	pairStart := time.Now()
	for i := range benchSessions {
		agent, err := bg.sim.NewPhone(fmt.Sprintf("55319%08d", i))
		require.NoError(b, err)
		customer, err := bg.sim.NewPhone(fmt.Sprintf("55419%08d", i))
		require.NoError(b, err)
		recipients[i] = customer.Number() + "@s.whatsapp.net"
		bg.pair(b, fmt.Sprintf("bench-%03d", i), agent)
	}
	b.Logf("paired %d sessions in %s", benchSessions, time.Since(pairStart).Round(time.Millisecond))

	stopProfiles := startBenchProfiles(b)
	res := bg.offer(b, recipients)
	deadline := time.Now().Add(10 * time.Minute)
	wait := func(status core.MessageStatus) time.Duration {
		for {
			n, err := bg.st.CountOutbound(b.Context(), "", status)
			require.NoError(b, err)
			if n == 0 {
				return time.Since(res.start)
			}
			require.True(b, time.Now().Before(deadline), "%d messages still %s", n, status)
			time.Sleep(100 * time.Millisecond) // polling the database, bounded by the deadline
		}
	}
	acked := wait(core.MessageStatusQueued)
	stopProfiles()
	// Then until the phones' delivery receipts are projected onto every message: whether the
	// status side (events over the bus, the projection) keeps up.
	delivered := wait(core.MessageStatusSent)

	res.report(b)
	b.ReportMetric(float64(res.sent)/acked.Seconds(), "acked/s")
	b.ReportMetric(float64(res.sent)/delivered.Seconds(), "delivered/s")
}

// BenchmarkAccept is the accept path alone: the same offered load against 100 sessions that are
// not paired, so nothing is sent and the machine serves only the API, the insert and the
// command. It reports the accepted rate and the accept latency percentiles.
func BenchmarkAccept(b *testing.B) {
	bg := startBenchGateway(b)
	recipients := make([]string, benchSessions)
	for i := range benchSessions {
		res, err := bg.api.CreateSessionWithResponse(b.Context(), client.CreateSessionRequest{Id: fmt.Sprintf("bench-%03d", i)})
		require.NoError(b, err)
		require.Equal(b, http.StatusCreated, res.StatusCode(), string(res.Body))
		recipients[i] = fmt.Sprintf("55419%08d@s.whatsapp.net", i)
	}
	stopProfiles := startBenchProfiles(b)
	res := bg.offer(b, recipients)
	stopProfiles()
	res.report(b)
}

// benchGateway is the gateway under benchmark, with the simulator, in this process.
type benchGateway struct {
	*e2eGateway
	sim *wasim.Simulator
	st  *store.Store
}

func startBenchGateway(b *testing.B) *benchGateway {
	environ, adjust := benchDeployment(b)
	sim, err := wasim.New(wasim.Options{Logger: log.Discard()})
	require.NoError(b, err)
	require.NoError(b, sim.Start(b.Context()))
	b.Cleanup(func() { _ = sim.Close() })

	env := append([]string{"API_KEY=" + e2eKey, "HOST=127.0.0.1", "PORT=0", "SESSIONS_PATH=" + b.TempDir()}, environ...)
	cfg, err := config.Load(config.LoadOptions{Environ: env})
	require.NoError(b, err)
	cfg.HTTP.RateLimit.PerIP.Disabled, cfg.HTTP.RateLimit.PerKey.Disabled = true, true
	adjust(cfg)
	var srv *httpserver.Server
	var st *store.Store
	app := fx.New(app.Gateway(cfg, "bench", log.Discard(), whatsapp.WithClientConfigurer(func(cli *whatsmeow.Client) {
		wasim.ConfigureClient(cli, sim)
	})), fx.Populate(&srv, &st), fx.NopLogger)
	require.NoError(b, app.Err())
	require.NoError(b, app.Start(b.Context()))
	b.Cleanup(func() { _ = app.Stop(context.Background()) })
	base := "http://" + srv.Addr()
	c, err := client.NewWithKey(base, e2eKey)
	require.NoError(b, err)
	return &benchGateway{e2eGateway: &e2eGateway{api: c, base: base}, sim: sim, st: st}
}

// offered is what offer measured.
type offered struct {
	rate float64
	// warm messages went out before the measured sent ones.
	warm      int
	sent      int
	start     time.Time
	accepted  time.Duration
	latencies []time.Duration
}

// offer posts b.N text messages (after a warm-up), round-robin over the sessions bench-000… to
// recipients[i], at BENCH_SEND_RATE. Open loop: requests go out at the offered rate whatever the answers do, and
// each latency counts from when its request was due, so a stalled server shows as latency (no
// coordinated omission). Every request must be accepted (202).
func (bg *benchGateway) offer(b *testing.B, recipients []string) offered {
	// Pre-encoded bodies: the load generator must not be what is measured.
	bodies := make([][]byte, len(recipients))
	for i := range bodies {
		bodies[i] = []byte(fmt.Sprintf(`{"to":%q,"type":"text","text":"benchmark message"}`, recipients[i]))
	}
	res := offered{rate: benchRate(b)}
	httpc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 512, MaxConnsPerHost: 512}}
	inflight := make(chan struct{}, 512)
	var mu sync.Mutex
	var failed atomic.Int64
	var wg sync.WaitGroup
	post := func(s int) (int, error) {
		req, _ := http.NewRequest(http.MethodPost, fmt.Sprintf("%s/api/v1/sessions/bench-%03d/messages", bg.base, s), bytes.NewReader(bodies[s]))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(client.APIKeyHeader, e2eKey)
		resp, err := httpc.Do(req)
		if err != nil {
			return 0, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		return resp.StatusCode, nil
	}
	// Warm-up, not measured: one second of the offered load (at most 1,000 messages, counted in
	// warm), so that connection pools on both sides are open as in a server that has been up.
	res.warm = min(int(res.rate), 1000)
	warmStart := time.Now()
	for i := range res.warm {
		if wait := time.Until(warmStart.Add(time.Duration(float64(i) / res.rate * float64(time.Second)))); wait > 0 {
			time.Sleep(wait) // pacing the offered load
		}
		inflight <- struct{}{}
		wg.Go(func() {
			defer func() { <-inflight }()
			if code, err := post(i % len(recipients)); err != nil || code != http.StatusAccepted {
				failed.Add(1)
			}
		})
	}
	wg.Wait()
	// b.Loop runs the benchmark function once, so the sessions are set up once, not per b.N probe.
	res.start = time.Now()
	for b.Loop() {
		due := res.start.Add(time.Duration(float64(res.sent) / res.rate * float64(time.Second)))
		if wait := time.Until(due); wait > 0 {
			time.Sleep(wait) // pacing the offered load
		}
		s := res.sent % len(recipients)
		res.sent++
		inflight <- struct{}{}
		wg.Go(func() {
			defer func() { <-inflight }()
			code, err := post(s)
			took := time.Since(due)
			mu.Lock()
			res.latencies = append(res.latencies, took)
			mu.Unlock()
			if err != nil || code != http.StatusAccepted {
				failed.Add(1)
			}
		})
	}
	wg.Wait()
	res.accepted = time.Since(res.start)
	require.Zero(b, failed.Load(), "every send accepted")
	return res
}

func (o offered) report(b *testing.B) {
	slices.Sort(o.latencies)
	pct := func(p float64) float64 {
		return float64(o.latencies[int(p*float64(len(o.latencies)-1))].Microseconds()) / 1000
	}
	b.ReportMetric(o.rate, "offered/s")
	b.ReportMetric(float64(o.sent)/o.accepted.Seconds(), "accepted/s")
	b.ReportMetric(pct(0.50), "accept-p50-ms")
	b.ReportMetric(pct(0.99), "accept-p99-ms")
}

// startBenchProfiles writes a CPU profile of the send phase alone (not the pairing) when
// BENCH_PROFILE_DIR names a directory, and an execution trace too when BENCH_TRACE is set; the
// returned func stops them.
func startBenchProfiles(b *testing.B) func() {
	dir := os.Getenv("BENCH_PROFILE_DIR")
	if dir == "" {
		return func() {}
	}
	cpu, err := os.Create(filepath.Join(dir, "send-cpu.prof"))
	require.NoError(b, err)
	require.NoError(b, pprof.StartCPUProfile(cpu))
	var tr *os.File
	if os.Getenv("BENCH_TRACE") != "" {
		tr, err = os.Create(filepath.Join(dir, "send.trace"))
		require.NoError(b, err)
		require.NoError(b, trace.Start(tr))
	}
	return func() {
		if tr != nil {
			trace.Stop()
			_ = tr.Close()
		}
		pprof.StopCPUProfile()
		_ = cpu.Close()
	}
}

// benchRate is the offered load in messages per second.
func benchRate(b *testing.B) float64 {
	v := os.Getenv("BENCH_SEND_RATE")
	if v == "" {
		return 2000
	}
	r, err := strconv.ParseFloat(v, 64)
	require.NoError(b, err, "BENCH_SEND_RATE")
	require.Positive(b, r, "BENCH_SEND_RATE")
	return r
}

// benchDeployment is PostgreSQL + Redis when their URLs are given, else SQLite + in-process.
func benchDeployment(b *testing.B) ([]string, func(*config.Config)) {
	if os.Getenv(dbtest.EnvPostgresURL) != "" {
		bc := bustest.Redis(b)
		return []string{"DATABASE_URL=" + dbtest.PostgresURL(b), "REDIS_URL=" + bc.RedisURL}, func(c *config.Config) {
			c.Bus.Namespace = bc.Namespace
			c.DB.MaxOpenConns = 40
		}
	}
	return nil, func(*config.Config) {}
}
