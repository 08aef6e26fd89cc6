// Command wabench measures the WhatsApp channel against a simulator running in another process
// (go run ./cmd/wasim): memory per idle connected session, idle CPU and the time to restore and
// reconnect every session after a restart.
//
//	wabench -sim 127.0.0.1:8765 -data /tmp/wabdata -n 1000 pair     # pair n sessions, persist them
//	wabench -sim 127.0.0.1:8765 -data /tmp/wabdata restore          # restore them all, measure
//	wabench -sim 127.0.0.1:8765 -data /tmp/wabdata bare             # the same devices, bare whatsmeow
//
// restore and bare print one JSON line: sessions, time until all connected, RSS after GC and
// after FreeOSMemory, heap, stacks, goroutines and CPU over an idle window. Marginal RSS per
// session is (RSS(N) - RSS(10)) / (N - 10) across two runs (a 10-session database for RSS(10)).
// The simulator keeps its accounts in memory: pair and restore against the same wasim process.
// Simulator mode only: it sets whatsmeow's process-global certificate key.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/store/sqlstore"

	"github.com/28web/hub/channels/core"
	"github.com/28web/hub/channels/whatsapp"
	"github.com/28web/hub/migrations"
	"github.com/28web/hub/platform/db"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "wabench:", err)
		os.Exit(1)
	}
}

type options struct {
	sim         string
	data        string
	n           int
	limit       int
	concurrency int
	offset      int
	idle        time.Duration
	settle      time.Duration
	memprofile  string
	ramp        time.Duration
}

func run() error {
	var o options
	flag.StringVar(&o.sim, "sim", "127.0.0.1:8765", "simulator address (cmd/wasim)")
	flag.StringVar(&o.data, "data", "/tmp/wabdata", "data directory (SQLite)")
	flag.IntVar(&o.n, "n", 100, "pair: number of sessions")
	flag.IntVar(&o.limit, "limit", 0, "restore: restore only the first limit sessions (0: all)")
	flag.IntVar(&o.concurrency, "concurrency", 16, "pair: sessions paired at once")
	flag.IntVar(&o.offset, "offset", 0, "pair: first session/phone index (to pair a second data dir on the same simulator)")
	flag.DurationVar(&o.idle, "idle", 30*time.Second, "restore: idle window for the CPU measurement")
	flag.DurationVar(&o.settle, "settle", 5*time.Second, "restore: wait after all connected before measuring")
	flag.DurationVar(&o.ramp, "ramp", 0, "restore: Config.RestoreRamp (0: the default)")
	flag.StringVar(&o.memprofile, "memprofile", "", "restore: write a heap profile here after settling")
	profileRate := flag.Int("memprofilerate", 0, "runtime.MemProfileRate (1: record every allocation)")
	flag.Parse()
	if *profileRate > 0 {
		runtime.MemProfileRate = *profileRate
	}
	logger := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ctx := context.Background()

	configure, err := simConfigurer(ctx, o.sim)
	if err != nil {
		return err
	}
	d, err := db.Open(ctx, db.Config{DataDir: o.data}, logger)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := db.Migrate(ctx, d, migrations.Whatsapp); err != nil {
		return err
	}
	container, err := whatsapp.OpenDeviceStore(ctx, d, logger)
	if err != nil {
		return err
	}
	var repo whatsapp.SessionRepository = whatsapp.NewBunRepository(d.Bun())
	if o.limit > 0 {
		repo = limitRepo{SessionRepository: repo, limit: o.limit}
	}
	sink := &countingSink{}
	var cfg whatsapp.Config
	cfg.RestoreRamp = o.ramp
	p, err := whatsapp.New(cfg, container, repo, sink, nil, logger, whatsapp.WithClientConfigurer(configure))
	if err != nil {
		return err
	}
	switch flag.Arg(0) {
	case "pair":
		return pair(ctx, o, p)
	case "restore":
		return restore(ctx, o, p, sink)
	case "bare":
		return bare(ctx, o, container.Container, configure)
	}
	return errors.New("usage: wabench [flags] pair|restore|bare")
}

