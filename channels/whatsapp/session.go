package whatsapp

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/store"
	"go.mau.fi/whatsmeow/types"

	"github.com/28web/hub/channels/core"
	plog "github.com/28web/hub/platform/log"
	"github.com/28web/hub/platform/retry"
)

// session is one account: its whatsmeow client and its state machine. Its fields are guarded by
// mu; whatsmeow calls handleEvent from the client's own goroutines.
type session struct {
	p  *Provider
	id core.SessionID

	mu          sync.Mutex
	cli         *whatsmeow.Client
	status      core.SessionStatus
	reason      string
	bannedUntil *time.Time
	createdAt   time.Time
	updatedAt   time.Time
	connectedAt *time.Time
	pairedAt    *time.Time
	device      types.JID // the paired device JID, empty until PairSuccess
	account     types.JID
	accountLID  types.JID
	pushName    string
	// attempts counts failed reconnects since the last successful login (backoff exponent).
	attempts int
	// gone is set by delete, expiry and Stop: the client must not come back.
	gone bool
	// qr holds the current batch of QR codes while waiting to pair; nil otherwise.
	qr *qrState
	// keepAliveDown is set while keepalives fail, to report the failure once.
	keepAliveDown bool
	// contacts is the lazily loaded contact list; nil until first asked for.
	contacts []core.Contact
}

type qrState struct {
	codes     []string
	index     int
	expiresAt time.Time
}

func (p *Provider) newSession(rec SessionRecord) *session {
	s := &session{
		p: p, id: rec.ID,
		status: rec.Status, reason: rec.Reason, bannedUntil: rec.BannedUntil,
		createdAt: rec.CreatedAt, updatedAt: rec.CreatedAt, pairedAt: rec.PairedAt, pushName: rec.PushName,
	}
	if rec.JID != "" {
		if j, err := types.ParseJID(rec.JID); err == nil {
			s.device, s.account = j, j.ToNonAD()
		}
	}
	if rec.LID != "" {
		if j, err := types.ParseJID(rec.LID); err == nil {
			s.accountLID = j
		}
	}
	if s.status == "" {
		s.status = core.StatusConnecting
	}
	return s
}

// attach builds the session's whatsmeow client on dev. whatsmeow's own auto-reconnect is off:
// the shared scheduler reconnects with exponential backoff and jitter instead of one sleeping
// goroutine per dropped client with linear backoff.
func (s *session) attach(dev *store.Device) {
	s.p.stores.wrap(dev)
	cli := whatsmeow.NewClient(dev, newWALogger(s.p.log, s.id))
	cli.EnableAutoReconnect = false
	// Ack only after our handler published (SynchronousAck), and keep the decrypted plaintext in
	// the store until then (EnableDecryptedEventBuffer): a message redelivered after a crash
	// cannot be decrypted twice (the Signal ratchet moved on), so it is served from that buffer.
	cli.SynchronousAck = true
	cli.EnableDecryptedEventBuffer = true
	cli.ManualHistorySyncDownload = true
	cli.BackgroundEventCtx = s.p.ctx
	cli.SetPreLoginHTTPClient(s.p.waHTTP)
	cli.SetWebsocketHTTPClient(s.p.waHTTP)
	cli.SetMediaHTTPClient(s.p.waHTTP)
	if s.p.configure != nil {
		s.p.configure(cli)
	}
	cli.AddEventHandlerWithSuccessStatus(s.handleEvent)
	s.cli = cli
}

// logInfo, logWarn and logError log with the session id. No Logger.With is kept per session (it
// costs about 1 KB each) or built per call (a handler clone even when the level is off).
func (s *session) logInfo(msg string, args ...any)  { s.logAt(slog.LevelInfo, msg, args) }
func (s *session) logWarn(msg string, args ...any)  { s.logAt(slog.LevelWarn, msg, args) }
func (s *session) logError(msg string, args ...any) { s.logAt(slog.LevelError, msg, args) }

func (s *session) logAt(level slog.Level, msg string, args []any) {
	if !s.p.log.Enabled(context.Background(), level) {
		return
	}
	s.p.log.Log(context.Background(), level, msg, append([]any{slog.String(plog.SessionKey, string(s.id))}, args...)...)
}

