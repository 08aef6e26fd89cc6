package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"

	"github.com/28web/hub/channels/core"
)

// SessionRow is the registry's record of a session: what the API created, and the last status
// the channel reported. The channel owns the live state; this row outlives process restarts
// and carries the API-level settings (webhooks).
type SessionRow struct {
	bun.BaseModel `bun:"table:sessions"`

	ID          core.SessionID     `bun:"id,pk"`
	Channel     core.Channel       `bun:"channel,notnull"`
	Status      core.SessionStatus `bun:"status,notnull"`
	JID         string             `bun:"jid,nullzero"`
	LID         string             `bun:"lid,nullzero"`
	Phone       string             `bun:"phone,nullzero"`
	PushName    string             `bun:"push_name,nullzero"`
	Reason      string             `bun:"reason,nullzero"`
	CreatedAt   time.Time          `bun:"created_at,notnull"`
	UpdatedAt   time.Time          `bun:"updated_at,notnull"`
	PairedAt    *time.Time         `bun:"paired_at"`
	ConnectedAt *time.Time         `bun:"connected_at"`
	LastSeenAt  *time.Time         `bun:"last_seen_at"`
	BannedUntil *time.Time         `bun:"banned_until"`
}

// CreateSession inserts a new registry row; an existing id yields core.ErrConflict.
func (s *Store) CreateSession(ctx context.Context, row SessionRow) error {
	t := now()
	row.CreatedAt, row.UpdatedAt = t, t
	if _, err := s.db.NewInsert().Model(&row).Exec(ctx); err != nil {
		if isUniqueViolation(err) {
			return fmt.Errorf("session %s: %w", row.ID, core.ErrConflict)
		}
		return fmt.Errorf("insert session %s: %w", row.ID, err)
	}
	return nil
}

// Session returns one row, or core.ErrNotFound.
func (s *Store) Session(ctx context.Context, id core.SessionID) (SessionRow, error) {
	var row SessionRow
	err := s.db.NewSelect().Model(&row).Where("id = ?", id).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return SessionRow{}, fmt.Errorf("session %s: %w", id, core.ErrNotFound)
	}
	if err != nil {
		return SessionRow{}, fmt.Errorf("select session %s: %w", id, err)
	}
	return row, nil
}

// SessionExists returns nil for a registered session and core.ErrNotFound otherwise.
func (s *Store) SessionExists(ctx context.Context, id core.SessionID) error {
	ok, err := s.db.NewSelect().Model((*SessionRow)(nil)).Where("id = ?", id).Exists(ctx)
	if err != nil {
		return fmt.Errorf("check session %s: %w", id, err)
	}
	if !ok {
		return fmt.Errorf("session %s: %w", id, core.ErrNotFound)
	}
	return nil
}

