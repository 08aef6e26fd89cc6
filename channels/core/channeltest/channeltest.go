// Package channeltest is the conformance suite every core.Provider must pass, in the manner of
// Watermill's pubsub tests: a channel supplies an Env (its storage and network for one test) and
// the Features it claims, and Run checks the contract end to end.
package channeltest

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/28web/hub/channels/core"
)

// Features are the optional behaviours a channel claims; Run checks each claim both ways.
type Features struct {
	QRLogin       bool
	PairingCode   bool
	Edit          bool
	Revoke        bool
	MarkRead      bool
	Presence      bool
	MediaDownload bool
	// Contacts: the session has an address book (core.ContactBook).
	Contacts bool
	// Templates: the session keeps message templates (core.TemplateManager).
	Templates bool
	// Restore: paired sessions survive a provider restart on the same storage and reconnect
	// without a new login.
	Restore bool
	// Receipts: the peers' devices send delivery receipts by themselves, which the provider
	// reports as message_ack.
	Receipts bool
	// Timeout bounds each wait for the network (defaults to 10 s).
	Timeout time.Duration
}

// Env is one test's world: the channel's storage and network. Providers built by the same Env
// share storage, so that a restart can be tested.
type Env interface {
	// NewProvider builds (but does not start) a provider emitting to sink. The Env stops it at
	// the end of the test if the test did not.
	NewProvider(t *testing.T, sink core.EventSink) core.Provider
	// Pair logs in a session waiting in qr_code, as a phone would, and returns once the phone
	// side is done (the provider may still be finishing its login).
	Pair(t *testing.T, p core.Provider, id core.SessionID)
	// NewPeer registers another account on the network for the session to talk to.
	NewPeer(t *testing.T) Peer
	// UnknownRecipient is an address no account of the network answers to.
	UnknownRecipient() string
}

// SettingsEnv is an Env whose channel needs settings to create a session (credentials of an
// account it does not pair by itself).
type SettingsEnv interface {
	// SessionSettings are the settings of a new session id, valid on the Env's network.
	SessionSettings(t *testing.T, id core.SessionID) map[string]string
}

func createRequest(t *testing.T, env Env, id core.SessionID) core.CreateSessionRequest {
	req := core.CreateSessionRequest{ID: id}
	if se, ok := env.(SettingsEnv); ok {
		req.Settings = se.SessionSettings(t, id)
	}
	return req
}

// Peer is an account of the network that the suite drives.
type Peer interface {
	// Address is how a session addresses the peer in OutgoingMessage.To.
	Address() string
	// Texts returns the text bodies the peer received, in order.
	Texts(t *testing.T) []string
	// SendText sends a text to the account the session is logged in as.
	SendText(t *testing.T, to core.ChatID, text string)
}

// Run runs the conformance suite. newEnv is called once per subtest.
func Run(t *testing.T, f Features, newEnv func(t *testing.T) Env) {
	if f.Timeout == 0 {
		f.Timeout = 10 * time.Second
	}
	s := suite{f: f, newEnv: newEnv}
	t.Run("SessionLifecycle", s.sessionLifecycle)
	t.Run("BadInput", s.badInput)
	t.Run("Capabilities", s.capabilities)
	t.Run("PairSendReceive", s.pairSendReceive)
	t.Run("ResendSameID", s.resendSameID)
	t.Run("DeleteConnected", s.deleteConnected)
	if f.Edit && f.Revoke {
		t.Run("OwnEditsAndRevokes", s.ownEditsAndRevokes)
	}
	if f.Restore {
		t.Run("RestoreAfterRestart", s.restore)
	}
}

type suite struct {
	f      Features
	newEnv func(t *testing.T) Env
}

// start builds and starts a provider with a recorder.
func (s suite) start(t *testing.T, env Env) (core.Provider, *Recorder) {
	t.Helper()
	rec := NewRecorder()
	p := env.NewProvider(t, rec)
	require.NoError(t, p.Start(t.Context()), "start provider")
	return p, rec
}

func sessionID(t *testing.T, suffix string) core.SessionID {
	return core.SessionID(fmt.Sprintf("ct-%s-%d", suffix, time.Now().UnixNano()%1_000_000))
}

// connected creates a session, pairs it and waits until it is connected.
func (s suite) connected(t *testing.T, env Env, p core.Provider, rec *Recorder, id core.SessionID) core.Session {
	t.Helper()
	_, err := p.CreateSession(t.Context(), createRequest(t, env, id))
	require.NoError(t, err, "create session")
	if s.f.QRLogin {
		rec.Wait(t, s.f.Timeout, "qr_code", Is(id, func(*core.QRCodeEvent) bool { return true }))
	}
	env.Pair(t, p, id)
	rec.Wait(t, s.f.Timeout, "session.status connected", Is(id, func(e *core.SessionStatusEvent) bool {
		return e.Status == core.StatusConnected
	}))
	sess, err := p.Session(t.Context(), id)
	require.NoError(t, err)
	require.Equal(t, core.StatusConnected, sess.Status)
	require.NotEmpty(t, sess.Account, "a connected session knows its account")
	return sess
}