// client returns the session's client, or nil once it is gone.
func (s *session) client() *whatsmeow.Client {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gone {
		return nil
	}
	return s.cli
}

func (s *session) snapshot() core.Session {
	s.mu.Lock()
	defer s.mu.Unlock()
	return core.Session{
		ID: s.id, Channel: Channel, Status: s.status, Account: chatID(s.account), AccountLID: chatID(s.accountLID),
		PushName: s.pushName, Reason: s.reason, BannedUntil: s.bannedUntil, CreatedAt: s.createdAt,
		UpdatedAt: s.updatedAt, ConnectedAt: s.connectedAt,
	}
}

// recordLocked is the persisted form. Caller holds mu.
func (s *session) recordLocked() SessionRecord {
	rec := SessionRecord{ID: s.id, PushName: s.pushName, Status: s.status, Reason: s.reason,
		BannedUntil: s.bannedUntil, CreatedAt: s.createdAt, PairedAt: s.pairedAt}
	if !s.device.IsEmpty() {
		rec.JID = s.device.String()
	}
	if !s.accountLID.IsEmpty() {
		rec.LID = s.accountLID.String()
	}
	return rec
}

// persist writes the session's record; failures are logged, the in-memory state stays right.
func (s *session) persist(ctx context.Context) {
	s.mu.Lock()
	if s.gone {
		s.mu.Unlock()
		return
	}
	rec := s.recordLocked()
	s.mu.Unlock()
	if err := s.p.repo.UpdateSession(ctx, rec); err != nil && !errors.Is(err, core.ErrNotFound) {
		s.logError("persist session", "error", err)
	}
}

// publish hands one event to the sink and reports whether it is durable. Message events are
// retried for a while, because the caller withholds WhatsApp's ack until they are published.
func (s *session) publish(data core.EventData) bool {
	return s.publishKeyed(data, "")
}

// publishKeyed publishes with an id derived from key when key is set: a message WhatsApp
// redelivers (after a crash, a retry) yields the same event id, so consumers' idempotency holds.
// Every event is retried until it is durable, for up to a minute: the events of stanzas
// (messages, receipts) must be durable before whatsmeow acknowledges them, and a false return
// leaves the stanza unacknowledged, so WhatsApp delivers it again.
func (s *session) publishKeyed(data core.EventData, key string) bool {
	ev := core.NewEvent(s.id, data)
	if key != "" {
		ev.ID = core.DerivedEventID(s.id, ev.Type, key)
	}
	ctx := s.p.ctx
	deadline := time.Now().Add(time.Minute)
	for attempt := 1; ; attempt++ {
		err := s.p.sink.Publish(ctx, ev)
		if err == nil {
			return true
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			s.logError("publish event", "event", string(ev.Type), "eventId", string(ev.ID), "error", err)
			return false
		}
		s.logWarn("publish event failed, retrying", "event", string(ev.Type), "error", err)
		if !retry.Sleep(ctx, publishBackoff.Delay(attempt)) {
			return false
		}
	}
}

// publishBackoff paces publishKeyed's retries.
var publishBackoff = retry.Policy{Initial: 50 * time.Millisecond, Max: 5 * time.Second}

// setStatus moves the state machine and emits session.status when the status changed.
func (s *session) setStatus(st core.SessionStatus, reason string, bannedUntil *time.Time) {
	s.transition(st, reason, bannedUntil, false)
}

// transition moves the state machine; with persist the new state is written before the event
// goes out, so whoever sees the event and restarts the process finds the same state.
func (s *session) transition(st core.SessionStatus, reason string, bannedUntil *time.Time, persist bool) {
	s.mu.Lock()
	if s.gone && st != core.StatusFailed {
		s.mu.Unlock()
		return
	}
	prev := s.status
	s.status, s.reason, s.bannedUntil = st, reason, bannedUntil
	now := time.Now().UTC()
	s.updatedAt = now
	if st == core.StatusConnected {
		s.connectedAt = &now
	}
	account, accountLID, pushName := chatID(s.account), chatID(s.accountLID), s.pushName
	s.mu.Unlock()
	if persist {
		s.persist(s.p.ctx)
	}
	if prev == st {
		return
	}
	s.logInfo("session status", "status", string(st), "previous", string(prev), "reason", reason)
	s.publish(&core.SessionStatusEvent{Status: st, PreviousStatus: prev, Reason: reason, BannedUntil: bannedUntil,
		Account: account, AccountLID: accountLID, PushName: pushName})
}

