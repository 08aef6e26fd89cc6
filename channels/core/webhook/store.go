package webhook

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"github.com/28web/hub/channels/core"
	"github.com/28web/hub/platform/db"
)

// store reads and writes the webhook tables. Times are unix milliseconds.
type store struct {
	db      *bun.DB
	dialect db.Dialect
}

func newStore(d *db.DB) *store { return &store{db: d.Bun(), dialect: d.Dialect()} }

type endpointRow struct {
	bun.BaseModel `bun:"table:webhook_endpoints"`

	ID                      string  `bun:"id,pk"`
	SessionID               *string `bun:"session_id"`
	URL                     string  `bun:"url"`
	Events                  string  `bun:"events"`
	Headers                 string  `bun:"headers"`
	Secret                  string  `bun:"secret"`
	PreviousSecret          *string `bun:"previous_secret"`
	PreviousSecretExpiresAt *int64  `bun:"previous_secret_expires_at"`
	DisabledAt              *int64  `bun:"disabled_at"`
	DisabledReason          *string `bun:"disabled_reason"`
	FailingSince            *int64  `bun:"failing_since"`
	RetiredAt               *int64  `bun:"retired_at"`
	CreatedAt               int64   `bun:"created_at"`
	UpdatedAt               int64   `bun:"updated_at"`
}

