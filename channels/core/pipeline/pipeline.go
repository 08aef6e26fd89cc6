// Package pipeline is the asynchronous send path: Accept stores a message as queued and publishes
// a SendMessage command; the session's owner consumes the command and sends through the Provider
// with per-session order, a global concurrency bound, optional per-session pacing, and retries
// with exponential backoff before marking the message failed.
//
// The database row, not the bus message, is the source of truth: a message accepted before a
// crash is found again by the recovery scan and sent after the restart. It is sent with the id it
// was accepted with, so a retry after a crash that happened mid-send reaches the recipient once.
package pipeline

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	mathrand "math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/28web/hub/channels/core"
	"github.com/28web/hub/channels/core/eventbus"
	"github.com/28web/hub/channels/core/store"
	"github.com/28web/hub/platform/bus"
	"github.com/28web/hub/platform/log"
	platmetrics "github.com/28web/hub/platform/metrics"
	"github.com/28web/hub/platform/retry"
)

// ConsumerGroup is the bus consumer group of the senders.
const ConsumerGroup = "sender"

// Pipeline accepts and sends messages. Create it with New, then Start it.
type Pipeline struct {
	cfg      Config
	store    *store.Store
	channels *core.Channels
	bus      *bus.Bus
	sink     core.EventSink
	logger   *slog.Logger
	metrics  *Metrics

	sem chan struct{}
	// backoff spaces a message's attempts.
	backoff retry.Policy
	// rescan wakes the recovery loop.
	rescan chan struct{}

	mu       sync.Mutex
	sessions map[core.SessionID]*sessionQueue

	// runCtx is cancelled by Stop; drainers and the recovery loop run under it.
	runCtx context.Context
	cancel context.CancelFunc
	router *bus.Router
	wg     sync.WaitGroup
}

// sessionQueue is one session's sender. The queue itself is the session's queued rows in the
// database; a wake-up (a command, an accept in this process, the recovery scan) makes one
// goroutine claim and send them oldest first until none is left. Idle sessions cost no goroutine.
type sessionQueue struct {
	// woken: there may be rows the drainer has not claimed yet.
	woken   bool
	running bool
	// notBefore is when pacing allows the session's next send.
	notBefore time.Time
}

// claimBatch bounds the messages a drainer claims at once (without pacing).
const claimBatch = 32

// New returns a pipeline. metrics may be nil.
func New(cfg Config, st *store.Store, channels *core.Channels, b *bus.Bus, sink core.EventSink, logger *slog.Logger, metrics *Metrics) (*Pipeline, error) {
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("send pipeline: %w", err)
	}
	if metrics == nil {
		metrics = NewMetrics(platmetrics.Options{})
	}
	return &Pipeline{
		cfg: cfg, store: st, channels: channels, bus: b, sink: sink, logger: logger, metrics: metrics,
		sem: make(chan struct{}, cfg.Concurrency), rescan: make(chan struct{}, 1),
		// ±20 % so that sessions failing together do not retry together.
		backoff:  retry.Policy{Initial: cfg.InitialBackoff, Max: cfg.MaxBackoff, Jitter: retry.Proportional},
		sessions: map[core.SessionID]*sessionQueue{}, runCtx: context.Background(),
	}, nil
}

// AcceptRequest is one send as the API received it.
type AcceptRequest struct {
	Session core.SessionID
	Message core.OutgoingMessage
	// IdempotencyKey, when set, makes a repeated request return the first result.
	IdempotencyKey string
	// RequestHash identifies the request body that used IdempotencyKey.
	RequestHash string
}

