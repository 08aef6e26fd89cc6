package wasim

import (
	"context"
	"crypto/cipher"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"
	waBinary "go.mau.fi/whatsmeow/binary"
	"go.mau.fi/whatsmeow/proto/waWa6"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/util/keys"
	"google.golang.org/protobuf/proto"
)

// provisionDevice registers a companion without the QR flow (benchmarks only).
func (s *Simulator) provisionDevice(number string, noise *keys.KeyPair) types.JID {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.ensureAccount(number)
	d := &device{acc: a, id: a.nextDev, state: DeviceActive, noisePub: *noise.Pub, regID: 1, platform: "bench", pairedAt: time.Now()}
	a.nextDev++
	a.devices[d.id] = d
	return d.jid(types.DefaultUserServer)
}

// rawClient is a minimal client of the simulator's transport (websocket, Noise XX, binary
// XML) without a whatsmeow Client: one read goroutine, inline writes. It logs in, acknowledges
// the messages it receives and counts them.
type rawClient struct {
	jid      types.JID
	ws       *websocket.Conn
	wmu      sync.Mutex
	wc, rc   cipher.AEAD
	wn, rn   uint32
	ready    chan struct{}
	received *atomic.Int64
	once     sync.Once
	inbuf    []byte
	// nodes, when set, receives every other stanza (protocol tests).
	nodes chan *waBinary.Node
	// window, when set, gets one slot back per message received (benchmark flow control).
	window chan struct{}
}

func (rc *rawClient) readFrame(ctx context.Context) ([]byte, error) {
	for {
		if len(rc.inbuf) >= 3 {
			n := int(rc.inbuf[0])<<16 | int(rc.inbuf[1])<<8 | int(rc.inbuf[2])
			if len(rc.inbuf) >= 3+n {
				f := rc.inbuf[3 : 3+n]
				rc.inbuf = rc.inbuf[3+n:]
				return f, nil
			}
		}
		_, data, err := rc.ws.Read(ctx)
		if err != nil {
			return nil, err
		}
		rc.inbuf = append(rc.inbuf, data...)
	}
}

func writeRawFrame(ctx context.Context, ws *websocket.Conn, prefix, data []byte) error {
	buf := append(append([]byte(nil), prefix...), byte(len(data)>>16), byte(len(data)>>8), byte(len(data)))
	return ws.Write(ctx, websocket.MessageBinary, append(buf, data...))
}

// rawOptions are a raw client's observers; all optional.
type rawOptions struct {
	received *atomic.Int64
	nodes    chan *waBinary.Node
	window   chan struct{}
}

