package wasim

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"go.mau.fi/libsignal/ecc"
	waBinary "go.mau.fi/whatsmeow/binary"
	"go.mau.fi/whatsmeow/proto/waAdv"
	"go.mau.fi/whatsmeow/types"
	"google.golang.org/protobuf/proto"
)

// ErrUnknownRef is returned by ScanQR when the QR ref is not (or no longer) offered by a client.
var ErrUnknownRef = errors.New("unknown or expired QR ref")

type qrData struct {
	ref      string
	noise    []byte
	identity []byte
	adv      []byte
}

// parseQR accepts both `ref,noise,identity,adv[,platform]` and the
// `https://wa.me/settings/linked_devices#ref,noise,identity,adv,platform` form.
func parseQR(text string) (qrData, error) {
	if i := strings.IndexByte(text, '#'); i >= 0 && strings.HasPrefix(text, "http") {
		text = text[i+1:]
	}
	parts := strings.Split(text, ",")
	if len(parts) < 4 {
		return qrData{}, fmt.Errorf("qr text has %d fields, want at least 4", len(parts))
	}
	var q qrData
	q.ref = parts[0]
	var err error
	dec := base64.StdEncoding.DecodeString
	if q.noise, err = dec(parts[1]); err != nil || len(q.noise) != 32 {
		return qrData{}, errors.New("qr: bad noise key")
	}
	if q.identity, err = dec(parts[2]); err != nil || len(q.identity) != 32 {
		return qrData{}, errors.New("qr: bad identity key")
	}
	if q.adv, err = dec(parts[3]); err != nil || len(q.adv) != 32 {
		return qrData{}, errors.New("qr: bad adv secret")
	}
	return q, nil
}

// ScanQR pairs the companion showing qrText with this phone's account, as the phone's
// "Link a device" screen does. It returns the new device's JID once the companion confirmed.
func (p *Phone) ScanQR(ctx context.Context, qrText string) (types.JID, error) {
	q, err := parseQR(qrText)
	if err != nil {
		return types.EmptyJID, err
	}
	s := p.sim
	s.mu.Lock()
	c := s.pending[q.ref]
	if c == nil || c.reg == nil {
		s.mu.Unlock()
		return types.EmptyJID, ErrUnknownRef
	}
	if !bytes.Equal(c.noisePub[:], q.noise) || !bytes.Equal(c.reg.identity[:], q.identity) {
		s.mu.Unlock()
		return types.EmptyJID, errors.New("qr keys do not match the connection that offered the ref")
	}
	for _, ref := range c.reg.refs {
		delete(s.pending, ref)
	}
	s.mu.Unlock()
	return p.completePairing(ctx, c, q.adv)
}

