package wasim

import (
	"bytes"
	"context"
	"crypto/cipher"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	waBinary "go.mau.fi/whatsmeow/binary"
	"go.mau.fi/whatsmeow/proto/waWa6"
	"go.mau.fi/whatsmeow/util/keys"
	"google.golang.org/protobuf/proto"
)

const (
	frameMaxSize   = 1 << 24
	handshakeLimit = 20 * time.Second
)

var waHeader = []byte{'W', 'A', 6, 3}

// conn is one client websocket. Reads happen on the handler goroutine; writes from any
// goroutine under writeMu (lock order: writeMu before Simulator.mu).
type conn struct {
	sim    *Simulator
	ws     *websocket.Conn
	ctx    context.Context
	cancel context.CancelFunc
	closed atomic.Bool

	writeMu sync.Mutex
	wcipher cipher.AEAD
	wcount  uint32
	rcipher cipher.AEAD
	rcount  uint32

	noisePub [32]byte
	payload  *waWa6.ClientPayload

	// dev is set after login (under Simulator.mu).
	dev *device
	reg *registration

	inbuf []byte
}

func (s *Simulator) serveWS(w http.ResponseWriter, r *http.Request) {
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{
		InsecureSkipVerify: true, // the Origin is https://web.whatsapp.com
		CompressionMode:    websocket.CompressionDisabled,
	})
	if err != nil {
		s.log.Debug("websocket accept", slog.Any("error", err))
		return
	}
	ws.SetReadLimit(frameMaxSize + 16)
	ctx, cancel := context.WithCancel(context.Background())
	c := &conn{sim: s, ws: ws, ctx: ctx, cancel: cancel}
	s.trackConn(c, true)
	s.stats.connections.Add(1)
	defer func() {
		c.close()
		s.trackConn(c, false)
		s.stats.connections.Add(-1)
		s.detach(c)
	}()
	if err := c.handshake(); err != nil {
		s.log.Debug("noise handshake", slog.Any("error", err))
		return
	}
	if err := s.authenticate(c); err != nil {
		s.log.Debug("authenticate", slog.Any("error", err))
		// Keep reading (and discarding) until the client or the grace timer closes, so the
		// <failure> is not lost to an early close.
		for {
			if _, _, err := c.ws.Read(c.ctx); err != nil {
				return
			}
		}
	}
	c.readLoop()
}

// readFrame returns the next frame, splitting websocket messages that hold several.
func (c *conn) readFrame(ctx context.Context) ([]byte, error) {
	for {
		if len(c.inbuf) >= 3 {
			n := int(c.inbuf[0])<<16 | int(c.inbuf[1])<<8 | int(c.inbuf[2])
			if len(c.inbuf) >= 3+n {
				frame := c.inbuf[3 : 3+n]
				c.inbuf = c.inbuf[3+n:]
				if len(c.inbuf) == 0 {
					c.inbuf = nil
				}
				return frame, nil
			}
		}
		typ, data, err := c.ws.Read(ctx)
		if err != nil {
			return nil, fmt.Errorf("read websocket: %w", err)
		}
		if typ != websocket.MessageBinary {
			continue
		}
		if c.inbuf == nil {
			c.inbuf = data
		} else {
			c.inbuf = append(c.inbuf, data...)
		}
	}
}

// writeFrame sends one handshake frame as its own websocket message (a frame is never split
// across messages: whatsmeow cannot reassemble that). Caller holds writeMu or is the handshake.
func (c *conn) writeFrame(data []byte) error {
	buf := make([]byte, 3+len(data))
	buf[0], buf[1], buf[2] = byte(len(data)>>16), byte(len(data)>>8), byte(len(data))
	copy(buf[3:], data)
	ctx, cancel := context.WithTimeout(c.ctx, 30*time.Second)
	defer cancel()
	return c.ws.Write(ctx, websocket.MessageBinary, buf)
}

