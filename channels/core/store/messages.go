package store

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"github.com/28web/hub/channels/core"
)

// Message is one stored message, either direction.
type Message struct {
	bun.BaseModel `bun:"table:messages"`

	SessionID      core.SessionID     `bun:"session_id,pk"`
	ID             core.MessageID     `bun:"id,pk"`
	ChatID         core.ChatID        `bun:"chat_id,notnull"`
	Sender         core.ChatID        `bun:"sender,nullzero"`
	Direction      core.Direction     `bun:"direction,notnull"`
	Status         core.MessageStatus `bun:"status,notnull"`
	Type           core.MessageType   `bun:"type,notnull"`
	Body           string             `bun:"body,nullzero"`
	Payload        json.RawMessage    `bun:"payload,type:text,nullzero"`
	IdempotencyKey string             `bun:"idempotency_key,nullzero"`
	RequestHash    string             `bun:"request_hash,nullzero"`
	Error          string             `bun:"error,nullzero"`
	ErrorType      string             `bun:"error_type,nullzero"`
	Attempts       int                `bun:"attempts,notnull"`
	SendAt         *time.Time         `bun:"send_at"`
	NextAttemptAt  *time.Time         `bun:"next_attempt_at"`
	SentAt         *time.Time         `bun:"sent_at"`
	DeliveredAt    *time.Time         `bun:"delivered_at"`
	ReadAt         *time.Time         `bun:"read_at"`
	EditedAt       *time.Time         `bun:"edited_at"`
	RevokedAt      *time.Time         `bun:"revoked_at"`
	CreatedAt      time.Time          `bun:"created_at,notnull"`
	UpdatedAt      time.Time          `bun:"updated_at,notnull"`
}

// Attachment is the media of an accepted outgoing message, stored apart from its row.
type Attachment struct {
	bun.BaseModel `bun:"table:message_media"`

	SessionID core.SessionID `bun:"session_id,pk"`
	MessageID core.MessageID `bun:"message_id,pk"`
	MimeType  string         `bun:"mime_type,notnull"`
	FileName  string         `bun:"file_name,nullzero"`
	Data      []byte         `bun:"data,notnull"`
	CreatedAt time.Time      `bun:"created_at,notnull"`
}

// Outgoing returns the send request an outbound row was accepted with, its attachment loaded.
func (s *Store) Outgoing(ctx context.Context, m Message) (core.OutgoingMessage, error) {
	var out core.OutgoingMessage
	if err := json.Unmarshal(m.Payload, &out); err != nil {
		return out, fmt.Errorf("decode message %s payload: %w", m.ID, err)
	}
	if out.Media == nil || out.Media.URL != "" || len(out.Media.Data) > 0 {
		return out, nil
	}
	var att Attachment
	err := s.db.NewSelect().Model(&att).Where("session_id = ? AND message_id = ?", m.SessionID, m.ID).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return out, fmt.Errorf("%w: message %s has no stored attachment", core.ErrInvalid, m.ID)
	}
	if err != nil {
		return out, fmt.Errorf("load attachment of %s: %w", m.ID, err)
	}
	out.Media.Data = att.Data
	return out, nil
}

// ErrIdempotencyMismatch: the Idempotency-Key was used before with another request body.
var ErrIdempotencyMismatch = fmt.Errorf("%w: idempotency key reused with a different request", core.ErrInvalid)

// AcceptOutbound stores a new queued outbound message; an unknown session yields
// core.ErrNotFound. When the session already used
// m.IdempotencyKey, it returns the stored message and created=false if m.RequestHash matches,
// and ErrIdempotencyMismatch otherwise.
//
// att, when given, is stored with the message in one transaction (see Outgoing).
func (s *Store) AcceptOutbound(ctx context.Context, m Message, att *Attachment) (stored Message, created bool, err error) {
	t := now()
	m.Direction, m.Status, m.CreatedAt, m.UpdatedAt = core.DirectionOut, core.MessageStatusQueued, t, t
	if m.SendAt != nil {
		at := normalize(*m.SendAt)
		m.SendAt = &at
	}
	if att != nil {
		inserted, err := s.acceptWithAttachment(ctx, m, att)
		if inserted {
			return m, true, nil
		}
		if err != nil && !isForeignKeyViolation(err) {
			return Message{}, false, fmt.Errorf("insert message %s: %w", m.ID, err)
		}
		// Not stored: the one-row insert below tells why.
	} else {
		call := &acceptCall{row: m}
		if err := s.batch.accepts.Do(ctx, call); err != nil {
			return Message{}, false, fmt.Errorf("insert message %s: %w", m.ID, err)
		}
		if call.inserted {
			return m, true, nil
		}
	}
	// Not stored by the batch: the one-row insert tells why (or stores it).
	_, err = s.db.NewInsert().Model(&m).Exec(ctx)
	if err == nil {
		return m, true, nil
	}
	if isForeignKeyViolation(err) {
		return Message{}, false, fmt.Errorf("session %s: %w", m.SessionID, core.ErrNotFound)
	}
	if !isUniqueViolation(err) || m.IdempotencyKey == "" {
		if isUniqueViolation(err) {
			return Message{}, false, fmt.Errorf("message %s: %w", m.ID, core.ErrConflict)
		}
		return Message{}, false, fmt.Errorf("insert message %s: %w", m.ID, err)
	}
	var prev Message
	if err := s.db.NewSelect().Model(&prev).
		Where("session_id = ? AND idempotency_key = ?", m.SessionID, m.IdempotencyKey).Scan(ctx); err != nil {
		return Message{}, false, fmt.Errorf("select message by idempotency key: %w", err)
	}
	if prev.RequestHash != m.RequestHash {
		return Message{}, false, ErrIdempotencyMismatch
	}
	return prev, false, nil
}

