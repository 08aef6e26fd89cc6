package pipeline_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/28web/hub/channels/core"
	"github.com/28web/hub/channels/core/channeltest"
	"github.com/28web/hub/channels/core/fakechannel"
	"github.com/28web/hub/channels/core/pipeline"
	"github.com/28web/hub/channels/core/store"
	"github.com/28web/hub/migrations"
	"github.com/28web/hub/platform/bus"
	"github.com/28web/hub/platform/bus/bustest"
	"github.com/28web/hub/platform/db"
	"github.com/28web/hub/platform/db/dbtest"
	"github.com/28web/hub/platform/log"
)

const wait = 10 * time.Second

// world is one test's gateway side: database, bus, fake network with a connected session
// "s1", and a peer account to send to.
type world struct {
	t     *testing.T
	db    *db.DB
	store *store.Store
	bus   *bus.Bus
	net   *fakechannel.Network
	prov  *fakechannel.Provider
	rec   *channeltest.Recorder
	peer  core.ChatID
}

func newWorld(t *testing.T, d *db.DB, busCfg bus.Config) *world {
	b, err := bus.New(busCfg, log.Discard())
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	w := &world{t: t, db: d, store: store.New(d.Bun()), bus: b, net: fakechannel.NewNetwork(), rec: channeltest.NewRecorder()}
	w.prov = fakechannel.New(w.net, w.rec)
	require.NoError(t, w.prov.Start(t.Context()))
	_, err = w.prov.CreateSession(t.Context(), core.CreateSessionRequest{ID: "s1"})
	require.NoError(t, err)
	_, err = w.prov.Pair(t.Context(), "s1")
	require.NoError(t, err)
	require.NoError(t, w.store.CreateSession(t.Context(), store.SessionRow{ID: "s1", Channel: fakechannel.Channel, Status: core.StatusConnected}))
	w.peer = w.net.NewAccount()
	return w
}

func (w *world) pipeline(cfg pipeline.Config, provider core.Provider) *pipeline.Pipeline {
	if cfg.InitialBackoff == 0 {
		cfg.InitialBackoff, cfg.MaxBackoff = 5*time.Millisecond, 20*time.Millisecond
	}
	channels, err := core.NewChannels(w.store, "", provider)
	require.NoError(w.t, err)
	p, err := pipeline.New(cfg, w.store, channels, w.bus, w.rec, log.Discard(), nil)
	require.NoError(w.t, err)
	return p
}

func start(t *testing.T, p *pipeline.Pipeline) {
	require.NoError(t, p.Start(t.Context()))
	t.Cleanup(func() { _ = p.Stop(context.Background()) })
}

func (w *world) accept(p *pipeline.Pipeline, text string, mutate ...func(*pipeline.AcceptRequest)) store.Message {
	req := pipeline.AcceptRequest{Session: "s1", Message: core.OutgoingMessage{To: string(w.peer), Type: core.MessageText, Text: text}}
	for _, m := range mutate {
		m(&req)
	}
	m, created, err := p.Accept(w.t.Context(), req)
	require.NoError(w.t, err)
	require.True(w.t, created)
	require.Equal(w.t, core.MessageStatusQueued, m.Status)
	return m
}

func (w *world) texts() []string {
	var out []string
	for _, m := range w.net.Received(w.peer) {
		out = append(out, m.Text)
	}
	return out
}

func (w *world) waitStatus(id core.MessageID, want core.MessageStatus) store.Message {
	var m store.Message
	channeltest.Eventually(w.t, wait, fmt.Sprintf("message %s %s", id, want), func() bool {
		var err error
		m, err = w.store.Message(w.t.Context(), "s1", id)
		require.NoError(w.t, err)
		return m.Status == want
	})
	return m
}

// each runs body on SQLite + in-process bus and on PostgreSQL + Redis Streams.
func each(t *testing.T, body func(t *testing.T, w *world)) {
	t.Run("sqlite+inprocess", func(t *testing.T) { body(t, newWorld(t, dbtest.SQLite(t, migrations.Core), bustest.Config())) })
	t.Run("postgres+redis", func(t *testing.T) {
		d := dbtest.Postgres(t, migrations.Core)
		body(t, newWorld(t, d, bustest.Redis(t)))
	})
}

func TestAcceptedMessageIsSentOnce(t *testing.T) {
	each(t, func(t *testing.T, w *world) {
		p := w.pipeline(pipeline.Config{}, w.prov)
		start(t, p)
		m := w.accept(p, "hello")
		sent := w.waitStatus(m.ID, core.MessageStatusSent)
		require.Equal(t, 1, sent.Attempts)
		require.NotNil(t, sent.SentAt)
		require.Equal(t, []string{"hello"}, w.texts())
		w.rec.Wait(t, wait, "message_create", channeltest.Is("s1", func(e *core.MessageEvent) bool { return e.ID == m.ID && e.FromMe }))

		require.NoError(t, w.prov.Ack(t.Context(), "s1", m.ID, core.AckRead))
		st, err := p.Stats(t.Context())
		require.NoError(t, err)
		require.EqualValues(t, 1, st.Accepted)
		require.EqualValues(t, 1, st.Processed)
	})
}

