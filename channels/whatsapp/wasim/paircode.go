package wasim

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"time"

	waBinary "go.mau.fi/whatsmeow/binary"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/util/hkdfutil"
	"go.mau.fi/whatsmeow/util/keys"
	"golang.org/x/crypto/curve25519"
	"golang.org/x/crypto/pbkdf2"
)

// ErrNoPairingCode is returned by PairWithCode when no companion asked for a code for this number.
var ErrNoPairingCode = errors.New("no companion is waiting for a pairing code for this number")

// codePairing is the state of a "link with phone number" registration (whatsmeow PairPhone).
type codePairing struct {
	ref        string
	number     string
	wrappedEph []byte // companion ephemeral key wrapped with the code
	requested  time.Time
	finish     chan waBinary.Node // companion_finish, handed to the phone
}

// handleLinkCode serves link_code_companion_reg: companion_hello (returns the pairing ref) and
// companion_finish (hands the key bundle to the phone that entered the code).
func (s *Simulator) handleLinkCode(c *conn, node *waBinary.Node, child waBinary.Node) {
	ag := child.AttrGetter()
	switch ag.OptionalString("stage") {
	case "companion_hello":
		jid, _ := child.Attrs["jid"].(types.JID)
		wrapped, _ := child.GetChildByTag("link_code_pairing_wrapped_companion_ephemeral_pub").Content.([]byte)
		noise, _ := child.GetChildByTag("companion_server_auth_key_pub").Content.([]byte)
		if c.reg == nil || len(wrapped) != 80 || !bytes.Equal(noise, c.noisePub[:]) || jid.User == "" {
			c.send(iqError(node, 400, "bad-request"))
			return
		}
		cp := &codePairing{
			ref: "2@" + randomString(24), number: jid.User, wrappedEph: wrapped,
			requested: time.Now(), finish: make(chan waBinary.Node, 1),
		}
		s.mu.Lock()
		if old := c.reg.code; old != nil {
			delete(s.codes, old.ref)
		}
		c.reg.code = cp
		s.codes[cp.ref] = c
		s.mu.Unlock()
		c.send(iqResult(node, waBinary.Node{Tag: "link_code_companion_reg", Content: []waBinary.Node{
			{Tag: "link_code_pairing_ref", Content: []byte(cp.ref)},
		}}))
	case "companion_finish":
		ref, _ := child.GetChildByTag("link_code_pairing_ref").Content.([]byte)
		s.mu.Lock()
		var cp *codePairing
		if c.reg != nil && c.reg.code != nil && c.reg.code.ref == string(ref) {
			cp = c.reg.code
		}
		s.mu.Unlock()
		if cp == nil {
			c.send(iqError(node, 404, "item-not-found"))
			return
		}
		c.send(iqResult(node))
		select {
		case cp.finish <- child:
		default:
		}
	default:
		c.send(iqError(node, 400, "bad-request"))
	}
}