// DeleteSession removes the row and, by cascade, its messages and contacts.
func (s *Store) DeleteSession(ctx context.Context, id core.SessionID) error {
	res, err := s.db.NewDelete().Model((*SessionRow)(nil)).Where("id = ?", id).Exec(ctx)
	if err != nil {
		return fmt.Errorf("delete session %s: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("session %s: %w", id, core.ErrNotFound)
	}
	return nil
}

// FailQueued ends every accepted, unsent outbound message of a session as failed with reason
// (and problem type core.ProblemNotFound: the session is going away),
// and returns every message of the session failed with that reason, including those an earlier,
// interrupted call failed: their failure can then be reported (again; reports are idempotent).
func (s *Store) FailQueued(ctx context.Context, id core.SessionID, reason string) ([]Message, error) {
	var failed []Message
	err := s.InTx(ctx, func(ctx context.Context, tx *Store) error {
		var err error
		failed, err = tx.failQueued(ctx, id, reason)
		return err
	})
	return failed, err
}

func (s *Store) failQueued(ctx context.Context, id core.SessionID, reason string) ([]Message, error) {
	if _, err := s.db.NewUpdate().Model((*Message)(nil)).
		Set("status = ?", core.MessageStatusFailed).Set("error = ?", reason).Set("error_type = ?", core.ProblemNotFound).
		Set("updated_at = ?", now()).
		Where("session_id = ? AND direction = ? AND status = ?", id, core.DirectionOut, core.MessageStatusQueued).Exec(ctx); err != nil {
		return nil, fmt.Errorf("fail queued messages of %s: %w", id, err)
	}
	var failed []Message
	if err := s.db.NewSelect().Model(&failed).Column("session_id", "id", "chat_id", "attempts", "error").
		Where("session_id = ? AND direction = ? AND status = ? AND error = ?", id, core.DirectionOut, core.MessageStatusFailed, reason).
		Order("created_at", "id").Scan(ctx); err != nil {
		return nil, fmt.Errorf("list failed messages of %s: %w", id, err)
	}
	return failed, nil
}

// RemoveSession deletes a session with its messages and contacts, after failing (with reason)
// what is still queued, which it returns. An accept racing with it either commits first (and is
// returned here) or fails with core.ErrNotFound: nothing accepted disappears unreported.
func (s *Store) RemoveSession(ctx context.Context, id core.SessionID, reason string) ([]Message, error) {
	var failed []Message
	err := s.InTx(ctx, func(ctx context.Context, tx *Store) error {
		// Hold the row: an accept's foreign-key check waits for this transaction and then finds
		// the session gone. (SQLite's write transaction excludes every other writer anyway.)
		q := tx.db.NewSelect().Model((*SessionRow)(nil)).Column("id").Where("id = ?", id)
		if tx.db.Dialect().Name() == dialect.PG {
			q = q.For("UPDATE")
		}
		var ids []string
		if err := q.Scan(ctx, &ids); err != nil {
			return fmt.Errorf("lock session %s: %w", id, err)
		}
		if len(ids) == 0 {
			return fmt.Errorf("session %s: %w", id, core.ErrNotFound)
		}
		var err error
		if failed, err = tx.failQueued(ctx, id, reason); err != nil {
			return err
		}
		return tx.DeleteSession(ctx, id)
	})
	if err != nil {
		return nil, err
	}
	return failed, nil
}

// ApplySession records what the channel reports of a session (status, account, reason).
// Unknown sessions are ignored: the channel may report on a session deleted a moment ago.
func (s *Store) ApplySession(ctx context.Context, sess core.Session) error {
	t := now()
	q := s.db.NewUpdate().Model((*SessionRow)(nil)).
		Set("status = ?", sess.Status).
		Set("reason = ?", nullString(sess.Reason)).
		Set("updated_at = ?", t).
		Set("banned_until = ?", sess.BannedUntil).
		Where("id = ?", sess.ID)
	if sess.Account != "" {
		q = q.Set("jid = ?", string(sess.Account))
	}
	if sess.AccountLID != "" {
		q = q.Set("lid = ?", string(sess.AccountLID))
	}
	if sess.PushName != "" {
		q = q.Set("push_name = ?", sess.PushName)
	}
	if sess.Status == core.StatusConnected {
		q = q.Set("connected_at = ?", t).Set("last_seen_at = ?", t).Set("paired_at = COALESCE(paired_at, ?)", t)
	}
	if _, err := q.Exec(ctx); err != nil {
		return fmt.Errorf("update session %s: %w", sess.ID, err)
	}
	return nil
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// SessionChannel implements core.SessionChannels: the channel the session was created on.
func (s *Store) SessionChannel(ctx context.Context, id core.SessionID) (core.Channel, error) {
	var name core.Channel
	err := s.db.NewSelect().Model((*SessionRow)(nil)).Column("channel").Where("id = ?", id).Scan(ctx, &name)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("session %s: %w", id, core.ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("select channel of session %s: %w", id, err)
	}
	return name, nil
}
