package store_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun/dialect"

	"github.com/28web/hub/channels/core"
	"github.com/28web/hub/channels/core/store"
	"github.com/28web/hub/migrations"
	"github.com/28web/hub/platform/db"
	"github.com/28web/hub/platform/db/dbtest"
)

// at is a time on 2026-03-<day>, UTC.
func at(day, hour, minute, sec int) time.Time {
	return time.Date(2026, time.March, day, hour, minute, sec, 0, time.UTC)
}

// fixture inserts messages with chosen times, bypassing the store's clock.
type fixture struct {
	t *testing.T
	d *db.DB
	n int
}

func (f *fixture) session(id core.SessionID, status core.SessionStatus) {
	f.t.Helper()
	require.NoError(f.t, store.New(f.d.Bun()).CreateSession(f.t.Context(), store.SessionRow{ID: id, Channel: "fake", Status: status}))
}

// in stores an inbound message of chat in session at created.
func (f *fixture) in(session core.SessionID, chat core.ChatID, created time.Time) {
	f.insert(store.Message{SessionID: session, ChatID: chat, Direction: core.DirectionIn, Status: core.MessageStatusReceived, CreatedAt: created})
}

// out stores an outbound message the gateway accepted at created, now in status; sent, when not
// zero, is its sent_at.
func (f *fixture) out(session core.SessionID, chat core.ChatID, created time.Time, status core.MessageStatus, sent time.Time) {
	m := store.Message{SessionID: session, ChatID: chat, Direction: core.DirectionOut, Status: status, CreatedAt: created, Attempts: 1}
	if !sent.IsZero() {
		m.SentAt = &sent
	}
	f.insert(m)
}

func (f *fixture) insert(m store.Message) {
	f.t.Helper()
	f.n++
	m.ID = core.MessageID(fmt.Sprintf("M%d", f.n))
	m.Type, m.UpdatedAt = core.MessageText, m.CreatedAt
	_, err := f.d.Bun().NewInsert().Model(&m).Exec(f.t.Context())
	require.NoError(f.t, err)
}

func seconds(s float64) *time.Duration {
	d := time.Duration(s * float64(time.Second))
	return &d
}

