package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/uptrace/bun/dialect"

	"github.com/28web/hub/channels/core"
)

// The analytics read the messages and sessions tables as they are: a message counts on the UTC
// day it was created (accepted, or received), with the status it has now.

// analyticsSQL spells the expressions PostgreSQL and SQLite write differently. SQLite stores
// times as UTC text ("2006-01-02 15:04:05.999999+00:00"), which its date functions read.
type analyticsSQL struct{ pg bool }

func (s *Store) sqlOf() analyticsSQL { return analyticsSQL{pg: s.db.Dialect().Name() == dialect.PG} }

// day is col's UTC calendar day as YYYY-MM-DD text.
func (d analyticsSQL) day(col string) string {
	if d.pg {
		return "to_char(" + col + " AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
	}
	return "date(" + col + ")"
}

// millis is to - from in milliseconds, as a float. SQLite's date functions
// resolve milliseconds: its difference is rounded to whole ones, so that float noise does not
// show.
func (d analyticsSQL) millis(from, to string) string {
	if d.pg {
		return "CAST(EXTRACT(EPOCH FROM (" + to + " - " + from + ")) * 1000 AS double precision)"
	}
	return "ROUND((unixepoch(" + to + ", 'subsec') - unixepoch(" + from + ", 'subsec')) * 1000)"
}

// timeParam is a time bind parameter where the context does not type it.
func (d analyticsSQL) timeParam() string {
	if d.pg {
		return "CAST(? AS timestamptz)"
	}
	return "?"
}

// dueAt is when a queued message (aliased m) may be sent: a scheduled one at its send_at.
const dueAt = "CASE WHEN m.send_at IS NOT NULL AND m.send_at > m.created_at THEN m.send_at ELSE m.created_at END"

// SessionsByStatus counts the registry's sessions by their last reported status. Every status
// of core.SessionStatuses is present, zero included.
func (s *Store) SessionsByStatus(ctx context.Context) (map[core.SessionStatus]int, error) {
	var rows []struct {
		Status core.SessionStatus `bun:"status"`
		N      int                `bun:"n"`
	}
	if err := s.db.NewSelect().Model((*SessionRow)(nil)).Column("status").ColumnExpr("COUNT(*) AS n").
		Group("status").Scan(ctx, &rows); err != nil {
		return nil, fmt.Errorf("count sessions by status: %w", err)
	}
	counts := make(map[core.SessionStatus]int, len(core.SessionStatuses))
	for _, st := range core.SessionStatuses {
		counts[st] = 0
	}
	for _, r := range rows {
		counts[r.Status] += r.N
	}
	return counts, nil
}

// OldestDueAge is how long the oldest queued outbound message has been waiting at now: since it
// was accepted, or since its scheduled time for a scheduled one. Messages scheduled later than
// now do not wait yet; ok is false when none waits.
func (s *Store) OldestDueAge(ctx context.Context, now time.Time) (age time.Duration, ok bool, err error) {
	d := s.sqlOf()
	now = normalize(now)
	var ms sql.NullFloat64
	if err := s.db.NewRaw("SELECT "+d.millis("MIN("+dueAt+")", d.timeParam())+" FROM messages AS m"+
		" WHERE m.status = ? AND m.direction = ? AND (m.send_at IS NULL OR m.send_at <= ?)",
		now, core.MessageStatusQueued, core.DirectionOut, now).Scan(ctx, &ms); err != nil {
		return 0, false, fmt.Errorf("select oldest queued message: %w", err)
	}
	if !ms.Valid {
		return 0, false, nil
	}
	// A replica's clock a little ahead of ours must not make the age negative.
	return max(0, millisDuration(ms.Float64)), true, nil
}

// Latency summarises durations: percentiles interpolate linearly between the nearest ranks, as
// PostgreSQL's percentile_cont does. They are zero when Samples is.
type Latency struct {
	P50, P95 time.Duration
	Samples  int
}