// acceptWithAttachment stores m and its attachment together; inserted is false when m was not
// new (a conflict the one-row path then explains).
func (s *Store) acceptWithAttachment(ctx context.Context, m Message, att *Attachment) (inserted bool, err error) {
	err = s.InTx(ctx, func(ctx context.Context, tx *Store) error {
		res, err := tx.db.NewInsert().Model(&m).On("CONFLICT DO NOTHING").Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		a := *att
		a.SessionID, a.MessageID, a.CreatedAt = m.SessionID, m.ID, m.CreatedAt
		if _, err := tx.db.NewInsert().Model(&a).Exec(ctx); err != nil {
			return fmt.Errorf("store attachment: %w", err)
		}
		inserted = true
		return nil
	})
	return inserted && err == nil, err
}

// Message returns one message, or core.ErrNotFound.
func (s *Store) Message(ctx context.Context, session core.SessionID, id core.MessageID) (Message, error) {
	var m Message
	err := s.db.NewSelect().Model(&m).Where("session_id = ? AND id = ?", session, id).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return Message{}, fmt.Errorf("message %s of %s: %w", id, session, core.ErrNotFound)
	}
	if err != nil {
		return Message{}, fmt.Errorf("select message %s: %w", id, err)
	}
	return m, nil
}

// Body returns a message's current text, or core.ErrNotFound. It serves the channel's
// previousBody of edit and revoke events.
func (s *Store) Body(ctx context.Context, session core.SessionID, id core.MessageID) (string, error) {
	m, err := s.Message(ctx, session, id)
	if err != nil {
		return "", err
	}
	return m.Body, nil
}

// MarkSent moves a queued message to sent. A receipt that arrived first already moved it
// further; statuses never go back.
func (s *Store) MarkSent(ctx context.Context, session core.SessionID, id core.MessageID, chat core.ChatID, at time.Time) error {
	if err := s.batch.sents.Do(ctx, &sentCall{key: messageKey{session, id}, chat: chat, at: normalize(at)}); err != nil {
		return fmt.Errorf("mark %s sent: %w", id, err)
	}
	return nil
}

// MarkFailed ends a message that could not be sent, unless it was sent meanwhile. reason is
// the error's text, problemType its core.Problem* type.
func (s *Store) MarkFailed(ctx context.Context, session core.SessionID, id core.MessageID, reason, problemType string) error {
	if _, err := s.db.NewUpdate().Model((*Message)(nil)).
		Set("status = ?", core.MessageStatusFailed).Set("error = ?", reason).Set("error_type = ?", problemType).Set("updated_at = ?", now()).
		Where("session_id = ? AND id = ? AND status = ?", session, id, core.MessageStatusQueued).Exec(ctx); err != nil {
		return fmt.Errorf("mark %s failed: %w", id, err)
	}
	return nil
}

// ApplyFailure ends a message its network reported as failed after accepting it (a status that
// arrives after "sent"). Delivered and read messages stay as they are: a late failure report
// does not undo a receipt.
func (s *Store) ApplyFailure(ctx context.Context, session core.SessionID, id core.MessageID, reason, problemType string) error {
	if _, err := s.db.NewUpdate().Model((*Message)(nil)).
		Set("status = ?", core.MessageStatusFailed).Set("error = ?", reason).Set("error_type = ?", problemType).Set("updated_at = ?", now()).
		Where("session_id = ? AND id = ? AND direction = ? AND status IN (?)", session, id, core.DirectionOut,
			bun.List([]core.MessageStatus{core.MessageStatusQueued, core.MessageStatusSent})).Exec(ctx); err != nil {
		return fmt.Errorf("apply failure of %s: %w", id, err)
	}
	return nil
}