func TestIdempotencyKeyReturnsFirstResult(t *testing.T) {
	each(t, func(t *testing.T, w *world) {
		p := w.pipeline(pipeline.Config{}, w.prov)
		start(t, p)
		key := func(hash string) func(*pipeline.AcceptRequest) {
			return func(r *pipeline.AcceptRequest) { r.IdempotencyKey, r.RequestHash = "k1", hash }
		}
		first := w.accept(p, "once", key("h1"))
		again, created, err := p.Accept(t.Context(), pipeline.AcceptRequest{Session: "s1",
			Message: core.OutgoingMessage{To: string(w.peer), Type: core.MessageText, Text: "once"}, IdempotencyKey: "k1", RequestHash: "h1"})
		require.NoError(t, err)
		require.False(t, created)
		require.Equal(t, first.ID, again.ID)
		_, _, err = p.Accept(t.Context(), pipeline.AcceptRequest{Session: "s1",
			Message: core.OutgoingMessage{To: string(w.peer), Type: core.MessageText, Text: "other"}, IdempotencyKey: "k1", RequestHash: "h2"})
		require.ErrorIs(t, err, store.ErrIdempotencyMismatch)
		w.waitStatus(first.ID, core.MessageStatusSent)
		require.Equal(t, []string{"once"}, w.texts())
	})
}

func TestUnknownSessionIsNotFound(t *testing.T) {
	each(t, func(t *testing.T, w *world) {
		p := w.pipeline(pipeline.Config{}, w.prov)
		_, _, err := p.Accept(t.Context(), pipeline.AcceptRequest{Session: "nope", Message: core.OutgoingMessage{To: "1", Type: core.MessageText, Text: "x"}})
		require.ErrorIs(t, err, core.ErrNotFound)
	})
}

func TestTransientFailuresAreRetried(t *testing.T) {
	each(t, func(t *testing.T, w *world) {
		w.prov.FailNextSends(2)
		p := w.pipeline(pipeline.Config{MaxAttempts: 5}, w.prov)
		start(t, p)
		m := w.accept(p, "eventually")
		sent := w.waitStatus(m.ID, core.MessageStatusSent)
		require.Equal(t, 3, sent.Attempts)
		require.Equal(t, []string{"eventually"}, w.texts())
	})
}

func TestFailuresEndInFailedWithEvent(t *testing.T) {
	each(t, func(t *testing.T, w *world) {
		p := w.pipeline(pipeline.Config{MaxAttempts: 3}, w.prov)
		start(t, p)

		bad := w.accept(p, "to nobody", func(r *pipeline.AcceptRequest) { r.Message.To = "5500000000000@fake" })
		failed := w.waitStatus(bad.ID, core.MessageStatusFailed)
		require.Equal(t, 1, failed.Attempts, "an unknown recipient is not retried")
		require.Contains(t, failed.Error, "not on the network")
		w.rec.Wait(t, wait, "message_failed", channeltest.Is("s1", func(e *core.MessageFailedEvent) bool { return e.ID == bad.ID }))

		w.prov.FailNextSends(100)
		flaky := w.accept(p, "never")
		failed = w.waitStatus(flaky.ID, core.MessageStatusFailed)
		require.Equal(t, 3, failed.Attempts, "retried up to max_attempts")
		st, err := p.Stats(t.Context())
		require.NoError(t, err)
		require.EqualValues(t, 2, st.Failed)
	})
}

func TestPerSessionOrderIsKept(t *testing.T) {
	each(t, func(t *testing.T, w *world) {
		w.prov.FailNextSends(3) // early failures must not let later messages overtake
		p := w.pipeline(pipeline.Config{Concurrency: 4}, w.prov)
		start(t, p)
		var want []string
		var last store.Message
		for i := range 20 {
			text := fmt.Sprintf("m%02d", i)
			want = append(want, text)
			last = w.accept(p, text)
		}
		w.waitStatus(last.ID, core.MessageStatusSent)
		channeltest.Eventually(t, wait, "all delivered", func() bool { return len(w.texts()) == 20 })
		require.Equal(t, want, w.texts())
	})
}