// AcceptToSent is the time outbound messages sent at or after since took from acceptance to
// sent: from created_at, or from send_at for a scheduled message, to sent_at, at least 0. Only
// messages the gateway sent count (attempts > 0): one sent from the phone has no acceptance.
func (s *Store) AcceptToSent(ctx context.Context, since time.Time) (Latency, error) {
	d := s.sqlOf()
	pcts := []int64{50, 95}
	// Only the ranks around each percentile leave the database: ranks are 0-based, and for the
	// p-th percentile of n values the neighbours are floor and ceil of (n-1)*p/100.
	var ranks []string
	for _, p := range pcts {
		ranks = append(ranks, fmt.Sprintf("(n - 1) * %d / 100", p), fmt.Sprintf("((n - 1) * %d + 99) / 100", p))
	}
	var rows []struct {
		I  int64   `bun:"i"`
		N  int64   `bun:"n"`
		Ms float64 `bun:"ms"`
	}
	// sent_at is the channel's time (WhatsApp's server gives whole seconds), which may come
	// before the acceptance: such a message counts as sent at once.
	if err := s.db.NewRaw("WITH raw AS (SELECT "+d.millis(dueAt, "m.sent_at")+" AS ms FROM messages AS m"+
		" WHERE m.direction = ? AND m.attempts > 0 AND m.sent_at >= ?),"+
		" lat AS (SELECT CASE WHEN ms < 0 THEN 0.0 ELSE ms END AS ms FROM raw),"+
		" ranked AS (SELECT ms, ROW_NUMBER() OVER (ORDER BY ms) - 1 AS i, COUNT(*) OVER () AS n FROM lat)"+
		" SELECT i, n, ms FROM ranked WHERE i IN ("+strings.Join(ranks, ", ")+")",
		core.DirectionOut, normalize(since)).Scan(ctx, &rows); err != nil {
		return Latency{}, fmt.Errorf("select accept-to-sent latencies: %w", err)
	}
	if len(rows) == 0 {
		return Latency{}, nil
	}
	n := rows[0].N
	at := make(map[int64]float64, len(rows))
	for _, r := range rows {
		at[r.I] = r.Ms
	}
	return Latency{P50: millisDuration(interpolate(at, n, pcts[0])), P95: millisDuration(interpolate(at, n, pcts[1])), Samples: int(n)}, nil
}

// interpolate is the p-th percentile of n sorted values of which at holds those at the ranks
// around it.
func interpolate(at map[int64]float64, n, p int64) float64 {
	lo, hi := (n-1)*p/100, ((n-1)*p+99)/100
	frac := float64((n-1)*p-lo*100) / 100
	return at[lo] + frac*(at[hi]-at[lo])
}

// millisDuration turns milliseconds into a Duration at microsecond precision, the finest either
// database keeps.
func millisDuration(ms float64) time.Duration {
	return (time.Duration(ms * float64(time.Millisecond))).Round(time.Microsecond)
}

// MessageCounts counts messages by direction and outcome. Outbound ones count by their status
// now: Sent those the network took (sent_at set, whatever came after), Delivered those that
// reached the phone (delivered or read), Read those read, Failed those that failed.
type MessageCounts struct {
	In        int `bun:"messages_in"`
	Out       int `bun:"messages_out"`
	Sent      int `bun:"sent"`
	Delivered int `bun:"delivered"`
	Read      int `bun:"read_count"`
	Failed    int `bun:"failed"`
}

// countColumns are the aggregates filling MessageCounts over messages aliased m, with their
// arguments.
func countColumns() (string, []any) {
	return "COALESCE(SUM(CASE WHEN m.direction = ? THEN 1 ELSE 0 END), 0) AS messages_in," +
			" COALESCE(SUM(CASE WHEN m.direction = ? THEN 1 ELSE 0 END), 0) AS messages_out," +
			" COALESCE(SUM(CASE WHEN m.direction = ? AND m.sent_at IS NOT NULL THEN 1 ELSE 0 END), 0) AS sent," +
			" COALESCE(SUM(CASE WHEN m.direction = ? AND m.status IN (?, ?) THEN 1 ELSE 0 END), 0) AS delivered," +
			" COALESCE(SUM(CASE WHEN m.direction = ? AND m.status = ? THEN 1 ELSE 0 END), 0) AS read_count," +
			" COALESCE(SUM(CASE WHEN m.direction = ? AND m.status = ? THEN 1 ELSE 0 END), 0) AS failed",
		[]any{core.DirectionIn, core.DirectionOut, core.DirectionOut,
			core.DirectionOut, core.MessageStatusDelivered, core.MessageStatusRead,
			core.DirectionOut, core.MessageStatusRead, core.DirectionOut, core.MessageStatusFailed}
}

// CountMessages counts every session's messages created in [since, until).
func (s *Store) CountMessages(ctx context.Context, since, until time.Time) (MessageCounts, error) {
	cols, args := countColumns()
	var c MessageCounts
	if err := s.db.NewRaw("SELECT "+cols+" FROM messages AS m WHERE m.created_at >= ? AND m.created_at < ?",
		append(args, normalize(since), normalize(until))...).Scan(ctx, &c); err != nil {
		return MessageCounts{}, fmt.Errorf("count messages: %w", err)
	}
	return c, nil
}

// DayActivity is one session's messages of one UTC day.
type DayActivity struct {
	SessionID core.SessionID
	// Day is the UTC day, YYYY-MM-DD.
	Day string
	MessageCounts
	// MedianFirstReply is the median, over the day's conversations (chats) with an inbound
	// message, of the time from the day's first inbound message of the chat to the session's
	// next outbound message in it (whenever that came); nil when none was answered.
	MedianFirstReply *time.Duration
}

// ActivityFilter selects the days of DailyActivity.
type ActivityFilter struct {
	// Session narrows to one session; empty means every session.
	Session core.SessionID
	// From and To are the first and last UTC days, inclusive; their time of day is ignored.
	From, To time.Time
}