// ScheduleRetry leaves a queued message whose attempt failed in the queue until at, with the
// attempt's error. Claims skip it until then, and (see QueueOrder) what must stay behind it.
func (s *Store) ScheduleRetry(ctx context.Context, session core.SessionID, id core.MessageID, at time.Time, reason string) error {
	if _, err := s.db.NewUpdate().Model((*Message)(nil)).Set("next_attempt_at = ?", normalize(at)).Set("error = ?", reason).
		Set("updated_at = ?", now()).Where("session_id = ? AND id = ? AND status = ?", session, id, core.MessageStatusQueued).Exec(ctx); err != nil {
		return fmt.Errorf("schedule retry of %s: %w", id, err)
	}
	return nil
}

// Release gives back claims of messages that were not attempted (they had to wait behind a
// message scheduled for a retry): their attempt is not counted.
func (s *Store) Release(ctx context.Context, session core.SessionID, ids []core.MessageID) error {
	if len(ids) == 0 {
		return nil
	}
	if _, err := s.db.NewUpdate().Model((*Message)(nil)).Set("attempts = attempts - 1").Set("updated_at = ?", now()).
		Where("session_id = ? AND status = ? AND attempts > 0 AND id IN (?)", session, core.MessageStatusQueued, bun.List(ids)).Exec(ctx); err != nil {
		return fmt.Errorf("release %d claimed messages of %s: %w", len(ids), session, err)
	}
	return nil
}

// statusRank orders outbound statuses so receipts only move a message forward.
var statusRank = map[core.MessageStatus]int{
	core.MessageStatusQueued: 0, core.MessageStatusSent: 1, core.MessageStatusDelivered: 2, core.MessageStatusRead: 3,
}

