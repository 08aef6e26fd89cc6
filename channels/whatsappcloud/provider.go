package whatsappcloud

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/uptrace/bun"

	"github.com/28web/hub/channels/core"
	"github.com/28web/hub/platform/log"
)

// Setting names of CreateSessionRequest.Settings.
const (
	SettingPhoneNumberID = "phoneNumberId"
	SettingWABAID        = "wabaId"
	SettingAccessToken   = "accessToken"
	SettingAppSecret     = "appSecret"
	SettingVerifyToken   = "verifyToken"
)

var (
	settingNames = []string{SettingPhoneNumberID, SettingWABAID, SettingAccessToken, SettingAppSecret, SettingVerifyToken}
	graphIDRe    = regexp.MustCompile(`^[0-9A-Za-z_-]{1,64}$`)
)

// Provider is the Cloud API channel: every session is a business phone number. Safe for
// concurrent use.
type Provider struct {
	cfg    Config
	repo   *repo
	graph  *graphClient
	sealer *sealer
	sink   core.EventSink
	logger *slog.Logger
	now    func() time.Time

	mu       sync.RWMutex
	sessions map[core.SessionID]*session

	templates templateCache

	wake chan struct{}
	stop context.CancelFunc
	done chan struct{}
}

// Option adjusts a Provider.
type Option func(*Provider)

// WithHTTPClient makes Graph API calls with c (tests; a proxy).
func WithHTTPClient(c *http.Client) Option {
	return func(p *Provider) { p.graph = newGraphClient(p.cfg, c) }
}

// WithClock replaces time.Now for the conversation window (tests that age a customer's last
// message).
func WithClock(now func() time.Time) Option { return func(p *Provider) { p.now = now } }

// New builds the provider on db (migration set migrations.WhatsappCloud), emitting to sink.
func New(cfg Config, db bun.IDB, sink core.EventSink, logger *slog.Logger, opts ...Option) (*Provider, error) {
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s, err := newSealer(cfg.EncryptionKey)
	if err != nil {
		return nil, fmt.Errorf("whatsapp_cloud.%w", err)
	}
	p := &Provider{cfg: cfg, repo: &repo{db: db}, sealer: s, sink: sink, logger: logger.With(slog.String("channel", string(Channel))),
		now: time.Now, sessions: map[core.SessionID]*session{}, wake: make(chan struct{}, 1)}
	p.graph = newGraphClient(cfg, nil)
	for _, o := range opts {
		o(p)
	}
	return p, nil
}

// Info describes the channel.
func (p *Provider) Info() core.ChannelInfo {
	return core.ChannelInfo{Channel: Channel, MaxTextLength: 4096, MaxMediaBytes: p.cfg.MaxMediaBytes,
		MessageTypes: []core.MessageType{core.MessageText, core.MessageImage, core.MessageVideo, core.MessageAudio, core.MessageDocument,
			core.MessageSticker, core.MessageLocation, core.MessageContact, core.MessageReaction, core.MessageTemplate, core.MessageInteractive}}
}

// ValidateAddress accepts a phone number in international format or its WhatsApp chat id
// (digits@s.whatsapp.net): the Cloud API has no groups.
func (p *Provider) ValidateAddress(to string) error {
	if user, server, ok := strings.Cut(to, "@"); ok {
		if server != userServer || !digitsOnly(user) || len(user) < 8 || len(user) > 15 {
			return fmt.Errorf("%w: want a phone number or a chat id digits@%s (the Cloud API has no groups)", core.ErrInvalid, userServer)
		}
		return nil
	}
	return core.CheckPhoneOrChatID(to)
}