// Accept validates nothing beyond the session's existence (the API validated the content; an
// unknown session yields core.ErrNotFound), stores the message as queued under req.Message.ID
// (or a new id; an id in use yields core.ErrConflict) and publishes its command. It returns the stored message and
// whether this call created it (false: an idempotent replay). Once it returns without error the
// message will be sent, even across a crash.
func (p *Pipeline) Accept(ctx context.Context, req AcceptRequest) (store.Message, bool, error) {
	msg := req.Message
	if msg.ID == "" {
		msg.ID = p.newMessageID(ctx, req.Session)
	}
	// Media bytes are stored apart from the row (see store.Attachment).
	var att *store.Attachment
	if msg.Media != nil && len(msg.Media.Data) > 0 {
		media := *msg.Media
		att = &store.Attachment{MimeType: media.MimeType, FileName: media.FileName, Data: media.Data}
		media.Data = nil
		msg.Media = &media
	}
	payload, err := json.Marshal(msg)
	if err != nil {
		return store.Message{}, false, fmt.Errorf("encode message: %w", err)
	}
	row := store.Message{
		SessionID: req.Session, ID: msg.ID, ChatID: core.ChatID(msg.To), Type: msg.Type, Body: msg.Text,
		Payload: payload, IdempotencyKey: req.IdempotencyKey, RequestHash: req.RequestHash, SendAt: msg.SendAt,
	}
	stored, created, err := p.store.AcceptOutbound(ctx, row, att)
	if err != nil || !created {
		return stored, created, err
	}
	p.metrics.countAccepted()
	if stored.SendAt != nil && stored.SendAt.After(time.Now()) {
		p.poke()
		return stored, true, nil
	}
	// The session's sender may run in this process: wake it now rather than after the command's
	// trip through the bus (which wakes the owner wherever it runs).
	p.wake(req.Session)
	cmd, err := eventbus.EncodeCommand(string(stored.ID), core.SendMessageCommand{SessionID: req.Session, MessageID: stored.ID})
	if err == nil {
		err = p.bus.Publisher().Publish(core.TopicSendMessage, cmd)
	}
	if err != nil {
		// The row is durable: the recovery scan sends it. Accepting stays true.
		p.logger.Warn("publish send command; the recovery scan will send it", slog.String(log.SessionKey, string(req.Session)),
			slog.String("messageId", string(stored.ID)), log.ErrorAttr(err))
		p.poke()
	}
	return stored, true, nil
}

// newMessageID makes an id in the format of the session's channel when it has one. (A session
// whose channel is unknown gets a random one: its accept fails anyway.)
func (p *Pipeline) newMessageID(ctx context.Context, session core.SessionID) core.MessageID {
	if provider, err := p.channels.For(ctx, session); err == nil {
		if g, ok := provider.(core.MessageIDGenerator); ok {
			return g.NewMessageID()
		}
	}
	b := make([]byte, 10)
	_, _ = rand.Read(b) // crypto/rand never fails since Go 1.24
	return core.MessageID(strings.ToUpper(hex.EncodeToString(b)))
}

// poke wakes the recovery loop (a scheduled message was accepted, or a publish failed).
func (p *Pipeline) poke() {
	select {
	case p.rescan <- struct{}{}:
	default:
	}
}

// Start consumes send commands and starts the recovery loop, which first re-queues every
// accepted message a previous run left unsent.
func (p *Pipeline) Start(ctx context.Context) error {
	router, err := p.bus.NewRouter()
	if err != nil {
		return err
	}
	if err := router.Handle(core.TopicSendMessage, ConsumerGroup, p.handleCommand); err != nil {
		return err
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	p.mu.Lock()
	p.runCtx, p.cancel, p.router = runCtx, cancel, router
	p.mu.Unlock()
	p.wg.Go(func() {
		if err := router.Run(runCtx); err != nil {
			p.logger.Error("send router stopped", log.ErrorAttr(err))
		}
	})
	select {
	case <-router.Running():
	case <-ctx.Done():
		cancel()
		return fmt.Errorf("start send router: %w", ctx.Err())
	}
	p.wg.Go(func() { p.recoveryLoop(runCtx) })
	return nil
}

// Stop stops consuming and waits for sends in flight. Messages still queued stay in the
// database and are sent by the next run.
func (p *Pipeline) Stop(ctx context.Context) error {
	if p.cancel == nil {
		return nil
	}
	p.cancel()
	if err := p.router.Close(); err != nil {
		p.logger.Warn("close send router", log.ErrorAttr(err))
	}
	done := make(chan struct{})
	go func() { p.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("stop send pipeline: %w", ctx.Err())
	}
}

func (p *Pipeline) handleCommand(msg *message.Message) error {
	cmd, err := eventbus.DecodeCommand[core.SendMessageCommand](msg)
	if err != nil {
		return err
	}
	p.wake(cmd.SessionID)
	return nil
}

// recoveryLoop re-queues accepted messages nothing is sending: at start (left by a crash), when
// a scheduled message falls due, when poked, and every ScanInterval.
func (p *Pipeline) recoveryLoop(ctx context.Context) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case <-p.rescan:
		}
		wait := p.cfg.ScanInterval
		// One instant for both queries: a message that falls due between them is either woken
		// now or found next, never missed until the next scan.
		now := time.Now()
		if p.requeueDue(ctx, now) {
			// More were due than one scan takes: continue soon, once these are on their way.
			wait = time.Second
		}
		if next, ok, err := p.store.NextScheduled(ctx, now); err != nil {
			if ctx.Err() == nil {
				p.logger.Warn("look up scheduled messages", log.ErrorAttr(err))
			}
		} else if ok {
			wait = min(wait, max(time.Until(next), 0))
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(wait)
	}
}