// ApplyAck moves a message forward to the status a receipt implies and reports whether it moved.
func (s *Store) ApplyAck(ctx context.Context, session core.SessionID, id core.MessageID, ack core.Ack, at time.Time) (bool, error) {
	status, ok := core.StatusForAck(ack)
	if !ok {
		return false, nil
	}
	at = normalize(at)
	var lower []core.MessageStatus
	for st, rank := range statusRank {
		if rank < statusRank[status] {
			lower = append(lower, st)
		}
	}
	// An inbound message marked read by this session counts too (received → read).
	if status == core.MessageStatusRead {
		lower = append(lower, core.MessageStatusReceived)
	}
	q := s.db.NewUpdate().Model((*Message)(nil)).Set("status = ?", status).Set("updated_at = ?", now()).
		Set("sent_at = COALESCE(sent_at, ?)", at)
	switch status {
	case core.MessageStatusDelivered:
		q = q.Set("delivered_at = COALESCE(delivered_at, ?)", at)
	case core.MessageStatusRead:
		q = q.Set("delivered_at = COALESCE(delivered_at, ?)", at).Set("read_at = COALESCE(read_at, ?)", at)
	}
	res, err := q.Where("session_id = ? AND id = ? AND status IN (?)", session, id, bun.List(lower)).Exec(ctx)
	if err != nil {
		return false, fmt.Errorf("apply ack to %s: %w", id, err)
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}

// RecordMessage stores a message the channel reported (incoming, or sent from the phone).
// Re-reporting the same message changes nothing. A message of a session the registry does not
// know (deleted meanwhile) is not stored: the error wraps core.ErrNotFound. The session is looked
// up first rather than left to the foreign key, whose violation would abort the caller's
// PostgreSQL transaction and with it every other event of the batch.
func (s *Store) RecordMessage(ctx context.Context, m Message) error {
	known, err := s.db.NewSelect().Model((*SessionRow)(nil)).Where("id = ?", m.SessionID).Exists(ctx)
	if err != nil {
		return fmt.Errorf("record message %s: check session: %w", m.ID, err)
	}
	if !known {
		return fmt.Errorf("record message %s: session %s: %w", m.ID, m.SessionID, core.ErrNotFound)
	}
	t := now()
	m.CreatedAt, m.UpdatedAt = t, t
	if _, err := s.db.NewInsert().Model(&m).On("CONFLICT (session_id, id) DO NOTHING").Exec(ctx); err != nil {
		// A foreign-key violation here is a delete racing this insert: the caller retries, and
		// then finds the session gone.
		return fmt.Errorf("record message %s: %w", m.ID, err)
	}
	return nil
}

// ApplyEdit replaces a message's text and returns the text before the edit ("" when unknown).
func (s *Store) ApplyEdit(ctx context.Context, session core.SessionID, id core.MessageID, body string, at time.Time) (string, error) {
	prev, err := s.Body(ctx, session, id)
	if errors.Is(err, core.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	if _, err := s.db.NewUpdate().Model((*Message)(nil)).Set("body = ?", body).Set("edited_at = ?", normalize(at)).
		Set("updated_at = ?", now()).Where("session_id = ? AND id = ?", session, id).Exec(ctx); err != nil {
		return "", fmt.Errorf("apply edit to %s: %w", id, err)
	}
	return prev, nil
}

// ApplyRevoke marks a message deleted for everyone.
func (s *Store) ApplyRevoke(ctx context.Context, session core.SessionID, id core.MessageID, at time.Time) error {
	if _, err := s.db.NewUpdate().Model((*Message)(nil)).Set("revoked_at = COALESCE(revoked_at, ?)", normalize(at)).
		Set("updated_at = ?", now()).Where("session_id = ? AND id = ?", session, id).Exec(ctx); err != nil {
		return fmt.Errorf("apply revoke to %s: %w", id, err)
	}
	return nil
}

// QueueOrder says what a message waiting for a retry holds back.
type QueueOrder string

const (
	// OrderChat: later messages to the same chat wait; other chats' go on. The default: order
	// matters within a conversation, and one failing recipient does not stall the session.
	OrderChat QueueOrder = "chat"
	// OrderSession: every later message of the session waits (strict per-session order).
	OrderSession QueueOrder = "session"
)

// due narrows q (messages aliased m) to queued outbound messages whose time has come: scheduled
// ones once due, ones waiting for a retry once their next attempt is due.
func due(q *bun.SelectQuery, at time.Time) *bun.SelectQuery {
	return q.Where("m.status = ? AND m.direction = ?", core.MessageStatusQueued, core.DirectionOut).
		Where("(m.send_at IS NULL OR m.send_at <= ?)", at).
		Where("(m.next_attempt_at IS NULL OR m.next_attempt_at <= ?)", at)
}

// PendingSessions returns up to limit sessions with accepted outbound messages due by at that
// are not sent yet.
func (s *Store) PendingSessions(ctx context.Context, at time.Time, limit int) ([]core.SessionID, error) {
	var ids []core.SessionID
	if err := due(s.db.NewSelect().TableExpr("messages AS m"), normalize(at)).Distinct().Column("m.session_id").
		Limit(int64(limit)).Scan(ctx, &ids); err != nil {
		return nil, fmt.Errorf("select sessions with pending messages: %w", err)
	}
	return ids, nil
}

// ClaimNext counts a send attempt on a session's oldest queued messages due by at, up to limit,
// and returns them in acceptance order. A message waiting for a retry holds back the later
// messages order says (of its chat, or of the session). Whoever sends a session's messages
// claims them: one statement for several messages when a session has a backlog.
func (s *Store) ClaimNext(ctx context.Context, session core.SessionID, at time.Time, limit int, order QueueOrder) ([]Message, error) {
	at = normalize(at)
	waiting := s.db.NewSelect().TableExpr("messages AS w").ColumnExpr("1").
		Where("w.session_id = m.session_id AND w.status = ? AND w.next_attempt_at > ?", core.MessageStatusQueued, at).
		Where("(w.created_at < m.created_at OR (w.created_at = m.created_at AND w.id < m.id))")
	if order != OrderSession {
		waiting = waiting.Where("w.chat_id = m.chat_id")
	}
	next := due(s.db.NewSelect().TableExpr("messages AS m").Column("m.id").Where("m.session_id = ?", session), at).
		Where("NOT EXISTS (?)", waiting).
		Order("m.created_at", "m.id").Limit(int64(limit))
	var ms []Message
	if err := s.db.NewUpdate().Model((*Message)(nil)).
		Set("attempts = attempts + 1").Set("updated_at = ?", now()).
		Where("session_id = ? AND status = ? AND id IN (?)", session, core.MessageStatusQueued, next).
		Returning("*").Scan(ctx, &ms); err != nil {
		return nil, fmt.Errorf("claim queued messages of %s: %w", session, err)
	}
	slices.SortFunc(ms, func(a, b Message) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(string(a.ID), string(b.ID))
	})
	return ms, nil
}

// NextScheduled returns when the earliest queued message not due yet at after becomes due: a
// scheduled send, or a retry.
func (s *Store) NextScheduled(ctx context.Context, after time.Time) (time.Time, bool, error) {
	after = normalize(after)
	var next []time.Time
	for _, col := range []string{"send_at", "next_attempt_at"} {
		var m Message
		err := s.db.NewSelect().Model(&m).Column(col).
			Where("status = ? AND "+col+" > ?", core.MessageStatusQueued, after).
			Order(col).Limit(1).Scan(ctx)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return time.Time{}, false, fmt.Errorf("select next scheduled message: %w", err)
		}
		if m.SendAt != nil {
			next = append(next, *m.SendAt)
		}
		if m.NextAttemptAt != nil {
			next = append(next, *m.NextAttemptAt)
		}
	}
	if len(next) == 0 {
		return time.Time{}, false, nil
	}
	return slices.MinFunc(next, func(a, b time.Time) int { return a.Compare(b) }), true, nil
}

