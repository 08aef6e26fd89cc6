// Package fakechannel is an in-memory core.Provider for tests of everything above the channel: the
// API, the send pipeline, webhooks. It behaves like a real channel as far as the contract goes — it
// passes channeltest — and lets a test play the network: pair a session, deliver an incoming
// message, acknowledge a sent one, drop the link.
package fakechannel

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/28web/hub/channels/core"
)

// Channel is the name the fake reports.
const Channel core.Channel = "fake"

// Network is the fake world shared by the providers of one test: the accounts that exist, the
// persisted session credentials (what survives a provider restart) and what each account received.
// Safe for concurrent use.
type Network struct {
	mu       sync.Mutex
	paired   map[core.SessionID]core.ChatID // persisted credentials: session -> account
	accounts map[core.ChatID]*account
	next     int
}

type account struct {
	received []core.OutgoingMessage
	seen     map[core.MessageID]bool
	// session is the provider session logged in as this account, if any.
	provider *Provider
	session  core.SessionID
}

// NewNetwork returns an empty fake network.
func NewNetwork() *Network {
	return &Network{paired: map[core.SessionID]core.ChatID{}, accounts: map[core.ChatID]*account{}}
}

// NewAccount registers a new account and returns its address.
func (n *Network) NewAccount() core.ChatID {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.next++
	addr := core.ChatID(fmt.Sprintf("55119%08d@fake", n.next))
	n.accounts[addr] = &account{seen: map[core.MessageID]bool{}}
	return addr
}

// Received returns the messages an account received, in order.
func (n *Network) Received(addr core.ChatID) []core.OutgoingMessage {
	n.mu.Lock()
	defer n.mu.Unlock()
	if a, ok := n.accounts[addr]; ok {
		return slices.Clone(a.received)
	}
	return nil
}

// resolve maps a recipient as a client writes it (address, or bare number) to an account.
func (n *Network) resolve(to string) (core.ChatID, *account, bool) {
	addr := core.ChatID(to)
	if !strings.Contains(to, "@") {
		addr = core.ChatID(strings.TrimPrefix(to, "+") + "@fake")
	}
	a, ok := n.accounts[addr]
	return addr, a, ok
}

// Provider is the in-memory channel. Create it with New.
type Provider struct {
	net  *Network
	sink core.EventSink

	mu       sync.Mutex
	sessions map[core.SessionID]*session
	// failSends makes the next n sends fail with ErrUnavailable, to exercise retries.
	failSends int
}

type session struct {
	core.Session
	qr   core.QRCode
	sent map[core.MessageID]core.SendResult
	// bodies remembers sent and received texts for edit/revoke events.
	bodies map[core.MessageID]string
}

var (
	_ core.Provider         = (*Provider)(nil)
	_ core.QRLogin          = (*Provider)(nil)
	_ core.PairingCodeLogin = (*Provider)(nil)
	_ core.MessageEditor    = (*Provider)(nil)
	_ core.MessageRevoker   = (*Provider)(nil)
	_ core.ReadMarker       = (*Provider)(nil)
	_ core.PresenceSender   = (*Provider)(nil)
	_ core.MediaDownloader  = (*Provider)(nil)
	_ core.ContactBook      = (*Provider)(nil)
)

// New returns a provider on net that emits its events to sink.
func New(net *Network, sink core.EventSink) *Provider {
	return &Provider{net: net, sink: sink, sessions: map[core.SessionID]*session{}}
}

// Info implements core.Provider.
func (p *Provider) Info() core.ChannelInfo {
	return core.ChannelInfo{Channel: Channel, MaxTextLength: 65536, MaxMediaBytes: 16 << 20, MessageTypes: core.MessagingTypes}
}

// Start restores every session paired on the network and connects it.
func (p *Provider) Start(ctx context.Context) error {
	p.net.mu.Lock()
	paired := make(map[core.SessionID]core.ChatID, len(p.net.paired))
	for id, acc := range p.net.paired {
		paired[id] = acc
	}
	p.net.mu.Unlock()

	for id, acc := range paired {
		now := time.Now().UTC()
		s := &session{Session: core.Session{ID: id, Channel: Channel, Status: core.StatusConnecting, CreatedAt: now, UpdatedAt: now},
			sent: map[core.MessageID]core.SendResult{}, bodies: map[core.MessageID]string{}}
		p.mu.Lock()
		p.sessions[id] = s
		p.mu.Unlock()
		if err := p.connect(ctx, id, acc); err != nil {
			return fmt.Errorf("restore session %s: %w", id, err)
		}
	}
	return nil
}

