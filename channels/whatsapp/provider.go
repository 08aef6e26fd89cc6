// Package whatsapp is the WhatsApp channel: a core.Provider on go.mau.fi/whatsmeow running many
// sessions in one process, each its own whatsmeow client over one shared device store.
//
// Concurrency: every exported method is safe for concurrent use. A session owns no goroutine or
// timer of its own beyond its whatsmeow client's: reconnects, QR rotation, expiry and health
// sweeps run on one shared scheduler (scheduler.go). Inbound events are mapped in events.go and
// published before whatsmeow acknowledges them to WhatsApp (SynchronousAck).
package whatsapp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/store"
	"go.mau.fi/whatsmeow/types"

	"github.com/28web/hub/channels/core"
	"github.com/28web/hub/channels/core/media"
	plog "github.com/28web/hub/platform/log"
)

// Provider is the WhatsApp channel. Build it with New; Start restores the stored sessions.
type Provider struct {
	cfg       Config
	container *DeviceStore
	// stores puts the store cache in front of every device's whatsmeow store.
	stores    storeCaching
	repo      SessionRepository
	sink      core.EventSink
	bodies    MessageBodies
	log       *slog.Logger
	configure func(*whatsmeow.Client)
	fetcher   *media.Fetcher
	metrics   *channelMetrics
	registry  prometheus.Registerer
	// waHTTP is shared by every client for its websocket dials and media transfers: one pool
	// instead of three cloned transports per session.
	waHTTP *http.Client

	sched      *scheduler
	connectSem chan struct{}
	recent     *recentMessages
	// resolved caches number → JID answers of IsOnWhatsApp for every session: sends must not
	// cost a usync round trip each (WhatsApp rate-limits them).
	resolved *resolveCache

	// ctx is the lifetime of the clients' background work; cancelled by Stop.
	ctx    context.Context
	cancel context.CancelFunc

	mu       sync.RWMutex
	sessions map[core.SessionID]*session
	started  bool
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

// Option tunes a Provider beyond its Config.
type Option func(*Provider)

// WithClientConfigurer applies fn to every whatsmeow client the provider creates, before it
// connects. Tests use it to point clients at the simulator (wasim.ConfigureClient); production
// leaves it unset. fn must not touch process-global whatsmeow state per call in a way that
// differs between sessions.
func WithClientConfigurer(fn func(*whatsmeow.Client)) Option {
	return func(p *Provider) { p.configure = fn }
}

// WithMetrics registers the channel's counters (reconnects, messages received) on r.
func WithMetrics(r prometheus.Registerer) Option {
	return func(p *Provider) { p.registry = r }
}

// WithMediaFetcher sets the fetcher of media URLs given to SendMessage directly (the API fetches
// them itself when it accepts a message). The default refuses every non-public address.
func WithMediaFetcher(f *media.Fetcher) Option {
	return func(p *Provider) { p.fetcher = f }
}

// New builds a provider. container is whatsmeow's device store (OpenDeviceStore),
// repo the channel's session table, sink where events go. bodies may be nil: previousBody then
// comes from a bounded in-memory cache of recent messages.
func New(cfg Config, container *DeviceStore, repo SessionRepository, sink core.EventSink,
	bodies MessageBodies, logger *slog.Logger, opts ...Option) (*Provider, error) {
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("whatsapp provider: %w", err)
	}
	var errs []error
	if container == nil {
		errs = append(errs, errors.New("whatsmeow container is required"))
	}
	if repo == nil {
		errs = append(errs, errors.New("session repository is required"))
	}
	if sink == nil {
		errs = append(errs, errors.New("event sink is required"))
	}
	if logger == nil {
		errs = append(errs, errors.New("logger is required"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("whatsapp provider: %w", err)
	}
	p := &Provider{
		cfg: cfg, container: container, stores: newStoreCaching(container), repo: repo, sink: sink, bodies: bodies,
		log:        logger.With("component", "whatsapp"),
		sched:      newScheduler(),
		connectSem: make(chan struct{}, cfg.ConnectConcurrency),
		recent:     newRecentMessages(cfg.BodyCacheSize),
		resolved:   newResolveCache(resolveCacheSize, resolveTTL),
		sessions:   make(map[core.SessionID]*session),
		waHTTP:     &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()},
	}
	for _, o := range opts {
		o(p)
	}
	p.metrics = newChannelMetrics()
	if p.registry != nil {
		if err := p.metrics.register(p.registry); err != nil {
			return nil, fmt.Errorf("whatsapp provider: register metrics: %w", err)
		}
	}
	if p.fetcher == nil {
		p.fetcher = media.NewFetcher(media.Config{MaxBytes: cfg.MaxMediaBytes})
	}
	return p, nil
}

// Info implements core.Provider.
func (p *Provider) Info() core.ChannelInfo {
	return core.ChannelInfo{Channel: Channel, MaxTextLength: 65536, MaxMediaBytes: p.cfg.MaxMediaBytes,
		MessageTypes: slices.Clone(core.MessagingTypes)}
}

// Start restores every stored session: paired ones reconnect by themselves (spread over
// Config.RestoreRamp, at most Config.ConnectConcurrency at a time), unpaired ones offer QR codes
// again until they expire, terminal ones stay listed. It returns without waiting for the network.
func (p *Provider) Start(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.started {
		return errors.New("whatsapp provider already started")
	}
	recs, err := p.repo.ListSessions(ctx)
	if err != nil {
		return fmt.Errorf("start whatsapp provider: %w", err)
	}
	// One query for every device instead of one per session: restoring thousands stays fast.
	devices, err := p.container.GetAllDevices(ctx)
	if err != nil {
		return fmt.Errorf("start whatsapp provider: load devices: %w", err)
	}
	byJID := make(map[types.JID]*store.Device, len(devices))
	for _, d := range devices {
		if d.ID != nil {
			byJID[*d.ID] = d
		}
	}
	p.ctx, p.cancel = context.WithCancel(context.WithoutCancel(ctx))
	p.sched.start()
	p.started = true
	now := time.Now()
	restored := 0
	for _, rec := range recs {
		s := p.newSession(rec)
		switch {
		case rec.Status.Terminal() && !(rec.Status == core.StatusFailed && rec.Reason == reasonReplaced):
			// Listed with its reason until deleted; no client. (A replaced session's credentials
			// are still valid: it is restored below like any paired session.)
		case rec.JID == "":
			if now.After(rec.CreatedAt.Add(p.cfg.UnpairedTTL)) {
				if err := p.repo.DeleteSession(ctx, rec.ID); err != nil {
					p.log.Warn("clean expired unpaired session", plog.SessionKey, string(rec.ID), "error", err)
				}
				continue
			}
			s.attach(p.container.NewDevice())
			s.status = core.StatusConnecting
			p.sched.schedule(taskKey{rec.ID, taskExpire}, rec.CreatedAt.Add(p.cfg.UnpairedTTL), s.expire)
			p.sched.schedule(taskKey{rec.ID, taskConnect}, now.Add(p.rampDelay()), s.connect)
		default:
			jid, err := types.ParseJID(rec.JID)
			if err != nil {
				s.status, s.reason = core.StatusFailed, fmt.Sprintf("stored device id %q is not a JID", rec.JID)
				break
			}
			dev := byJID[jid]
			if dev == nil {
				// The credentials are gone (logged out while we were down): say so, once.
				s.status, s.reason = core.StatusLoggedOut, "credentials missing from the device store"
				s.persist(ctx)
				break
			}
			s.attach(dev)
			at := now.Add(p.rampDelay())
			if s.bannedUntil != nil && s.bannedUntil.After(at) {
				at = *s.bannedUntil
			} else {
				s.status = core.StatusConnecting
			}
			p.sched.schedule(taskKey{rec.ID, taskConnect}, at, s.connect)
			restored++
		}
		p.sessions[rec.ID] = s
	}
	p.sched.schedule(taskKey{kind: taskSweep}, now.Add(p.cfg.HealthInterval), p.sweep)
	p.log.Info("whatsapp provider started", "sessions", len(p.sessions), "reconnecting", restored)
	return nil
}

// rampDelay spreads restored sessions' first connects uniformly over RestoreRamp.
func (p *Provider) rampDelay() time.Duration {
	if p.cfg.RestoreRamp <= 0 {
		return 0
	}
	return rand.N(p.cfg.RestoreRamp)
}

// Stop disconnects every session without logging any out. The provider cannot be restarted; build
// a new one on the same storage instead.
func (p *Provider) Stop(ctx context.Context) error {
	p.mu.Lock()
	if !p.started {
		p.mu.Unlock()
		return nil
	}
	p.started = false
	all := make([]*session, 0, len(p.sessions))
	for _, s := range p.sessions {
		all = append(all, s)
	}
	p.sessions = make(map[core.SessionID]*session)
	p.mu.Unlock()

	// Cancel first: a connect task waiting for a slot or in a handshake gives up at once.
	p.cancel()
	p.sched.stopAndWait()
	for _, s := range all {
		s.shutdown()
	}
	p.log.Info("whatsapp provider stopped", "sessions", len(all))
	return ctx.Err()
}

// CreateSession implements core.Provider: the session starts connecting at once and shows its
// first QR code as soon as WhatsApp sends it (a qr_code event).
func (p *Provider) CreateSession(ctx context.Context, req core.CreateSessionRequest) (core.Session, error) {
	if err := req.ID.Validate(); err != nil {
		return core.Session{}, err
	}
	p.mu.Lock()
	if !p.started {
		p.mu.Unlock()
		return core.Session{}, fmt.Errorf("create session %s: provider not started: %w", req.ID, core.ErrUnavailable)
	}
	if _, ok := p.sessions[req.ID]; ok {
		p.mu.Unlock()
		return core.Session{}, fmt.Errorf("create session %s: %w", req.ID, core.ErrConflict)
	}
	now := time.Now().UTC()
	rec := SessionRecord{ID: req.ID, Status: core.StatusConnecting, CreatedAt: now}
	if err := p.repo.InsertSession(ctx, rec); err != nil {
		p.mu.Unlock()
		return core.Session{}, fmt.Errorf("create session %s: %w", req.ID, err)
	}
	s := p.newSession(rec)
	s.attach(p.container.NewDevice())
	p.sessions[req.ID] = s
	p.mu.Unlock()

	p.sched.schedule(taskKey{req.ID, taskExpire}, now.Add(p.cfg.UnpairedTTL), s.expire)
	p.sched.schedule(taskKey{req.ID, taskConnect}, now, s.connect)
	s.logInfo("session created")
	return s.snapshot(), nil
}

// get returns a live session or an error wrapping core.ErrNotFound.
func (p *Provider) get(id core.SessionID) (*session, error) {
	p.mu.RLock()
	s, ok := p.sessions[id]
	p.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("session %s: %w", id, core.ErrNotFound)
	}
	return s, nil
}

