package wasim

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"go.mau.fi/libsignal/ecc"
	"go.mau.fi/libsignal/keys/identity"
	"go.mau.fi/libsignal/keys/prekey"
	"go.mau.fi/libsignal/protocol"
	"go.mau.fi/libsignal/session"
	"go.mau.fi/libsignal/state/record"
	"go.mau.fi/libsignal/util/optional"
	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/appstate"
	waBinary "go.mau.fi/whatsmeow/binary"
	"go.mau.fi/whatsmeow/proto/waCommon"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/util/keys"
	"google.golang.org/protobuf/proto"
)

// Phone is a simulated primary device (device 0) of an account. It holds the account key, pairs
// companions, and sends and receives Signal-encrypted messages like a real phone.
type Phone struct {
	sim      *Simulator
	acc      *account
	dev      *device
	identity *keys.KeyPair
	store    *memSignalStore
	app      *phoneAppState

	pkMu   sync.Mutex
	nextPK uint32

	// mu serialises Signal session use (sending, decrypting, retries).
	mu          sync.Mutex
	recent      map[string]recentMessage
	recentOrder []string

	obsMu    sync.Mutex
	messages []Message
	receipts []Receipt
	notify   chan struct{}
	autoRcpt bool

	inboxMu sync.Mutex
	inbox   []waBinary.Node
	running bool
}

// Bounds of what a phone remembers: recent sends (for retry receipts) and observations.
const (
	maxRecent       = 1000
	maxObservations = 10000
)

type recentMessage struct {
	chat types.JID
	msg  *waE2E.Message
}

// Message is a message a phone decrypted.
type Message struct {
	ID        string         `json:"id"`
	From      types.JID      `json:"from"` // sender device, in the addressing form it arrived with
	Chat      types.JID      `json:"chat"`
	Type      string         `json:"type"`
	Edit      string         `json:"edit,omitempty"`
	FromMe    bool           `json:"from_me"` // sent by one of this account's companions
	Timestamp time.Time      `json:"timestamp"`
	Text      string         `json:"text,omitempty"`
	Message   *waE2E.Message `json:"-"`
}

// Receipt is a receipt a phone received.
type Receipt struct {
	IDs       []string  `json:"ids"`
	From      types.JID `json:"from"`
	Type      string    `json:"type"`
	Timestamp time.Time `json:"timestamp"`
}