// Stop disconnects every session without logging any out.
func (p *Provider) Stop(context.Context) error {
	p.mu.Lock()
	p.sessions = map[core.SessionID]*session{}
	p.mu.Unlock()
	p.net.mu.Lock()
	for _, a := range p.net.accounts {
		if a.provider == p {
			a.provider = nil
		}
	}
	p.net.mu.Unlock()
	return nil
}

// CreateSession implements core.Provider: the new session waits in qr_code.
func (p *Provider) CreateSession(ctx context.Context, req core.CreateSessionRequest) (core.Session, error) {
	if err := req.ID.Validate(); err != nil {
		return core.Session{}, err
	}
	now := time.Now().UTC()
	p.mu.Lock()
	if _, ok := p.sessions[req.ID]; ok {
		p.mu.Unlock()
		return core.Session{}, fmt.Errorf("create session %s: %w", req.ID, core.ErrConflict)
	}
	s := &session{
		Session: core.Session{ID: req.ID, Channel: Channel, Status: core.StatusQRCode, CreatedAt: now, UpdatedAt: now},
		qr:      core.QRCode{Text: "fake-qr," + string(req.ID), PNG: []byte("\x89PNG fake"), ExpiresAt: now.Add(60 * time.Second)},
		sent:    map[core.MessageID]core.SendResult{},
		bodies:  map[core.MessageID]string{},
	}
	p.sessions[req.ID] = s
	out := s.Session
	qr := s.qr
	p.mu.Unlock()

	if err := p.emit(ctx, req.ID, &core.SessionStatusEvent{Status: core.StatusQRCode}); err != nil {
		return core.Session{}, err
	}
	if err := p.emit(ctx, req.ID, &core.QRCodeEvent{QR: qr.Text, ExpiresAt: qr.ExpiresAt}); err != nil {
		return core.Session{}, err
	}
	return out, nil
}

// Session implements core.Provider.
func (p *Provider) Session(_ context.Context, id core.SessionID) (core.Session, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	s, ok := p.sessions[id]
	if !ok {
		return core.Session{}, fmt.Errorf("session %s: %w", id, core.ErrNotFound)
	}
	return s.Session, nil
}

// Sessions implements core.Provider.
func (p *Provider) Sessions(context.Context) ([]core.Session, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]core.Session, 0, len(p.sessions))
	for _, s := range p.sessions {
		out = append(out, s.Session)
	}
	slices.SortFunc(out, func(a, b core.Session) int { return strings.Compare(string(a.ID), string(b.ID)) })
	return out, nil
}

// DeleteSession implements core.Provider: it unlinks the account and forgets the session.
func (p *Provider) DeleteSession(_ context.Context, id core.SessionID) error {
	p.mu.Lock()
	s, ok := p.sessions[id]
	delete(p.sessions, id)
	p.mu.Unlock()
	if !ok {
		return fmt.Errorf("delete session %s: %w", id, core.ErrNotFound)
	}
	p.net.mu.Lock()
	delete(p.net.paired, id)
	if a, ok := p.net.accounts[s.Account]; ok && a.provider == p {
		a.provider = nil
	}
	p.net.mu.Unlock()
	return nil
}

// Stats implements core.Provider.
func (p *Provider) Stats(ctx context.Context) (core.SessionStats, error) {
	all, err := p.Sessions(ctx)
	if err != nil {
		return core.SessionStats{}, err
	}
	return core.CountSessions(all), nil
}

// SendMessage implements core.Provider. A message id already sent returns the first result and
// delivers nothing new.
func (p *Provider) SendMessage(ctx context.Context, id core.SessionID, msg core.OutgoingMessage) (core.SendResult, error) {
	p.mu.Lock()
	s, ok := p.sessions[id]
	if !ok {
		p.mu.Unlock()
		return core.SendResult{}, fmt.Errorf("send from %s: %w", id, core.ErrNotFound)
	}
	if s.Status != core.StatusConnected {
		p.mu.Unlock()
		return core.SendResult{}, fmt.Errorf("send from %s (%s): %w", id, s.Status, core.ErrNotConnected)
	}
	if p.failSends > 0 {
		p.failSends--
		p.mu.Unlock()
		return core.SendResult{}, fmt.Errorf("send from %s: injected failure: %w", id, core.ErrUnavailable)
	}
	if msg.ID == "" {
		msg.ID = newMessageID("FAKE")
	}
	if prev, dup := s.sent[msg.ID]; dup {
		p.mu.Unlock()
		return prev, nil
	}
	from := s.Account
	p.mu.Unlock()

	p.net.mu.Lock()
	addr, acc, ok := p.net.resolve(msg.To)
	if !ok {
		p.net.mu.Unlock()
		return core.SendResult{}, fmt.Errorf("send to %q: not on the network: %w", msg.To, core.ErrInvalid)
	}
	if !acc.seen[msg.ID] {
		acc.seen[msg.ID] = true
		acc.received = append(acc.received, msg)
	}
	recvProvider, recvSession := acc.provider, acc.session
	p.net.mu.Unlock()

	res := core.SendResult{ID: msg.ID, ChatID: addr, Timestamp: time.Now().UTC()}
	p.mu.Lock()
	if s, ok := p.sessions[id]; ok {
		s.sent[msg.ID] = res
		s.bodies[msg.ID] = msg.Text
	}
	p.mu.Unlock()

	ev := messageEvent(core.EventMessageCreate, msg, from, addr, true, res.Timestamp)
	if err := p.emit(ctx, id, ev); err != nil {
		return core.SendResult{}, err
	}
	if recvProvider != nil {
		if err := recvProvider.deliver(ctx, recvSession, msg, from, addr, res.Timestamp); err != nil {
			return core.SendResult{}, err
		}
	}
	return res, nil
}