// completePairing sends pair-success to a registering connection and waits for its signature.
func (p *Phone) completePairing(ctx context.Context, c *conn, advSecret []byte) (types.JID, error) {
	s := p.sim
	s.mu.Lock()
	reg := c.reg
	if reg.device != nil {
		s.mu.Unlock()
		return types.EmptyJID, errors.New("companion is already pairing")
	}
	a := p.acc
	d := &device{
		acc: a, id: a.nextDev, state: DevicePairing, noisePub: c.noisePub, identity: reg.identity,
		regID: reg.regID, skeyID: reg.skeyID, skeyPub: reg.skeyPub, skeySig: reg.skeySig, platform: reg.platform,
	}
	a.nextDev++
	a.devices[d.id] = d
	reg.device = d
	reg.pairIQ = s.newID()
	pn, lid := d.jid(types.DefaultUserServer), d.jid(types.HiddenUserServer)
	iqID := reg.pairIQ
	s.mu.Unlock()

	details, err := proto.Marshal(&waAdv.ADVDeviceIdentity{
		RawID: proto.Uint32(randomUint32()), Timestamp: proto.Uint64(uint64(time.Now().Unix())),
		KeyIndex: proto.Uint32(uint32(d.id)), AccountType: waAdv.ADVEncryptionType_E2EE.Enum(),
		DeviceType: waAdv.ADVEncryptionType_E2EE.Enum(),
	})
	if err != nil {
		return types.EmptyJID, fmt.Errorf("marshal device identity: %w", err)
	}
	msg := append(append([]byte{6, 0}, details...), reg.identity[:]...)
	sig := ecc.CalculateSignature(ecc.NewDjbECPrivateKey(*p.identity.Priv), msg)
	signed, err := proto.Marshal(&waAdv.ADVSignedDeviceIdentity{
		Details: details, AccountSignatureKey: p.identity.Pub[:], AccountSignature: sig[:],
	})
	if err != nil {
		return types.EmptyJID, fmt.Errorf("marshal signed identity: %w", err)
	}
	mac := hmac.New(sha256.New, advSecret)
	mac.Write(signed)
	container, err := proto.Marshal(&waAdv.ADVSignedDeviceIdentityHMAC{Details: signed, HMAC: mac.Sum(nil)})
	if err != nil {
		return types.EmptyJID, fmt.Errorf("marshal identity hmac: %w", err)
	}
	c.send(waBinary.Node{
		Tag:   "iq",
		Attrs: waBinary.Attrs{"from": types.ServerJID, "type": "set", "id": iqID, "xmlns": "md", "t": time.Now().Unix()},
		Content: []waBinary.Node{{Tag: "pair-success", Content: []waBinary.Node{
			{Tag: "device-identity", Content: container},
			{Tag: "device", Attrs: waBinary.Attrs{"jid": pn, "lid": lid}},
			{Tag: "platform", Attrs: waBinary.Attrs{"name": "android"}},
		}}},
	})
	select {
	case err = <-reg.pairDone:
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		s.mu.Lock()
		d.state = DeviceRemoved
		s.mu.Unlock()
		c.close()
		return types.EmptyJID, fmt.Errorf("pair %s: %w", pn, err)
	}
	s.log.Info("device paired", slog.String("device", pn.String()))
	return pn, nil
}

// handleIQResponse completes pairing when the companion answers pair-success.
func (s *Simulator) handleIQResponse(c *conn, node *waBinary.Node) {
	id, _ := node.Attrs["id"].(string)
	s.mu.Lock()
	reg := c.reg
	if reg == nil || reg.device == nil || reg.pairIQ == "" || id != reg.pairIQ {
		s.mu.Unlock()
		return
	}
	reg.pairIQ = ""
	d := reg.device
	accountKey := d.acc.phone.identity.Pub
	s.mu.Unlock()
	if node.Attrs["type"] != "result" {
		errNode := node.GetChildByTag("error")
		reg.pairDone <- fmt.Errorf("companion refused pairing: %s", errNode.AttrGetter().OptionalString("text"))
		return
	}
	raw, _ := node.GetChildByTag("pair-device-sign", "device-identity").Content.([]byte)
	var signed waAdv.ADVSignedDeviceIdentity
	if err := proto.Unmarshal(raw, &signed); err != nil || len(signed.GetDeviceSignature()) != 64 {
		reg.pairDone <- errors.New("invalid pair-device-sign")
		return
	}
	msg := append(append(append([]byte{6, 1}, signed.GetDetails()...), d.identity[:]...), accountKey[:]...)
	if !ecc.VerifySignature(ecc.NewDjbECPublicKey(d.identity), msg, [64]byte(signed.GetDeviceSignature())) {
		reg.pairDone <- errors.New("device signature does not verify")
		return
	}
	s.mu.Lock()
	d.state = DeviceActive
	d.pairedAt = time.Now()
	s.mu.Unlock()
	reg.pairDone <- nil
	s.notifyDeviceChange(d, "add")
	// The companion reconnects and logs in after this.
	c.sendAndClose(streamError(515, ""))
}