// NewPhone returns the phone of number (digits only), creating the account on first use.
func (s *Simulator) NewPhone(number string) (*Phone, error) {
	if number == "" || onlyDigits(number) != number {
		return nil, fmt.Errorf("phone number %q: digits only", number)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.ensureAccount(number)
	if a.phone != nil {
		return a.phone, nil
	}
	ik := keys.NewKeyPair()
	regID := randomUint32() & 0x3fff
	p := &Phone{
		sim: s, acc: a, identity: ik,
		store: newMemSignalStore(identity.NewKeyPair(
			identity.NewKey(ecc.NewDjbECPublicKey(*ik.Pub)), ecc.NewDjbECPrivateKey(*ik.Priv)), regID),
		app:      newPhoneAppState(),
		nextPK:   1,
		recent:   make(map[string]recentMessage),
		notify:   make(chan struct{}),
		autoRcpt: true,
	}
	spk := ik.CreateSignedPreKey(1)
	_ = p.store.StoreSignedPreKey(context.Background(), 1, record.NewSignedPreKey(1, time.Now().UnixMilli(),
		ecc.NewECKeyPair(ecc.NewDjbECPublicKey(*spk.Pub), ecc.NewDjbECPrivateKey(*spk.Priv)), *spk.Signature, nil))
	d := &device{
		acc: a, id: 0, state: DeviceActive, identity: *ik.Pub, regID: regID,
		skeyID: 1, skeyPub: *spk.Pub, skeySig: *spk.Signature, platform: "android", pairedAt: time.Now(),
	}
	d.prekeys = p.generatePreKeys(100)
	a.devices[0] = d
	a.phone = p
	p.dev = d
	return p, nil
}

// Phone returns an existing phone.
func (s *Simulator) Phone(number string) (*Phone, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.accounts[number]
	if !ok || a.phone == nil {
		return nil, false
	}
	return a.phone, true
}

func randomUint32() uint32 {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return binary.BigEndian.Uint32(b[:])
}

// generatePreKeys creates one-time prekeys, keeping the private halves. Safe under Simulator.mu.
func (p *Phone) generatePreKeys(n int) []preKeyPub {
	p.pkMu.Lock()
	defer p.pkMu.Unlock()
	out := make([]preKeyPub, 0, n)
	for range n {
		id := p.nextPK
		p.nextPK++
		kp := keys.NewKeyPair()
		_ = p.store.StorePreKey(context.Background(), id, record.NewPreKey(id,
			ecc.NewECKeyPair(ecc.NewDjbECPublicKey(*kp.Pub), ecc.NewDjbECPrivateKey(*kp.Priv)), nil))
		out = append(out, preKeyPub{id: id, pub: *kp.Pub})
	}
	return out
}

// Number is the phone number (JID user).
func (p *Phone) Number() string { return p.acc.pn }

// JID is the account's phone-number JID.
func (p *Phone) JID() types.JID { return p.acc.pnJID() }

// LID is the account's LID.
func (p *Phone) LID() types.JID { return p.acc.lidJID() }

// AccountKey is the public account (identity) key companions store for this phone.
func (p *Phone) AccountKey() [32]byte { return *p.identity.Pub }

// SetPushName sets the account's name: sent as `notify` with its messages, and synced to its
// companions through app state (they see events.PushNameSetting and can SendPresence).
func (p *Phone) SetPushName(name string) {
	p.sim.mu.Lock()
	p.acc.pushName = name
	p.sim.mu.Unlock()
	if err := p.setAppStateMutation(appstate.WAPatchCriticalBlock, pushNameMutation(name)); err != nil {
		p.sim.log.Error("push name app state", slog.Any("error", err))
	}
}

// SetStatus sets the "about" text returned by user info queries.
func (p *Phone) SetStatus(status string) {
	p.sim.mu.Lock()
	p.acc.status = status
	p.sim.mu.Unlock()
}

// SetAutoDeliveryReceipts controls whether the phone acknowledges messages with a delivery
// receipt as soon as it decrypts them (default true, like a real phone).
func (p *Phone) SetAutoDeliveryReceipts(on bool) {
	p.obsMu.Lock()
	p.autoRcpt = on
	p.obsMu.Unlock()
}

func signalAddr(a *account, dev uint16) *protocol.SignalAddress {
	return protocol.NewSignalAddress(a.lid, uint32(dev))
}

func padMessage(b []byte) []byte {
	// whatsmeow's padding: 1–15 bytes, each holding the padding length.
	n := byte(randomUint32() & 0xf)
	if n == 0 {
		n = 0xf
	}
	out := make([]byte, len(b), len(b)+int(n))
	copy(out, b)
	for range n {
		out = append(out, n)
	}
	return out
}

func unpadMessage(b []byte) ([]byte, error) {
	if len(b) == 0 {
		return nil, errors.New("empty plaintext")
	}
	n := int(b[len(b)-1])
	if n == 0 || n > len(b) {
		return nil, errors.New("invalid padding")
	}
	return b[:len(b)-n], nil
}

// SendOptions tune one phone send.
type SendOptions struct {
	// ID is the message id; generated when empty.
	ID string
}

// Send encrypts msg for every device of `to` (a user JID, PN or LID) and for this account's
// companions (as a DeviceSentMessage), and routes it. It returns the message id.
func (p *Phone) Send(ctx context.Context, to types.JID, msg *waE2E.Message, opts ...SendOptions) (string, error) {
	var o SendOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	if o.ID == "" {
		o.ID = newMessageID()
	}
	to = to.ToNonAD()
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.sim

	type target struct {
		dev    *device
		jid    types.JID
		bundle *prekey.Bundle
	}
	s.mu.Lock()
	toAcc := s.accountFor(to)
	if toAcc == nil {
		s.mu.Unlock()
		return "", fmt.Errorf("send to %s: %w", to, ErrUnknownUser)
	}
	form := to.Server
	if form != types.HiddenUserServer {
		form = types.DefaultUserServer
	}
	chat := toAcc.userJID(form)
	devs := toAcc.sortedDevices()
	if toAcc != p.acc {
		devs = append(devs, p.acc.sortedDevices()...)
	}
	var targets []target
	var ds deliveries
	for _, d := range devs {
		if d == p.dev {
			continue
		}
		t := target{dev: d, jid: d.jid(form)}
		if ok, _ := p.store.ContainsSession(ctx, signalAddr(d.acc, d.id)); !ok {
			t.bundle = bundleFromDeviceLocked(s, d, &ds)
		}
		targets = append(targets, t)
	}
	s.mu.Unlock()
	ds.run()

	plain, err := proto.Marshal(msg)
	if err != nil {
		return "", fmt.Errorf("marshal message: %w", err)
	}
	dsm, err := proto.Marshal(&waE2E.Message{DeviceSentMessage: &waE2E.DeviceSentMessage{
		DestinationJID: proto.String(chat.String()), Message: msg,
	}, MessageContextInfo: msg.MessageContextInfo})
	if err != nil {
		return "", fmt.Errorf("marshal device sent message: %w", err)
	}
	encAttrs := waBinary.Attrs{}
	if mt := mediaTypeOf(msg); mt != "" {
		encAttrs["mediatype"] = mt
	}
	parts := make([]waBinary.Node, 0, len(targets))
	for _, t := range targets {
		pt := plain
		if t.dev.acc == p.acc {
			pt = dsm
		}
		enc, err := p.encryptFor(ctx, t.dev, t.bundle, pt, encAttrs)
		if err != nil {
			s.log.Warn("phone encrypt", slog.String("to", t.jid.String()), slog.Any("error", err))
			continue
		}
		parts = append(parts, waBinary.Node{Tag: "to", Attrs: waBinary.Attrs{"jid": t.jid}, Content: []waBinary.Node{enc}})
	}
	if len(parts) == 0 {
		return "", fmt.Errorf("send to %s: no device to deliver to", chat)
	}
	attrs := waBinary.Attrs{"id": o.ID, "to": chat, "type": messageType(msg)}
	if e := editAttr(msg); e != "" {
		attrs["edit"] = e
	}
	node := waBinary.Node{Tag: "message", Attrs: attrs, Content: []waBinary.Node{{Tag: "participants", Content: parts}}}
	p.remember(o.ID, recentMessage{chat: chat, msg: msg})
	s.handleMessage(p.dev, nil, &node)
	return o.ID, nil
}

// bundleFromDeviceLocked builds a libsignal bundle from server state. Caller holds s.mu.
func bundleFromDeviceLocked(s *Simulator, d *device, ds *deliveries) *prekey.Bundle {
	nodes := s.bundleNodesLocked(d, ds)
	b, err := bundleFromNodes(uint32(d.id), waBinary.Node{Tag: "user", Content: nodes})
	if err != nil {
		return nil
	}
	return b
}

func bundleFromNodes(devID uint32, n waBinary.Node) (*prekey.Bundle, error) {
	reg, _ := n.GetChildByTag("registration").Content.([]byte)
	keysNode := n
	if k, ok := n.GetOptionalChildByTag("keys"); ok {
		keysNode = k
	}
	ident, _ := keysNode.GetChildByTag("identity").Content.([]byte)
	skey := keysNode.GetChildByTag("skey")
	sk, ok := parseKeyNode(skey)
	sig, _ := skey.GetChildByTag("signature").Content.([]byte)
	if len(reg) != 4 || len(ident) != 32 || !ok || len(sig) != 64 {
		return nil, errors.New("incomplete prekey bundle")
	}
	idKey := identity.NewKey(ecc.NewDjbECPublicKey([32]byte(ident)))
	if pk, ok := parseKeyNode(keysNode.GetChildByTag("key")); ok {
		return prekey.NewBundle(binary.BigEndian.Uint32(reg), devID, optional.NewOptionalUint32(pk.id), sk.id,
			ecc.NewDjbECPublicKey(pk.pub), ecc.NewDjbECPublicKey(sk.pub), [64]byte(sig), idKey), nil
	}
	return prekey.NewBundle(binary.BigEndian.Uint32(reg), devID, optional.NewEmptyUint32(), sk.id,
		nil, ecc.NewDjbECPublicKey(sk.pub), [64]byte(sig), idKey), nil
}

// encryptFor encrypts for one device. Caller holds p.mu.
func (p *Phone) encryptFor(ctx context.Context, d *device, bundle *prekey.Bundle, plaintext []byte, extra waBinary.Attrs) (waBinary.Node, error) {
	addr := signalAddr(d.acc, d.id)
	builder := session.NewBuilderFromSignal(p.store, addr, signalSerializer)
	if bundle != nil {
		if err := builder.ProcessBundle(ctx, bundle); err != nil {
			return waBinary.Node{}, fmt.Errorf("process bundle: %w", err)
		}
	} else if ok, _ := p.store.ContainsSession(ctx, addr); !ok {
		return waBinary.Node{}, fmt.Errorf("no session with %s and no bundle", addr)
	}
	ct, err := session.NewCipher(builder, addr).Encrypt(ctx, padMessage(plaintext))
	if err != nil {
		return waBinary.Node{}, fmt.Errorf("encrypt: %w", err)
	}
	attrs := waBinary.Attrs{"v": "2", "type": "msg"}
	if ct.Type() == protocol.PREKEY_TYPE {
		attrs["type"] = "pkmsg"
	}
	for k, v := range extra {
		attrs[k] = v
	}
	return waBinary.Node{Tag: "enc", Attrs: attrs, Content: ct.Serialize()}, nil
}

func messageType(m *waE2E.Message) string {
	switch {
	case m.ReactionMessage != nil:
		return "reaction"
	case mediaTypeOf(m) != "":
		return "media"
	}
	return "text"
}

func mediaTypeOf(m *waE2E.Message) string {
	switch {
	case m.ImageMessage != nil:
		return "image"
	case m.VideoMessage != nil:
		return "video"
	case m.AudioMessage != nil:
		return "audio"
	case m.DocumentMessage != nil:
		return "document"
	case m.StickerMessage != nil:
		return "sticker"
	}
	return ""
}

func editAttr(m *waE2E.Message) string {
	pm := m.GetProtocolMessage()
	if m.EditedMessage != nil {
		pm = m.GetEditedMessage().GetMessage().GetProtocolMessage()
	}
	switch {
	case pm == nil:
	case pm.GetType() == waE2E.ProtocolMessage_MESSAGE_EDIT:
		return string(types.EditAttributeMessageEdit)
	case pm.GetType() == waE2E.ProtocolMessage_REVOKE:
		return string(types.EditAttributeSenderRevoke)
	}
	if m.ReactionMessage != nil && m.ReactionMessage.GetText() == "" {
		return string(types.EditAttributeSenderRevoke)
	}
	return ""
}

// SendText sends a plain text message and returns its id.
func (p *Phone) SendText(ctx context.Context, to types.JID, text string) (string, error) {
	return p.Send(ctx, to, &waE2E.Message{Conversation: proto.String(text)})
}

func (p *Phone) ownKey(chat types.JID, id string) *waCommon.MessageKey {
	return &waCommon.MessageKey{RemoteJID: proto.String(chat.ToNonAD().String()), FromMe: proto.Bool(true), ID: proto.String(id)}
}

// Edit replaces the text of a message this phone sent to chat.
func (p *Phone) Edit(ctx context.Context, chat types.JID, id, newText string) (string, error) {
	return p.Send(ctx, chat, &waE2E.Message{EditedMessage: &waE2E.FutureProofMessage{Message: &waE2E.Message{
		ProtocolMessage: &waE2E.ProtocolMessage{
			Key:           p.ownKey(chat, id),
			Type:          waE2E.ProtocolMessage_MESSAGE_EDIT.Enum(),
			EditedMessage: &waE2E.Message{Conversation: proto.String(newText)},
			TimestampMS:   proto.Int64(time.Now().UnixMilli()),
		},
	}}})
}

// Revoke deletes for everyone a message this phone sent to chat.
func (p *Phone) Revoke(ctx context.Context, chat types.JID, id string) (string, error) {
	return p.Send(ctx, chat, &waE2E.Message{ProtocolMessage: &waE2E.ProtocolMessage{
		Key:  p.ownKey(chat, id),
		Type: waE2E.ProtocolMessage_REVOKE.Enum(),
	}})
}

// React reacts to message id in chat; sender is who wrote that message (empty: this phone).
// An empty reaction removes it.
func (p *Phone) React(ctx context.Context, chat, sender types.JID, id, reaction string) (string, error) {
	key := p.ownKey(chat, id)
	if !sender.IsEmpty() && sender.User != p.acc.pn && sender.User != p.acc.lid {
		key.FromMe = proto.Bool(false)
	}
	return p.Send(ctx, chat, &waE2E.Message{ReactionMessage: &waE2E.ReactionMessage{
		Key: key, Text: proto.String(reaction), SenderTimestampMS: proto.Int64(time.Now().UnixMilli()),
	}})
}

// SendReceipt sends a receipt for messages received in chat: types.ReceiptTypeRead,
// types.ReceiptTypePlayed or types.ReceiptTypeDelivered.
func (p *Phone) SendReceipt(ctx context.Context, chat types.JID, ids []string, typ types.ReceiptType) error {
	if len(ids) == 0 {
		return errors.New("no message ids")
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	attrs := waBinary.Attrs{"id": ids[0], "to": chat.ToNonAD(), "t": time.Now().Unix()}
	if typ != types.ReceiptTypeDelivered {
		attrs["type"] = string(typ)
	}
	node := waBinary.Node{Tag: "receipt", Attrs: attrs}
	if len(ids) > 1 {
		items := make([]waBinary.Node, 0, len(ids)-1)
		for _, id := range ids[1:] {
			items = append(items, waBinary.Node{Tag: "item", Attrs: waBinary.Attrs{"id": id}})
		}
		node.Content = []waBinary.Node{{Tag: "list", Content: items}}
	}
	p.sim.handleReceipt(p.dev, nil, &node)
	return nil
}

// enqueue hands a stanza to the phone; a short-lived goroutine drains the inbox so that routing
// never blocks on (or deadlocks with) the phone's own sends.
func (p *Phone) enqueue(node waBinary.Node) {
	p.inboxMu.Lock()
	p.inbox = append(p.inbox, node)
	start := !p.running
	p.running = true
	p.inboxMu.Unlock()
	if start {
		go p.drain()
	}
}

func (p *Phone) drain() {
	for {
		p.inboxMu.Lock()
		if len(p.inbox) == 0 {
			p.running = false
			p.inboxMu.Unlock()
			return
		}
		node := p.inbox[0]
		p.inbox[0] = waBinary.Node{}
		p.inbox = p.inbox[1:]
		p.inboxMu.Unlock()
		switch node.Tag {
		case "message":
			p.handleMessage(&node)
		case "receipt":
			p.handleReceipt(&node)
		}
	}
}

// remember keeps a sent message for retries, forgetting the oldest beyond maxRecent. Caller holds p.mu.
func (p *Phone) remember(id string, rm recentMessage) {
	if _, ok := p.recent[id]; !ok {
		p.recentOrder = append(p.recentOrder, id)
	}
	p.recent[id] = rm
	if len(p.recentOrder) > maxRecent {
		delete(p.recent, p.recentOrder[0])
		p.recentOrder = p.recentOrder[1:]
	}
}

func (p *Phone) publish(m *Message, r *Receipt) {
	p.obsMu.Lock()
	if m != nil {
		p.messages = append(p.messages, *m)
		if len(p.messages) > maxObservations {
			p.messages = append([]Message(nil), p.messages[len(p.messages)-maxObservations/2:]...)
		}
	}
	if r != nil {
		p.receipts = append(p.receipts, *r)
		if len(p.receipts) > maxObservations {
			p.receipts = append([]Receipt(nil), p.receipts[len(p.receipts)-maxObservations/2:]...)
		}
	}
	close(p.notify)
	p.notify = make(chan struct{})
	p.obsMu.Unlock()
}

func (p *Phone) handleMessage(node *waBinary.Node) {
	ctx := context.Background()
	ag := node.AttrGetter()
	from, _ := node.Attrs["from"].(types.JID)
	id := ag.OptionalString("id")
	s := p.sim
	s.mu.Lock()
	senderAcc := s.accountFor(from)
	s.mu.Unlock()
	if senderAcc == nil {
		return
	}
	encs := node.GetChildrenByTag("enc")
	if len(encs) == 0 {
		return
	}
	enc := encs[0]
	content, _ := enc.Content.([]byte)
	addr := signalAddr(senderAcc, from.Device)
	p.mu.Lock()
	builder := session.NewBuilderFromSignal(p.store, addr, signalSerializer)
	cipher := session.NewCipher(builder, addr)
	var plain []byte
	var err error
	if enc.AttrGetter().OptionalString("type") == "pkmsg" {
		var pkm *protocol.PreKeySignalMessage
		if pkm, err = protocol.NewPreKeySignalMessageFromBytes(content, signalSerializer.PreKeySignalMessage, signalSerializer.SignalMessage); err == nil {
			plain, err = cipher.DecryptMessage(ctx, pkm)
		}
	} else {
		var sm *protocol.SignalMessage
		if sm, err = protocol.NewSignalMessageFromBytes(content, signalSerializer.SignalMessage); err == nil {
			plain, err = cipher.Decrypt(ctx, sm)
		}
	}
	p.mu.Unlock()
	if err == nil {
		plain, err = unpadMessage(plain)
	}
	var msg waE2E.Message
	if err == nil {
		err = proto.Unmarshal(plain, &msg)
	}
	if err != nil {
		s.log.Info("phone could not decrypt", slog.String("id", id), slog.String("from", from.String()), slog.Any("error", err))
		p.sendRetryReceipt(node, enc)
		return
	}
	if ag.OptionalString("category") == "peer" {
		return
	}
	m := Message{
		ID: id, From: from, Chat: from.ToNonAD(), Type: ag.OptionalString("type"), Edit: ag.OptionalString("edit"),
		Timestamp: ag.OptionalUnixTime("t"), Message: &msg,
	}
	if senderAcc == p.acc {
		m.FromMe = true
		if r, ok := node.Attrs["recipient"].(types.JID); ok {
			m.Chat = r
		}
		if dsm := msg.GetDeviceSentMessage(); dsm != nil {
			m.Message = dsm.GetMessage()
			if dst, err := types.ParseJID(dsm.GetDestinationJID()); err == nil {
				m.Chat = dst
			}
		}
	}
	m.Text = textOf(m.Message)
	p.publish(&m, nil)
	p.obsMu.Lock()
	auto := p.autoRcpt
	p.obsMu.Unlock()
	if !auto {
		return
	}
	attrs := waBinary.Attrs{"id": id, "to": from}
	if m.FromMe {
		attrs["type"] = "sender"
		if r, ok := node.Attrs["recipient"]; ok {
			attrs["recipient"] = r
		}
	}
	s.handleReceipt(p.dev, nil, &waBinary.Node{Tag: "receipt", Attrs: attrs})
}

func textOf(m *waE2E.Message) string {
	switch {
	case m == nil:
		return ""
	case m.Conversation != nil:
		return m.GetConversation()
	case m.ExtendedTextMessage != nil:
		return m.GetExtendedTextMessage().GetText()
	case m.EditedMessage != nil:
		return textOf(m.GetEditedMessage().GetMessage().GetProtocolMessage().GetEditedMessage())
	case m.ProtocolMessage != nil:
		return textOf(m.GetProtocolMessage().GetEditedMessage())
	case m.ImageMessage != nil:
		return m.GetImageMessage().GetCaption()
	case m.ReactionMessage != nil:
		return m.GetReactionMessage().GetText()
	}
	return ""
}

func (p *Phone) sendRetryReceipt(node *waBinary.Node, enc waBinary.Node) {
	from, _ := node.Attrs["from"].(types.JID)
	count := enc.AttrGetter().OptionalInt("count") + 1
	attrs := waBinary.Attrs{"id": node.Attrs["id"], "to": from, "type": "retry"}
	if r, ok := node.Attrs["recipient"]; ok {
		attrs["recipient"] = r
	}
	p.sim.handleReceipt(p.dev, nil, &waBinary.Node{Tag: "receipt", Attrs: attrs, Content: []waBinary.Node{
		{Tag: "retry", Attrs: waBinary.Attrs{"count": count, "id": node.Attrs["id"], "t": node.Attrs["t"], "v": 1}},
		{Tag: "registration", Content: be32(p.store.GetLocalRegistrationID())},
	}})
}

func (p *Phone) handleReceipt(node *waBinary.Node) {
	ag := node.AttrGetter()
	from, _ := node.Attrs["from"].(types.JID)
	r := Receipt{IDs: []string{ag.OptionalString("id")}, From: from, Type: ag.OptionalString("type"), Timestamp: time.Now()}
	list := node.GetChildByTag("list")
	for _, item := range list.GetChildren() {
		if id, ok := item.Attrs["id"].(string); ok {
			r.IDs = append(r.IDs, id)
		}
	}
	p.publish(nil, &r)
	if r.Type == "retry" {
		p.sim.log.Debug("phone got a retry receipt", slog.String("id", r.IDs[0]), slog.String("from", from.String()))
		if err := p.handleRetry(node, from); err != nil {
			p.sim.log.Info("phone retry", slog.String("id", r.IDs[0]), slog.Any("error", err))
		}
	}
}

// handleRetry re-encrypts a recent message for the one device that could not decrypt it.
func (p *Phone) handleRetry(node *waBinary.Node, from types.JID) error {
	ctx := context.Background()
	retry := node.GetChildByTag("retry")
	id, _ := retry.Attrs["id"].(string)
	count := retry.AttrGetter().OptionalInt("count")
	s := p.sim
	p.mu.Lock()
	defer p.mu.Unlock()
	rm, ok := p.recent[id]
	if !ok {
		return fmt.Errorf("message %s not in recent messages", id)
	}
	var ds deliveries
	s.mu.Lock()
	d := s.deviceFor(from)
	var bundle *prekey.Bundle
	if d != nil {
		if _, hasKeys := node.GetOptionalChildByTag("keys"); hasKeys {
			bundle, _ = bundleFromNodes(uint32(from.Device), *node)
		} else if count >= 2 {
			bundle = bundleFromDeviceLocked(s, d, &ds)
		}
	}
	s.mu.Unlock()
	ds.run()
	if d == nil {
		return fmt.Errorf("retry from unknown device %s", from)
	}
	msg := rm.msg
	if d.acc == p.acc {
		msg = &waE2E.Message{DeviceSentMessage: &waE2E.DeviceSentMessage{DestinationJID: proto.String(rm.chat.String()), Message: msg}}
	}
	plain, err := proto.Marshal(msg)
	if err != nil {
		return fmt.Errorf("marshal: %w", err)
	}
	enc, err := p.encryptFor(ctx, d, bundle, plain, waBinary.Attrs{"count": count})
	if err != nil {
		return err
	}
	attrs := waBinary.Attrs{"to": from, "id": id, "type": messageType(rm.msg), "t": time.Now().Unix(), "device_fanout": "false"}
	if e := editAttr(rm.msg); e != "" {
		attrs["edit"] = e
	}
	s.handleMessage(p.dev, nil, &waBinary.Node{Tag: "message", Attrs: attrs, Content: []waBinary.Node{enc}})
	s.log.Debug("phone answered a retry receipt", slog.String("id", id), slog.String("to", from.String()), slog.Int("count", count))
	return nil
}

// Messages returns what the phone decrypted so far (the most recent ones beyond 10000).
func (p *Phone) Messages() []Message {
	p.obsMu.Lock()
	defer p.obsMu.Unlock()
	return append([]Message(nil), p.messages...)
}

// Receipts returns the receipts the phone received so far.
func (p *Phone) Receipts() []Receipt {
	p.obsMu.Lock()
	defer p.obsMu.Unlock()
	return append([]Receipt(nil), p.receipts...)
}

// WaitMessage blocks until a decrypted message matches pred, or ctx ends.
func (p *Phone) WaitMessage(ctx context.Context, pred func(Message) bool) (Message, error) {
	for {
		p.obsMu.Lock()
		for _, m := range p.messages {
			if pred(m) {
				p.obsMu.Unlock()
				return m, nil
			}
		}
		ch := p.notify
		p.obsMu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return Message{}, fmt.Errorf("wait message on %s: %w", p.acc.pn, ctx.Err())
		}
	}
}

// WaitReceipt blocks until a received receipt matches pred, or ctx ends.
func (p *Phone) WaitReceipt(ctx context.Context, pred func(Receipt) bool) (Receipt, error) {
	for {
		p.obsMu.Lock()
		for _, r := range p.receipts {
			if pred(r) {
				p.obsMu.Unlock()
				return r, nil
			}
		}
		ch := p.notify
		p.obsMu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return Receipt{}, fmt.Errorf("wait receipt on %s: %w", p.acc.pn, ctx.Err())
		}
	}
}

// newMessageID makes a message id as a phone does: WhatsApp's prefix and upper-case hex.
func newMessageID() string {
	b := make([]byte, 9)
	_, _ = rand.Read(b) // crypto/rand never fails since Go 1.24
	return whatsmeow.WebMessageIDPrefix + strings.ToUpper(hex.EncodeToString(b))
}