func strPtr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func toRow(e *Endpoint) (*endpointRow, error) {
	events, err := json.Marshal(nonNil(e.Events))
	if err != nil {
		return nil, fmt.Errorf("encode events: %w", err)
	}
	headers := e.Headers
	if headers == nil {
		headers = map[string]string{}
	}
	hb, err := json.Marshal(headers)
	if err != nil {
		return nil, fmt.Errorf("encode headers: %w", err)
	}
	return &endpointRow{
		ID: string(e.ID), SessionID: strPtr(string(e.SessionID)), URL: e.URL, Events: string(events),
		Headers: string(hb), Secret: e.Secret, PreviousSecret: strPtr(e.PreviousSecret),
		PreviousSecretExpiresAt: ms(e.PreviousExpiresAt), DisabledAt: ms(e.DisabledAt),
		DisabledReason: strPtr(e.DisabledReason), FailingSince: ms(e.FailingSince), RetiredAt: ms(e.RetiredAt),
		CreatedAt: e.CreatedAt.UnixMilli(), UpdatedAt: e.UpdatedAt.UnixMilli(),
	}, nil
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func (r *endpointRow) endpoint() (*Endpoint, error) {
	e := &Endpoint{
		ID: EndpointID(r.ID), SessionID: core.SessionID(deref(r.SessionID)), URL: r.URL, Secret: r.Secret,
		PreviousSecret: deref(r.PreviousSecret), PreviousExpiresAt: fromMS(r.PreviousSecretExpiresAt),
		DisabledAt: fromMS(r.DisabledAt), DisabledReason: deref(r.DisabledReason),
		FailingSince: fromMS(r.FailingSince), RetiredAt: fromMS(r.RetiredAt), CreatedAt: time.UnixMilli(r.CreatedAt).UTC(),
		UpdatedAt: time.UnixMilli(r.UpdatedAt).UTC(),
	}
	if err := json.Unmarshal([]byte(r.Events), &e.Events); err != nil {
		return nil, fmt.Errorf("decode endpoint %s events: %w", r.ID, err)
	}
	if err := json.Unmarshal([]byte(r.Headers), &e.Headers); err != nil {
		return nil, fmt.Errorf("decode endpoint %s headers: %w", r.ID, err)
	}
	return e, nil
}

// endpoints loads every endpoint.
func (s *store) endpoints(ctx context.Context) ([]*Endpoint, error) {
	var rows []endpointRow
	if err := s.db.NewSelect().Model(&rows).Order("created_at", "id").Scan(ctx); err != nil {
		return nil, fmt.Errorf("load webhook endpoints: %w", err)
	}
	out := make([]*Endpoint, 0, len(rows))
	for i := range rows {
		e, err := rows[i].endpoint()
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

// upsertEndpoint writes e whole.
func (s *store) upsertEndpoint(ctx context.Context, db bun.IDB, e *Endpoint) error {
	row, err := toRow(e)
	if err != nil {
		return err
	}
	_, err = db.NewInsert().Model(row).
		On("CONFLICT (id) DO UPDATE").
		Set("session_id = EXCLUDED.session_id, url = EXCLUDED.url, events = EXCLUDED.events, headers = EXCLUDED.headers").
		Set("secret = EXCLUDED.secret, previous_secret = EXCLUDED.previous_secret").
		Set("previous_secret_expires_at = EXCLUDED.previous_secret_expires_at, disabled_at = EXCLUDED.disabled_at").
		Set("disabled_reason = EXCLUDED.disabled_reason, failing_since = EXCLUDED.failing_since, updated_at = EXCLUDED.updated_at").
		Set("retired_at = EXCLUDED.retired_at").
		Exec(ctx)
	if err != nil {
		return fmt.Errorf("save webhook endpoint %s: %w", e.ID, err)
	}
	return nil
}

// deleteEndpoints removes endpoints and cancels their open deliveries.
func (s *store) deleteEndpoints(ctx context.Context, db bun.IDB, ids []EndpointID, now time.Time) error {
	if len(ids) == 0 {
		return nil
	}
	if _, err := db.NewDelete().TableExpr("webhook_endpoints").Where("id IN (?)", bun.List(ids)).Exec(ctx); err != nil {
		return fmt.Errorf("delete webhook endpoints: %w", err)
	}
	if _, err := db.NewUpdate().TableExpr("webhook_deliveries").
		Set("status = ?", StatusCancelled).Set("next_attempt_at = NULL").Set("updated_at = ?", now.UnixMilli()).
		Where("endpoint_id IN (?)", bun.List(ids)).Where("status IN (?)", bun.List(openStatuses)).
		Exec(ctx); err != nil {
		return fmt.Errorf("cancel deliveries of deleted endpoints: %w", err)
	}
	return nil
}

var openStatuses = []DeliveryStatus{StatusPending, StatusRetrying}

// retireEndpoints marks endpoints retired at now.
func (s *store) retireEndpoints(ctx context.Context, ids []EndpointID, now time.Time) error {
	if len(ids) == 0 {
		return nil
	}
	if _, err := s.db.NewUpdate().TableExpr("webhook_endpoints").Set("retired_at = ?", now.UnixMilli()).
		Set("updated_at = ?", now.UnixMilli()).Where("id IN (?)", bun.List(ids)).Where("retired_at IS NULL").Exec(ctx); err != nil {
		return fmt.Errorf("retire webhook endpoints: %w", err)
	}
	return nil
}

// drainedRetired returns the retired endpoints with no open delivery left.
func (s *store) drainedRetired(ctx context.Context) ([]EndpointID, error) {
	var ids []EndpointID
	open := s.db.NewSelect().TableExpr("webhook_deliveries AS d").ColumnExpr("1").
		Where("d.endpoint_id = e.id").Where("d.status IN (?)", bun.List(openStatuses))
	if err := s.db.NewSelect().TableExpr("webhook_endpoints AS e").Column("e.id").
		Where("e.retired_at IS NOT NULL").Where("NOT EXISTS (?)", open).Scan(ctx, &ids); err != nil {
		return nil, fmt.Errorf("find drained retired endpoints: %w", err)
	}
	return ids, nil
}

// errEndpointDisabled is the error recorded on deliveries created while their endpoint was
// disabled.
const errEndpointDisabled = "endpoint disabled"

// setEndpointState records an endpoint's failure tracking and disabling.
func (s *store) setEndpointState(ctx context.Context, e *Endpoint) error {
	_, err := s.db.NewUpdate().TableExpr("webhook_endpoints").
		Set("disabled_at = ?", ms(e.DisabledAt)).Set("disabled_reason = ?", strPtr(e.DisabledReason)).
		Set("failing_since = ?", ms(e.FailingSince)).Set("updated_at = ?", e.UpdatedAt.UnixMilli()).
		Where("id = ?", e.ID).Exec(ctx)
	if err != nil {
		return fmt.Errorf("update webhook endpoint %s state: %w", e.ID, err)
	}
	return nil
}

type deliveryRow struct {
	bun.BaseModel `bun:"table:webhook_deliveries"`

	Seq           int64    `bun:"seq,pk,autoincrement"`
	EventID       string   `bun:"event_id"`
	EndpointID    string   `bun:"endpoint_id"`
	SessionID     string   `bun:"session_id"`
	EventType     string   `bun:"event_type"`
	Payload       string   `bun:"payload"`
	Status        string   `bun:"status"`
	Attempts      int      `bun:"attempts"`
	RoundAttempts int      `bun:"round_attempts"`
	NextAttemptAt *int64   `bun:"next_attempt_at"`
	LastStatus    *int     `bun:"last_status"`
	LastError     *string  `bun:"last_error"`
	LastLatencyMS *float64 `bun:"last_latency_ms"`
	CreatedAt     int64    `bun:"created_at"`
	UpdatedAt     int64    `bun:"updated_at"`
}

func (r *deliveryRow) delivery() Delivery {
	d := Delivery{
		ID: DeliveryID(r.Seq), EventID: core.EventID(r.EventID), EndpointID: EndpointID(r.EndpointID),
		SessionID: core.SessionID(r.SessionID), EventType: core.EventType(r.EventType),
		Status: DeliveryStatus(r.Status), Attempts: r.Attempts, NextAttemptAt: fromMS(r.NextAttemptAt),
		LastError: deref(r.LastError), CreatedAt: time.UnixMilli(r.CreatedAt).UTC(),
		UpdatedAt: time.UnixMilli(r.UpdatedAt).UTC(), Payload: json.RawMessage(r.Payload),
	}
	if r.LastStatus != nil {
		d.LastStatus = *r.LastStatus
	}
	if r.LastLatencyMS != nil {
		d.LastLatency = time.Duration(*r.LastLatencyMS * float64(time.Millisecond))
	}
	return d
}

// insertDeliveries writes one pending row per endpoint for ev, skipping (event, endpoint) pairs
// already stored, and returns the rows it created.
// Deliveries to a disabled endpoint are stored dead at once, so that the log shows them and a
// range redelivery after re-enabling the endpoint sends them.
func (s *store) insertDeliveries(ctx context.Context, db bun.IDB, ev core.Event, payload []byte, targets []target, now time.Time) ([]deliveryRow, error) {
	rows := make([]deliveryRow, len(targets))
	for i, t := range targets {
		rows[i] = deliveryRow{
			EventID: string(ev.ID), EndpointID: string(t.id), SessionID: string(ev.SessionID),
			EventType: string(ev.Type), Payload: string(payload), Status: string(StatusPending),
			NextAttemptAt: ms(now), CreatedAt: now.UnixMilli(), UpdatedAt: now.UnixMilli(),
		}
		if t.disabled {
			rows[i].Status, rows[i].NextAttemptAt, rows[i].LastError = string(StatusDead), nil, strPtr(errEndpointDisabled)
		}
	}
	// Plain SQL with bind parameters, not bun's inlined values: the statement text repeats, so
	// pgx reuses its prepared statement instead of preparing one per event.
	var q strings.Builder
	q.WriteString(`INSERT INTO webhook_deliveries (event_id, endpoint_id, session_id, event_type, payload, status,
		attempts, round_attempts, next_attempt_at, last_error, created_at, updated_at) VALUES `)
	args := make([]any, 0, 12*len(rows))
	for i, r := range rows {
		if i > 0 {
			q.WriteString(", ")
		}
		q.WriteString(s.tuple(len(args), "text", "text", "text", "text", "text", "text", "integer", "integer", "bigint", "text", "bigint", "bigint"))
		args = append(args, r.EventID, r.EndpointID, r.SessionID, r.EventType, r.Payload, r.Status, 0, 0,
			r.NextAttemptAt, r.LastError, r.CreatedAt, r.UpdatedAt)
	}
	q.WriteString(" ON CONFLICT (event_id, endpoint_id) DO NOTHING RETURNING seq, endpoint_id")
	res, err := sqlOf(db).QueryContext(ctx, q.String(), args...)
	if err != nil {
		return nil, fmt.Errorf("insert deliveries of event %s: %w", ev.ID, err)
	}
	var created []deliveryRow
	for res.Next() {
		var c deliveryRow
		if err := res.Scan(&c.Seq, &c.EndpointID); err != nil {
			_ = res.Close()
			return nil, fmt.Errorf("insert deliveries of event %s: %w", ev.ID, err)
		}
		created = append(created, c)
	}
	if err := errors.Join(res.Err(), res.Close()); err != nil {
		return nil, fmt.Errorf("insert deliveries of event %s: %w", ev.ID, err)
	}
	byEndpoint := make(map[string]int64, len(created))
	for _, c := range created {
		byEndpoint[c.EndpointID] = c.Seq
	}
	out := rows[:0]
	for _, r := range rows {
		if seq, ok := byEndpoint[r.EndpointID]; ok {
			r.Seq = seq
			out = append(out, r)
		}
	}
	return out, nil
}

// recordOutcomes stores attempts and their deliveries' new states in two statements, whatever
// their number; run it in a transaction. Values are cast explicitly so that PostgreSQL types the
// VALUES list like SQLite does.
func (s *store) recordOutcomes(ctx context.Context, tx bun.IDB, outs []outcome) error {
	if len(outs) == 0 {
		return nil
	}
	var upd, ins strings.Builder
	upd.WriteString(`UPDATE webhook_deliveries SET status = v.column2, attempts = v.column3,
		round_attempts = v.column4, next_attempt_at = v.column5, last_status = v.column6,
		last_error = v.column7, last_latency_ms = v.column8, updated_at = v.column9 FROM (VALUES `)
	ins.WriteString(`INSERT INTO webhook_attempts
		(delivery_seq, attempt, status_code, latency_ms, error, next_attempt_at, created_at) VALUES `)
	updArgs := make([]any, 0, 9*len(outs))
	insArgs := make([]any, 0, 7*len(outs))
	for i, o := range outs {
		if i > 0 {
			upd.WriteString(", ")
			ins.WriteString(", ")
		}
		upd.WriteString(s.tuple(len(updArgs), "bigint", "text", "integer", "integer", "bigint", "integer", "text", "double precision", "bigint"))
		ins.WriteString(s.tuple(len(insArgs), "bigint", "integer", "integer", "double precision", "text", "bigint", "bigint"))
		d, a := o.row, o.att
		updArgs = append(updArgs, o.seq, d.Status, d.Attempts, d.RoundAttempts, d.NextAttemptAt, d.LastStatus,
			d.LastError, d.LastLatencyMS, d.UpdatedAt)
		var code *int
		if a.StatusCode != 0 {
			code = &a.StatusCode
		}
		insArgs = append(insArgs, o.seq, a.Attempt, code, float64(a.Latency.Microseconds())/1000, strPtr(a.Error),
			ms(a.NextAttemptAt), a.At.UnixMilli())
	}
	upd.WriteString(") AS v WHERE webhook_deliveries.seq = v.column1")
	if _, err := sqlOf(tx).ExecContext(ctx, upd.String(), updArgs...); err != nil {
		return fmt.Errorf("update %d deliveries: %w", len(outs), err)
	}
	if _, err := sqlOf(tx).ExecContext(ctx, ins.String(), insArgs...); err != nil {
		return fmt.Errorf("record %d attempts: %w", len(outs), err)
	}
	return nil
}

// tuple returns "(p1, p2, ...)" for the bind parameters after the first `after`, each cast to
// its type so that PostgreSQL knows them in a VALUES list as SQLite does.
func (s *store) tuple(after int, types ...string) string {
	var b strings.Builder
	b.WriteByte('(')
	for i, t := range types {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("CAST(")
		if s.dialect == db.Postgres {
			b.WriteString("$" + strconv.Itoa(after+i+1))
		} else {
			b.WriteByte('?')
		}
		b.WriteString(" AS " + t + ")")
	}
	b.WriteByte(')')
	return b.String()
}

// sqlRunner is the database/sql side of a bun handle.
type sqlRunner interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// sqlOf unwraps a bun handle to database/sql, which passes bind parameters to the driver
// (bun's own methods inline them into the SQL text).
func sqlOf(h bun.IDB) sqlRunner {
	switch v := h.(type) {
	case bun.Tx:
		return v.Tx
	case *bun.Tx:
		return v.Tx
	case *bun.DB:
		return v.DB
	case bun.Conn:
		return v.Conn
	}
	return h
}

// openDeliveries returns up to limit open deliveries of endpoint with seq > after, oldest first.
func (s *store) openDeliveries(ctx context.Context, endpoint EndpointID, after int64, limit int) ([]deliveryRow, error) {
	var rows []deliveryRow
	err := s.db.NewSelect().Model(&rows).
		Column("seq", "event_id", "endpoint_id", "session_id", "event_type", "status", "attempts", "round_attempts", "next_attempt_at", "created_at").
		Where("endpoint_id = ?", endpoint).Where("status IN (?)", bun.List(openStatuses)).Where("seq > ?", after).
		Order("seq").Limit(int64(limit)).Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("load open deliveries of %s: %w", endpoint, err)
	}
	return rows, nil
}

// openDeliveriesOfEvent returns the open deliveries of one event.
func (s *store) openDeliveriesOfEvent(ctx context.Context, id core.EventID) ([]deliveryRow, error) {
	var rows []deliveryRow
	err := s.db.NewSelect().Model(&rows).ExcludeColumn("payload").
		Where("event_id = ?", id).Where("status IN (?)", bun.List(openStatuses)).Order("seq").Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("load open deliveries of event %s: %w", id, err)
	}
	return rows, nil
}

// payload reads a delivery's body.
func (s *store) payload(ctx context.Context, seq int64) ([]byte, error) {
	var p string
	if err := s.db.NewSelect().TableExpr("webhook_deliveries").Column("payload").Where("seq = ?", seq).Scan(ctx, &p); err != nil {
		return nil, fmt.Errorf("load payload of delivery %d: %w", seq, err)
	}
	return []byte(p), nil
}

// countOpen counts open deliveries, for the queue-depth gauge.
func (s *store) countOpen(ctx context.Context) (int, error) {
	n, err := s.db.NewSelect().TableExpr("webhook_deliveries").Where("status IN (?)", bun.List(openStatuses)).Count(ctx)
	if err != nil {
		return 0, fmt.Errorf("count open deliveries: %w", err)
	}
	return int(n), nil
}

// DeliveryFilter selects deliveries from the log. Zero fields do not filter.
type DeliveryFilter struct {
	SessionID  core.SessionID
	EndpointID EndpointID
	EventID    core.EventID
	EventType  core.EventType
	Status     DeliveryStatus
	Since      time.Time // created at or after
	Until      time.Time // created before
	// Before pages backwards: deliveries with an id below it.
	Before DeliveryID
	Limit  int
}

func (f DeliveryFilter) apply(q *bun.SelectQuery) *bun.SelectQuery {
	if f.SessionID != "" {
		q = q.Where("session_id = ?", f.SessionID)
	}
	if f.EndpointID != "" {
		q = q.Where("endpoint_id = ?", f.EndpointID)
	}
	if f.EventID != "" {
		q = q.Where("event_id = ?", f.EventID)
	}
	if f.EventType != "" {
		q = q.Where("event_type = ?", f.EventType)
	}
	if f.Status != "" {
		q = q.Where("status = ?", f.Status)
	}
	if !f.Since.IsZero() {
		q = q.Where("created_at >= ?", f.Since.UnixMilli())
	}
	if !f.Until.IsZero() {
		q = q.Where("created_at < ?", f.Until.UnixMilli())
	}
	if f.Before > 0 {
		q = q.Where("seq < ?", f.Before)
	}
	return q
}

// listDeliveries returns deliveries matching f, newest first, without payloads.
func (s *store) listDeliveries(ctx context.Context, f DeliveryFilter) ([]Delivery, error) {
	var rows []deliveryRow
	q := s.db.NewSelect().Model(&rows).ExcludeColumn("payload")
	if err := f.apply(q).Order("seq DESC").Limit(int64(f.Limit)).Scan(ctx); err != nil {
		return nil, fmt.Errorf("list deliveries: %w", err)
	}
	out := make([]Delivery, len(rows))
	for i := range rows {
		out[i] = rows[i].delivery()
	}
	return out, nil
}

// delivery returns one delivery with its payload and attempts.
func (s *store) delivery(ctx context.Context, id DeliveryID) (Delivery, []Attempt, error) {
	var row deliveryRow
	if err := s.db.NewSelect().Model(&row).Where("seq = ?", id).Scan(ctx); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return Delivery{}, nil, fmt.Errorf("%w: delivery %d", core.ErrNotFound, id)
		}
		return Delivery{}, nil, fmt.Errorf("load delivery %d: %w", id, err)
	}
	var atts []struct {
		Attempt       int     `bun:"attempt"`
		StatusCode    *int    `bun:"status_code"`
		LatencyMS     float64 `bun:"latency_ms"`
		Error         *string `bun:"error"`
		NextAttemptAt *int64  `bun:"next_attempt_at"`
		CreatedAt     int64   `bun:"created_at"`
	}
	if err := s.db.NewSelect().TableExpr("webhook_attempts").
		Column("attempt", "status_code", "latency_ms", "error", "next_attempt_at", "created_at").
		Where("delivery_seq = ?", id).Order("id").Scan(ctx, &atts); err != nil {
		return Delivery{}, nil, fmt.Errorf("load attempts of delivery %d: %w", id, err)
	}
	out := make([]Attempt, len(atts))
	for i, a := range atts {
		out[i] = Attempt{Attempt: a.Attempt, Latency: time.Duration(a.LatencyMS * float64(time.Millisecond)),
			Error: deref(a.Error), NextAttemptAt: fromMS(a.NextAttemptAt), At: time.UnixMilli(a.CreatedAt).UTC()}
		if a.StatusCode != nil {
			out[i].StatusCode = *a.StatusCode
		}
	}
	return row.delivery(), out, nil
}

