package wasim

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	waBinary "go.mau.fi/whatsmeow/binary"
	"go.mau.fi/whatsmeow/proto/waCompanionReg"
	"go.mau.fi/whatsmeow/types"
	"google.golang.org/protobuf/proto"
)

// registration is the pairing data of a connection that is not yet a device.
type registration struct {
	identity [32]byte
	regID    uint32
	skeyID   uint32
	skeyPub  [32]byte
	skeySig  [64]byte
	platform string
	refs     []string
	// set while a phone completes the pairing
	pairIQ   string
	pairDone chan error
	device   *device
	// pairing code state (pair-code.go)
	code *codePairing
}

func (s *Simulator) authenticate(c *conn) error {
	p := c.payload
	if dp := p.GetDevicePairingData(); dp != nil {
		return s.startRegistration(c)
	}
	if p.Username == nil {
		c.sendAndClose(waBinary.Node{Tag: "failure", Attrs: waBinary.Attrs{"reason": "401"}})
		return errors.New("login without username")
	}
	number := strconv.FormatUint(p.GetUsername(), 10)
	devID := uint16(p.GetDevice())

	if reason, extra, ok := s.Faults.refusal(number, devID); ok {
		attrs := waBinary.Attrs{"reason": strconv.Itoa(reason), "location": "sim"}
		for k, v := range extra {
			attrs[k] = v
		}
		c.sendAndClose(waBinary.Node{Tag: "failure", Attrs: attrs})
		return fmt.Errorf("login refused by fault (%d)", reason)
	}

	s.mu.Lock()
	a := s.accounts[number]
	var d *device
	if a != nil {
		d = a.devices[devID]
	}
	if d == nil || d.state != DeviceActive || d.noisePub != c.noisePub || devID == 0 {
		s.mu.Unlock()
		c.sendAndClose(waBinary.Node{Tag: "failure", Attrs: waBinary.Attrs{"reason": "401", "location": "sim"}})
		return fmt.Errorf("login of unknown or removed device %s.%d", number, devID)
	}
	old := d.conn
	if old != nil {
		old.dev = nil
	}
	d.conn = c
	d.active = !p.GetPassive()
	d.sent = 0
	d.lastSeen = time.Now()
	if name := p.GetPushName(); name != "" {
		a.pushName = name
	}
	c.dev = d
	lid := d.jid(types.HiddenUserServer)
	s.mu.Unlock()
	if old != nil {
		old.sendAndClose(streamError(0, "replaced"))
	}
	s.stats.logins.Add(1)
	c.send(waBinary.Node{Tag: "success", Attrs: waBinary.Attrs{
		"t":        time.Now().Unix(),
		"lid":      lid,
		"creation": a.created.Unix(),
		"location": "sim",
		"props":    "1",
		"abprops":  "1",
	}})
	if d.active {
		s.deliverOffline(c)
	}
	return nil
}

func (s *Simulator) startRegistration(c *conn) error {
	dp := c.payload.GetDevicePairingData()
	if len(dp.GetERegid()) != 4 || len(dp.GetEIdent()) != 32 || len(dp.GetESkeyID()) != 3 ||
		len(dp.GetESkeyVal()) != 32 || len(dp.GetESkeySig()) != 64 {
		c.sendAndClose(waBinary.Node{Tag: "failure", Attrs: waBinary.Attrs{"reason": "400"}})
		return errors.New("malformed device pairing data")
	}
	reg := &registration{
		identity: [32]byte(dp.GetEIdent()),
		regID:    binary.BigEndian.Uint32(dp.GetERegid()),
		skeyID:   binary.BigEndian.Uint32(append([]byte{0}, dp.GetESkeyID()...)),
		skeyPub:  [32]byte(dp.GetESkeyVal()),
		skeySig:  [64]byte(dp.GetESkeySig()),
		platform: "unknown",
		pairDone: make(chan error, 1),
	}
	var props waCompanionReg.DeviceProps
	if err := proto.Unmarshal(dp.GetDeviceProps(), &props); err == nil && props.GetOs() != "" {
		reg.platform = props.GetOs()
	}
	refs := make([]waBinary.Node, 6)
	s.mu.Lock()
	for i := range refs {
		ref := "2@" + randomString(24)
		reg.refs = append(reg.refs, ref)
		s.pending[ref] = c
		refs[i] = waBinary.Node{Tag: "ref", Content: []byte(ref)}
	}
	c.reg = reg
	s.mu.Unlock()
	s.stats.registrations.Add(1)
	c.send(waBinary.Node{
		Tag:     "iq",
		Attrs:   waBinary.Attrs{"from": types.ServerJID, "type": "set", "id": s.newID(), "xmlns": "md"},
		Content: []waBinary.Node{{Tag: "pair-device", Content: refs}},
	})
	return nil
}

// detach forgets a closed connection: the device goes offline, unacked stanzas will be resent.
func (s *Simulator) detach(c *conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.reg != nil {
		for _, ref := range c.reg.refs {
			if s.pending[ref] == c {
				delete(s.pending, ref)
			}
		}
		if c.reg.code != nil && s.codes[c.reg.code.ref] == c {
			delete(s.codes, c.reg.code.ref)
		}
		if c.reg.pairIQ != "" {
			c.reg.pairIQ = ""
			select {
			case c.reg.pairDone <- errors.New("companion disconnected while pairing"):
			default:
			}
		}
	}
	if d := c.dev; d != nil && d.conn == c {
		d.conn = nil
		d.active = false
		d.sent = 0
		d.lastSeen = time.Now()
	}
}

// deliverOffline pushes everything queued for the device, announced by
// <ib><offline_preview/> and closed by <ib><offline count/>, as the real server does at login.
func (s *Simulator) deliverOffline(c *conn) {
	counts := map[string]int{}
	s.mu.Lock()
	d := c.dev
	n := 0
	if d != nil {
		n = len(d.queue)
		for _, st := range d.queue {
			tag, _, _ := strings.Cut(st.key, "|")
			counts[tag]++
		}
	}
	s.mu.Unlock()
	c.send(waBinary.Node{Tag: "ib", Content: []waBinary.Node{{Tag: "offline_preview", Attrs: waBinary.Attrs{
		"count": n, "message": counts["message"], "receipt": counts["receipt"],
		"notification": counts["notification"], "appdata": 0,
	}}}})
	c.flush()
	c.send(waBinary.Node{Tag: "ib", Content: []waBinary.Node{{Tag: "offline", Attrs: waBinary.Attrs{"count": n}}}})
}

func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)[:n]
}

func (s *Simulator) newID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return strconv.FormatUint(binary.BigEndian.Uint64(b), 16)
}
