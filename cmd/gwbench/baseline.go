package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/store"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
	waLog "go.mau.fi/whatsmeow/util/log"
	"google.golang.org/protobuf/proto"

	"github.com/28web/hub/channels/whatsapp"
	"github.com/28web/hub/channels/whatsapp/wasim/simclient"
	"github.com/28web/hub/platform/db"
)

// The baseline is bare whatsmeow: the devices the gateway paired, read from the gateway's own
// database (its whatsmeow device store) after the gateway stopped, each connected by a plain
// whatsmeow.Client with whatsmeow's own SQL store and no gateway code around it. It runs in a
// child process (this binary, "baseline-child"), so that the OS figures of that process are
// the baseline's alone, as the gateway's are the gateway's. The parent drives it with one JSON
// request per line on its stdin and reads one JSON answer per line on its stdout.

// childRequest is one request to the baseline child.
type childRequest struct {
	// Op: connect | runtime | send | inbound | quit.
	Op string `json:"op"`
	// send: Count messages at Rate per second, message i from Routes[i%len] (open loop).
	Rate   float64     `json:"rate,omitempty"`
	Count  int         `json:"count,omitempty"`
	Routes []sendRoute `json:"routes,omitempty"`
	Text   string      `json:"text,omitempty"`
	// inbound: wait for these message ids.
	IDs []string `json:"ids,omitempty"`
	// TimeoutMS bounds the wait for receipts (send) or messages (inbound).
	TimeoutMS int64 `json:"timeout_ms,omitempty"`
}

// sendRoute is a device (by its account's phone number) and the chat it sends to.
type sendRoute struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// childAnswer is the answer to any request; Error is set when it failed.
type childAnswer struct {
	Error string `json:"error,omitempty"`
	// connect
	Sessions       int     `json:"sessions,omitempty"`
	ConnectSeconds float64 `json:"connect_seconds,omitempty"`
	// runtime
	Runtime *gatewayFigures `json:"runtime,omitempty"`
	// send
	Sent             int            `json:"sent,omitempty"`
	Failed           int            `json:"failed,omitempty"`
	FirstError       string         `json:"first_error,omitempty"`
	Ack              latencySummary `json:"ack"`
	Delivered        latencySummary `json:"delivered"`
	DeliveredMissing int            `json:"delivered_missing,omitempty"`
	AckedPerSec      float64        `json:"acked_per_sec,omitempty"`
	// inbound: arrival time of each id received, in Unix nanoseconds.
	Arrivals map[string]int64 `json:"arrivals,omitempty"`
}

// runBaselineChild is the child process: it serves requests until "quit" or EOF on stdin.
func runBaselineChild(args []string) error {
	fs := flag.NewFlagSet("baseline-child", flag.ContinueOnError)
	dataDir := fs.String("data-dir", "", "SQLite directory of the gateway's database")
	dbURL := fs.String("database-url", "", "the gateway's PostgreSQL database")
	simURL := fs.String("sim", "", "the simulator's control URL")
	if err := fs.Parse(args); err != nil {
		return err
	}
	logger := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ctx := context.Background()
	dcfg := db.Config{URL: *dbURL, DataDir: *dataDir}
	if err := dcfg.Validate(); err != nil {
		return fmt.Errorf("database: %w", err)
	}
	d, err := db.Open(ctx, dcfg, logger)
	if err != nil {
		return fmt.Errorf("open database: %w", err)
	}
	defer d.Close()
	container, err := whatsapp.OpenDeviceStore(ctx, d, logger)
	if err != nil {
		return err
	}
	remote, err := simclient.DialRemote(ctx, *simURL)
	if err != nil {
		return err
	}
	devices, err := container.GetAllDevices(ctx)
	if err != nil {
		return fmt.Errorf("devices: %w", err)
	}
	b := newBareClients(devices, remote)
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 64<<20)
	out := json.NewEncoder(os.Stdout)
	for in.Scan() {
		var req childRequest
		var ans childAnswer
		if err := json.Unmarshal(in.Bytes(), &req); err != nil {
			ans.Error = err.Error()
		} else if req.Op == "quit" {
			b.disconnect()
			return out.Encode(ans)
		} else if ans, err = b.serve(ctx, req); err != nil {
			ans.Error = err.Error()
		}
		if err := out.Encode(ans); err != nil {
			return fmt.Errorf("answer: %w", err)
		}
	}
	b.disconnect()
	return in.Err()
}

// bareClients are plain whatsmeow clients, one per device, with the events the bench times.
type bareClients struct {
	clients []*whatsmeow.Client
	byPhone map[string]*whatsmeow.Client

	mu sync.Mutex
	// delivered: first delivery receipt per message id; inbound: message ids received.
	delivered map[string]time.Time
	inbound   map[string]time.Time
}

func newBareClients(devices []*store.Device, remote *simclient.Remote) *bareClients {
	b := &bareClients{byPhone: make(map[string]*whatsmeow.Client), delivered: make(map[string]time.Time), inbound: make(map[string]time.Time)}
	for _, dev := range devices {
		cli := whatsmeow.NewClient(dev, waLog.Noop)
		remote.ConfigureClient(cli)
		cli.AddEventHandler(b.handle)
		b.clients = append(b.clients, cli)
		if dev.ID != nil {
			b.byPhone[dev.ID.User] = cli
		}
	}
	return b
}