// simConfigurer points clients at a simulator in another process: every dial goes to its address
// and the certificate root is the simulator's.
func simConfigurer(ctx context.Context, addr string) (func(*whatsmeow.Client), error) {
	var info struct {
		RootPublicKey string `json:"root_public_key"`
	}
	if err := call(ctx, http.MethodGet, "http://"+addr+"/_sim/info", nil, &info); err != nil {
		return nil, fmt.Errorf("simulator info: %w", err)
	}
	key, err := base64.StdEncoding.DecodeString(info.RootPublicKey)
	if err != nil || len(key) != 32 {
		return nil, fmt.Errorf("simulator root key %q", info.RootPublicKey)
	}
	whatsmeow.WACertPubKey = [32]byte(key)
	dial := func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", addr)
	}
	hc := &http.Client{Transport: &http.Transport{DialContext: dial, DialTLSContext: dial}}
	return func(c *whatsmeow.Client) {
		c.SetPreLoginHTTPClient(hc)
		c.SetWebsocketHTTPClient(hc)
		c.SetMediaHTTPClient(hc)
	}, nil
}

func call(ctx context.Context, method, url string, body, out any) error {
	var rd *bytes.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		var e struct{ Error string }
		_ = json.NewDecoder(resp.Body).Decode(&e)
		return fmt.Errorf("%s %s: %s: %s", method, url, resp.Status, e.Error)
	}
	if out != nil {
		return json.NewDecoder(resp.Body).Decode(out)
	}
	return nil
}

func pair(ctx context.Context, o options, p *whatsapp.Provider) error {
	if err := p.Start(ctx); err != nil {
		return err
	}
	defer func() { _ = p.Stop(ctx) }()
	start := time.Now()
	var next, done atomic.Int64
	var firstErr error
	var errMu sync.Mutex
	var wg sync.WaitGroup
	for range o.concurrency {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(o.n) {
					return
				}
				if err := pairOne(ctx, o, p, o.offset+int(i)); err != nil {
					errMu.Lock()
					firstErr = errors.Join(firstErr, err)
					errMu.Unlock()
					return
				}
				if n := done.Add(1); n%100 == 0 {
					fmt.Fprintf(os.Stderr, "paired %d in %s\n", n, time.Since(start).Round(time.Millisecond))
				}
			}
		})
	}
	wg.Wait()
	fmt.Printf("{\"paired\":%d,\"seconds\":%.1f}\n", done.Load(), time.Since(start).Seconds())
	return firstErr
}

func pairOne(ctx context.Context, o options, p *whatsapp.Provider, i int) error {
	id := core.SessionID(fmt.Sprintf("bench-%05d", i))
	if _, err := p.CreateSession(ctx, core.CreateSessionRequest{ID: id}); err != nil {
		return err
	}
	var qr core.QRCode
	deadline := time.Now().Add(30 * time.Second)
	for {
		var err error
		if qr, err = p.LoginQR(ctx, id); err == nil {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: no QR: %w", id, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	number := fmt.Sprintf("4917%09d", i)
	base := "http://" + o.sim + "/_sim/phones"
	if err := call(ctx, http.MethodPost, base, map[string]string{"number": number}, nil); err != nil {
		return err
	}
	if err := call(ctx, http.MethodPost, base+"/"+number+"/scan", map[string]string{"qr": qr.Text}, nil); err != nil {
		return err
	}
	for {
		s, err := p.Session(ctx, id)
		if err != nil {
			return err
		}
		if s.Status == core.StatusConnected {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: not connected: %s", id, s.Status)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func restore(ctx context.Context, o options, p *whatsapp.Provider, sink *countingSink) error {
	start := time.Now()
	if err := p.Start(ctx); err != nil {
		return err
	}
	startedIn := time.Since(start)
	all, err := p.Sessions(ctx)
	if err != nil {
		return err
	}
	total := len(all)
	var connectedIn time.Duration
	for {
		st, err := p.Stats(ctx)
		if err != nil {
			return err
		}
		if st.Connected == total {
			connectedIn = time.Since(start)
			break
		}
		if time.Since(start) > 2*time.Minute {
			return fmt.Errorf("only %d of %d connected after 2m", st.Connected, total)
		}
		time.Sleep(10 * time.Millisecond)
	}
	out := measure(o, total, connectedIn, startedIn)
	st, _ := p.Stats(ctx)
	out["connected_after_idle"] = st.Connected
	out["events"] = sink.n.Load()
	b, _ := json.Marshal(out)
	fmt.Println(string(b))
	return p.Stop(ctx)
}

// rssKB reads the resident set size from /proc.
func rssKB() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return -1
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return n
		}
	}
	return -1
}

// cpuTicks is user+system CPU time of the process in clock ticks (1/100 s).
func cpuTicks() int64 {
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return 0
	}
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	utime, _ := strconv.ParseInt(fields[11], 10, 64)
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	return utime + stime
}