// scanBatch bounds how many sessions one recovery scan wakes.
const scanBatch = 1000

// requeueDue wakes the sessions with due messages; it reports whether the batch was full.
func (p *Pipeline) requeueDue(ctx context.Context, now time.Time) bool {
	sessions, err := p.store.PendingSessions(ctx, now, scanBatch)
	if err != nil {
		if ctx.Err() == nil {
			p.logger.Warn("scan pending messages", log.ErrorAttr(err))
		}
		return false
	}
	for _, s := range sessions {
		p.wake(s)
	}
	if n, err := p.store.CountQueued(ctx, ""); err == nil {
		p.metrics.depth.Set(float64(n))
	}
	return len(sessions) == scanBatch
}

// wake tells a session's sender to look for queued messages, starting it if none runs in this
// process. Before Start nothing runs: the recovery scan at start finds what was accepted.
func (p *Pipeline) wake(session core.SessionID) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cancel == nil {
		return // not started
	}
	q := p.sessions[session]
	if q == nil {
		q = &sessionQueue{}
		p.sessions[session] = q
	}
	q.woken = true
	if !q.running {
		q.running = true
		ctx := p.runCtx
		p.wg.Go(func() { p.drain(ctx, session, q) })
	}
}

// drain claims and sends a session's queued messages in acceptance order until none is due. A
// message whose attempt fails goes back to the queue until its retry is due (the recovery loop
// wakes the session then) and holds back what Config.Order says; the rest goes on.
func (p *Pipeline) drain(ctx context.Context, session core.SessionID, q *sessionQueue) {
	limit := claimBatch
	if p.cfg.PerSessionPerMinute > 0 {
		limit = 1 // paced: claim (count an attempt) only when the message's turn has come
	}
	for ctx.Err() == nil {
		p.mu.Lock()
		if !q.woken {
			q.running = false
			if q.notBefore.Before(time.Now()) {
				delete(p.sessions, session)
			}
			p.mu.Unlock()
			return
		}
		q.woken = false
		notBefore := q.notBefore
		p.mu.Unlock()

		if wait := time.Until(notBefore); wait > 0 && !retry.Sleep(ctx, wait) {
			break
		}
		rows, err := p.store.ClaimNext(ctx, session, time.Now(), limit, p.cfg.Order)
		if err != nil {
			if ctx.Err() == nil {
				p.logger.Warn("claim queued messages", slog.String(log.SessionKey, string(session)), log.ErrorAttr(err))
			}
			p.mu.Lock()
			q.woken = true // try again after a pause
			p.mu.Unlock()
			if !retry.Sleep(ctx, p.cfg.InitialBackoff) {
				break
			}
			continue
		}
		if len(rows) == limit {
			p.mu.Lock()
			q.woken = true // there may be more
			p.mu.Unlock()
		}
		p.sendClaimed(ctx, session, q, rows)
	}
	// Stopping: what was not sent stays queued in the database for the next run.
	p.mu.Lock()
	q.running = false
	delete(p.sessions, session)
	p.mu.Unlock()
}

// sendClaimed sends claimed rows in order. Rows behind one that went back to the queue for a
// retry (its chat's, or all with OrderSession) are released unsent, to be claimed after it.
func (p *Pipeline) sendClaimed(ctx context.Context, session core.SessionID, q *sessionQueue, rows []store.Message) {
	var held []core.MessageID
	heldChats := map[core.ChatID]bool{}
	holdAll := false
	for i, row := range rows {
		if holdAll || heldChats[row.ChatID] {
			held = append(held, row.ID)
			continue
		}
		if i > 0 {
			p.mu.Lock()
			notBefore := q.notBefore
			p.mu.Unlock()
			if wait := time.Until(notBefore); wait > 0 && !retry.Sleep(ctx, wait) {
				return
			}
		}
		if p.process(ctx, row) {
			holdAll = p.cfg.Order == store.OrderSession
			heldChats[row.ChatID] = true
		}
		if p.cfg.PerSessionPerMinute > 0 {
			p.mu.Lock()
			q.notBefore = time.Now().Add(p.pacingInterval())
			p.mu.Unlock()
		}
	}
	if err := p.store.Release(ctx, session, held); err != nil && ctx.Err() == nil {
		// Harmless beyond the count: they are claimed again with one attempt too many.
		p.logger.Warn("release held messages", slog.String(log.SessionKey, string(session)), log.ErrorAttr(err))
	}
}