func TestDailyActivity(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := &fixture{t: t, d: d}
		f.session("s1", core.StatusConnected)
		f.session("s2", core.StatusConnected)
		none := time.Time{}

		// s1, March 10: chat A waits 300 s (from its first inbound), B 30 s, C until the next
		// day (43800 s); the median is 300 s. D is sent, E still queued.
		f.in("s1", "A", at(10, 9, 0, 0))
		f.in("s1", "A", at(10, 9, 1, 0))
		f.out("s1", "A", at(10, 9, 5, 0), core.MessageStatusRead, at(10, 9, 5, 1))
		f.in("s1", "B", at(10, 10, 0, 0).Add(250*time.Millisecond))
		f.out("s1", "B", at(10, 10, 0, 30).Add(250*time.Millisecond), core.MessageStatusDelivered, at(10, 10, 0, 31))
		f.in("s1", "B", at(10, 11, 0, 0))
		f.in("s1", "C", at(10, 12, 0, 0))
		f.out("s1", "D", at(10, 12, 30, 0), core.MessageStatusSent, at(10, 12, 30, 1))
		f.out("s1", "E", at(10, 13, 0, 0), core.MessageStatusQueued, none)
		// s1, March 11: C's late answer failed unsent; A waits 10 s, F 20 s, G 7200 s: median 20 s.
		f.out("s1", "C", at(11, 0, 10, 0), core.MessageStatusFailed, none)
		f.in("s1", "A", at(11, 8, 0, 0))
		f.out("s1", "A", at(11, 8, 0, 10), core.MessageStatusSent, at(11, 8, 0, 11))
		f.out("s1", "A", at(11, 8, 0, 20), core.MessageStatusSent, at(11, 8, 0, 21))
		f.in("s1", "F", at(11, 9, 0, 0))
		f.out("s1", "F", at(11, 9, 0, 20), core.MessageStatusDelivered, at(11, 9, 0, 21))
		// G is answered after the range: the answer counts for the wait, not for the counts.
		f.in("s1", "G", at(11, 23, 0, 0))
		f.out("s1", "G", at(12, 1, 0, 0), core.MessageStatusSent, at(12, 1, 0, 1))
		// s2: chat A as well, never answered by s2 (s1's answer does not count); and messages
		// just outside the range.
		f.in("s2", "A", at(10, 9, 2, 0))
		f.in("s2", "A", at(9, 23, 59, 59).Add(999*time.Millisecond))
		f.in("s2", "A", at(12, 0, 0, 0))

		s := store.New(d.Bun())
		days, err := s.DailyActivity(t.Context(), store.ActivityFilter{From: at(10, 15, 0, 0), To: at(11, 0, 0, 0)})
		require.NoError(t, err)
		require.Equal(t, []store.DayActivity{
			{SessionID: "s1", Day: "2026-03-10", MessageCounts: store.MessageCounts{In: 5, Out: 4, Sent: 3, Delivered: 2, Read: 1}, MedianFirstReply: seconds(300)},
			{SessionID: "s2", Day: "2026-03-10", MessageCounts: store.MessageCounts{In: 1}},
			{SessionID: "s1", Day: "2026-03-11", MessageCounts: store.MessageCounts{In: 3, Out: 4, Sent: 3, Delivered: 1, Failed: 1}, MedianFirstReply: seconds(20)},
		}, days)

		days, err = s.DailyActivity(t.Context(), store.ActivityFilter{Session: "s2", From: at(9, 0, 0, 0), To: at(12, 0, 0, 0)})
		require.NoError(t, err)
		require.Equal(t, []string{"2026-03-09", "2026-03-10", "2026-03-12"}, dayNames(days))

		days, err = s.DailyActivity(t.Context(), store.ActivityFilter{From: at(1, 0, 0, 0), To: at(2, 0, 0, 0)})
		require.NoError(t, err)
		require.Empty(t, days)
		_, err = s.DailyActivity(t.Context(), store.ActivityFilter{From: at(2, 0, 0, 0), To: at(1, 0, 0, 0)})
		require.ErrorIs(t, err, core.ErrInvalid)

		counts, err := s.CountMessages(t.Context(), at(10, 0, 0, 0), at(11, 0, 0, 0))
		require.NoError(t, err)
		require.Equal(t, store.MessageCounts{In: 6, Out: 4, Sent: 3, Delivered: 2, Read: 1}, counts)
	}, migrations.Core)
}

func dayNames(days []store.DayActivity) []string {
	var names []string
	for _, d := range days {
		names = append(names, d.Day)
	}
	return names
}

