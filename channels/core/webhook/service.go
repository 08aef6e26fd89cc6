package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/uptrace/bun"

	"github.com/28web/hub/channels/core"
	"github.com/28web/hub/channels/core/eventbus"
	"github.com/28web/hub/platform/bus"
	"github.com/28web/hub/platform/db"
)

// ConsumerGroup is the bus consumer group webhook ingestion reads core.TopicEvents as.
const ConsumerGroup = "webhooks"

// MaxSessionEndpoints bounds the endpoints of one session.
const MaxSessionEndpoints = 10

// SessionChecker tells whether a session exists; the session registry implements it.
type SessionChecker interface {
	// SessionExists returns nil, or an error wrapping core.ErrNotFound for an unknown session.
	SessionExists(ctx context.Context, id core.SessionID) error
}

// Service is webhook delivery: endpoint management, bus ingestion, the dispatcher and the
// delivery log. Its methods are safe for concurrent use.
type Service struct {
	cfg   Config
	topic string
	store *store
	// latencyMetrics: record the attempt-duration histogram.
	latencyMetrics bool
	// onDisable reports endpoints the dispatcher disabled; optional.
	onDisable func(EndpointView)
	disp      *Dispatcher
	bus       *bus.Bus
	logger    *slog.Logger

	// mu serialises endpoint changes, so that a replace sees a consistent set.
	mu sync.Mutex

	// loaded: the endpoints are in memory. Endpoint operations answer ErrUnavailable before,
	// since the HTTP server may start serving before this service starts.
	loaded atomic.Bool
	// writer groups hot-path writes while the service runs; nil otherwise. writing is held (read)
	// by every write through it, so that stopping waits for them.
	writer  atomic.Pointer[db.Batcher[*writeOp]]
	writing sync.RWMutex

	runMu  sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
	// stopIngest ends consumption of the events topic.
	stopIngest func()
	pruneWG    sync.WaitGroup
}

// Option adjusts a Service.
type Option func(*Service)

// WithDisableHook calls fn whenever the dispatcher disables an endpoint (410 Gone, or failing
// for disable_after), so that the caller can report it, e.g. as an event. fn must not block.
func WithDisableHook(fn func(EndpointView)) Option {
	return func(s *Service) { s.onDisable = fn }
}

// WithLatencyMetrics records the attempt-duration histogram (PERFORMANCE_MONITORING).
func WithLatencyMetrics() Option { return func(s *Service) { s.latencyMetrics = true } }

// WithTopic consumes events from topic instead of core.TopicEvents (tests sharing a Redis use
// their own stream).
func WithTopic(topic string) Option { return func(s *Service) { s.topic = topic } }

// New builds the service. b may be nil (no bus consumption: call Ingest yourself); reg may be
// nil (metrics unregistered). cfg is defaulted and validated here.
func New(cfg Config, d *db.DB, b *bus.Bus, reg prometheus.Registerer, logger *slog.Logger, opts ...Option) (*Service, error) {
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("new webhook service: %w", err)
	}
	st := newStore(d)
	s := &Service{cfg: cfg, topic: core.TopicEvents, store: st, bus: b, logger: logger}
	for _, o := range opts {
		o(s)
	}
	m, err := newMetrics(reg, s.latencyMetrics)
	if err != nil {
		return nil, fmt.Errorf("new webhook service: %w", err)
	}
	s.disp = newDispatcher(cfg, st, m, logger)
	s.disp.record = s.record
	if s.onDisable != nil {
		s.disp.onDisable = func(e *Endpoint) { s.onDisable(view(e, false, s.disp.now())) }
	}
	return s, nil
}

// Start loads the endpoints, applies the global endpoint's configuration, and starts the
// dispatcher and (with a bus) the consumer. It returns once events are being consumed.
func (s *Service) Start(ctx context.Context) error {
	s.runMu.Lock()
	defer s.runMu.Unlock()
	if s.cancel != nil {
		return errors.New("webhook service already started")
	}
	eps, err := s.store.endpoints(ctx)
	if err != nil {
		return fmt.Errorf("start webhooks: %w", err)
	}
	for _, e := range eps {
		s.disp.putEndpoint(e, true)
	}
	if err := s.syncGlobal(ctx, eps); err != nil {
		return fmt.Errorf("start webhooks: %w", err)
	}
	s.loaded.Store(true)

	s.writer.Store(newWriter(s.store))
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.cancel = cancel
	s.done = make(chan struct{})
	go func() {
		defer close(s.done)
		s.disp.run(runCtx)
	}()
	s.pruneWG.Go(func() { s.pruneLoop(runCtx) })

	if s.bus != nil {
		stop, err := s.bus.ConsumeBatches(s.topic, ConsumerGroup, ingestBatch, s.HandleBatch)
		if err != nil {
			s.stopLocked()
			return fmt.Errorf("start webhooks: %w", err)
		}
		s.stopIngest = stop
	}
	s.logger.Info("webhook delivery started", "endpoints", len(s.disp.snapshot()), "global", s.cfg.URL != "")
	return nil
}