func (b *bareClients) handle(evt any) {
	at := time.Now()
	switch e := evt.(type) {
	case *events.Receipt:
		if e.Type != types.ReceiptTypeDelivered {
			return
		}
		b.mu.Lock()
		for _, id := range e.MessageIDs {
			firstTime(b.delivered, id, at)
		}
		b.mu.Unlock()
	case *events.Message:
		if e.Info.IsFromMe || e.Info.Category == "peer" {
			return
		}
		b.mu.Lock()
		firstTime(b.inbound, e.Info.ID, at)
		b.mu.Unlock()
	}
}

func (b *bareClients) disconnect() {
	for _, c := range b.clients {
		c.Disconnect()
	}
}

func (b *bareClients) serve(ctx context.Context, req childRequest) (childAnswer, error) {
	switch req.Op {
	case "connect":
		return b.connect(ctx)
	case "runtime":
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return childAnswer{Runtime: &gatewayFigures{
			HeapInuseKB: int64(ms.HeapInuse / 1024), HeapAllocKB: int64(ms.HeapAlloc / 1024),
			StackKB: int64(ms.StackInuse / 1024), Goroutines: int64(runtime.NumGoroutine()),
		}}, nil
	case "send":
		return b.send(ctx, req)
	case "inbound":
		return b.waitInbound(ctx, req)
	}
	return childAnswer{}, fmt.Errorf("unknown op %q", req.Op)
}

