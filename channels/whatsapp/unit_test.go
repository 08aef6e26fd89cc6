package whatsapp

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.mau.fi/whatsmeow/types/events"

	"github.com/28web/hub/channels/core"
	"github.com/28web/hub/channels/core/channeltest"
	"github.com/28web/hub/migrations"
	"github.com/28web/hub/platform/db"
	"github.com/28web/hub/platform/db/dbtest"
)

func TestConfigDefaultsAndValidate(t *testing.T) {
	var c Config
	c.SetDefaults()
	require.NoError(t, c.Validate())
	require.Equal(t, 5*time.Minute, c.UnpairedTTL)
	require.Equal(t, 64, c.ConnectConcurrency)

	bad := Config{UnpairedTTL: -1, QRFirstTimeout: -1, QRTimeout: -1, ReconnectMin: time.Minute, ReconnectMax: time.Second,
		RestoreRamp: -1, ConnectConcurrency: -1, HealthInterval: -1, KeepAliveMaxFail: -1, BodyCacheSize: -1,
		MaxMediaBytes: -1}
	err := bad.Validate()
	require.Error(t, err)
	for _, want := range []string{"unpaired_ttl", "qr_first_timeout", "qr_timeout", "reconnect_max", "restore_ramp",
		"connect_concurrency", "health_interval", "keepalive_max_fail", "max_media_bytes",
		"body_cache_size", "device_name"} {
		require.ErrorContains(t, err, want)
	}
}

func TestSchedulerRunsInOrderReplacesAndCancels(t *testing.T) {
	s := newScheduler()
	s.start()
	defer s.stopAndWait()
	var mu sync.Mutex
	var got []string
	done := make(chan struct{})
	rec := func(name string) func() {
		return func() {
			mu.Lock()
			got = append(got, name)
			n := len(got)
			mu.Unlock()
			if n == 2 {
				close(done)
			}
		}
	}
	now := time.Now()
	s.schedule(taskKey{"a", taskConnect}, now.Add(40*time.Millisecond), rec("a-late"))
	s.schedule(taskKey{"b", taskConnect}, now.Add(10*time.Millisecond), rec("b"))
	s.schedule(taskKey{"c", taskConnect}, now.Add(5*time.Millisecond), rec("c-cancelled"))
	s.cancelSession("c")
	// Replacing a's task moves it earlier and changes what runs.
	s.schedule(taskKey{"a", taskConnect}, now.Add(20*time.Millisecond), rec("a"))
	require.True(t, s.pending(taskKey{"a", taskConnect}))
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("tasks did not run")
	}
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, []string{"b", "a"}, got)
	require.False(t, s.pending(taskKey{"a", taskConnect}))
}

func TestBackoffGrowsWithJitterAndCaps(t *testing.T) {
	p := &Provider{cfg: Config{ReconnectMin: 100 * time.Millisecond, ReconnectMax: time.Second}}
	s := &session{p: p}
	for n, want := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 3: 400 * time.Millisecond, 10: time.Second} {
		seen := map[time.Duration]bool{}
		for range 50 {
			d := s.backoff(n)
			require.GreaterOrEqual(t, d, want/2, "attempt %d", n)
			require.LessOrEqual(t, d, want, "attempt %d", n)
			seen[d] = true
		}
		require.Greater(t, len(seen), 1, "attempt %d is jittered", n)
	}
}

func TestRecentMessagesBounded(t *testing.T) {
	r := newRecentMessages(2)
	r.put(recentKey{"s", "1"}, recentMessage{body: "one"})
	r.put(recentKey{"s", "2"}, recentMessage{body: "two"})
	_, _ = r.get(recentKey{"s", "1"}) // 1 is now the most recent
	r.put(recentKey{"s", "3"}, recentMessage{body: "three"})
	_, ok := r.get(recentKey{"s", "2"})
	require.False(t, ok, "least recently used is evicted")
	v, ok := r.get(recentKey{"s", "1"})
	require.True(t, ok)
	require.Equal(t, "one", v.body)
	r.dropSession("s")
	_, ok = r.get(recentKey{"s", "3"})
	require.False(t, ok)
}

type fakeBodies map[core.MessageID]string

func (f fakeBodies) Body(_ context.Context, _ core.SessionID, m core.MessageID) (string, error) {
	if b, ok := f[m]; ok {
		return b, nil
	}
	return "", core.ErrNotFound
}

// bareSession is a session without a client, to drive the event mapping directly.
func bareSession(t *testing.T, bodies MessageBodies) (*session, *channeltest.Recorder) {
	rec := channeltest.NewRecorder()
	var cfg Config
	cfg.SetDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	p := &Provider{cfg: cfg, sink: rec, bodies: bodies, log: slog.New(slog.DiscardHandler), sched: newScheduler(),
		recent: newRecentMessages(10), ctx: ctx, repo: nopRepo{}}
	s := p.newSession(SessionRecord{ID: "unit", Status: core.StatusConnected, CreatedAt: time.Now()})
	return s, rec
}

