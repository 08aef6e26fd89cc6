package main

import (
	"context"
	"encoding/binary"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestPercentile(t *testing.T) {
	t.Parallel()
	var ds []time.Duration
	for i := 1; i <= 100; i++ {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	for _, tc := range []struct {
		p    float64
		want time.Duration
	}{{0, time.Millisecond}, {50, 50 * time.Millisecond}, {95, 95 * time.Millisecond}, {99, 99 * time.Millisecond}, {100, 100 * time.Millisecond}} {
		require.Equal(t, tc.want, percentile(ds, tc.p), "p%v", tc.p)
	}
	require.Equal(t, 7*time.Millisecond, percentile([]time.Duration{7 * time.Millisecond}, 99))
	require.Zero(t, percentile(nil, 50))
}

func TestSummarize(t *testing.T) {
	t.Parallel()
	// Unsorted input; nearest rank: p50 of 4 values is the 2nd.
	s := summarize([]time.Duration{4 * time.Millisecond, 1 * time.Millisecond, 3 * time.Millisecond, 2500 * time.Microsecond})
	require.Equal(t, latencySummary{Count: 4, P50: 2.5, P95: 4, P99: 4, Max: 4}, s)
	require.Equal(t, latencySummary{}, summarize(nil))
}

func TestParseStatCPU(t *testing.T) {
	t.Parallel()
	// A command name with spaces and parentheses: fields are counted from the last ')'.
	stat := "4242 (gate way) (x)) S 1 4242 4242 0 -1 4194560 1234 0 0 0 250 75 0 0 20 0 12 0 100 123456789 4000 18446744073709551615\n"
	ticks, err := parseStatCPU([]byte(stat))
	require.NoError(t, err)
	require.Equal(t, uint64(325), ticks)

	_, err = parseStatCPU([]byte("4242 no parenthesis"))
	require.Error(t, err)
	_, err = parseStatCPU([]byte("4242 (short) S 1 2"))
	require.Error(t, err)
}

func TestParseStatusRSS(t *testing.T) {
	t.Parallel()
	status := "Name:\tgateway\nVmPeak:\t  900000 kB\nVmHWM:\t   50000 kB\nVmRSS:\t   45544 kB\nRssAnon:\t   30000 kB\n"
	rss, err := parseStatusRSS([]byte(status))
	require.NoError(t, err)
	require.Equal(t, int64(45544), rss)
	_, err = parseStatusRSS([]byte("Name:\tzombie\nState:\tZ (zombie)\n"))
	require.Error(t, err)
}

func TestAuxvClockTicks(t *testing.T) {
	t.Parallel()
	auxv := func(pairs ...uint64) []byte {
		b := make([]byte, 8*len(pairs))
		for i, v := range pairs {
			binary.LittleEndian.PutUint64(b[8*i:], v)
		}
		return b
	}
	require.Equal(t, 250.0, auxvClockTicks(auxv(6, 4096, 17, 250, 0, 0)))
	require.Equal(t, 100.0, auxvClockTicks(auxv(6, 4096, 0, 0, 17, 250)), "stops at AT_NULL")
	require.Equal(t, 100.0, auxvClockTicks(nil))
	// This process's own vector, as the bench reads it.
	require.Positive(t, readClockTicks())
}

func TestCPUPercent(t *testing.T) {
	t.Parallel()
	at := time.Now()
	a := procSample{At: at, CPUSeconds: 10}
	b := procSample{At: at.Add(4 * time.Second), CPUSeconds: 11}
	require.InDelta(t, 25.0, cpuPercent(a, b), 1e-9)
	require.InDelta(t, 1.0, cpuSince(a, b), 1e-9)
	require.Zero(t, cpuPercent(a, a))
}

func TestParseMetrics(t *testing.T) {
	t.Parallel()
	text := `# HELP go_goroutines Number of goroutines.
# TYPE go_goroutines gauge
go_goroutines 73
go_memstats_heap_inuse_bytes 1.0903552e+07
gateway_sessions{channel="whatsapp",status="connected"} 10
gateway_sessions{channel="whatsapp",status="qr_code"} 2
gateway_other{label="a b"} 5
`
	m, err := parseMetrics(strings.NewReader(text), []string{"go_goroutines", "go_memstats_heap_inuse_bytes", "gateway_sessions"})
	require.NoError(t, err)
	require.Equal(t, map[string]float64{"go_goroutines": 73, "go_memstats_heap_inuse_bytes": 10903552, "gateway_sessions": 12}, m)
}

// The scheduler issues requests on time while earlier ones are still unanswered: that is what
// keeps a slow server from slowing the offered load (coordinated omission).
func TestOpenLoopDoesNotWaitForAnswers(t *testing.T) {
	t.Parallel()
	const count = 20
	release := make(chan struct{})
	var started atomic.Int32
	var mu sync.Mutex
	dues := make([]time.Time, count)
	start := time.Now()
	done := make(chan struct{})
	go func() {
		defer close(done)
		openLoop(t.Context(), start, 1000, count, 64, func(i int, due time.Time) {
			mu.Lock()
			dues[i] = due
			mu.Unlock()
			started.Add(1)
			<-release // no answer until every request was issued
		})
	}()
	require.Eventually(t, func() bool { return started.Load() == count }, 5*time.Second, time.Millisecond)
	select {
	case <-done:
		t.Fatal("openLoop returned before its calls did")
	default:
	}
	close(release)
	<-done
	for i, due := range dues {
		require.Equal(t, start.Add(time.Duration(i)*time.Millisecond), due, "call %d", i)
	}
}

func TestOpenLoopBoundsInflightAndStopsOnCancel(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	var running, most, calls atomic.Int32
	release := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		openLoop(ctx, time.Now(), 1e6, 1000, 3, func(int, time.Time) {
			n := running.Add(1)
			for {
				m := most.Load()
				if n <= m || most.CompareAndSwap(m, n) {
					break
				}
			}
			calls.Add(1)
			<-release
			running.Add(-1)
		})
	}()
	require.Eventually(t, func() bool { return running.Load() == 3 }, 5*time.Second, time.Millisecond)
	cancel()
	close(release)
	<-done
	require.Equal(t, int32(3), most.Load())
	require.Less(t, calls.Load(), int32(1000), "no new calls after the cancel")
}

func TestMessagesFor(t *testing.T) {
	t.Parallel()
	require.Equal(t, 500, messagesFor(50, 10*time.Second, 10))
	require.Equal(t, 1000, messagesFor(50, 10*time.Second, 1000), "at least one per session")
}

func TestParseFlags(t *testing.T) {
	t.Parallel()
	cfg, err := parseFlags([]string{"-short", "-rates", "20,40"})
	require.NoError(t, err)
	require.Equal(t, []int{10}, cfg.sizes)
	require.Equal(t, []float64{20, 40}, cfg.rates, "an explicit flag wins over -short")
	require.Equal(t, 5*time.Second, cfg.idle)
	require.True(t, cfg.scenarios["inbound"])

	_, err = parseFlags([]string{"-scenarios", "sessions,nope", "-sizes", "10,-1"})
	require.ErrorContains(t, err, `unknown scenario "nope"`)
	require.ErrorContains(t, err, "-sizes")
}

func TestMarginal(t *testing.T) {
	t.Parallel()
	sizes := []int{10, 100, 1000}
	rss := []float64{40000, 58000, 220000}
	_, ok := marginal(sizes, rss, 0)
	require.False(t, ok)
	v, ok := marginal(sizes, rss, 2)
	require.True(t, ok)
	require.InDelta(t, 180000.0/990, v, 1e-9)
}

func TestRenderSummary(t *testing.T) {
	t.Parallel()
	gw := func(rss int64) idleFigures { return idleFigures{RSSKB: rss, IdleCPUPercent: 1.2} }
	bl := func(rss int64) *idleFigures { return &idleFigures{RSSKB: rss, IdleCPUPercent: 1.0} }
	res := &results{
		Machine: machineInfo{CPUModel: "Test CPU", Cores: 2, Commit: "0123456789abcdef"},
		Sessions: []sessionsResult{
			{Sessions: 10, Gateway: gw(40000), Baseline: bl(30000)},
			{Sessions: 110, Gateway: gw(60000), Baseline: bl(48000)},
		},
		Send: []sendResult{{Sessions: 10, Rate: 50, Messages: 500,
			Gateway:  sendFigures{Accept: &latencySummary{P99: 3}, CPUPerMessageMS: 3, AckedPerSec: 50},
			Baseline: &sendFigures{CPUPerMessageMS: 2}}},
	}
	s := renderSummary(res, []string{"sessions-rss.png"})
	require.Contains(t, s, "Test CPU, 2 cores")
	require.Contains(t, s, "| 110 | 200.0 / 180.0 | 1.11× |", "marginal RSS per session")
	require.Contains(t, s, "200.0 KB vs 180.0 KB = 1.11× | **not met** |")
	require.Contains(t, s, "3.000 ms vs 2.000 ms = 1.50× | met |")
	require.Contains(t, s, "![sessions-rss](sessions-rss.png)")

	res.Send[0].Gateway.AckedPerSec = 40
	require.Contains(t, renderSummary(res, nil), "| met, but saturated: acked 40/s of 50/s offered |")
}

func TestCPUModel(t *testing.T) {
	t.Parallel()
	require.Equal(t, "AMD EPYC 7B13", cpuModel([]byte("processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7B13\n")))
	require.Equal(t, "unknown", cpuModel(nil))
}

func TestWritePlots(t *testing.T) {
	t.Parallel()
	idle := func(rss int64) idleFigures {
		return idleFigures{RSSKB: rss, IdleCPUPercent: 1, Runtime: gatewayFigures{HeapInuseKB: rss / 2}}
	}
	res := &results{
		Sessions: []sessionsResult{
			{Sessions: 10, Gateway: idle(40000), Baseline: &idleFigures{RSSKB: 30000}},
			{Sessions: 1000, Gateway: idle(240000), Baseline: &idleFigures{RSSKB: 230000}},
		},
		Send: []sendResult{
			{Sessions: 10, Rate: 50, Gateway: sendFigures{CPUPerMessageMS: 3, Accept: &latencySummary{P99: 2}, Delivered: latencySummary{P99: 5}}},
			{Sessions: 10, Rate: 500, Gateway: sendFigures{CPUPerMessageMS: 2, Accept: &latencySummary{P99: 90}, Delivered: latencySummary{P99: 9000}}},
		},
		// One point only, and zero latencies: no log axis.
		Inbound: []inboundResult{{Sessions: 10, Rate: 50}},
	}
	dir := t.TempDir()
	files, err := writePlots(dir, res)
	require.NoError(t, err)
	require.Contains(t, files, "sessions-marginal.png")
	for _, f := range files {
		require.FileExists(t, filepath.Join(dir, f))
	}
}