func (c *conn) handshake() error {
	ctx, cancel := context.WithTimeout(c.ctx, handshakeLimit)
	defer cancel()
	typ, first, err := c.ws.Read(ctx)
	if err != nil {
		return fmt.Errorf("read hello: %w", err)
	}
	if typ != websocket.MessageBinary || len(first) < len(waHeader) || !bytes.Equal(first[:2], waHeader[:2]) {
		return errors.New("missing WA header")
	}
	header := first[:4]
	c.inbuf = append([]byte(nil), first[4:]...)
	hello, err := c.readFrame(ctx)
	if err != nil {
		return err
	}
	var hm waWa6.HandshakeMessage
	if err := proto.Unmarshal(hello, &hm); err != nil {
		return fmt.Errorf("unmarshal client hello: %w", err)
	}
	clientEph := hm.GetClientHello().GetEphemeral()
	if len(clientEph) != 32 {
		return errors.New("client hello without ephemeral key")
	}
	ns, err := newNoiseState(header)
	if err != nil {
		return err
	}
	ns.authenticate(clientEph)
	eph := keys.NewKeyPair()
	ns.authenticate(eph.Pub[:])
	if err := ns.mixDH(eph.Priv[:], clientEph); err != nil {
		return err
	}
	encStatic := ns.encrypt(c.sim.static.Pub[:])
	if err := ns.mixDH(c.sim.static.Priv[:], clientEph); err != nil {
		return err
	}
	encCert := ns.encrypt(c.sim.certChain)
	resp, err := proto.Marshal(&waWa6.HandshakeMessage{ServerHello: &waWa6.HandshakeMessage_ServerHello{
		Ephemeral: eph.Pub[:], Static: encStatic, Payload: encCert,
	}})
	if err != nil {
		return fmt.Errorf("marshal server hello: %w", err)
	}
	if err := c.writeFrame(resp); err != nil {
		return fmt.Errorf("send server hello: %w", err)
	}
	finish, err := c.readFrame(ctx)
	if err != nil {
		return err
	}
	if err := proto.Unmarshal(finish, &hm); err != nil {
		return fmt.Errorf("unmarshal client finish: %w", err)
	}
	clientStatic, err := ns.decrypt(hm.GetClientFinish().GetStatic())
	if err != nil {
		return fmt.Errorf("client static: %w", err)
	}
	if len(clientStatic) != 32 {
		return errors.New("client static key is not 32 bytes")
	}
	if err := ns.mixDH(eph.Priv[:], clientStatic); err != nil {
		return err
	}
	payloadBytes, err := ns.decrypt(hm.GetClientFinish().GetPayload())
	if err != nil {
		return fmt.Errorf("client payload: %w", err)
	}
	var payload waWa6.ClientPayload
	if err := proto.Unmarshal(payloadBytes, &payload); err != nil {
		return fmt.Errorf("unmarshal client payload: %w", err)
	}
	if c.rcipher, c.wcipher, err = ns.split(); err != nil {
		return err
	}
	c.noisePub = [32]byte(clientStatic)
	c.payload = &payload
	return nil
}

func (c *conn) readLoop() {
	for {
		frame, err := c.readFrame(c.ctx)
		if err != nil {
			return
		}
		c.sim.stats.framesIn.Add(1)
		plain, err := c.rcipher.Open(frame[:0], noiseIV(c.rcount), frame, nil)
		c.rcount++
		if err != nil {
			c.sim.log.Debug("decrypt frame", slog.Any("error", err))
			return
		}
		unpacked, err := waBinary.Unpack(plain)
		if err != nil {
			c.sim.log.Debug("unpack frame", slog.Any("error", err))
			continue
		}
		node, err := waBinary.Unmarshal(unpacked)
		if err != nil {
			c.sim.log.Debug("unmarshal node", slog.Any("error", err))
			continue
		}
		c.sim.handleNode(c, node)
	}
}

// writeData encrypts and sends one marshalled node. Caller holds writeMu.
func (c *conn) writeData(data []byte) error {
	return c.writeBatch([][]byte{data})
}