// Start restores the stored sessions and starts processing stored webhook notifications.
func (p *Provider) Start(ctx context.Context) error {
	rows, err := p.repo.sessions(ctx)
	if err != nil {
		return fmt.Errorf("whatsapp-cloud start: %w", err)
	}
	restored := make([]*session, 0, len(rows))
	p.mu.Lock()
	for _, row := range rows {
		s := p.restore(row)
		p.sessions[s.id] = s
		restored = append(restored, s)
	}
	p.mu.Unlock()
	for _, s := range restored {
		snap := s.snapshot()
		p.emitStatus(ctx, s, "", snap.Status)
		if snap.Status == core.StatusConnected {
			p.emit(ctx, s.id, &core.ConnectionStatusEvent{Status: core.ConnectionOpen})
		}
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	p.stop, p.done = cancel, make(chan struct{})
	go p.processLoop(runCtx)
	p.logger.Info("whatsapp-cloud started", slog.Int("sessions", len(rows)))
	return nil
}

// restore rebuilds a session from its row; secrets that no longer open (another key) fail it.
func (p *Provider) restore(row sessionRow) *session {
	s := newSession(row, p.cfg)
	if p.sealer == nil {
		s.fail("no encryption key configured (whatsapp_cloud.encryption_key)")
		return s
	}
	var err error
	open := func(sealed string) string {
		if err != nil {
			return ""
		}
		var v string
		v, err = p.sealer.open(row.ID, sealed)
		return v
	}
	s.token, s.appSecret, s.verifyToken = open(row.AccessToken), open(row.AppSecret), open(row.VerifyToken)
	if err != nil {
		p.logger.Error("cannot open a session's secrets; it stays failed until recreated", slog.String(log.SessionKey, string(row.ID)), log.ErrorAttr(err))
		s.fail("secrets cannot be opened with the configured encryption key")
	}
	return s
}

// Stop ends notification processing; notifications not processed yet are kept for the next start.
func (p *Provider) Stop(context.Context) error {
	if p.stop != nil {
		p.stop()
		<-p.done
		p.stop = nil
	}
	return nil
}

func (p *Provider) session(id core.SessionID) (*session, error) {
	p.mu.RLock()
	s, ok := p.sessions[id]
	p.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("session %s: %w", id, core.ErrNotFound)
	}
	return s, nil
}

// CreateSession checks the credentials against the Graph API and stores them sealed. The
// session is connecting until Meta (or cloudsim) verified its webhook callback, connected after.
func (p *Provider) CreateSession(ctx context.Context, req core.CreateSessionRequest) (core.Session, error) {
	if err := req.ID.Validate(); err != nil {
		return core.Session{}, err
	}
	if _, err := p.session(req.ID); err == nil {
		return core.Session{}, fmt.Errorf("session %s: %w", req.ID, core.ErrConflict)
	}
	set, err := parseSettings(req.Settings)
	if err != nil {
		return core.Session{}, err
	}
	if p.sealer == nil {
		return core.Session{}, fmt.Errorf("whatsapp-cloud has no encryption key configured (whatsapp_cloud.encryption_key), so it cannot keep credentials: %w", core.ErrUnavailable)
	}
	pn, err := p.graph.phoneNumber(ctx, set[SettingAccessToken], set[SettingPhoneNumberID])
	if err != nil {
		var ge *GraphError
		if errors.As(err, &ge) && !errors.Is(err, core.ErrUnavailable) {
			return core.Session{}, fmt.Errorf("%w: the Graph API refused phone number %s with this access token (error %d: %s)",
				core.ErrInvalid, set[SettingPhoneNumberID], ge.Code, ge.Message)
		}
		return core.Session{}, fmt.Errorf("check the phone number: %w", err)
	}
	now := utc(p.now())
	row := sessionRow{ID: req.ID, PhoneNumberID: set[SettingPhoneNumberID], WABAID: set[SettingWABAID],
		DisplayPhoneNumber: digits(pn.DisplayPhoneNumber), VerifiedName: pn.VerifiedName,
		AccessToken: p.sealer.seal(req.ID, set[SettingAccessToken]), AppSecret: p.sealer.seal(req.ID, set[SettingAppSecret]),
		VerifyToken: p.sealer.seal(req.ID, set[SettingVerifyToken]), Status: core.StatusConnecting, CreatedAt: now, UpdatedAt: now}
	if err := p.repo.insertSession(ctx, row); err != nil {
		return core.Session{}, err
	}
	s := newSession(row, p.cfg)
	s.token, s.appSecret, s.verifyToken = set[SettingAccessToken], set[SettingAppSecret], set[SettingVerifyToken]
	p.mu.Lock()
	p.sessions[s.id] = s
	p.mu.Unlock()
	p.emitStatus(ctx, s, "", core.StatusConnecting)
	p.logger.Info("cloud session created; waiting for its webhook verification", slog.String(log.SessionKey, string(s.id)),
		slog.String("phoneNumberId", row.PhoneNumberID))
	return s.snapshot(), nil
}