func dialRaw(ctx context.Context, s *Simulator, jid types.JID, noise *keys.KeyPair, o rawOptions) (*rawClient, error) {
	ws, _, err := websocket.Dial(ctx, "ws://"+s.Addr()+"/ws/chat", &websocket.DialOptions{HTTPClient: s.HTTPClient()})
	if err != nil {
		return nil, err
	}
	ws.SetReadLimit(frameMaxSize + 16)
	if o.received == nil {
		o.received = new(atomic.Int64)
	}
	rc := &rawClient{jid: jid, ws: ws, ready: make(chan struct{}), received: o.received, nodes: o.nodes, window: o.window}
	eph := keys.NewKeyPair()
	ns, err := newNoiseState(waHeader)
	if err != nil {
		return nil, err
	}
	ns.authenticate(eph.Pub[:])
	hello, _ := proto.Marshal(&waWa6.HandshakeMessage{ClientHello: &waWa6.HandshakeMessage_ClientHello{Ephemeral: eph.Pub[:]}})
	if err := writeRawFrame(ctx, ws, waHeader, hello); err != nil {
		return nil, err
	}
	resp, err := rc.readFrame(ctx)
	if err != nil {
		return nil, err
	}
	var hm waWa6.HandshakeMessage
	if err := proto.Unmarshal(resp, &hm); err != nil {
		return nil, err
	}
	sh := hm.GetServerHello()
	ns.authenticate(sh.GetEphemeral())
	if err := ns.mixDH(eph.Priv[:], sh.GetEphemeral()); err != nil {
		return nil, err
	}
	static, err := ns.decrypt(sh.GetStatic())
	if err != nil {
		return nil, err
	}
	if err := ns.mixDH(eph.Priv[:], static); err != nil {
		return nil, err
	}
	if _, err := ns.decrypt(sh.GetPayload()); err != nil {
		return nil, err
	}
	encStatic := ns.encrypt(noise.Pub[:])
	if err := ns.mixDH(noise.Priv[:], sh.GetEphemeral()); err != nil {
		return nil, err
	}
	user, _ := strconv.ParseUint(jid.User, 10, 64)
	payload, _ := proto.Marshal(&waWa6.ClientPayload{
		Username: proto.Uint64(user), Device: proto.Uint32(uint32(jid.Device)), Passive: proto.Bool(false),
	})
	finish, _ := proto.Marshal(&waWa6.HandshakeMessage{ClientFinish: &waWa6.HandshakeMessage_ClientFinish{
		Static: encStatic, Payload: ns.encrypt(payload),
	}})
	if err := writeRawFrame(ctx, ws, nil, finish); err != nil {
		return nil, err
	}
	// The server reads with the first transport key, so the client writes with it.
	if rc.wc, rc.rc, err = ns.split(); err != nil {
		return nil, err
	}
	go rc.readLoop(context.WithoutCancel(ctx))
	select {
	case <-rc.ready:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return rc, nil
}

func (rc *rawClient) readLoop(ctx context.Context) {
	for {
		frame, err := rc.readFrame(ctx)
		if err != nil {
			return
		}
		plain, err := rc.rc.Open(nil, noiseIV(rc.rn), frame, nil)
		rc.rn++
		if err != nil {
			return
		}
		rc.handleFrame(ctx, plain)
	}
}

func (rc *rawClient) handleFrame(ctx context.Context, data []byte) {
	node, err := decodeWire(data)
	if err != nil {
		return
	}
	switch node.Tag {
	case "success":
		rc.once.Do(func() { close(rc.ready) })
	case "message":
		_ = rc.sendNode(ctx, waBinary.Node{Tag: "ack", Attrs: waBinary.Attrs{
			"class": "message", "id": node.Attrs["id"], "to": node.Attrs["from"],
		}})
		rc.received.Add(1)
		if rc.window != nil {
			<-rc.window
		}
	}
	if rc.nodes != nil && node.Tag != "success" {
		rc.nodes <- node
	}
}

func (rc *rawClient) sendNode(ctx context.Context, n waBinary.Node) error {
	data, err := waBinary.Marshal(n)
	if err != nil {
		return err
	}
	rc.wmu.Lock()
	defer rc.wmu.Unlock()
	ct := rc.wc.Seal(nil, noiseIV(rc.wn), data, nil)
	rc.wn++
	return writeRawFrame(ctx, rc.ws, nil, ct)
}

func (rc *rawClient) send(ctx context.Context, to types.JID, id string, payload []byte) error {
	return rc.sendNode(ctx, waBinary.Node{
		Tag:   "message",
		Attrs: waBinary.Attrs{"id": id, "to": to.ToNonAD(), "type": "text"},
		Content: []waBinary.Node{{Tag: "participants", Content: []waBinary.Node{{
			Tag: "to", Attrs: waBinary.Attrs{"jid": to},
			Content: []waBinary.Node{{Tag: "enc", Attrs: waBinary.Attrs{"v": "2", "type": "msg"}, Content: payload}},
		}}}},
	})
}

func (rc *rawClient) close() { _ = rc.ws.CloseNow() }

func benchDevices() int {
	if n, err := strconv.Atoi(os.Getenv("WASIM_BENCH_DEVICES")); err == nil && n >= 2 {
		return n
	}
	return 2000
}

// BenchmarkRouting connects WASIM_BENCH_DEVICES (default 2000) raw-client devices, then routes
// b.N one-to-one messages between pairs of them (32 senders, 512 messages in flight; each
// message is received, acknowledged by the receiver and acknowledged to the sender).
// Reported: routed msgs/s end to end, and heap+stack per connected device for the server and
// the raw client together (the clients run in the same process). WASIM_BENCH_HEAPPROFILE=path
// writes a heap profile after connecting, to split the two:
//
//	CGO_ENABLED=0 go test ./channels/whatsapp/wasim -run X -bench Routing -benchtime 200000x
func BenchmarkRouting(b *testing.B) {
	n := benchDevices()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sim, err := New(Options{Config: Config{RoutedLogSize: -1}})
	require.NoError(b, err)
	require.NoError(b, sim.Start(ctx))
	defer sim.Close()

	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	goBefore := runtime.NumGoroutine()

	var received atomic.Int64
	const senders = 32
	const window = 512
	inflight := make(chan struct{}, window)
	clients := make([]*rawClient, n)
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	sem := make(chan struct{}, 64)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			noise := keys.NewKeyPair()
			jid := sim.provisionDevice(fmt.Sprintf("55%011d", i+1), noise)
			rc, err := dialRaw(ctx, sim, jid, noise, rawOptions{received: &received, window: inflight})
			if err != nil {
				errs <- err
				return
			}
			clients[i] = rc
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(b, err)
	}
	connectTime := time.Since(start)
	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	perDevice := float64(after.HeapInuse+after.StackInuse-before.HeapInuse-before.StackInuse) / float64(n)
	goroutines := float64(runtime.NumGoroutine()-goBefore) / float64(n)
	if path := os.Getenv("WASIM_BENCH_HEAPPROFILE"); path != "" {
		// Split the memory between simulator and raw clients: go tool pprof -top <path>.
		f, err := os.Create(path)
		require.NoError(b, err)
		require.NoError(b, pprof.WriteHeapProfile(f))
		require.NoError(b, f.Close())
	}

	payload := make([]byte, 120)
	b.ResetTimer()
	received.Store(0)
	t0 := time.Now()
	var next atomic.Int64
	var sendWG sync.WaitGroup
	for w := range senders {
		sendWG.Add(1)
		go func() {
			defer sendWG.Done()
			for {
				k := next.Add(1) - 1
				if k >= int64(b.N) {
					return
				}
				inflight <- struct{}{}
				pair := int(k) % (n / 2)
				from, to := clients[2*pair], clients[2*pair+1]
				if k%2 == 1 {
					from, to = to, from
				}
				if err := from.send(ctx, to.jid, fmt.Sprintf("B%d-%d", w, k), payload); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	deadline := time.Now().Add(5 * time.Minute)
	for received.Load() < int64(b.N) {
		if time.Now().After(deadline) {
			b.Fatalf("only %d/%d messages arrived", received.Load(), b.N)
		}
		time.Sleep(time.Millisecond)
	}
	elapsed := time.Since(t0)
	b.StopTimer()
	sendWG.Wait()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
	b.ReportMetric(perDevice/1024, "KiB/device")
	b.ReportMetric(goroutines, "goroutines/device")
	b.ReportMetric(connectTime.Seconds(), "s-connect-all")
	for _, c := range clients {
		c.close()
	}
}