// Stop stops consuming, then cuts attempts in flight short (their deliveries stay pending and
// go out on the next start) and waits for them.
func (s *Service) Stop(ctx context.Context) error {
	s.runMu.Lock()
	defer s.runMu.Unlock()
	done := make(chan struct{})
	go func() {
		s.stopLocked()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("stop webhooks: %w", ctx.Err())
	}
}

func (s *Service) stopLocked() {
	if s.cancel == nil {
		return
	}
	if s.stopIngest != nil {
		s.stopIngest()
		s.stopIngest = nil
	}
	s.cancel()
	<-s.done
	s.pruneWG.Wait()
	// Writes under way finish first; later ones run alone.
	s.writing.Lock()
	s.writer.Store(nil)
	s.writing.Unlock()
	s.cancel = nil
}

// write runs fn in a transaction, grouped with other writes while the service runs.
func (s *Service) write(ctx context.Context, fn func(ctx context.Context, tx bun.Tx) error) error {
	s.writing.RLock()
	defer s.writing.RUnlock()
	if w := s.writer.Load(); w != nil {
		return submit(ctx, w, &writeOp{fn: fn})
	}
	return s.store.db.RunInTx(ctx, nil, fn)
}

// record writes an attempt outcome, grouped with other writes while the service runs.
func (s *Service) record(ctx context.Context, o outcome) error {
	s.writing.RLock()
	defer s.writing.RUnlock()
	if w := s.writer.Load(); w != nil {
		return submit(ctx, w, &writeOp{outcome: &o})
	}
	return s.store.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		return s.store.recordOutcomes(ctx, tx, []outcome{o})
	})
}

// ingestBatch bounds the events taken from the bus at once.
const ingestBatch = 256

// HandleBatch is the bus handler of the events topic: HandleMessage for each, in order. Ingest
// is idempotent, so a batch retried after a partial failure writes nothing twice.
func (s *Service) HandleBatch(_ context.Context, msgs []*message.Message) error {
	for _, msg := range msgs {
		if err := s.HandleMessage(msg); err != nil {
			return err
		}
	}
	return nil
}

// HandleMessage is the bus handler of the events topic: it stores the event's deliveries and
// returns nil (ack) only once they are written.
func (s *Service) HandleMessage(msg *message.Message) error {
	ev, err := eventbus.DecodeEvent(msg)
	if err != nil {
		return err
	}
	return s.Ingest(msg.Context(), ev)
}

// Ingest writes one delivery per endpoint ev goes to (idempotent on (event, endpoint)) and
// hands them to the dispatcher.
func (s *Service) Ingest(ctx context.Context, ev core.Event) error {
	targets := s.disp.match(ev)
	if len(targets) == 0 {
		return nil
	}
	payload, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("encode event %s: %w", ev.ID, err)
	}
	now := s.disp.now()
	var rows []deliveryRow
	if s.store.dialect == db.Postgres {
		// One statement commits alone, and PostgreSQL writers do not queue on a database-wide
		// lock: inserting directly spares the bus handler, which runs one message at a time, the
		// wait for a batch of outcomes.
		rows, err = s.store.insertDeliveries(ctx, s.store.db, ev, payload, targets, now)
	} else {
		err = s.write(ctx, func(ctx context.Context, tx bun.Tx) error {
			var err error
			rows, err = s.store.insertDeliveries(ctx, tx, ev, payload, targets, now)
			return err
		})
	}
	if err != nil {
		return err
	}
	s.disp.enqueue(rows, payload)
	if len(rows) < len(targets) {
		// A redelivered event: its rows exist. A previous try may have committed them without
		// being told (its context ended first), so hand the open ones to the dispatcher again;
		// it ignores those it already holds.
		open, err := s.store.openDeliveriesOfEvent(ctx, ev.ID)
		if err != nil {
			return err
		}
		s.disp.adopt(open, payload)
	}
	if st, ok := ev.Data.(*core.SessionStatusEvent); ok && st.Status == core.StatusDeleted {
		// The session's last event: its endpoints take nothing newer, deliver what they hold.
		return s.retireSession(ctx, ev.SessionID, ev.Timestamp)
	}
	return nil
}