func parseSettings(in map[string]string) (map[string]string, error) {
	var problems []string
	for k := range in {
		if !slices.Contains(settingNames, k) {
			problems = append(problems, "unknown setting "+k)
		}
	}
	for _, k := range settingNames {
		v := strings.TrimSpace(in[k])
		switch {
		case v == "":
			problems = append(problems, "settings."+k+" is required")
		case (k == SettingPhoneNumberID || k == SettingWABAID) && !graphIDRe.MatchString(v):
			problems = append(problems, "settings."+k+" is not a Graph API id")
		case len(v) > 1024:
			problems = append(problems, "settings."+k+" is longer than 1024 characters")
		}
	}
	if len(problems) > 0 {
		slices.Sort(problems)
		return nil, fmt.Errorf("%w: whatsapp-cloud sessions need settings %s: %s", core.ErrInvalid, strings.Join(settingNames, ", "), strings.Join(problems, "; "))
	}
	return in, nil
}

// Session returns one session.
func (p *Provider) Session(_ context.Context, id core.SessionID) (core.Session, error) {
	s, err := p.session(id)
	if err != nil {
		return core.Session{}, err
	}
	return s.snapshot(), nil
}

// Sessions lists every session by id.
func (p *Provider) Sessions(context.Context) ([]core.Session, error) {
	p.mu.RLock()
	out := make([]core.Session, 0, len(p.sessions))
	for _, s := range p.sessions {
		out = append(out, s.snapshot())
	}
	p.mu.RUnlock()
	slices.SortFunc(out, func(a, b core.Session) int { return strings.Compare(string(a.ID), string(b.ID)) })
	return out, nil
}

// Stats counts sessions by state.
func (p *Provider) Stats(ctx context.Context) (core.SessionStats, error) {
	all, err := p.Sessions(ctx)
	if err != nil {
		return core.SessionStats{}, err
	}
	return core.CountSessions(all), nil
}

// DeleteSession forgets the session and its credentials. The number stays registered with Meta:
// the Cloud API has nothing to log out of.
func (p *Provider) DeleteSession(ctx context.Context, id core.SessionID) error {
	p.mu.Lock()
	_, ok := p.sessions[id]
	delete(p.sessions, id)
	p.mu.Unlock()
	if !ok {
		return fmt.Errorf("session %s: %w", id, core.ErrNotFound)
	}
	p.templates.forget(id)
	return p.repo.deleteSession(ctx, id)
}

// emit publishes one event; the caller decides what a failure means.
func (p *Provider) emit(ctx context.Context, id core.SessionID, data core.EventData) {
	if err := p.sink.Publish(ctx, core.NewEvent(id, data)); err != nil {
		p.logger.Warn("publish event", slog.String(log.SessionKey, string(id)), slog.String("event", string(data.EventType())), log.ErrorAttr(err))
	}
}

func (p *Provider) emitStatus(ctx context.Context, s *session, prev, status core.SessionStatus) {
	snap := s.snapshot()
	p.emit(ctx, s.id, &core.SessionStatusEvent{Status: status, PreviousStatus: prev, Reason: snap.Reason,
		Account: snap.Account, PushName: snap.PushName})
}

// setStatus moves a session to status, persists it and reports it.
func (p *Provider) setStatus(ctx context.Context, s *session, status core.SessionStatus, reason string) error {
	prev, changed := s.setStatus(status, reason, p.now())
	if !changed {
		return nil
	}
	snap := s.snapshot()
	if err := p.repo.setStatus(ctx, s.id, status, reason, snap.ConnectedAt); err != nil {
		return err
	}
	p.emitStatus(ctx, s, prev, status)
	switch status {
	case core.StatusConnected:
		p.emit(ctx, s.id, &core.ConnectionStatusEvent{Status: core.ConnectionOpen})
	case core.StatusFailed:
		p.emit(ctx, s.id, &core.DisconnectedEvent{Reason: reason})
	}
	return nil
}
