package wasim

import (
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	waBinary "go.mau.fi/whatsmeow/binary"
	"go.mau.fi/whatsmeow/types"
)

// Failure reasons of <failure reason=N> and what whatsmeow makes of them.
const (
	FailureLoggedOut          = 401 // events.LoggedOut{OnConnect: true}, store deleted
	FailureTempBanned         = 402 // events.TemporaryBan
	FailureMainDeviceGone     = 403 // events.LoggedOut
	FailureClientOutdated     = 405 // events.ClientOutdated
	FailureServiceUnavailable = 503 // automatic reconnect
)

// ErrNotConnected is returned by faults that need a live connection.
var ErrNotConnected = errors.New("device is not connected")

// Faults injects failures. The zero configuration injects nothing. Device-scoped faults take a
// device JID in PN or LID form; refusals may also name a whole account (device 0 JID).
type Faults struct {
	sim     *Simulator
	mu      sync.Mutex
	devices map[string]*deviceFaults // by LID device JID string
	refuse  *refusal                 // global login refusal
	// armed is set once any device fault was configured: the hot paths skip all locking before.
	armed atomic.Bool
}

type refusal struct {
	reason int
	extra  map[string]any
	count  int // remaining refusals; <0 = until cleared
}

type deviceFaults struct {
	ackDelay  time.Duration
	dropAcks  int // remaining dropped acks; <0 = all
	linkDelay time.Duration
	corrupt   int // remaining messages whose ciphertext is corrupted
	refuse    *refusal
}

func (f *Faults) key(j types.JID) (string, *device) {
	s := f.sim
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.accountFor(j)
	if a == nil {
		return "", nil
	}
	d := a.devices[j.Device]
	k := types.JID{User: a.lid, Server: types.HiddenUserServer, Device: j.Device}
	return k.String(), d
}

func (f *Faults) with(j types.JID, fn func(*deviceFaults)) error {
	k, _ := f.key(j)
	if k == "" {
		return ErrUnknownUser
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	df := f.devices[k]
	if df == nil {
		df = &deviceFaults{}
		f.devices[k] = df
	}
	fn(df)
	f.armed.Store(true)
	return nil
}

func (f *Faults) get(d *device) *deviceFaults {
	k := d.jid(types.HiddenUserServer).String()
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.devices[k]
}

// liveConn returns the device's connection.
func (f *Faults) liveConn(j types.JID) (*conn, error) {
	_, d := f.key(j)
	if d == nil {
		return nil, ErrUnknownUser
	}
	f.sim.mu.Lock()
	c := d.conn
	f.sim.mu.Unlock()
	if c == nil {
		return nil, ErrNotConnected
	}
	return c, nil
}

// DropConnection closes the device's socket: whatsmeow emits Disconnected and reconnects.
func (f *Faults) DropConnection(j types.JID) error {
	c, err := f.liveConn(j)
	if err != nil {
		return err
	}
	c.close()
	return nil
}

// Replace sends <stream:error><conflict type="replaced"/>: whatsmeow emits StreamReplaced.
func (f *Faults) Replace(j types.JID) error {
	c, err := f.liveConn(j)
	if err != nil {
		return err
	}
	c.sendAndClose(streamError(0, "replaced"))
	return nil
}

// DeviceRemoved unlinks the device (as from the phone's linked-devices screen): a connected
// client gets <stream:error code=401><conflict type=device_removed/> (LoggedOut), later logins 401.
func (f *Faults) DeviceRemoved(j types.JID) error {
	_, d := f.key(j)
	if d == nil || d.id == 0 {
		return ErrUnknownUser
	}
	s := f.sim
	s.mu.Lock()
	d.state = DeviceRemoved
	d.queue, d.sent, d.prekeys = nil, 0, nil
	c := d.conn
	s.mu.Unlock()
	if c != nil {
		c.sendAndClose(streamError(401, "device_removed"))
	}
	s.notifyDeviceChange(d, "remove")
	return nil
}

// Fail sends <failure reason=N> to a connected device and closes. extra adds attributes
// (for 402: "code" and "expire" in seconds).
func (f *Faults) Fail(j types.JID, reason int, extra map[string]any) error {
	c, err := f.liveConn(j)
	if err != nil {
		return err
	}
	c.sendAndClose(failureNode(reason, extra))
	return nil
}

// Ban is Fail with 402 and an expiry, i.e. events.TemporaryBan{Code, Expire}.
func (f *Faults) Ban(j types.JID, code int, expire time.Duration) error {
	return f.Fail(j, FailureTempBanned, map[string]any{"code": code, "expire": int64(expire / time.Second)})
}

func failureNode(reason int, extra map[string]any) waBinary.Node {
	attrs := waBinary.Attrs{"reason": strconv.Itoa(reason), "location": "sim"}
	for k, v := range extra {
		attrs[k] = v
	}
	return waBinary.Node{Tag: "failure", Attrs: attrs}
}

// RefuseLogins answers the next count logins (count < 0: all, until ClearRefusal) with
// <failure reason=N>. An empty JID refuses every device, an account's JID (device 0, or a phone
// number over the control API) every device of that account, a device JID that device.
func (f *Faults) RefuseLogins(j types.JID, reason int, count int, extra map[string]any) error {
	r := &refusal{reason: reason, extra: extra, count: count}
	if j.IsEmpty() {
		f.mu.Lock()
		f.refuse = r
		f.mu.Unlock()
		return nil
	}
	return f.with(j, func(df *deviceFaults) { df.refuse = r })
}

// ClearRefusal stops refusing logins (globally and for every device).
func (f *Faults) ClearRefusal() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.refuse = nil
	for _, df := range f.devices {
		df.refuse = nil
	}
}