// countingSink stands in for the bus: it counts events.
type countingSink struct{ n atomic.Int64 }

func (c *countingSink) Publish(context.Context, core.Event) error {
	c.n.Add(1)
	return nil
}

// limitRepo restores only the first limit sessions.
type limitRepo struct {
	whatsapp.SessionRepository
	limit int
}

func (l limitRepo) ListSessions(ctx context.Context) ([]whatsapp.SessionRecord, error) {
	all, err := l.SessionRepository.ListSessions(ctx)
	if err != nil {
		return nil, err
	}
	return all[:min(l.limit, len(all))], nil
}

func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return pprof.WriteHeapProfile(f)
}

// measure settles, collects and samples memory and idle CPU of the process.
func measure(o options, total int, connectedIn, startedIn time.Duration) map[string]any {
	time.Sleep(o.settle)
	// A few collections, as a long-running process gets from the runtime's periodic GC: each
	// one also halves the stacks that grew during the handshakes.
	for range 3 {
		runtime.GC()
	}
	rss := rssKB()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	debug.FreeOSMemory()
	rssFreed := rssKB()
	if o.memprofile != "" {
		if err := writeHeapProfile(o.memprofile); err != nil {
			fmt.Fprintln(os.Stderr, "heap profile:", err)
		}
	}
	cpu0 := cpuTicks()
	t0 := time.Now()
	time.Sleep(o.idle)
	cpuPct := float64(cpuTicks()-cpu0) / 100 / time.Since(t0).Seconds() * 100
	return map[string]any{
		"sessions": total, "all_connected_s": connectedIn.Seconds(), "start_returned_s": startedIn.Seconds(),
		"rss_kb": rss, "rss_after_free_os_memory_kb": rssFreed, "heap_inuse_kb": ms.HeapInuse / 1024,
		"stack_inuse_kb": ms.StackInuse / 1024, "goroutines": runtime.NumGoroutine(), "idle_cpu_pct_one_core": cpuPct,
	}
}

// bare connects the stored devices as plain whatsmeow clients, without the provider: the
// baseline "whatsmeow itself" for the same store, simulator and measurement.
func bare(ctx context.Context, o options, container *sqlstore.Container, configure func(*whatsmeow.Client)) error {
	start := time.Now()
	devices, err := container.GetAllDevices(ctx)
	if err != nil {
		return err
	}
	if o.limit > 0 {
		devices = devices[:min(o.limit, len(devices))]
	}
	clients := make([]*whatsmeow.Client, len(devices))
	sem := make(chan struct{}, 64)
	var wg sync.WaitGroup
	for i, dev := range devices {
		cli := whatsmeow.NewClient(dev, nil)
		configure(cli)
		clients[i] = cli
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := cli.Connect(); err != nil {
				fmt.Fprintln(os.Stderr, "connect:", err)
			}
		})
	}
	startedIn := time.Since(start)
	wg.Wait()
	for {
		n := 0
		for _, c := range clients {
			if c.IsLoggedIn() {
				n++
			}
		}
		if n == len(clients) {
			break
		}
		if time.Since(start) > 2*time.Minute {
			return fmt.Errorf("only %d of %d logged in", n, len(clients))
		}
		time.Sleep(10 * time.Millisecond)
	}
	out := measure(o, len(clients), time.Since(start), startedIn)
	out["mode"] = "bare-whatsmeow"
	b, _ := json.Marshal(out)
	fmt.Println(string(b))
	for _, c := range clients {
		c.Disconnect()
	}
	return nil
}