// connect is the scheduled connect task: it takes one of the ConnectConcurrency slots for the
// handshake, then lets the login finish asynchronously (events.Connected or a failure event).
func (s *session) connect() {
	p := s.p
	select {
	case p.connectSem <- struct{}{}:
	case <-p.ctx.Done():
		return
	}
	defer func() { <-p.connectSem }()
	cli := s.client()
	if cli == nil || cli.IsConnected() {
		return
	}
	s.mu.Lock()
	st := s.status
	s.mu.Unlock()
	if st != core.StatusQRCode && st != core.StatusConnecting {
		s.setStatus(core.StatusConnecting, "", nil)
	}
	s.publish(&core.ConnectionStatusEvent{Status: core.ConnectionConnecting})
	err := cli.Connect()
	if s.client() == nil {
		// Deleted or stopped while the handshake ran: undo it so no zombie client survives.
		cli.Disconnect()
		return
	}
	if errors.Is(err, store.ErrDeviceDeleted) {
		s.terminal(core.StatusLoggedOut, "credentials were wiped from the device store", core.ConnectionRefused)
		return
	}
	if err != nil && !errors.Is(err, whatsmeow.ErrAlreadyConnected) {
		s.logWarn("connect failed", "error", err)
		s.publish(&core.ConnectionStatusEvent{Status: core.ConnectionClosed, Reason: err.Error()})
		s.scheduleReconnect()
	}
}

// backoff returns the delay before reconnect attempt n (1-based): exponential from ReconnectMin,
// capped at ReconnectMax, with "equal jitter" (half fixed, half random) so that sessions dropped
// together do not come back together.
func (s *session) backoff(n int) time.Duration {
	return retry.Policy{Initial: s.p.cfg.ReconnectMin, Max: s.p.cfg.ReconnectMax, Jitter: retry.Equal}.Delay(n)
}

// scheduleReconnect plans the next connect attempt with backoff.
func (s *session) scheduleReconnect() {
	s.mu.Lock()
	if s.gone {
		s.mu.Unlock()
		return
	}
	s.attempts++
	n := s.attempts
	s.mu.Unlock()
	delay := s.backoff(n)
	s.p.metrics.reconnects.Inc()
	s.logInfo("reconnect scheduled", "attempt", n, "delay", delay.String())
	s.p.sched.schedule(taskKey{s.id, taskConnect}, time.Now().Add(delay), s.connect)
}

// linkLost reports a dropped, reconnectable link and schedules the reconnect.
func (s *session) linkLost(reason string) {
	s.mu.Lock()
	paired := !s.device.IsEmpty()
	s.qr = nil
	s.mu.Unlock()
	if paired {
		s.setStatus(core.StatusDisconnected, reason, nil)
	}
	s.publish(&core.ConnectionStatusEvent{Status: core.ConnectionClosed, Reason: reason})
	s.publish(&core.DisconnectedEvent{Reason: reason, IsReconnectable: true})
	s.scheduleReconnect()
}

// reasonReplaced is the reason of a session another client took over. It does not reconnect by
// itself (two clients with the same credentials would take turns replacing each other, which
// gets numbers banned), but its credentials are still valid: the next start restores it.
const reasonReplaced = "replaced: another client connected with this session's credentials"

// terminal ends the session's connection for a cause that reconnecting cannot fix (logged out,
// replaced, outdated). The session stays listed with its reason until deleted.
func (s *session) terminal(st core.SessionStatus, reason string, conn core.ConnectionState) {
	s.p.sched.cancelSession(s.id)
	s.transition(st, reason, nil, true)
	s.publish(&core.ConnectionStatusEvent{Status: conn, Reason: reason})
	s.publish(&core.DisconnectedEvent{Reason: reason, IsReconnectable: false})
	s.mu.Lock()
	cli := s.cli
	s.cli = nil
	s.qr = nil
	s.mu.Unlock()
	if cli != nil {
		// Not from the event handler's goroutine: Disconnect waits for locks the handler may hold.
		go func() {
			cli.Disconnect()
			cli.RemoveEventHandlers()
		}()
	}
}