// newMessageID makes a random message id in the upper-case hex style of WhatsApp's.
func newMessageID(prefix string) core.MessageID {
	return core.MessageID(prefix + strings.ToUpper(strings.ReplaceAll(uuid.NewString(), "-", "")))
}

func messageEvent(kind core.EventType, msg core.OutgoingMessage, from, to core.ChatID, fromMe bool, ts time.Time) *core.MessageEvent {
	chat := to
	if !fromMe {
		chat = from
	}
	ev := &core.MessageEvent{Kind: kind, ID: msg.ID, ChatID: chat, From: from, To: to, FromMe: fromMe,
		Type: msg.Type, Body: msg.Text, Timestamp: ts, QuotedMessageID: msg.QuotedMessageID, Mentions: msg.Mentions,
		Location: msg.Location, Contact: msg.Contact, Reaction: msg.Reaction}
	if msg.Media != nil {
		ev.HasMedia = true
		ev.Media = &core.MediaInfo{MimeType: msg.Media.MimeType, FileName: msg.Media.FileName, Size: int64(len(msg.Media.Data)), Caption: msg.Text}
	}
	return ev
}

// deliver emits message and message_create for a message another session sent to this one.
func (p *Provider) deliver(ctx context.Context, id core.SessionID, msg core.OutgoingMessage, from, to core.ChatID, ts time.Time) error {
	p.mu.Lock()
	if s, ok := p.sessions[id]; ok {
		s.bodies[msg.ID] = msg.Text
	}
	p.mu.Unlock()
	if err := p.emit(ctx, id, messageEvent(core.EventMessage, msg, from, to, false, ts)); err != nil {
		return err
	}
	return p.emit(ctx, id, messageEvent(core.EventMessageCreate, msg, from, to, false, ts))
}

// Contacts implements core.Provider: every account of the network but the session's own.
func (p *Provider) Contacts(ctx context.Context, id core.SessionID) ([]core.Contact, error) {
	s, err := p.Session(ctx, id)
	if err != nil {
		return nil, err
	}
	p.net.mu.Lock()
	defer p.net.mu.Unlock()
	out := make([]core.Contact, 0, len(p.net.accounts))
	for addr := range p.net.accounts {
		if addr == s.Account {
			continue
		}
		out = append(out, core.Contact{ID: addr, Phone: strings.TrimSuffix(string(addr), "@fake"), OnWhatsApp: true, UpdatedAt: time.Now().UTC()})
	}
	slices.SortFunc(out, func(a, b core.Contact) int { return strings.Compare(string(a.ID), string(b.ID)) })
	return out, nil
}

// SyncContacts implements core.Provider; the fake network is always in sync.
func (p *Provider) SyncContacts(ctx context.Context, id core.SessionID) ([]core.Contact, error) {
	return p.Contacts(ctx, id)
}

// LoginQR implements core.QRLogin.
func (p *Provider) LoginQR(_ context.Context, id core.SessionID) (core.QRCode, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	s, ok := p.sessions[id]
	if !ok {
		return core.QRCode{}, fmt.Errorf("qr of %s: %w", id, core.ErrNotFound)
	}
	if s.Status != core.StatusQRCode {
		return core.QRCode{}, fmt.Errorf("qr of %s (%s): %w", id, s.Status, core.ErrConflict)
	}
	return s.qr, nil
}