// maxBatch bounds how many bytes of frames share one websocket message.
const maxBatch = 64 << 10

// writeBatch encrypts nodes into frames and sends them, several whole frames per websocket
// message (clients split messages into frames; they only break on a frame cut in two).
// Caller holds writeMu.
func (c *conn) writeBatch(batch [][]byte) error {
	if c.closed.Load() {
		return errors.New("connection closed")
	}
	var buf []byte
	for i, data := range batch {
		n := len(data) + c.wcipher.Overhead()
		buf = append(buf, byte(n>>16), byte(n>>8), byte(n))
		buf = c.wcipher.Seal(buf, noiseIV(c.wcount), data, nil)
		c.wcount++
		c.sim.stats.framesOut.Add(1)
		if len(buf) >= maxBatch || i == len(batch)-1 {
			if err := c.writeMessage(buf); err != nil {
				go c.close()
				return err
			}
			buf = buf[:0]
		}
	}
	return nil
}

func (c *conn) writeMessage(buf []byte) error {
	ctx, cancel := context.WithTimeout(c.ctx, 30*time.Second)
	defer cancel()
	return c.ws.Write(ctx, websocket.MessageBinary, buf)
}

// send marshals and writes a node that needs no acknowledgement (iq results, acks, errors).
func (c *conn) send(node waBinary.Node) {
	data, err := waBinary.Marshal(node)
	if err != nil {
		c.sim.log.Error("marshal node", slog.String("tag", node.Tag), slog.Any("error", err))
		return
	}
	if d := c.sim.Faults.linkDelay(c); d > 0 {
		time.AfterFunc(d, func() { c.writeRaw(data) })
		return
	}
	c.writeRaw(data)
}

func (c *conn) writeRaw(data []byte) {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	_ = c.writeData(data)
}

// flush writes the device's queued stanzas that this connection has not sent yet.
func (c *conn) flush() {
	if d := c.sim.Faults.linkDelay(c); d > 0 {
		time.AfterFunc(d, c.flushNow)
		return
	}
	c.flushNow()
}

func (c *conn) flushNow() {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	for {
		s := c.sim
		s.mu.Lock()
		d := c.dev
		if d == nil || d.conn != c || !d.active || d.sent >= len(d.queue) {
			s.mu.Unlock()
			return
		}
		batch := make([][]byte, 0, len(d.queue)-d.sent)
		for _, st := range d.queue[d.sent:] {
			batch = append(batch, st.data)
		}
		d.sent = len(d.queue)
		s.mu.Unlock()
		if err := c.writeBatch(batch); err != nil {
			return
		}
	}
}

// close ends the connection without a close frame (the client sees a remote disconnect).
func (c *conn) close() {
	if !c.closed.CompareAndSwap(false, true) {
		return
	}
	c.cancel()
	_ = c.ws.CloseNow()
}

// finalStanzaGrace is how long a connection stays open after a final stanza (stream error,
// failure): whatsmeow drops queued stanzas when the socket closes under it, so it must have
// time to handle the stanza (it usually disconnects by itself first).
const finalStanzaGrace = 2 * time.Second

// sendAndClose sends a final stanza, stops routing to the connection at once and closes it
// after finalStanzaGrace.
func (c *conn) sendAndClose(node waBinary.Node) {
	c.send(node)
	c.sim.detach(c)
	time.AfterFunc(finalStanzaGrace, c.close)
}

// streamError builds <stream:error code=...> with an optional <conflict type=...>.
func streamError(code int, conflict string) waBinary.Node {
	n := waBinary.Node{Tag: "stream:error", Attrs: waBinary.Attrs{}}
	if code != 0 {
		n.Attrs["code"] = strconv.Itoa(code)
	}
	if conflict != "" {
		n.Content = []waBinary.Node{{Tag: "conflict", Attrs: waBinary.Attrs{"type": conflict}}}
	}
	return n
}