// syncGlobal creates, updates or removes the global endpoint to match the configuration.
func (s *Service) syncGlobal(ctx context.Context, stored []*Endpoint) error {
	var cur *Endpoint
	for _, e := range stored {
		if e.ID == GlobalEndpointID {
			cur = e
		}
	}
	now := s.disp.now()
	if s.cfg.URL == "" {
		if cur == nil {
			return nil
		}
		s.disp.removeEndpoint(GlobalEndpointID)
		return s.store.deleteEndpoints(ctx, s.store.db, []EndpointID{GlobalEndpointID}, now)
	}
	events, _ := parseEvents(s.cfg.Events) // validated by Config.Validate
	next := &Endpoint{ID: GlobalEndpointID, URL: s.cfg.URL, Events: events, Secret: s.cfg.Secret, CreatedAt: now, UpdatedAt: now}
	if cur != nil {
		cp := *cur
		cp.URL, cp.Events, cp.UpdatedAt = s.cfg.URL, events, now
		// A configured secret that changed is a rotation: the stored one keeps signing for the
		// grace period.
		if s.cfg.Secret != "" && s.cfg.Secret != cur.Secret {
			cp.PreviousSecret, cp.PreviousExpiresAt, cp.Secret = cur.Secret, now.Add(s.cfg.RotationGrace), s.cfg.Secret
		}
		next = &cp
	} else if next.Secret == "" {
		next.Secret = NewSecret()
	}
	if err := s.store.upsertEndpoint(ctx, s.store.db, next); err != nil {
		return err
	}
	s.disp.putEndpoint(next, cur != nil)
	return nil
}