// Session implements core.Provider.
func (p *Provider) Session(_ context.Context, id core.SessionID) (core.Session, error) {
	s, err := p.get(id)
	if err != nil {
		return core.Session{}, err
	}
	return s.snapshot(), nil
}

// Sessions implements core.Provider.
func (p *Provider) Sessions(context.Context) ([]core.Session, error) {
	p.mu.RLock()
	out := make([]core.Session, 0, len(p.sessions))
	for _, s := range p.sessions {
		out = append(out, s.snapshot())
	}
	p.mu.RUnlock()
	slices.SortFunc(out, func(a, b core.Session) int {
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
	return out, nil
}

// Stats implements core.Provider.
func (p *Provider) Stats(ctx context.Context) (core.SessionStats, error) {
	all, err := p.Sessions(ctx)
	if err != nil {
		return core.SessionStats{}, err
	}
	return core.CountSessions(all), nil
}

// DeleteSession implements core.Provider: a paired session is logged out on WhatsApp (the phone
// drops the linked device), its credentials are wiped from the store and its client stopped.
// Pending reconnects are cancelled and a connect in flight is undone, so no client survives.
func (p *Provider) DeleteSession(ctx context.Context, id core.SessionID) error {
	p.mu.Lock()
	s, ok := p.sessions[id]
	if ok {
		delete(p.sessions, id)
	}
	p.mu.Unlock()
	if !ok {
		return fmt.Errorf("delete session %s: %w", id, core.ErrNotFound)
	}
	p.sched.cancelSession(id)
	s.destroy(ctx, true)
	p.recent.dropSession(id)
	if err := p.repo.DeleteSession(ctx, id); err != nil {
		return fmt.Errorf("delete session %s: %w", id, err)
	}
	s.logInfo("session deleted")
	return nil
}

// expireSession removes a session that never paired within Config.UnpairedTTL.
func (p *Provider) expireSession(s *session) {
	p.mu.Lock()
	if cur, ok := p.sessions[s.id]; !ok || cur != s {
		p.mu.Unlock()
		return
	}
	delete(p.sessions, s.id)
	p.mu.Unlock()
	p.sched.cancelSession(s.id)
	ctx := p.ctx
	s.setStatus(core.StatusFailed, "pairing timed out: no QR scan or pairing code within "+p.cfg.UnpairedTTL.String(), nil)
	s.destroy(ctx, false)
	if err := p.repo.DeleteSession(ctx, s.id); err != nil {
		s.logWarn("clean expired session", "error", err)
	}
	s.logInfo("unpaired session expired and removed")
}

// HealthReport is the result of a health sweep.
type HealthReport struct {
	Sessions  int `json:"sessions"`
	Connected int `json:"connected"`
	// Dead counts sessions that were marked connected but had no live, logged-in socket; the sweep
	// marked them disconnected and scheduled their reconnect.
	Dead int `json:"dead"`
}

// CheckHealth verifies now that every session marked connected still has a live, logged-in
// socket, and reconnects those that do not. The shared sweeper runs it every
// Config.HealthInterval; the health endpoint may call it too.
func (p *Provider) CheckHealth(context.Context) HealthReport {
	p.mu.RLock()
	all := make([]*session, 0, len(p.sessions))
	for _, s := range p.sessions {
		all = append(all, s)
	}
	p.mu.RUnlock()
	rep := HealthReport{Sessions: len(all)}
	for _, s := range all {
		alive, checked := s.checkAlive()
		if !checked {
			continue
		}
		if alive {
			rep.Connected++
		} else {
			rep.Dead++
		}
	}
	return rep
}

// sweep is the shared periodic task: health check, then reschedule itself.
func (p *Provider) sweep() {
	rep := p.CheckHealth(p.ctx)
	if rep.Dead > 0 {
		p.log.Warn("health sweep found dead sockets", "dead", rep.Dead, "connected", rep.Connected)
	}
	p.sched.schedule(taskKey{kind: taskSweep}, time.Now().Add(p.cfg.HealthInterval), p.sweep)
}

// HealthCheck fits platform/health.Check.Func: it runs CheckHealth and fails when the provider is
// not running or a session marked connected had a dead socket (it is being reconnected).
func (p *Provider) HealthCheck(ctx context.Context) error {
	p.mu.RLock()
	started := p.started
	p.mu.RUnlock()
	if !started {
		return fmt.Errorf("whatsapp provider not running: %w", core.ErrUnavailable)
	}
	if rep := p.CheckHealth(ctx); rep.Dead > 0 {
		return fmt.Errorf("whatsapp: %d of %d connected sessions had a dead socket: %w", rep.Dead, rep.Connected+rep.Dead, core.ErrUnavailable)
	}
	return nil
}