func (s suite) sessionLifecycle(t *testing.T) {
	env := s.newEnv(t)
	p, rec := s.start(t, env)
	id := sessionID(t, "life")

	sess, err := p.CreateSession(t.Context(), createRequest(t, env, id))
	require.NoError(t, err)
	require.Equal(t, id, sess.ID)
	require.Contains(t, []core.SessionStatus{core.StatusConnecting, core.StatusQRCode}, sess.Status)
	require.Equal(t, p.Info().Channel, sess.Channel)

	_, err = p.CreateSession(t.Context(), createRequest(t, env, id))
	require.ErrorIs(t, err, core.ErrConflict, "an id in use is a conflict")

	got, err := p.Session(t.Context(), id)
	require.NoError(t, err)
	require.Equal(t, id, got.ID)

	all, err := p.Sessions(t.Context())
	require.NoError(t, err)
	require.True(t, slices.ContainsFunc(all, func(x core.Session) bool { return x.ID == id }))

	if s.f.QRLogin {
		rec.Wait(t, s.f.Timeout, "qr_code", Is(id, func(e *core.QRCodeEvent) bool { return e.QR != "" }))
		qrl, err := core.As[core.QRLogin](p, core.CapabilityQRLogin)
		require.NoError(t, err)
		qr, err := qrl.LoginQR(t.Context(), id)
		require.NoError(t, err)
		require.NotEmpty(t, qr.Text)
		require.NotEmpty(t, qr.PNG)
		require.True(t, qr.ExpiresAt.After(time.Now()), "QR expires in the future")
		st, err := p.Session(t.Context(), id)
		require.NoError(t, err)
		require.Equal(t, core.StatusQRCode, st.Status)
	}
	stats, err := p.Stats(t.Context())
	require.NoError(t, err)
	require.Equal(t, 1, stats.Total)

	require.NoError(t, p.DeleteSession(t.Context(), id))
	_, err = p.Session(t.Context(), id)
	require.ErrorIs(t, err, core.ErrNotFound)

	for _, e := range rec.Events() {
		require.NotEmpty(t, e.ID, "event id")
		require.Equal(t, id, e.SessionID)
		require.False(t, e.Timestamp.IsZero(), "event timestamp")
		require.Equal(t, e.Type, e.Data.EventType())
	}
	requireUniqueIDs(t, rec.Events())
}

func requireUniqueIDs(t *testing.T, events []core.Event) {
	t.Helper()
	seen := map[core.EventID]bool{}
	for _, e := range events {
		require.False(t, seen[e.ID], "event id %s reused", e.ID)
		seen[e.ID] = true
	}
}

func (s suite) badInput(t *testing.T) {
	env := s.newEnv(t)
	p, _ := s.start(t, env)
	ctx := t.Context()

	_, err := p.CreateSession(ctx, core.CreateSessionRequest{ID: "bad id/with slash"})
	require.ErrorIs(t, err, core.ErrInvalid)

	// Addresses are the channel's to judge, by grammar alone.
	require.NoError(t, p.ValidateAddress(env.NewPeer(t).Address()))
	require.NoError(t, p.ValidateAddress(env.UnknownRecipient()), "an address can be well formed and still reach nobody")
	for _, bad := range []string{"", "call me", "+1 234", "@", "a b@c"} {
		require.ErrorIs(t, p.ValidateAddress(bad), core.ErrInvalid, "address %q", bad)
	}

	unknown := core.SessionID("ct-unknown")
	_, err = p.Session(ctx, unknown)
	require.ErrorIs(t, err, core.ErrNotFound)
	require.ErrorIs(t, p.DeleteSession(ctx, unknown), core.ErrNotFound)
	_, err = p.SendMessage(ctx, unknown, core.OutgoingMessage{To: env.UnknownRecipient(), Type: core.MessageText, Text: "x"})
	require.ErrorIs(t, err, core.ErrNotFound)
	if book, ok := p.(core.ContactBook); ok {
		_, err = book.Contacts(ctx, unknown)
		require.ErrorIs(t, err, core.ErrNotFound)
	}

	// A session that is not logged in cannot send.
	id := sessionID(t, "nc")
	_, err = p.CreateSession(ctx, createRequest(t, env, id))
	require.NoError(t, err)
	_, err = p.SendMessage(ctx, id, core.OutgoingMessage{To: env.UnknownRecipient(), Type: core.MessageText, Text: "x"})
	require.ErrorIs(t, err, core.ErrNotConnected)
}