// MessageFilter narrows ListMessages. Zero fields do not filter.
type MessageFilter struct {
	ChatID    core.ChatID
	Direction core.Direction
	Status    core.MessageStatus
	// Since and Until bound created_at (inclusive, exclusive).
	Since, Until time.Time
	// Cursor continues a previous page (its NextCursor).
	Cursor string
	Limit  int
}

// MessagePage is one page of messages, newest first.
type MessagePage struct {
	Messages []Message
	// NextCursor fetches the next (older) page; empty on the last page.
	NextCursor string
}

// ListMessages lists a session's messages newest first, with keyset pagination.
func (s *Store) ListMessages(ctx context.Context, session core.SessionID, f MessageFilter) (MessagePage, error) {
	if f.Limit <= 0 {
		f.Limit = 50
	}
	q := s.db.NewSelect().Model((*Message)(nil)).Where("session_id = ?", session)
	if f.ChatID != "" {
		q = q.Where("chat_id = ?", f.ChatID)
	}
	if f.Direction != "" {
		q = q.Where("direction = ?", f.Direction)
	}
	if f.Status != "" {
		q = q.Where("status = ?", f.Status)
	}
	if !f.Since.IsZero() {
		q = q.Where("created_at >= ?", normalize(f.Since))
	}
	if !f.Until.IsZero() {
		q = q.Where("created_at < ?", normalize(f.Until))
	}
	if f.Cursor != "" {
		at, id, err := decodeCursor(f.Cursor)
		if err != nil {
			return MessagePage{}, err
		}
		q = q.Where("(created_at < ? OR (created_at = ? AND id < ?))", at, at, id)
	}
	var ms []Message
	if err := q.Order("created_at DESC", "id DESC").Limit(int64(f.Limit+1)).Scan(ctx, &ms); err != nil {
		return MessagePage{}, fmt.Errorf("list messages of %s: %w", session, err)
	}
	page := MessagePage{Messages: ms}
	if len(ms) > f.Limit {
		page.Messages = ms[:f.Limit]
		last := page.Messages[f.Limit-1]
		page.NextCursor = encodeCursor(last.CreatedAt, last.ID)
	}
	return page, nil
}

func encodeCursor(at time.Time, id core.MessageID) string {
	return base64.RawURLEncoding.EncodeToString([]byte(at.UTC().Format(time.RFC3339Nano) + "|" + string(id)))
}

func decodeCursor(c string) (time.Time, core.MessageID, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return time.Time{}, "", fmt.Errorf("%w: malformed cursor", core.ErrInvalid)
	}
	ts, id, ok := strings.Cut(string(b), "|")
	if !ok {
		return time.Time{}, "", fmt.Errorf("%w: malformed cursor", core.ErrInvalid)
	}
	at, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		return time.Time{}, "", fmt.Errorf("%w: malformed cursor", core.ErrInvalid)
	}
	return normalize(at), core.MessageID(id), nil
}

// CountQueued counts a session's accepted outbound messages not yet sent; every session's when
// session is empty.
func (s *Store) CountQueued(ctx context.Context, session core.SessionID) (int, error) {
	return s.CountOutbound(ctx, session, core.MessageStatusQueued)
}

// CountOutbound counts a session's outbound messages in status; every session's when session is
// empty.
func (s *Store) CountOutbound(ctx context.Context, session core.SessionID, status core.MessageStatus) (int, error) {
	q := s.db.NewSelect().Model((*Message)(nil)).Where("status = ? AND direction = ?", status, core.DirectionOut)
	if session != "" {
		q = q.Where("session_id = ?", session)
	}
	n, err := q.Count(ctx)
	if err != nil {
		return 0, fmt.Errorf("count %s messages of %q: %w", status, session, err)
	}
	return int(n), nil
}