// EndpointView is an endpoint as the API shows it. Secret is set only in the answer to creation
// and rotation; header values are redacted in listings.
type EndpointView struct {
	ID                      EndpointID        `json:"id" doc:"Endpoint id; \"global\" is the APP_WEBHOOK_URL endpoint." example:"ep_0192f5c8a1b27c3e9d4f6a8b0c1d2e3f"`
	SessionID               core.SessionID    `json:"sessionId,omitempty" doc:"The session whose events it receives; absent for the global endpoint." example:"support-1"`
	URL                     string            `json:"url" format:"uri" example:"https://backend.example.com/hooks/whatsapp"`
	Events                  []core.EventType  `json:"events" doc:"Event types delivered; empty means all."`
	Headers                 map[string]string `json:"headers" doc:"Custom header names; values are redacted."`
	Secret                  string            `json:"secret,omitempty" doc:"The Standard Webhooks signing secret. Returned only when the endpoint is created or its secret rotated: store it then." example:"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"`
	SecretHint              string            `json:"secretHint" doc:"The secret's first characters, to tell secrets apart." example:"whsec_MfKQ…"`
	Disabled                bool              `json:"disabled" doc:"Deliveries are paused: the endpoint answered 410 or failed for too long. Re-enable it with enableWebhookEndpoint."`
	DisabledAt              *time.Time        `json:"disabledAt,omitempty"`
	DisabledReason          string            `json:"disabledReason,omitempty" example:"the endpoint answered 410 Gone"`
	FailingSince            *time.Time        `json:"failingSince,omitempty" doc:"Since when every attempt failed; absent while it succeeds."`
	PreviousSecretExpiresAt *time.Time        `json:"previousSecretExpiresAt,omitempty" doc:"During a rotation, when the previous secret stops signing."`
	CreatedAt               time.Time         `json:"createdAt"`
	UpdatedAt               time.Time         `json:"updatedAt"`
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func view(e *Endpoint, withSecret bool, now time.Time) EndpointView {
	v := EndpointView{
		ID: e.ID, SessionID: e.SessionID, URL: e.URL, Events: nonNil(e.Events), Headers: map[string]string{},
		SecretHint: maskSecret(e.Secret), Disabled: e.Disabled(), DisabledAt: timePtr(e.DisabledAt),
		DisabledReason: e.DisabledReason, FailingSince: timePtr(e.FailingSince),
		CreatedAt: e.CreatedAt, UpdatedAt: e.UpdatedAt,
	}
	if e.PreviousSecret != "" && now.Before(e.PreviousExpiresAt) {
		v.PreviousSecretExpiresAt = timePtr(e.PreviousExpiresAt)
	}
	for k := range e.Headers {
		v.Headers[k] = "[redacted]"
	}
	if withSecret {
		v.Secret = e.Secret
	}
	return v
}

// ready fails until Start has loaded the endpoints.
func (s *Service) ready() error {
	if !s.loaded.Load() {
		return fmt.Errorf("%w: webhook delivery is starting", core.ErrUnavailable)
	}
	return nil
}

// checkSession verifies a session exists when a checker is set.
func (s *Service) checkSession(ctx context.Context, sessions SessionChecker, id core.SessionID) error {
	if err := id.Validate(); err != nil {
		return err
	}
	if sessions == nil {
		return nil
	}
	return sessions.SessionExists(ctx, id)
}

// newEndpoint validates in and builds a fresh endpoint of session.
func (s *Service) newEndpoint(session core.SessionID, in EndpointInput, now time.Time) (*Endpoint, error) {
	e := &Endpoint{SessionID: session, CreatedAt: now, UpdatedAt: now}
	if err := s.applyInput(e, in); err != nil {
		return nil, err
	}
	e.ID = EndpointID("ep_" + strings.ReplaceAll(uuid.Must(uuid.NewV7()).String(), "-", ""))
	e.Secret = NewSecret()
	return e, nil
}

// applyInput validates in and copies it onto e.
func (s *Service) applyInput(e *Endpoint, in EndpointInput) error {
	if _, err := validateURL(in.URL, s.cfg.AllowPrivateTargets); err != nil {
		return err
	}
	names := make([]string, len(in.Events))
	for i, t := range in.Events {
		names[i] = string(t)
	}
	events, err := parseEvents(names)
	if err != nil {
		return err
	}
	headers, err := validateHeaders(in.Headers)
	if err != nil {
		return err
	}
	e.URL, e.Events, e.Headers = in.URL, events, headers
	return nil
}

// SessionEndpoints lists a session's endpoints (secrets not included).
func (s *Service) SessionEndpoints(_ context.Context, session core.SessionID) ([]EndpointView, error) {
	if err := s.ready(); err != nil {
		return nil, err
	}
	now := s.disp.now()
	var out []EndpointView
	for _, e := range s.sortedEndpoints() {
		if e.SessionID == session {
			out = append(out, view(e, false, now))
		}
	}
	return nonNil(out), nil
}

// Endpoints lists every endpoint, the global one first (secrets not included).
func (s *Service) Endpoints(_ context.Context) ([]EndpointView, error) {
	if err := s.ready(); err != nil {
		return nil, err
	}
	now := s.disp.now()
	eps := s.sortedEndpoints()
	out := make([]EndpointView, len(eps))
	for i, e := range eps {
		out[i] = view(e, false, now)
	}
	return out, nil
}

func (s *Service) sortedEndpoints() []*Endpoint {
	eps := s.disp.snapshot()
	slices.SortFunc(eps, func(a, b *Endpoint) int {
		if (a.ID == GlobalEndpointID) != (b.ID == GlobalEndpointID) {
			if a.ID == GlobalEndpointID {
				return -1
			}
			return 1
		}
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(string(a.ID), string(b.ID))
	})
	return eps
}

// SetSessionEndpoints replaces a session's endpoints with inputs: an existing endpoint with the
// same URL is kept (id, secret, state) with the new events and headers; new URLs get new
// endpoints, whose secrets the result carries (the only time they are shown); the others are
// deleted and their pending deliveries cancelled. The session-creation handler calls it; it
// does not check that the session exists. Invalid input wraps core.ErrInvalid.
func (s *Service) SetSessionEndpoints(ctx context.Context, session core.SessionID, inputs []EndpointInput) ([]EndpointView, error) {
	if err := s.ready(); err != nil {
		return nil, err
	}
	if err := session.Validate(); err != nil {
		return nil, err
	}
	if len(inputs) > MaxSessionEndpoints {
		return nil, fmt.Errorf("%w: at most %d webhooks per session", core.ErrInvalid, MaxSessionEndpoints)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.disp.now()
	existing := map[string]*Endpoint{}
	for _, e := range s.disp.snapshot() {
		if e.SessionID == session {
			existing[e.URL] = e
		}
	}
	seen := map[string]bool{}
	var keep, created []*Endpoint
	for i, in := range inputs {
		if seen[in.URL] {
			return nil, fmt.Errorf("%w: webhooks[%d]: url %q given twice", core.ErrInvalid, i, in.URL)
		}
		seen[in.URL] = true
		if cur := existing[in.URL]; cur != nil {
			next := *cur
			if err := s.applyInput(&next, in); err != nil {
				return nil, fmt.Errorf("webhooks[%d]: %w", i, err)
			}
			next.UpdatedAt = now
			keep = append(keep, &next)
			delete(existing, in.URL)
			continue
		}
		e, err := s.newEndpoint(session, in, now)
		if err != nil {
			return nil, fmt.Errorf("webhooks[%d]: %w", i, err)
		}
		created = append(created, e)
	}
	var removed []EndpointID
	for _, e := range existing {
		removed = append(removed, e.ID)
	}
	err := s.store.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		for _, e := range slices.Concat(keep, created) {
			if err := s.store.upsertEndpoint(ctx, tx, e); err != nil {
				return err
			}
		}
		return s.store.deleteEndpoints(ctx, tx, removed, now)
	})
	if err != nil {
		return nil, fmt.Errorf("set webhooks of session %s: %w", session, err)
	}
	for _, id := range removed {
		s.disp.removeEndpoint(id)
	}
	out := make([]EndpointView, 0, len(keep)+len(created))
	for _, e := range keep {
		s.disp.putEndpoint(e, false)
		out = append(out, view(e, false, now))
	}
	for _, e := range created {
		s.disp.putEndpoint(e, false)
		out = append(out, view(e, true, now))
	}
	return out, nil
}