// RequestPairingCode implements core.PairingCodeLogin.
func (p *Provider) RequestPairingCode(ctx context.Context, id core.SessionID, phone string) (string, error) {
	if _, err := p.LoginQR(ctx, id); err != nil {
		return "", err
	}
	if phone == "" {
		return "", fmt.Errorf("pairing code: phone number required: %w", core.ErrInvalid)
	}
	return "FAKE-CODE", nil
}

// EditMessage implements core.MessageEditor.
func (p *Provider) EditMessage(ctx context.Context, id core.SessionID, chat core.ChatID, msg core.MessageID, text string) error {
	prev, err := p.ownMessage(id, msg)
	if err != nil {
		return err
	}
	p.mu.Lock()
	p.sessions[id].bodies[msg] = text
	p.mu.Unlock()
	return p.emit(ctx, id, &core.MessageEditEvent{ID: msg, ChatID: chat, FromMe: true, Body: text, PreviousBody: prev, Timestamp: time.Now().UTC()})
}

// RevokeMessage implements core.MessageRevoker.
func (p *Provider) RevokeMessage(ctx context.Context, id core.SessionID, chat core.ChatID, msg core.MessageID) error {
	prev, err := p.ownMessage(id, msg)
	if err != nil {
		return err
	}
	return p.emit(ctx, id, &core.MessageRevokeEvent{ID: msg, ChatID: chat, FromMe: true, PreviousBody: prev, Timestamp: time.Now().UTC()})
}

func (p *Provider) ownMessage(id core.SessionID, msg core.MessageID) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	s, ok := p.sessions[id]
	if !ok {
		return "", fmt.Errorf("session %s: %w", id, core.ErrNotFound)
	}
	if _, ok := s.sent[msg]; !ok {
		return "", fmt.Errorf("message %s of %s: %w", msg, id, core.ErrNotFound)
	}
	return s.bodies[msg], nil
}

// MarkRead implements core.ReadMarker.
func (p *Provider) MarkRead(ctx context.Context, id core.SessionID, _ core.ChatID, _ []core.MessageID) error {
	return p.requireConnected(ctx, id)
}

// SendPresence implements core.PresenceSender.
func (p *Provider) SendPresence(ctx context.Context, id core.SessionID, _ core.ChatID, _ core.Presence) error {
	return p.requireConnected(ctx, id)
}

// DownloadMedia implements core.MediaDownloader; the fake keeps no media.
func (p *Provider) DownloadMedia(_ context.Context, id core.SessionID, msg core.MessageID) (core.DownloadedMedia, error) {
	return core.DownloadedMedia{}, fmt.Errorf("media of %s in %s: %w", msg, id, core.ErrNotFound)
}

func (p *Provider) requireConnected(ctx context.Context, id core.SessionID) error {
	s, err := p.Session(ctx, id)
	if err != nil {
		return err
	}
	if s.Status != core.StatusConnected {
		return fmt.Errorf("session %s (%s): %w", id, s.Status, core.ErrNotConnected)
	}
	return nil
}

// Pair plays the phone scanning the session's QR: the session logs in as a new account, which
// persists on the network, and becomes connected. It returns the account's address.
func (p *Provider) Pair(ctx context.Context, id core.SessionID) (core.ChatID, error) {
	if _, err := p.LoginQR(ctx, id); err != nil {
		return "", err
	}
	acc := p.net.NewAccount()
	p.net.mu.Lock()
	p.net.paired[id] = acc
	p.net.mu.Unlock()
	return acc, p.connect(ctx, id, acc)
}

func (p *Provider) connect(ctx context.Context, id core.SessionID, acc core.ChatID) error {
	now := time.Now().UTC()
	p.mu.Lock()
	s, ok := p.sessions[id]
	if !ok {
		p.mu.Unlock()
		return fmt.Errorf("connect %s: %w", id, core.ErrNotFound)
	}
	prev := s.Status
	s.Status, s.Account, s.UpdatedAt, s.ConnectedAt, s.Reason = core.StatusConnected, acc, now, &now, ""
	p.mu.Unlock()

	p.net.mu.Lock()
	if a, ok := p.net.accounts[acc]; ok {
		a.provider, a.session = p, id
	}
	p.net.mu.Unlock()
	if err := p.emit(ctx, id, &core.ConnectionStatusEvent{Status: core.ConnectionOpen}); err != nil {
		return err
	}
	return p.emit(ctx, id, &core.SessionStatusEvent{Status: core.StatusConnected, PreviousStatus: prev, Account: acc})
}