// DailyActivity returns, for every session and UTC day of f with at least one message, its
// counts and median first reply, ordered by day then session.
func (s *Store) DailyActivity(ctx context.Context, f ActivityFilter) ([]DayActivity, error) {
	since := utcDay(f.From)
	until := utcDay(f.To).AddDate(0, 0, 1)
	if !since.Before(until) {
		return nil, fmt.Errorf("%w: activity from %s after %s", core.ErrInvalid, since.Format(time.DateOnly), f.To.Format(time.DateOnly))
	}
	d := s.sqlOf()
	where := "m.created_at >= ? AND m.created_at < ?"
	whereArgs := []any{since, until}
	if f.Session != "" {
		where += " AND m.session_id = ?"
		whereArgs = append(whereArgs, f.Session)
	}

	cols, args := countColumns()
	var rows []struct {
		SessionID core.SessionID `bun:"session_id"`
		Day       string         `bun:"day"`
		MessageCounts
	}
	if err := s.db.NewRaw("SELECT m.session_id, "+d.day("m.created_at")+" AS day, "+cols+
		" FROM messages AS m WHERE "+where+" GROUP BY m.session_id, "+d.day("m.created_at")+" ORDER BY day, m.session_id",
		append(args, whereArgs...)...).Scan(ctx, &rows); err != nil {
		return nil, fmt.Errorf("count messages by day: %w", err)
	}

	medians, err := s.medianFirstReplies(ctx, d, f.Session, since, until)
	if err != nil {
		return nil, err
	}
	out := make([]DayActivity, len(rows))
	for i, r := range rows {
		out[i] = DayActivity{SessionID: r.SessionID, Day: r.Day, MessageCounts: r.MessageCounts}
		if m, ok := medians[dayKey{r.SessionID, r.Day}]; ok {
			out[i].MedianFirstReply = &m
		}
	}
	return out, nil
}

type dayKey struct {
	session core.SessionID
	day     string
}

// medianFirstReplies computes DayActivity.MedianFirstReply for the days in [since, until) of
// session (every session when empty). The median is the mean of the middle one or two waits.
//
// One ordered pass finds each message's next outbound message in its chat: a running MIN over
// the later messages (walked newest first, so the frame only grows), where a correlated lookup
// per conversation would scan the session's later messages for every unanswered chat. Answers
// may come after until, so outbound messages are read up to now.
func (s *Store) medianFirstReplies(ctx context.Context, d analyticsSQL, session core.SessionID, since, until time.Time) (map[dayKey]time.Duration, error) {
	scope, args := "m.created_at >= ? AND (m.created_at < ? OR m.direction = ?)", []any{core.DirectionOut, since, until, core.DirectionOut}
	if session != "" {
		scope += " AND m.session_id = ?"
		args = append(args, session)
	}
	args = append(args, core.DirectionIn, until)
	var rows []struct {
		SessionID core.SessionID `bun:"session_id"`
		Day       string         `bun:"day"`
		Ms        float64        `bun:"median_ms"`
	}
	if err := s.db.NewRaw("WITH timeline AS (SELECT m.session_id, m.chat_id, m.direction, m.created_at,"+
		" MIN(CASE WHEN m.direction = ? THEN m.created_at END) OVER (PARTITION BY m.session_id, m.chat_id"+
		" ORDER BY m.created_at DESC, m.id DESC ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS next_out"+
		" FROM messages AS m WHERE "+scope+"),"+
		" firsts AS (SELECT session_id, "+d.day("created_at")+" AS day, created_at, next_out,"+
		" ROW_NUMBER() OVER (PARTITION BY session_id, chat_id, "+d.day("created_at")+" ORDER BY created_at) AS k"+
		" FROM timeline WHERE direction = ? AND created_at < ?),"+
		" waits AS (SELECT session_id, day, "+d.millis("created_at", "next_out")+" AS ms FROM firsts WHERE k = 1 AND next_out IS NOT NULL),"+
		" ranked AS (SELECT session_id, day, ms, ROW_NUMBER() OVER (PARTITION BY session_id, day ORDER BY ms) AS rn,"+
		" COUNT(*) OVER (PARTITION BY session_id, day) AS n FROM waits)"+
		" SELECT session_id, day, AVG(ms) AS median_ms FROM ranked WHERE rn IN ((n + 1) / 2, (n + 2) / 2) GROUP BY session_id, day",
		args...).Scan(ctx, &rows); err != nil {
		return nil, fmt.Errorf("select first replies by day: %w", err)
	}
	out := make(map[dayKey]time.Duration, len(rows))
	for _, r := range rows {
		out[dayKey{r.SessionID, r.Day}] = millisDuration(r.Ms)
	}
	return out, nil
}

// utcDay is the start of t's UTC day.
func utcDay(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}