func (f *Faults) refusal(number string, dev uint16) (int, map[string]any, bool) {
	var k, account string
	f.sim.mu.Lock()
	if a := f.sim.accounts[number]; a != nil {
		k = types.JID{User: a.lid, Server: types.HiddenUserServer, Device: dev}.String()
		// Phones (device 0) never log in: a refusal set on the account's JID is the account's.
		account = types.JID{User: a.lid, Server: types.HiddenUserServer}.String()
	}
	f.sim.mu.Unlock()
	f.mu.Lock()
	defer f.mu.Unlock()
	take := func(r *refusal) (int, map[string]any, bool) {
		if r == nil || r.count == 0 {
			return 0, nil, false
		}
		if r.count > 0 {
			r.count--
		}
		return r.reason, r.extra, true
	}
	for _, key := range []string{k, account} {
		if df := f.devices[key]; df != nil {
			if reason, extra, ok := take(df.refuse); ok {
				return reason, extra, ok
			}
		}
	}
	return take(f.refuse)
}

// DelayAcks delays the server's <ack> to the device's messages by d (0 clears).
func (f *Faults) DelayAcks(j types.JID, d time.Duration) error {
	return f.with(j, func(df *deviceFaults) { df.ackDelay = d })
}

// DropAcks swallows the server's next n acks to the device's messages (n < 0: all; 0 clears).
// The messages are still routed; the client times out or resends, and resends are deduplicated.
func (f *Faults) DropAcks(j types.JID, n int) error {
	return f.with(j, func(df *deviceFaults) { df.dropAcks = n })
}

// SlowLink delays everything the server writes to the device by d (0 clears).
func (f *Faults) SlowLink(j types.JID, d time.Duration) error {
	return f.with(j, func(df *deviceFaults) { df.linkDelay = d })
}

// CorruptNext scrambles the ciphertext (all but its version byte) of the next n messages routed
// to the device, so that it fails to decrypt and sends a retry receipt.
func (f *Faults) CorruptNext(j types.JID, n int) error {
	return f.with(j, func(df *deviceFaults) { df.corrupt = n })
}

func (f *Faults) ackFault(d *device) (drop bool, delay time.Duration) {
	if !f.armed.Load() {
		return false, 0
	}
	df := f.get(d)
	if df == nil {
		return false, 0
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if df.dropAcks != 0 {
		if df.dropAcks > 0 {
			df.dropAcks--
		}
		return true, 0
	}
	return false, df.ackDelay
}

func (f *Faults) linkDelay(c *conn) time.Duration {
	if !f.armed.Load() {
		return 0
	}
	f.sim.mu.Lock()
	d := c.dev
	f.sim.mu.Unlock()
	if d == nil {
		return 0
	}
	if df := f.get(d); df != nil {
		f.mu.Lock()
		defer f.mu.Unlock()
		return df.linkDelay
	}
	return 0
}

// maybeCorrupt is called under Simulator.mu; it only takes f.mu.
func (f *Faults) maybeCorrupt(d *device, enc waBinary.Node) waBinary.Node {
	if !f.armed.Load() {
		return enc
	}
	k := d.jid(types.HiddenUserServer).String()
	f.mu.Lock()
	defer f.mu.Unlock()
	df := f.devices[k]
	if df == nil || df.corrupt <= 0 {
		return enc
	}
	df.corrupt--
	b, ok := enc.Content.([]byte)
	if !ok || len(b) == 0 {
		return enc
	}
	// Keep the version byte, scramble the rest: parsing or the MAC check fails, never silently.
	c := append([]byte(nil), b...)
	for i := 1; i < len(c); i++ {
		c[i] ^= 0x5a
	}
	enc.Content = c
	return enc
}