func (p *Pipeline) pacingInterval() time.Duration {
	base := float64(time.Minute) / float64(p.cfg.PerSessionPerMinute)
	spread := 1 + p.cfg.PacingJitter*(2*mathrand.Float64()-1)
	return time.Duration(base * spread)
}

// process makes one attempt at a claimed message (its attempt counted). It reports whether the
// message went back to the queue for a retry.
func (p *Pipeline) process(ctx context.Context, row store.Message) (retrying bool) {
	session, id := row.SessionID, row.ID
	attrs := []any{slog.String(log.SessionKey, string(session)), slog.String("messageId", string(id))}
	out, err := p.store.Outgoing(ctx, row)
	if err != nil {
		if ctx.Err() != nil {
			return false
		}
		if !errors.Is(err, core.ErrInvalid) {
			// The database failed, not the message: try again later.
			p.logger.Warn("load message to send", append(attrs, log.ErrorAttr(err))...)
			_ = p.store.ScheduleRetry(ctx, session, id, time.Now().Add(p.backoff.Delay(row.Attempts)), err.Error())
			p.poke()
			return true
		}
		p.fail(ctx, row, err)
		return false
	}
	provider, err := p.channels.For(ctx, session)
	if err != nil {
		if ctx.Err() != nil {
			return false
		}
		if !errors.Is(err, core.ErrNotFound) {
			p.logger.Warn("find the session's channel", append(attrs, log.ErrorAttr(err))...)
			_ = p.store.ScheduleRetry(ctx, session, id, time.Now().Add(p.backoff.Delay(row.Attempts)), err.Error())
			p.poke()
			return true
		}
		p.fail(ctx, row, err)
		return false
	}
	select {
	case p.sem <- struct{}{}:
	case <-ctx.Done():
		return false
	}
	res, err := provider.SendMessage(ctx, session, out)
	<-p.sem

	if err == nil {
		// Counted before the status is recorded, so whoever sees "sent" sees it counted.
		from := row.CreatedAt
		if row.SendAt != nil {
			from = *row.SendAt
		}
		p.metrics.observeSent(provider.Info().Channel, row.Type, time.Since(from))
		if err := p.store.MarkSent(ctx, session, id, res.ChatID, res.Timestamp); err != nil {
			p.logger.Error("record sent message", append(attrs, log.ErrorAttr(err))...)
		}
		return false
	}
	if ctx.Err() != nil {
		return false // stopping: the message stays queued for the next run
	}
	if permanent(err) || row.Attempts >= p.cfg.MaxAttempts {
		p.fail(ctx, row, err)
		return false
	}
	p.metrics.retries.Inc()
	delay := p.backoff.Delay(row.Attempts)
	p.logger.Info("send failed; retrying", append(attrs, slog.Int("attempt", row.Attempts), slog.Duration("in", delay), log.ErrorAttr(err))...)
	if serr := p.store.ScheduleRetry(ctx, session, id, time.Now().Add(delay), err.Error()); serr != nil {
		// Still queued: the next claim retries it at once rather than after the backoff.
		p.logger.Warn("schedule retry", append(attrs, log.ErrorAttr(serr))...)
	}
	p.poke() // the recovery loop wakes the session when the retry is due
	return true
}

// permanent errors are not retried: the content or recipient is wrong, the session is gone, or
// the channel cannot do it.
func permanent(err error) bool {
	return errors.Is(err, core.ErrInvalid) || errors.Is(err, core.ErrNotFound) || errors.Is(err, core.ErrNotSupported)
}

func (p *Pipeline) fail(ctx context.Context, row store.Message, cause error) {
	p.metrics.countFailed()
	attrs := []any{slog.String(log.SessionKey, string(row.SessionID)), slog.String("messageId", string(row.ID)), log.ErrorAttr(cause)}
	p.logger.Warn("message failed", attrs...)
	if err := p.store.MarkFailed(ctx, row.SessionID, row.ID, cause.Error(), core.ProblemTypeOf(cause)); err != nil {
		p.logger.Error("record failed message", append(attrs, slog.String("storeError", err.Error()))...)
	}
	ev := core.NewEvent(row.SessionID, &core.MessageFailedEvent{ID: row.ID, To: string(row.ChatID), Error: cause.Error(), ErrorType: core.ProblemTypeOf(cause), Attempts: row.Attempts})
	if err := p.sink.Publish(ctx, ev); err != nil {
		p.logger.Error("publish message_failed", append(attrs, slog.String("publishError", err.Error()))...)
	}
}