func TestAcceptedBeforeCrashIsSentAfterRestart(t *testing.T) {
	each(t, func(t *testing.T, w *world) {
		// A pipeline that accepts but dies before sending: its commands are never consumed.
		crashed := w.pipeline(pipeline.Config{}, w.prov)
		m1 := w.accept(crashed, "accepted before crash")
		m2 := w.accept(crashed, "sent before crash but not recorded")
		// The crash happened after the channel took m2 but before it was marked sent.
		out, err := w.store.Outgoing(t.Context(), mustMessage(t, w, m2.ID))
		require.NoError(t, err)
		_, err = w.prov.SendMessage(t.Context(), "s1", out)
		require.NoError(t, err)

		restarted := w.pipeline(pipeline.Config{}, w.prov)
		start(t, restarted)
		w.waitStatus(m1.ID, core.MessageStatusSent)
		w.waitStatus(m2.ID, core.MessageStatusSent)
		texts := w.texts()
		slices.Sort(texts)
		require.Equal(t, []string{"accepted before crash", "sent before crash but not recorded"}, texts, "each exactly once")
	})
}

func TestScheduledMessageWaitsAndSurvivesRestart(t *testing.T) {
	each(t, func(t *testing.T, w *world) {
		first := w.pipeline(pipeline.Config{}, w.prov)
		start(t, first)
		at := time.Now().Add(700 * time.Millisecond)
		m := w.accept(first, "later", func(r *pipeline.AcceptRequest) { r.Message.SendAt = &at })
		require.NoError(t, first.Stop(t.Context()))
		require.Empty(t, w.texts(), "not sent before its time")

		second := w.pipeline(pipeline.Config{}, w.prov)
		start(t, second)
		sent := w.waitStatus(m.ID, core.MessageStatusSent)
		require.False(t, sent.SentAt.Before(at.Truncate(time.Millisecond)), "sent at %s, due %s", sent.SentAt, at)
		require.Equal(t, []string{"later"}, w.texts())
	})
}

func mustMessage(t *testing.T, w *world, id core.MessageID) store.Message {
	m, err := w.store.Message(t.Context(), "s1", id)
	require.NoError(t, err)
	return m
}

// gauge wraps a provider to record how many sends run at once and when each started.
type gauge struct {
	core.Provider
	now, peak atomic.Int32
	mu        sync.Mutex
	starts    []time.Time
	release   chan struct{}
}

func (g *gauge) SendMessage(ctx context.Context, id core.SessionID, m core.OutgoingMessage) (core.SendResult, error) {
	n := g.now.Add(1)
	defer g.now.Add(-1)
	for {
		p := g.peak.Load()
		if n <= p || g.peak.CompareAndSwap(p, n) {
			break
		}
	}
	g.mu.Lock()
	g.starts = append(g.starts, time.Now())
	g.mu.Unlock()
	if g.release != nil {
		select {
		case <-g.release:
		case <-ctx.Done():
			return core.SendResult{}, ctx.Err()
		}
	}
	return g.Provider.SendMessage(ctx, id, m)
}

func TestGlobalConcurrencyBound(t *testing.T) {
	w := newWorld(t, dbtest.SQLite(t, migrations.Core), bustest.Config())
	for i := range 5 {
		id := core.SessionID(fmt.Sprintf("c%d", i))
		_, err := w.prov.CreateSession(t.Context(), core.CreateSessionRequest{ID: id})
		require.NoError(t, err)
		_, err = w.prov.Pair(t.Context(), id)
		require.NoError(t, err)
		require.NoError(t, w.store.CreateSession(t.Context(), store.SessionRow{ID: id, Channel: fakechannel.Channel, Status: core.StatusConnected}))
	}
	g := &gauge{Provider: w.prov, release: make(chan struct{})}
	p := w.pipeline(pipeline.Config{Concurrency: 2}, g)
	start(t, p)
	for i := range 5 {
		_, _, err := p.Accept(t.Context(), pipeline.AcceptRequest{Session: core.SessionID(fmt.Sprintf("c%d", i)),
			Message: core.OutgoingMessage{To: string(w.peer), Type: core.MessageText, Text: "x"}})
		require.NoError(t, err)
	}
	channeltest.Eventually(t, wait, "two sends in flight", func() bool { return g.now.Load() == 2 })
	close(g.release)
	channeltest.Eventually(t, wait, "all sent", func() bool { return len(w.texts()) == 5 })
	require.EqualValues(t, 2, g.peak.Load(), "never more than the bound")
}

func TestPerSessionPacing(t *testing.T) {
	w := newWorld(t, dbtest.SQLite(t, migrations.Core), bustest.Config())
	g := &gauge{Provider: w.prov}
	// 600 a minute: one every 100 ms, ±30 %.
	p := w.pipeline(pipeline.Config{PerSessionPerMinute: 600}, g)
	start(t, p)
	for i := range 4 {
		w.accept(p, fmt.Sprintf("p%d", i))
	}
	channeltest.Eventually(t, wait, "all sent", func() bool { return len(w.texts()) == 4 })
	g.mu.Lock()
	defer g.mu.Unlock()
	for i := 1; i < len(g.starts); i++ {
		require.GreaterOrEqual(t, g.starts[i].Sub(g.starts[i-1]), 65*time.Millisecond, "send %d too soon after %d", i, i-1)
	}
}