// PairWithCode enters the 8-character code a companion displayed after PairPhone(number), as
// on the phone's "Link with phone number instead" screen, and completes the pairing.
func (p *Phone) PairWithCode(ctx context.Context, code string) (types.JID, error) {
	code = strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(code), "-", ""))
	if len(code) != 8 {
		return types.EmptyJID, fmt.Errorf("pairing code %q: want 8 characters", code)
	}
	s := p.sim
	s.mu.Lock()
	var c *conn
	for _, cand := range s.codes {
		if cand.reg.code.number == p.acc.pn && (c == nil || cand.reg.code.requested.After(c.reg.code.requested)) {
			c = cand
		}
	}
	var cp *codePairing
	if c != nil {
		cp = c.reg.code
		delete(s.codes, cp.ref)
	}
	s.mu.Unlock()
	if c == nil {
		return types.EmptyJID, ErrNoPairingCode
	}
	companionEph, err := unwrapWithCode(code, cp.wrappedEph)
	if err != nil {
		return types.EmptyJID, err
	}
	eph := keys.NewKeyPair()
	wrapped, err := wrapWithCode(code, eph.Pub[:])
	if err != nil {
		return types.EmptyJID, err
	}
	shared, err := curve25519.X25519(eph.Priv[:], companionEph)
	if err != nil {
		return types.EmptyJID, fmt.Errorf("ephemeral dh: %w", err)
	}
	c.send(waBinary.Node{
		Tag:   "notification",
		Attrs: waBinary.Attrs{"from": types.ServerJID, "id": s.newID(), "t": time.Now().Unix(), "type": "link_code_companion_reg"},
		Content: []waBinary.Node{{
			Tag:   "link_code_companion_reg",
			Attrs: waBinary.Attrs{"stage": "primary_hello"},
			Content: []waBinary.Node{
				{Tag: "link_code_pairing_ref", Content: []byte(cp.ref)},
				{Tag: "link_code_pairing_wrapped_primary_ephemeral_pub", Content: wrapped},
				{Tag: "primary_identity_pub", Content: p.identity.Pub[:]},
			},
		}},
	})
	var finish waBinary.Node
	select {
	case finish = <-cp.finish:
	case <-ctx.Done():
		return types.EmptyJID, fmt.Errorf("wait for companion_finish: %w", ctx.Err())
	}
	bundle, _ := finish.GetChildByTag("link_code_pairing_wrapped_key_bundle").Content.([]byte)
	if len(bundle) < 32+12+16 {
		return types.EmptyJID, errors.New("short key bundle")
	}
	key := hkdfutil.SHA256(shared, bundle[:32], []byte("link_code_pairing_key_bundle_encryption_key"), 32)
	block, err := aes.NewCipher(key)
	if err != nil {
		return types.EmptyJID, fmt.Errorf("key bundle cipher: %w", err)
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return types.EmptyJID, fmt.Errorf("key bundle gcm: %w", err)
	}
	plain, err := gcm.Open(nil, bundle[32:44], bundle[44:], nil)
	if err != nil || len(plain) != 96 {
		return types.EmptyJID, errors.New("key bundle does not decrypt: wrong pairing code")
	}
	companionIdentity, primaryIdentity, advRandom := plain[:32], plain[32:64], plain[64:96]
	if !bytes.Equal(primaryIdentity, p.identity.Pub[:]) || !bytes.Equal(companionIdentity, c.reg.identity[:]) {
		return types.EmptyJID, errors.New("key bundle identities do not match")
	}
	identityShared, err := curve25519.X25519(p.identity.Priv[:], companionIdentity)
	if err != nil {
		return types.EmptyJID, fmt.Errorf("identity dh: %w", err)
	}
	input := append(append(append([]byte(nil), shared...), identityShared...), advRandom...)
	adv := hkdfutil.SHA256(input, nil, []byte("adv_secret"), 32)
	return p.completePairing(ctx, c, adv)
}

func codeKey(code string, salt []byte) []byte {
	return pbkdf2.Key([]byte(code), salt, 2<<16, 32, sha256.New)
}

func unwrapWithCode(code string, wrapped []byte) ([]byte, error) {
	block, err := aes.NewCipher(codeKey(code, wrapped[:32]))
	if err != nil {
		return nil, fmt.Errorf("code cipher: %w", err)
	}
	out := make([]byte, 32)
	cipher.NewCTR(block, wrapped[32:48]).XORKeyStream(out, wrapped[48:80])
	return out, nil
}

func wrapWithCode(code string, pub []byte) ([]byte, error) {
	out := make([]byte, 80)
	_, _ = rand.Read(out[:48])
	block, err := aes.NewCipher(codeKey(code, out[:32]))
	if err != nil {
		return nil, fmt.Errorf("code cipher: %w", err)
	}
	cipher.NewCTR(block, out[32:48]).XORKeyStream(out[48:80], pub)
	return out, nil
}