func (s suite) capabilities(t *testing.T) {
	env := s.newEnv(t)
	p := env.NewProvider(t, NewRecorder())
	claims := map[string]bool{
		core.CapabilityQRLogin:     s.f.QRLogin,
		core.CapabilityPairingCode: s.f.PairingCode,
		core.CapabilityEdit:        s.f.Edit,
		core.CapabilityRevoke:      s.f.Revoke,
		core.CapabilityMarkRead:    s.f.MarkRead,
		core.CapabilityPresence:    s.f.Presence,
		core.CapabilityMedia:       s.f.MediaDownload,
		core.CapabilityContacts:    s.f.Contacts,
		core.CapabilityTemplates:   s.f.Templates,
	}
	has := core.Capabilities(p)
	for name, claimed := range claims {
		require.Equal(t, claimed, slices.Contains(has, name), "capability %s: claimed %v", name, claimed)
	}
	if !s.f.Edit {
		_, err := core.As[core.MessageEditor](p, core.CapabilityEdit)
		require.ErrorIs(t, err, core.ErrNotSupported)
		var nse *core.NotSupportedError
		require.True(t, errors.As(err, &nse))
		require.Equal(t, core.CapabilityEdit, nse.Capability)
	}
}

func (s suite) pairSendReceive(t *testing.T) {
	env := s.newEnv(t)
	p, rec := s.start(t, env)
	id := sessionID(t, "psr")
	sess := s.connected(t, env, p, rec, id)
	rec.Wait(t, s.f.Timeout, "connection.status open", Is(id, func(e *core.ConnectionStatusEvent) bool {
		return e.Status == core.ConnectionOpen
	}))

	stats, err := p.Stats(t.Context())
	require.NoError(t, err)
	require.Equal(t, core.SessionStats{Total: 1, Active: 1, Connected: 1}, stats)

	peer := env.NewPeer(t)
	res, err := p.SendMessage(t.Context(), id, core.OutgoingMessage{To: peer.Address(), Type: core.MessageText, Text: "hello peer"})
	require.NoError(t, err)
	require.NotEmpty(t, res.ID)
	require.NotEmpty(t, res.ChatID)
	Eventually(t, s.f.Timeout, "peer receives the text", func() bool { return slices.Contains(peer.Texts(t), "hello peer") })
	rec.Wait(t, s.f.Timeout, "message_create (outgoing)", Is(id, func(e *core.MessageEvent) bool {
		return e.Kind == core.EventMessageCreate && e.FromMe && e.ID == res.ID && e.Body == "hello peer"
	}))

	_, err = p.SendMessage(t.Context(), id, core.OutgoingMessage{To: env.UnknownRecipient(), Type: core.MessageText, Text: "x"})
	require.ErrorIs(t, err, core.ErrInvalid, "an unknown recipient is invalid input")

	peer.SendText(t, sess.Account, "hello session")
	in := rec.Wait(t, s.f.Timeout, "message (incoming)", Is(id, func(e *core.MessageEvent) bool {
		return e.Kind == core.EventMessage && !e.FromMe && e.Body == "hello session"
	}))
	msg := in.Data.(*core.MessageEvent)
	require.NotEmpty(t, msg.ID)
	require.Equal(t, core.MessageText, msg.Type)
	rec.Wait(t, s.f.Timeout, "message_create (incoming)", Is(id, func(e *core.MessageEvent) bool {
		return e.Kind == core.EventMessageCreate && !e.FromMe && e.ID == msg.ID
	}))

	if book, ok := p.(core.ContactBook); ok {
		contacts, err := book.Contacts(t.Context(), id)
		require.NoError(t, err)
		require.NotNil(t, contacts)
	}
	requireUniqueIDs(t, rec.Events())
}