// reopen makes finished deliveries due again (redelivery), with a fresh retry schedule, and
// returns the ones it reopened. Deliveries of deleted endpoints are left alone.
func (s *store) reopen(ctx context.Context, f DeliveryFilter, only []DeliveryStatus, now time.Time) ([]deliveryRow, error) {
	var rows []deliveryRow
	err := s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		q := tx.NewSelect().Model(&rows).ExcludeColumn("payload").Where("status IN (?)", bun.List(only)).
			Where("endpoint_id IN (?)", tx.NewSelect().TableExpr("webhook_endpoints").Column("id"))
		if err := f.apply(q).Order("seq").Limit(int64(f.Limit)).Scan(ctx); err != nil {
			return fmt.Errorf("select deliveries to redeliver: %w", err)
		}
		if len(rows) == 0 {
			return nil
		}
		seqs := make([]int64, len(rows))
		for i := range rows {
			seqs[i] = rows[i].Seq
			rows[i].Status = string(StatusPending)
			rows[i].RoundAttempts = 0
			rows[i].NextAttemptAt = ms(now)
		}
		if _, err := tx.NewUpdate().TableExpr("webhook_deliveries").
			Set("status = ?", StatusPending).Set("round_attempts = 0").Set("next_attempt_at = ?", now.UnixMilli()).
			Set("updated_at = ?", now.UnixMilli()).Where("seq IN (?)", bun.List(seqs)).Exec(ctx); err != nil {
			return fmt.Errorf("reopen deliveries: %w", err)
		}
		return nil
	})
	return rows, err
}