// connect connects every client, 64 at a time (as the gateway's connect_concurrency), and waits
// until all are logged in.
func (b *bareClients) connect(ctx context.Context) (childAnswer, error) {
	start := time.Now()
	sem := make(chan struct{}, 64)
	var wg sync.WaitGroup
	var errMu sync.Mutex
	var errs []error
	for _, cli := range b.clients {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := cli.Connect(); err != nil {
				errMu.Lock()
				errs = append(errs, err)
				errMu.Unlock()
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return childAnswer{}, fmt.Errorf("connect: %w", err)
	}
	deadline := time.Now().Add(5 * time.Minute)
	for {
		n := 0
		for _, c := range b.clients {
			if c.IsLoggedIn() {
				n++
			}
		}
		if n == len(b.clients) {
			break
		}
		if time.Now().After(deadline) {
			return childAnswer{}, fmt.Errorf("only %d of %d logged in", n, len(b.clients))
		}
		if err := sleepCtx(ctx, 10*time.Millisecond); err != nil {
			return childAnswer{}, err
		}
	}
	return childAnswer{Sessions: len(b.clients), ConnectSeconds: time.Since(start).Seconds()}, nil
}

// send calls SendMessage on the open-loop schedule and waits for the delivery receipts.
func (b *bareClients) send(ctx context.Context, req childRequest) (childAnswer, error) {
	if req.Count < 1 || req.Rate <= 0 || len(req.Routes) == 0 {
		return childAnswer{}, errors.New("send: count, rate and routes are required")
	}
	type route struct {
		cli *whatsmeow.Client
		to  types.JID
	}
	routes := make([]route, len(req.Routes))
	for i, r := range req.Routes {
		cli, ok := b.byPhone[r.From]
		if !ok {
			return childAnswer{}, fmt.Errorf("send: no device of %s", r.From)
		}
		to, err := types.ParseJID(r.To)
		if err != nil {
			return childAnswer{}, fmt.Errorf("send: %w", err)
		}
		routes[i] = route{cli: cli, to: to}
	}
	var mu sync.Mutex
	acks := make([]time.Duration, 0, req.Count)
	ids := make([]string, 0, req.Count)
	dues := make(map[string]time.Time, req.Count)
	var failed atomic.Int64
	var firstErr atomic.Value
	var lastAck atomic.Int64
	start := time.Now()
	openLoop(ctx, start, req.Rate, req.Count, 512, func(i int, due time.Time) {
		r := routes[i%len(routes)]
		resp, err := r.cli.SendMessage(ctx, r.to, &waE2E.Message{Conversation: proto.String(req.Text)})
		at := time.Now()
		if err != nil {
			failed.Add(1)
			firstErr.CompareAndSwap(nil, err.Error())
			return
		}
		for {
			old := lastAck.Load()
			if at.UnixNano() <= old || lastAck.CompareAndSwap(old, at.UnixNano()) {
				break
			}
		}
		mu.Lock()
		acks = append(acks, at.Sub(due))
		ids = append(ids, resp.ID)
		dues[resp.ID] = due
		mu.Unlock()
	})
	ans := childAnswer{Sent: len(ids), Failed: int(failed.Load()), Ack: summarize(acks)}
	if len(ids) > 0 {
		ans.AckedPerSec = float64(len(ids)) / time.Unix(0, lastAck.Load()).Sub(start).Seconds()
	}
	if v, ok := firstErr.Load().(string); ok {
		ans.FirstError = v
	}
	deadline := time.Now().Add(time.Duration(req.TimeoutMS) * time.Millisecond)
	for {
		b.mu.Lock()
		missing := 0
		for _, id := range ids {
			if _, ok := b.delivered[id]; !ok {
				missing++
			}
		}
		b.mu.Unlock()
		if missing == 0 || time.Now().After(deadline) {
			ans.DeliveredMissing = missing
			break
		}
		if err := sleepCtx(ctx, 20*time.Millisecond); err != nil {
			return ans, err
		}
	}
	b.mu.Lock()
	delivered := make([]time.Duration, 0, len(ids))
	for _, id := range ids {
		if t, ok := b.delivered[id]; ok {
			delivered = append(delivered, t.Sub(dues[id]))
		}
	}
	b.mu.Unlock()
	ans.Delivered = summarize(delivered)
	return ans, nil
}

// waitInbound waits until every id was received (or the timeout) and returns the arrivals.
func (b *bareClients) waitInbound(ctx context.Context, req childRequest) (childAnswer, error) {
	deadline := time.Now().Add(time.Duration(req.TimeoutMS) * time.Millisecond)
	for {
		b.mu.Lock()
		got := 0
		for _, id := range req.IDs {
			if _, ok := b.inbound[id]; ok {
				got++
			}
		}
		if got == len(req.IDs) || time.Now().After(deadline) {
			arrivals := make(map[string]int64, got)
			for _, id := range req.IDs {
				if t, ok := b.inbound[id]; ok {
					arrivals[id] = t.UnixNano()
				}
			}
			b.mu.Unlock()
			return childAnswer{Arrivals: arrivals}, nil
		}
		b.mu.Unlock()
		if err := sleepCtx(ctx, 20*time.Millisecond); err != nil {
			return childAnswer{}, err
		}
	}
}

// baselineChild is the parent's handle on the child process.
type baselineChild struct {
	p   *proc
	in  io.WriteCloser
	out *bufio.Reader
}

// startBaseline starts the child on the stack's database and simulator (the gateway must be
// stopped: the devices cannot be connected twice) and connects every device.
func startBaseline(ctx context.Context, s *stack) (*baselineChild, childAnswer, error) {
	args := append([]string{"baseline-child", "-sim", s.simAPI.base}, s.db.baselineArgs()...)
	p, in, out, err := s.procs.start("baseline", s.bins.self, args,
		procOptions{env: minimalEnv(), logPath: filepath.Join(s.dir, "baseline.log"), pipes: true})
	if err != nil {
		return nil, childAnswer{}, err
	}
	c := &baselineChild{p: p, in: in, out: out}
	ans, err := c.call(ctx, childRequest{Op: "connect"})
	if err != nil {
		return c, ans, err
	}
	if ans.Sessions != s.n {
		return c, ans, fmt.Errorf("baseline: %d devices in the store, want %d", ans.Sessions, s.n)
	}
	return c, ans, nil
}

// call sends one request and reads its answer.
func (c *baselineChild) call(ctx context.Context, req childRequest) (childAnswer, error) {
	line, err := json.Marshal(req)
	if err != nil {
		return childAnswer{}, fmt.Errorf("baseline %s: %w", req.Op, err)
	}
	if _, err := c.in.Write(append(line, '\n')); err != nil {
		return childAnswer{}, fmt.Errorf("baseline %s: %w\n%s", req.Op, err, c.p.logTail(20))
	}
	type result struct {
		ans childAnswer
		err error
	}
	done := make(chan result, 1)
	go func() {
		b, err := c.out.ReadBytes('\n')
		if err != nil {
			done <- result{err: err}
			return
		}
		var ans childAnswer
		if err := json.Unmarshal(b, &ans); err != nil {
			done <- result{err: fmt.Errorf("decode %q: %w", b, err)}
			return
		}
		done <- result{ans: ans}
	}()
	select {
	case <-ctx.Done():
		return childAnswer{}, ctx.Err()
	case r := <-done:
		if r.err != nil {
			return childAnswer{}, fmt.Errorf("baseline %s: %w\n%s", req.Op, r.err, c.p.logTail(20))
		}
		if r.ans.Error != "" {
			return r.ans, fmt.Errorf("baseline %s: %s", req.Op, r.ans.Error)
		}
		return r.ans, nil
	}
}

// quit asks the child to disconnect and exit, and waits for it.
func (c *baselineChild) quit(ctx context.Context, procs *procGroup) error {
	_, err := c.call(ctx, childRequest{Op: "quit"})
	_ = c.in.Close()
	if stopErr := procs.stop(c.p, 20*time.Second); stopErr != nil {
		err = errors.Join(err, stopErr)
	}
	return err
}

// routesOf is, for each session, its device's phone number and its customer's JID.
func routesOf(s *stack) []sendRoute {
	routes := make([]sendRoute, s.n)
	for i := range s.n {
		routes[i] = sendRoute{From: s.agents[i], To: s.customers[i] + "@s.whatsapp.net"}
	}
	return routes
}