func TestOverviewFigures(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := &fixture{t: t, d: d}
		f.session("s1", core.StatusConnected)
		f.session("s2", core.StatusQRCode)
		f.session("s3", core.StatusConnected)
		s := store.New(d.Bun())
		ctx := t.Context()
		now := at(20, 12, 0, 0)

		byStatus, err := s.SessionsByStatus(ctx)
		require.NoError(t, err)
		require.Len(t, byStatus, len(core.SessionStatuses), "every status, zero included")
		require.Equal(t, 2, byStatus[core.StatusConnected])
		require.Equal(t, 1, byStatus[core.StatusQRCode])
		require.Equal(t, 0, byStatus[core.StatusBanned])

		_, ok, err := s.OldestDueAge(ctx, now)
		require.NoError(t, err)
		require.False(t, ok, "nothing queued")

		// The queue: one waiting 30 s, one scheduled due 10 s ago (accepted an hour ago), one
		// scheduled for later (not waiting), and an older one already sent.
		f.out("s1", "A", now.Add(-30*time.Second), core.MessageStatusQueued, time.Time{})
		scheduled := func(created, due time.Time) {
			f.insert(store.Message{SessionID: "s1", ChatID: "B", Direction: core.DirectionOut, Status: core.MessageStatusQueued, CreatedAt: created, SendAt: &due})
		}
		scheduled(now.Add(-time.Hour), now.Add(-10*time.Second))
		scheduled(now.Add(-2*time.Hour), now.Add(time.Hour))
		age, ok, err := s.OldestDueAge(ctx, now)
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, 30*time.Second, age)
		depth, err := s.CountQueued(ctx, "")
		require.NoError(t, err)
		require.Equal(t, 3, depth)

		// Accept-to-sent over the last 24 h: 100, 200, ... 1000 ms, and a scheduled message sent
		// 50 ms after it was due. Not counted: one sent 25 h ago, one sent from the phone.
		for i := 1; i <= 10; i++ {
			created := now.Add(-time.Duration(i) * time.Hour)
			f.out("s3", "C", created, core.MessageStatusSent, created.Add(time.Duration(i)*100*time.Millisecond))
		}
		due := now.Add(-10 * time.Minute)
		sent := due.Add(50 * time.Millisecond)
		f.insert(store.Message{SessionID: "s3", ChatID: "C", Direction: core.DirectionOut, Status: core.MessageStatusRead,
			CreatedAt: now.Add(-2 * time.Hour), SendAt: &due, SentAt: &sent, Attempts: 2})
		f.out("s3", "C", now.Add(-26*time.Hour), core.MessageStatusSent, now.Add(-25*time.Hour))
		phone := now.Add(-time.Minute)
		f.insert(store.Message{SessionID: "s3", ChatID: "C", Direction: core.DirectionOut, Status: core.MessageStatusSent,
			CreatedAt: now, SentAt: &phone})

		lat, err := s.AcceptToSent(ctx, now.Add(-24*time.Hour))
		require.NoError(t, err)
		// 11 samples: the median is the 6th (500 ms); p95 sits halfway between the 10th and 11th.
		require.Equal(t, store.Latency{P50: 500 * time.Millisecond, P95: 950 * time.Millisecond, Samples: 11}, lat)
		if d.Bun().Dialect().Name() == dialect.PG {
			var p50, p95 float64
			require.NoError(t, d.Bun().NewRaw(`SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ms), percentile_cont(0.95) WITHIN GROUP (ORDER BY ms)
				FROM (SELECT EXTRACT(EPOCH FROM (sent_at - GREATEST(created_at, COALESCE(send_at, created_at)))) * 1000 AS ms
				FROM messages WHERE direction = 'out' AND attempts > 0 AND sent_at >= ?) l`, now.Add(-24*time.Hour)).Scan(ctx, &p50, &p95))
			require.InDelta(t, p50, float64(lat.P50)/float64(time.Millisecond), 1e-9, "same as PostgreSQL's percentile_cont")
			require.InDelta(t, p95, float64(lat.P95)/float64(time.Millisecond), 1e-9, "same as PostgreSQL's percentile_cont")
		}

		lat, err = s.AcceptToSent(ctx, now)
		require.NoError(t, err)
		require.Equal(t, store.Latency{}, lat, "no samples")
		// A sent time before the acceptance (the channel's clock, to the second) counts as 0.
		f.out("s3", "C", now.Add(-30*time.Minute), core.MessageStatusSent, now.Add(-30*time.Minute-500*time.Millisecond))
		lat, err = s.AcceptToSent(ctx, now.Add(-90*time.Minute))
		require.NoError(t, err)
		require.Equal(t, store.Latency{P50: 50 * time.Millisecond, P95: 95 * time.Millisecond, Samples: 3}, lat)
	}, migrations.Core)
}

// TestAcceptToSentOfOneEarlySend: a lone sample clamped to 0 (WhatsApp's sent time is whole
// seconds) is still read as a number on SQLite, where the clamp once came back as an integer.
func TestAcceptToSentOfOneEarlySend(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := &fixture{t: t, d: d}
		f.session("s1", core.StatusConnected)
		now := at(20, 12, 0, 0)
		f.out("s1", "C", now.Add(-time.Minute), core.MessageStatusSent, now.Add(-time.Minute-300*time.Millisecond))
		lat, err := store.New(d.Bun()).AcceptToSent(t.Context(), now.Add(-time.Hour))
		require.NoError(t, err)
		require.Equal(t, store.Latency{Samples: 1}, lat)
	}, migrations.Core)
}