type nopRepo struct{ SessionRepository }

func (nopRepo) UpdateSession(context.Context, SessionRecord) error { return nil }

func TestKeepAliveFailuresSurfacedOnce(t *testing.T) {
	s, rec := bareSession(t, nil)
	s.handleEvent(&events.KeepAliveTimeout{ErrorCount: 1, LastSuccess: time.Now().Add(-30 * time.Second)})
	s.handleEvent(&events.KeepAliveTimeout{ErrorCount: 2, LastSuccess: time.Now().Add(-60 * time.Second)})
	s.handleEvent(&events.KeepAliveRestored{})
	var states []core.ConnectionState
	for _, e := range rec.Events() {
		if c, ok := e.Data.(*core.ConnectionStatusEvent); ok {
			states = append(states, c.Status)
		}
	}
	require.Equal(t, []core.ConnectionState{core.ConnectionConnecting, core.ConnectionOpen}, states)
}

func TestPreviousBodyPrefersStore(t *testing.T) {
	s, _ := bareSession(t, fakeBodies{"m1": "from store"})
	s.p.recent.put(recentKey{s.id, "m1"}, recentMessage{body: "from cache"})
	s.p.recent.put(recentKey{s.id, "m2"}, recentMessage{body: "cache only"})
	require.Equal(t, "from store", s.previousBody(context.Background(), "m1"))
	require.Equal(t, "cache only", s.previousBody(context.Background(), "m2"))
	require.Empty(t, s.previousBody(context.Background(), "m3"))
}

func TestBunRepository(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := t.Context()
		r := NewBunRepository(d.Bun())
		now := time.Now().UTC().Truncate(time.Second)
		require.NoError(t, r.InsertSession(ctx, SessionRecord{ID: "b", Status: core.StatusConnecting, CreatedAt: now}))
		require.NoError(t, r.InsertSession(ctx, SessionRecord{ID: "a", Status: core.StatusConnecting, CreatedAt: now}))
		require.ErrorIs(t, r.InsertSession(ctx, SessionRecord{ID: "a", Status: core.StatusConnecting, CreatedAt: now}), core.ErrConflict)
		until := now.Add(time.Hour)
		require.NoError(t, r.UpdateSession(ctx, SessionRecord{ID: "a", JID: "5511999990001:3@s.whatsapp.net", LID: "1@lid",
			PushName: "Ana", Status: core.StatusBanned, Reason: "ban", BannedUntil: &until, CreatedAt: now, PairedAt: &now}))
		require.ErrorIs(t, r.UpdateSession(ctx, SessionRecord{ID: "zz", Status: core.StatusConnecting, CreatedAt: now}), core.ErrNotFound)
		list, err := r.ListSessions(ctx)
		require.NoError(t, err)
		require.Len(t, list, 2)
		a := list[0]
		require.Equal(t, core.SessionID("a"), a.ID)
		require.Equal(t, "5511999990001:3@s.whatsapp.net", a.JID)
		require.Equal(t, core.StatusBanned, a.Status)
		require.True(t, a.BannedUntil.Equal(until))
		require.True(t, a.CreatedAt.Equal(now))

		require.NoError(t, r.PutMedia(ctx, MediaRecord{SessionID: "a", MessageID: "m", Chat: "c", MediaType: core.MessageImage, Message: []byte{1, 2}}))
		require.NoError(t, r.PutMedia(ctx, MediaRecord{SessionID: "a", MessageID: "m", Chat: "c", MediaType: core.MessageImage, Message: []byte{3}}))
		m, err := r.Media(ctx, "a", "m")
		require.NoError(t, err)
		require.Equal(t, []byte{3}, m.Message)
		_, err = r.Media(ctx, "a", "none")
		require.ErrorIs(t, err, core.ErrNotFound)
		require.NoError(t, r.DeleteSession(ctx, "a"))
		_, err = r.Media(ctx, "a", "m")
		require.ErrorIs(t, err, core.ErrNotFound)
		list, err = r.ListSessions(ctx)
		require.NoError(t, err)
		require.Len(t, list, 1)
	}, migrations.Whatsapp)
}

func TestWALoggerAddsSessionAndModule(t *testing.T) {
	var buf bytes.Buffer
	l := newWALogger(slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo})), "s1")
	l.Debugf("hidden %d", 1)
	l.Sub("Client").Sub("Socket").Warnf("dropped %s", "link")
	var line map[string]any
	require.NoError(t, json.Unmarshal(buf.Bytes(), &line))
	require.Equal(t, "dropped link", line["msg"])
	require.Equal(t, "s1", line["sessionId"])
	require.Equal(t, "Client/Socket", line["module"])
	require.Equal(t, "WARN", line["level"])
}