// Disconnect plays a dropped link: the session goes disconnected, reconnectable.
func (p *Provider) Disconnect(ctx context.Context, id core.SessionID, reason string) error {
	p.mu.Lock()
	s, ok := p.sessions[id]
	if !ok {
		p.mu.Unlock()
		return fmt.Errorf("disconnect %s: %w", id, core.ErrNotFound)
	}
	prev := s.Status
	s.Status, s.Reason, s.UpdatedAt = core.StatusDisconnected, reason, time.Now().UTC()
	p.mu.Unlock()
	if err := p.emit(ctx, id, &core.DisconnectedEvent{Reason: reason, IsReconnectable: true}); err != nil {
		return err
	}
	return p.emit(ctx, id, &core.SessionStatusEvent{Status: core.StatusDisconnected, PreviousStatus: prev, Reason: reason})
}

// Reconnect brings a disconnected session back.
func (p *Provider) Reconnect(ctx context.Context, id core.SessionID) error {
	s, err := p.Session(ctx, id)
	if err != nil {
		return err
	}
	return p.connect(ctx, id, s.Account)
}

// FailNextSends makes the next n SendMessage calls fail with ErrUnavailable.
func (p *Provider) FailNextSends(n int) {
	p.mu.Lock()
	p.failSends = n
	p.mu.Unlock()
}

// Ack plays a receipt from the recipient of a sent message.
func (p *Provider) Ack(ctx context.Context, id core.SessionID, msg core.MessageID, ack core.Ack) error {
	p.mu.Lock()
	s, ok := p.sessions[id]
	var res core.SendResult
	if ok {
		res, ok = s.sent[msg]
	}
	p.mu.Unlock()
	if !ok {
		return fmt.Errorf("ack %s in %s: %w", msg, id, core.ErrNotFound)
	}
	return p.emit(ctx, id, &core.MessageAckEvent{ID: msg, ChatID: res.ChatID, Ack: ack})
}

// Deliver plays account from sending msg to account to: the session logged in as to receives it
// as incoming. It fails with ErrNotConnected when no session is online as to.
func (n *Network) Deliver(ctx context.Context, from, to core.ChatID, msg core.OutgoingMessage) error {
	n.mu.Lock()
	a, ok := n.accounts[to]
	var p *Provider
	var id core.SessionID
	if ok {
		p, id = a.provider, a.session
	}
	n.mu.Unlock()
	if !ok {
		return fmt.Errorf("deliver to %s: %w", to, core.ErrNotFound)
	}
	if p == nil {
		return fmt.Errorf("deliver to %s: %w", to, core.ErrNotConnected)
	}
	if msg.ID == "" {
		msg.ID = newMessageID("FAKEIN")
	}
	return p.deliver(ctx, id, msg, from, to, time.Now().UTC())
}

func (p *Provider) emit(ctx context.Context, id core.SessionID, data core.EventData) error {
	if err := p.sink.Publish(ctx, core.NewEvent(id, data)); err != nil {
		return fmt.Errorf("publish %s for %s: %w", data.EventType(), id, err)
	}
	return nil
}

// ValidateAddress implements core.Provider: a phone number, or an address of this network
// ("…@fake").
func (p *Provider) ValidateAddress(to string) error {
	if err := core.CheckPhoneOrChatID(to); err != nil {
		return err
	}
	if _, server, ok := strings.Cut(to, "@"); ok && server != "fake" {
		return fmt.Errorf("%w: %q is not an address of the fake network", core.ErrInvalid, to)
	}
	return nil
}

// MinimalChannel is the channel name of a Minimal provider.
const MinimalChannel core.Channel = "fake-minimal"

// Minimal wraps a provider as channel MinimalChannel, with only the mandatory core.Provider
// methods visible: every capability is missing, and only text messages can be sent. Tests use it
// to check the 501 and 422 answers, and as a second channel beside the full fake.
func Minimal(p core.Provider) core.Provider { return minimal{p} }

type minimal struct{ core.Provider }

func (m minimal) Info() core.ChannelInfo {
	info := m.Provider.Info()
	info.Channel = MinimalChannel
	info.MessageTypes = []core.MessageType{core.MessageText}
	return info
}

func (m minimal) CreateSession(ctx context.Context, req core.CreateSessionRequest) (core.Session, error) {
	s, err := m.Provider.CreateSession(ctx, req)
	s.Channel = MinimalChannel
	return s, err
}

func (m minimal) Session(ctx context.Context, id core.SessionID) (core.Session, error) {
	s, err := m.Provider.Session(ctx, id)
	s.Channel = MinimalChannel
	return s, err
}

func (m minimal) Sessions(ctx context.Context) ([]core.Session, error) {
	all, err := m.Provider.Sessions(ctx)
	for i := range all {
		all[i].Channel = MinimalChannel
	}
	return all, err
}