// prune deletes finished deliveries (and their attempts) created before cutoff. Creation time
// keeps pruning on the log's time index; a delivery lives at most about a day longer than the
// retry schedule, far below any sensible retention.
func (s *store) prune(ctx context.Context, cutoff time.Time) (int64, error) {
	finished := []DeliveryStatus{StatusSucceeded, StatusDead, StatusCancelled}
	var total int64
	err := s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		sub := tx.NewSelect().TableExpr("webhook_deliveries").Column("seq").
			Where("status IN (?)", bun.List(finished)).Where("created_at < ?", cutoff.UnixMilli())
		if _, err := tx.NewDelete().TableExpr("webhook_attempts").Where("delivery_seq IN (?)", sub).Exec(ctx); err != nil {
			return fmt.Errorf("prune attempts: %w", err)
		}
		res, err := tx.NewDelete().TableExpr("webhook_deliveries").
			Where("status IN (?)", bun.List(finished)).Where("created_at < ?", cutoff.UnixMilli()).Exec(ctx)
		if err != nil {
			return fmt.Errorf("prune deliveries: %w", err)
		}
		total, _ = res.RowsAffected()
		// An event matched just before its endpoint was deleted may have left open rows behind
		// the deletion's cancel: cancel them too.
		if _, err := tx.NewUpdate().TableExpr("webhook_deliveries").
			Set("status = ?", StatusCancelled).Set("next_attempt_at = NULL").Set("updated_at = ?", time.Now().UnixMilli()).
			Where("status IN (?)", bun.List(openStatuses)).
			Where("endpoint_id NOT IN (?)", tx.NewSelect().TableExpr("webhook_endpoints").Column("id")).
			Exec(ctx); err != nil {
			return fmt.Errorf("cancel orphaned deliveries: %w", err)
		}
		return nil
	})
	return total, err
}