// ownEditsAndRevokes: edits and revokes made through the provider are announced like those made
// on the phone (fromMe), and the protocol messages carrying them never surface as acks of ids
// nobody sent.
func (s suite) ownEditsAndRevokes(t *testing.T) {
	env := s.newEnv(t)
	p, rec := s.start(t, env)
	id := sessionID(t, "edit")
	s.connected(t, env, p, rec, id)
	peer := env.NewPeer(t)
	ctx := t.Context()

	res, err := p.SendMessage(ctx, id, core.OutgoingMessage{To: peer.Address(), Type: core.MessageText, Text: "typo"})
	require.NoError(t, err)
	Eventually(t, s.f.Timeout, "peer receives the text", func() bool { return slices.Contains(peer.Texts(t), "typo") })
	ed, err := core.As[core.MessageEditor](p, core.CapabilityEdit)
	require.NoError(t, err)
	require.NoError(t, ed.EditMessage(ctx, id, res.ChatID, res.ID, "fixed"))
	rec.Wait(t, s.f.Timeout, "message_edit of the own message", Is(id, func(e *core.MessageEditEvent) bool {
		return e.ID == res.ID && e.FromMe && e.Body == "fixed" && e.PreviousBody == "typo"
	}))
	rv, err := core.As[core.MessageRevoker](p, core.CapabilityRevoke)
	require.NoError(t, err)
	require.NoError(t, rv.RevokeMessage(ctx, id, res.ChatID, res.ID))
	rec.Wait(t, s.f.Timeout, "message_revoke_everyone of the own message", Is(id, func(e *core.MessageRevokeEvent) bool {
		return e.ID == res.ID && e.FromMe
	}))

	if !s.f.Receipts {
		return
	}
	// Receipts come in order: once the marker's delivery ack is in, the edit's and revoke's are too.
	marker, err := p.SendMessage(ctx, id, core.OutgoingMessage{To: peer.Address(), Type: core.MessageText, Text: "marker"})
	require.NoError(t, err)
	rec.Wait(t, s.f.Timeout, "the marker's delivery ack", Is(id, func(e *core.MessageAckEvent) bool {
		return e.ID == marker.ID && e.Ack >= core.AckReceived
	}))
	for _, e := range rec.Events() {
		if a, ok := e.Data.(*core.MessageAckEvent); ok && e.SessionID == id {
			require.Contains(t, []core.MessageID{res.ID, marker.ID}, a.ID, "acks only of messages SendMessage returned")
		}
	}
}

func (s suite) resendSameID(t *testing.T) {
	env := s.newEnv(t)
	p, rec := s.start(t, env)
	id := sessionID(t, "dup")
	s.connected(t, env, p, rec, id)
	peer := env.NewPeer(t)

	first, err := p.SendMessage(t.Context(), id, core.OutgoingMessage{To: peer.Address(), Type: core.MessageText, Text: "only once"})
	require.NoError(t, err)
	_, err = p.SendMessage(t.Context(), id, core.OutgoingMessage{ID: first.ID, To: peer.Address(), Type: core.MessageText, Text: "only once"})
	require.NoError(t, err, "re-sending an id is not an error")
	// The channel delivers in order, so once the marker arrived a duplicate would have too.
	_, err = p.SendMessage(t.Context(), id, core.OutgoingMessage{To: peer.Address(), Type: core.MessageText, Text: "marker"})
	require.NoError(t, err)
	Eventually(t, s.f.Timeout, "peer receives the marker", func() bool { return slices.Contains(peer.Texts(t), "marker") })
	count := 0
	for _, txt := range peer.Texts(t) {
		if txt == "only once" {
			count++
		}
	}
	require.Equal(t, 1, count, "a message re-sent with its id arrives once")
}

func (s suite) deleteConnected(t *testing.T) {
	env := s.newEnv(t)
	p, rec := s.start(t, env)
	id := sessionID(t, "del")
	s.connected(t, env, p, rec, id)
	peer := env.NewPeer(t)

	require.NoError(t, p.DeleteSession(t.Context(), id))
	_, err := p.Session(t.Context(), id)
	require.ErrorIs(t, err, core.ErrNotFound)
	_, err = p.SendMessage(t.Context(), id, core.OutgoingMessage{To: peer.Address(), Type: core.MessageText, Text: "x"})
	require.ErrorIs(t, err, core.ErrNotFound)
	stats, err := p.Stats(t.Context())
	require.NoError(t, err)
	require.Equal(t, 0, stats.Total)

	// A restarted provider must not bring a deleted session back.
	require.NoError(t, p.Stop(t.Context()))
	p2, _ := s.start(t, env)
	_, err = p2.Session(t.Context(), id)
	require.ErrorIs(t, err, core.ErrNotFound, "a deleted session stays deleted after restart")
}

func (s suite) restore(t *testing.T) {
	env := s.newEnv(t)
	p, rec := s.start(t, env)
	id := sessionID(t, "rst")
	sess := s.connected(t, env, p, rec, id)
	require.NoError(t, p.Stop(t.Context()))

	p2, rec2 := s.start(t, env)
	rec2.Wait(t, s.f.Timeout, "session.status connected after restart", Is(id, func(e *core.SessionStatusEvent) bool {
		return e.Status == core.StatusConnected
	}))
	got, err := p2.Session(t.Context(), id)
	require.NoError(t, err)
	require.Equal(t, core.StatusConnected, got.Status)
	require.Equal(t, sess.Account, got.Account)

	peer := env.NewPeer(t)
	_, err = p2.SendMessage(t.Context(), id, core.OutgoingMessage{To: peer.Address(), Type: core.MessageText, Text: "after restart"})
	require.NoError(t, err)
	Eventually(t, s.f.Timeout, "peer receives after restart", func() bool { return slices.Contains(peer.Texts(t), "after restart") })
}