// shutdown disconnects the client without logging out (provider Stop).
func (s *session) shutdown() {
	s.mu.Lock()
	s.gone = true
	cli := s.cli
	s.mu.Unlock()
	if cli != nil {
		cli.Disconnect()
		cli.RemoveEventHandlers()
	}
}

// destroy stops the session for good: with logout, a paired device is unlinked on WhatsApp
// first; either way its credentials are wiped from the store.
func (s *session) destroy(ctx context.Context, logout bool) {
	s.mu.Lock()
	s.gone = true
	cli := s.cli
	s.cli = nil
	s.mu.Unlock()
	if cli == nil {
		return
	}
	cli.RemoveEventHandlers()
	if logout && cli.Store.ID != nil && cli.IsLoggedIn() {
		if err := cli.Logout(ctx); err == nil {
			return
		} else {
			s.logWarn("logout on WhatsApp failed; wiping local credentials anyway", "error", err)
		}
	}
	cli.Disconnect()
	if cli.Store.ID != nil {
		if err := cli.Store.Delete(ctx); err != nil && !errors.Is(err, store.ErrDeviceDeleted) {
			s.logError("wipe credentials", "error", err)
		}
	}
}

// expire is the scheduled end of an unpaired session's life.
func (s *session) expire() {
	s.mu.Lock()
	paired := !s.device.IsEmpty()
	s.mu.Unlock()
	if !paired {
		s.p.expireSession(s)
	}
}

// checkAlive verifies a session marked connected (checked is false for other sessions), and makes
// sure a disconnected session has a reconnect planned.
func (s *session) checkAlive() (alive, checked bool) {
	s.mu.Lock()
	st, cli, gone := s.status, s.cli, s.gone
	s.mu.Unlock()
	if gone {
		return false, false
	}
	if st == core.StatusDisconnected && cli != nil && !cli.IsConnected() &&
		!s.p.sched.pending(taskKey{s.id, taskConnect}) {
		// A reconnect that got lost (a connect racing a drop): plan one again.
		s.scheduleReconnect()
		return false, false
	}
	if st != core.StatusConnected {
		return false, false
	}
	if cli != nil && cli.IsConnected() && cli.IsLoggedIn() {
		return true, true
	}
	s.logWarn("session marked connected has no live socket; reconnecting")
	if cli != nil {
		cli.Disconnect()
	}
	s.linkLost("health check: socket dead")
	return false, true
}

// showQR publishes the current QR code (qr_code event) and plans its rotation.
func (s *session) showQR() {
	s.mu.Lock()
	q := s.qr
	if q == nil || s.gone {
		s.mu.Unlock()
		return
	}
	code, exp := q.codes[q.index], q.expiresAt
	s.mu.Unlock()
	s.setStatus(core.StatusQRCode, "", nil)
	img, err := qrDataURL(code)
	if err != nil {
		s.logWarn("render qr", "error", err)
	}
	s.publish(&core.QRCodeEvent{QR: code, Image: img, ExpiresAt: exp})
	s.p.sched.schedule(taskKey{s.id, taskQRRotate}, exp, s.rotateQR)
}

// rotateQR moves to the next code of the batch; once the batch is used up it reconnects for a
// fresh one (WhatsApp sends a batch per connection) until the session expires.
func (s *session) rotateQR() {
	s.mu.Lock()
	q := s.qr
	if q == nil || s.gone {
		s.mu.Unlock()
		return
	}
	q.index++
	if q.index < len(q.codes) {
		q.expiresAt = time.Now().Add(s.p.cfg.QRTimeout)
		s.mu.Unlock()
		s.showQR()
		return
	}
	s.qr = nil
	cli := s.cli
	s.mu.Unlock()
	if cli != nil {
		cli.Disconnect()
	}
	s.p.sched.schedule(taskKey{s.id, taskConnect}, time.Now(), s.connect)
}

// currentQR returns the QR on show.
func (s *session) currentQR() (code string, expires time.Time, paired, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.device.IsEmpty() {
		return "", time.Time{}, true, false
	}
	if s.qr == nil {
		return "", time.Time{}, false, false
	}
	return s.qr.codes[s.qr.index], s.qr.expiresAt, false, true
}