// CreateSessionEndpoint adds one endpoint to a session; the result carries its secret.
func (s *Service) CreateSessionEndpoint(ctx context.Context, session core.SessionID, in EndpointInput) (EndpointView, error) {
	if err := s.ready(); err != nil {
		return EndpointView{}, err
	}
	if err := session.Validate(); err != nil {
		return EndpointView{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.disp.now()
	n := 0
	for _, e := range s.disp.snapshot() {
		if e.SessionID == session {
			n++
			if e.URL == in.URL {
				return EndpointView{}, fmt.Errorf("%w: session %s already has a webhook for this url (%s)", core.ErrConflict, session, e.ID)
			}
		}
	}
	if n >= MaxSessionEndpoints {
		return EndpointView{}, fmt.Errorf("%w: session %s already has %d webhooks", core.ErrConflict, session, n)
	}
	e, err := s.newEndpoint(session, in, now)
	if err != nil {
		return EndpointView{}, err
	}
	if err := s.store.upsertEndpoint(ctx, s.store.db, e); err != nil {
		return EndpointView{}, err
	}
	s.disp.putEndpoint(e, false)
	return view(e, true, now), nil
}

// DeleteSessionEndpoint deletes one endpoint of a session and cancels its pending deliveries.
func (s *Service) DeleteSessionEndpoint(ctx context.Context, session core.SessionID, id EndpointID) error {
	if err := s.ready(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.disp.endpoint(id)
	if !ok || e.SessionID != session || session == "" {
		return fmt.Errorf("%w: session %s has no webhook %s", core.ErrNotFound, session, id)
	}
	s.disp.removeEndpoint(id)
	return s.store.deleteEndpoints(ctx, s.store.db, []EndpointID{id}, s.disp.now())
}

// retireSession retires the endpoints session had when it was deleted at deletedAt (endpoints of
// a session created again since under the same id stay). Idempotent: a redelivered event
// retires nothing more.
func (s *Service) retireSession(ctx context.Context, session core.SessionID, deletedAt time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.disp.now()
	var retired []*Endpoint
	for _, e := range s.disp.snapshot() {
		if e.SessionID == session && session != "" && !e.CreatedAt.After(deletedAt) {
			cp := *e
			cp.RetiredAt, cp.UpdatedAt = now, now
			retired = append(retired, &cp)
		}
	}
	ids := make([]EndpointID, len(retired))
	for i, e := range retired {
		ids[i] = e.ID
	}
	if err := s.store.retireEndpoints(ctx, ids, now); err != nil {
		return err
	}
	for _, e := range retired {
		s.disp.putEndpoint(e, true)
	}
	return nil
}

// dropDrained deletes the retired endpoints that delivered everything they held.
func (s *Service) dropDrained(ctx context.Context) error {
	ids, err := s.store.drainedRetired(ctx)
	if err != nil || len(ids) == 0 {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range ids {
		s.disp.removeEndpoint(id)
	}
	return s.store.deleteEndpoints(ctx, s.store.db, ids, s.disp.now())
}

// DeleteSessionEndpoints deletes every endpoint of a session (call it when the session is
// deleted) and cancels their pending deliveries.
func (s *Service) DeleteSessionEndpoints(ctx context.Context, session core.SessionID) error {
	if err := s.ready(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []EndpointID
	for _, e := range s.disp.snapshot() {
		if e.SessionID == session && session != "" {
			ids = append(ids, e.ID)
		}
	}
	for _, id := range ids {
		s.disp.removeEndpoint(id)
	}
	return s.store.deleteEndpoints(ctx, s.store.db, ids, s.disp.now())
}

// EnableEndpoint re-enables a disabled endpoint: its paused deliveries resume. Deliveries
// dead-lettered meanwhile are sent again with RedeliverFailed.
func (s *Service) EnableEndpoint(ctx context.Context, id EndpointID) (EndpointView, error) {
	return s.changeEndpoint(ctx, id, false, func(e *Endpoint, _ time.Time) {
		e.DisabledAt, e.DisabledReason, e.FailingSince = time.Time{}, "", time.Time{}
	})
}

// RotateSecret gives an endpoint a new secret, returned in the result; the previous one keeps
// signing (both signatures are sent) for Config.RotationGrace. The global endpoint's secret,
// when configured (Config.Secret), is rotated by changing the configuration instead (a conflict
// here).
func (s *Service) RotateSecret(ctx context.Context, id EndpointID) (EndpointView, error) {
	if id == GlobalEndpointID && s.cfg.Secret != "" {
		// The next start would put the configured secret back.
		return EndpointView{}, fmt.Errorf("%w: the global endpoint's secret is configured (webhook.secret): rotate it there", core.ErrConflict)
	}
	return s.changeEndpoint(ctx, id, true, func(e *Endpoint, now time.Time) {
		e.PreviousSecret, e.PreviousExpiresAt, e.Secret = e.Secret, now.Add(s.cfg.RotationGrace), NewSecret()
	})
}

func (s *Service) changeEndpoint(ctx context.Context, id EndpointID, withSecret bool, change func(*Endpoint, time.Time)) (EndpointView, error) {
	if err := s.ready(); err != nil {
		return EndpointView{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.disp.endpoint(id)
	if !ok {
		return EndpointView{}, fmt.Errorf("%w: webhook endpoint %s", core.ErrNotFound, id)
	}
	now := s.disp.now()
	next := *cur
	change(&next, now)
	next.UpdatedAt = now
	if err := s.store.upsertEndpoint(ctx, s.store.db, &next); err != nil {
		return EndpointView{}, err
	}
	s.disp.putEndpoint(&next, false)
	return view(&next, withSecret, now), nil
}

// Deliveries lists the delivery log, newest first. f.Limit defaults to 50, at most 500.
func (s *Service) Deliveries(ctx context.Context, f DeliveryFilter) ([]Delivery, error) {
	if f.Limit <= 0 {
		f.Limit = 50
	}
	f.Limit = min(f.Limit, 500)
	return s.store.listDeliveries(ctx, f)
}

// Delivery returns one delivery with its payload and every attempt; an unknown id wraps
// core.ErrNotFound.
func (s *Service) Delivery(ctx context.Context, id DeliveryID) (Delivery, []Attempt, error) {
	return s.store.delivery(ctx, id)
}

// Redeliver sends one finished (succeeded or dead) delivery again, with a fresh retry schedule
// and the same webhook-id. An open one is a conflict; a cancelled one (endpoint deleted) too.
func (s *Service) Redeliver(ctx context.Context, id DeliveryID) (Delivery, error) {
	if err := s.ready(); err != nil {
		return Delivery{}, err
	}
	d, _, err := s.store.delivery(ctx, id)
	if err != nil {
		return Delivery{}, err
	}
	if _, ok := s.disp.endpoint(d.EndpointID); !ok {
		return Delivery{}, fmt.Errorf("%w: delivery %d: its endpoint %s was deleted", core.ErrConflict, id, d.EndpointID)
	}
	if d.Status != StatusSucceeded && d.Status != StatusDead {
		return Delivery{}, fmt.Errorf("%w: delivery %d is %s", core.ErrConflict, id, d.Status)
	}
	rows, err := s.store.reopen(ctx, DeliveryFilter{EndpointID: d.EndpointID, EventID: d.EventID, Limit: 1},
		[]DeliveryStatus{StatusSucceeded, StatusDead}, s.disp.now())
	if err != nil {
		return Delivery{}, err
	}
	if len(rows) == 0 {
		return Delivery{}, fmt.Errorf("%w: delivery %d changed meanwhile", core.ErrConflict, id)
	}
	s.disp.reopen(rows)
	d, _, err = s.store.delivery(ctx, id)
	return d, err
}

// maxRedeliver bounds one range redelivery.
const maxRedeliver = 10_000

// RedeliverFailed sends again every dead delivery matching f (typically a time range, an
// endpoint or a session) whose endpoint still exists, up to 10000, oldest first, and returns
// how many.
func (s *Service) RedeliverFailed(ctx context.Context, f DeliveryFilter) (int, error) {
	if err := s.ready(); err != nil {
		return 0, err
	}
	f.Status, f.Before, f.Limit = "", 0, maxRedeliver
	rows, err := s.store.reopen(ctx, f, []DeliveryStatus{StatusDead}, s.disp.now())
	if err != nil {
		return 0, err
	}
	s.disp.reopen(rows)
	return len(rows), nil
}

// Stats is a snapshot of delivery state, for health and status pages.
type Stats struct {
	// QueueDepth counts pending and retrying deliveries in the database.
	QueueDepth int `json:"queueDepth"`
	// InFlight counts attempts under way.
	InFlight int `json:"inFlight"`
	// Endpoints and DisabledEndpoints count the configured endpoints.
	Endpoints         int `json:"endpoints"`
	DisabledEndpoints int `json:"disabledEndpoints"`
}

// Stats reads the queue depth from the database and the rest from memory.
func (s *Service) Stats(ctx context.Context) (Stats, error) {
	n, err := s.store.countOpen(ctx)
	if err != nil {
		return Stats{}, err
	}
	st := Stats{QueueDepth: n}
	s.disp.mu.Lock()
	st.InFlight = s.disp.inflight
	for _, e := range s.disp.endpoints {
		st.Endpoints++
		if e.ep.Disabled() {
			st.DisabledEndpoints++
		}
	}
	s.disp.mu.Unlock()
	return st, nil
}

// Check reports the global endpoint disabled, for /health/detailed.
func (s *Service) Check(_ context.Context) error {
	e, ok := s.disp.endpoint(GlobalEndpointID)
	if ok && e.Disabled() {
		return fmt.Errorf("global webhook endpoint disabled: %s", e.DisabledReason)
	}
	return nil
}

// pruneLoop deletes old finished deliveries every PruneInterval.
func (s *Service) pruneLoop(ctx context.Context) {
	prune := time.NewTicker(s.cfg.PruneInterval)
	defer prune.Stop()
	drained := time.NewTicker(s.cfg.PollInterval)
	defer drained.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-prune.C:
			if _, err := s.Prune(ctx); err != nil && ctx.Err() == nil {
				s.logger.Error("prune webhook deliveries", "error", err)
			}
		case <-drained.C:
			if err := s.dropDrained(ctx); err != nil && ctx.Err() == nil {
				s.logger.Error("delete retired webhook endpoints", "error", err)
			}
		}
	}
}

// Prune deletes finished deliveries older than Config.Retention now, and returns how many.
func (s *Service) Prune(ctx context.Context) (int64, error) {
	if s.cfg.Retention < 0 {
		return 0, nil
	}
	n, err := s.store.prune(ctx, s.disp.now().Add(-s.cfg.Retention))
	if err == nil && n > 0 {
		s.logger.Info("webhook deliveries pruned", "deleted", n)
	}
	return n, err
}
