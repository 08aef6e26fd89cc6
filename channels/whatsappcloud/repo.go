package whatsappcloud

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"github.com/28web/hub/channels/core"
)

// repo is the channel's own tables (migration set migrations.WhatsappCloud).
type repo struct {
	db bun.IDB
}

type sessionRow struct {
	bun.BaseModel `bun:"table:whatsappcloud_sessions"`

	ID                 core.SessionID     `bun:"id,pk"`
	PhoneNumberID      string             `bun:"phone_number_id,notnull"`
	WABAID             string             `bun:"waba_id,notnull"`
	DisplayPhoneNumber string             `bun:"display_phone_number,notnull"`
	VerifiedName       string             `bun:"verified_name,notnull"`
	AccessToken        string             `bun:"access_token,notnull"`
	AppSecret          string             `bun:"app_secret,notnull"`
	VerifyToken        string             `bun:"verify_token,notnull"`
	Status             core.SessionStatus `bun:"status,notnull"`
	Reason             string             `bun:"reason,nullzero"`
	CreatedAt          time.Time          `bun:"created_at,notnull"`
	UpdatedAt          time.Time          `bun:"updated_at,notnull"`
	ConnectedAt        *time.Time         `bun:"connected_at"`
}

type messageRow struct {
	bun.BaseModel `bun:"table:whatsappcloud_messages"`

	SessionID core.SessionID `bun:"session_id,pk"`
	MessageID core.MessageID `bun:"message_id,pk"`
	WAMID     string         `bun:"wamid,notnull"`
	WaID      string         `bun:"wa_id,notnull"`
	CreatedAt time.Time      `bun:"created_at,notnull"`
}

type notificationRow struct {
	bun.BaseModel `bun:"table:whatsappcloud_notifications"`

	SessionID   core.SessionID `bun:"session_id,pk"`
	Digest      string         `bun:"digest,pk"`
	Body        []byte         `bun:"body,notnull"`
	ReceivedAt  time.Time      `bun:"received_at,notnull"`
	ProcessedAt *time.Time     `bun:"processed_at"`
	Attempts    int            `bun:"attempts,notnull"`
}

type customerRow struct {
	bun.BaseModel `bun:"table:whatsappcloud_customers"`

	SessionID     core.SessionID `bun:"session_id,pk"`
	WaID          string         `bun:"wa_id,pk"`
	LastInboundAt time.Time      `bun:"last_inbound_at,notnull"`
	LastWAMID     string         `bun:"last_wamid,notnull"`
}

type mediaRow struct {
	bun.BaseModel `bun:"table:whatsappcloud_media"`

	SessionID core.SessionID `bun:"session_id,pk"`
	MessageID core.MessageID `bun:"message_id,pk"`
	MediaID   string         `bun:"media_id,notnull"`
	MimeType  string         `bun:"mime_type,notnull"`
}

func utc(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

func (r *repo) sessions(ctx context.Context) ([]sessionRow, error) {
	var rows []sessionRow
	if err := r.db.NewSelect().Model(&rows).Order("id").Scan(ctx); err != nil {
		return nil, fmt.Errorf("list cloud sessions: %w", err)
	}
	return rows, nil
}

// insertSession stores a new session: an id in use, or a phone number another session has, is
// a conflict.
func (r *repo) insertSession(ctx context.Context, row sessionRow) error {
	_, err := r.db.NewInsert().Model(&row).Exec(ctx)
	if err != nil {
		if isUniqueViolation(err) {
			return fmt.Errorf("cloud session %s or phone number %s already in use: %w", row.ID, row.PhoneNumberID, core.ErrConflict)
		}
		return fmt.Errorf("insert cloud session %s: %w", row.ID, err)
	}
	return nil
}

// isUniqueViolation recognises both drivers' unique-constraint errors by their text, which is all
// the two share.
func isUniqueViolation(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "UNIQUE constraint failed") || strings.Contains(msg, "SQLSTATE 23505") ||
		strings.Contains(msg, "duplicate key value")
}

func (r *repo) setStatus(ctx context.Context, id core.SessionID, status core.SessionStatus, reason string, connectedAt *time.Time) error {
	q := r.db.NewUpdate().Model((*sessionRow)(nil)).Set("status = ?", status).Set("reason = ?", nullIfEmpty(reason)).
		Set("updated_at = ?", utc(time.Now())).Where("id = ?", id)
	if connectedAt != nil {
		q = q.Set("connected_at = ?", utc(*connectedAt))
	}
	if _, err := q.Exec(ctx); err != nil {
		return fmt.Errorf("update cloud session %s: %w", id, err)
	}
	return nil
}

func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// deleteSession removes the session and (by cascade, and explicitly for SQLite without foreign
// keys) everything it owns.
func (r *repo) deleteSession(ctx context.Context, id core.SessionID) error {
	return r.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		for _, m := range []any{(*mediaRow)(nil), (*customerRow)(nil), (*notificationRow)(nil), (*messageRow)(nil)} {
			if _, err := tx.NewDelete().Model(m).Where("session_id = ?", id).Exec(ctx); err != nil {
				return fmt.Errorf("delete cloud session %s: %w", id, err)
			}
		}
		if _, err := tx.NewDelete().Model((*sessionRow)(nil)).Where("id = ?", id).Exec(ctx); err != nil {
			return fmt.Errorf("delete cloud session %s: %w", id, err)
		}
		return nil
	})
}

// sent returns the message recorded under id, or ErrNotFound.
func (r *repo) sent(ctx context.Context, session core.SessionID, id core.MessageID) (messageRow, error) {
	var row messageRow
	err := r.db.NewSelect().Model(&row).Where("session_id = ? AND message_id = ?", session, id).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return row, fmt.Errorf("message %s: %w", id, core.ErrNotFound)
	}
	if err != nil {
		return row, fmt.Errorf("look up message %s: %w", id, err)
	}
	return row, nil
}

// byWAMID returns the core id of the message the Graph API calls wamid, or ErrNotFound.
func (r *repo) byWAMID(ctx context.Context, session core.SessionID, wamid string) (messageRow, error) {
	var row messageRow
	err := r.db.NewSelect().Model(&row).Where("session_id = ? AND wamid = ?", session, wamid).Limit(1).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return row, fmt.Errorf("wamid %s: %w", wamid, core.ErrNotFound)
	}
	if err != nil {
		return row, fmt.Errorf("look up wamid %s: %w", wamid, err)
	}
	return row, nil
}

func (r *repo) recordSent(ctx context.Context, row messageRow) error {
	row.CreatedAt = utc(time.Now())
	if _, err := r.db.NewInsert().Model(&row).On("CONFLICT (session_id, message_id) DO NOTHING").Exec(ctx); err != nil {
		return fmt.Errorf("record sent message %s: %w", row.MessageID, err)
	}
	return nil
}

// storeNotification keeps a webhook body before it is answered. A replay of the same body is
// stored once; stored reports whether this call stored it.
func (r *repo) storeNotification(ctx context.Context, row notificationRow) (stored bool, err error) {
	row.ReceivedAt = utc(time.Now())
	res, err := r.db.NewInsert().Model(&row).On("CONFLICT (session_id, digest) DO NOTHING").Exec(ctx)
	if err != nil {
		return false, fmt.Errorf("store notification of %s: %w", row.SessionID, err)
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}

// pendingNotifications returns unprocessed notifications, oldest first.
func (r *repo) pendingNotifications(ctx context.Context, limit int) ([]notificationRow, error) {
	var rows []notificationRow
	if err := r.db.NewSelect().Model(&rows).Where("processed_at IS NULL").Order("received_at", "digest").Limit(int64(limit)).Scan(ctx); err != nil {
		return nil, fmt.Errorf("list pending notifications: %w", err)
	}
	return rows, nil
}

func (r *repo) markProcessed(ctx context.Context, session core.SessionID, digest string) error {
	if _, err := r.db.NewUpdate().Model((*notificationRow)(nil)).Set("processed_at = ?", utc(time.Now())).
		Where("session_id = ? AND digest = ?", session, digest).Exec(ctx); err != nil {
		return fmt.Errorf("mark notification processed: %w", err)
	}
	return nil
}

func (r *repo) countAttempt(ctx context.Context, session core.SessionID, digest string) error {
	if _, err := r.db.NewUpdate().Model((*notificationRow)(nil)).Set("attempts = attempts + 1").
		Where("session_id = ? AND digest = ?", session, digest).Exec(ctx); err != nil {
		return fmt.Errorf("count notification attempt: %w", err)
	}
	return nil
}

// pruneNotifications deletes processed notifications older than before.
func (r *repo) pruneNotifications(ctx context.Context, before time.Time) error {
	if _, err := r.db.NewDelete().Model((*notificationRow)(nil)).Where("processed_at IS NOT NULL AND processed_at < ?", utc(before)).Exec(ctx); err != nil {
		return fmt.Errorf("prune notifications: %w", err)
	}
	return nil
}

// customerWrote moves a customer's window forward (never back: notifications may come out of
// order).
func (r *repo) customerWrote(ctx context.Context, session core.SessionID, waID, wamid string, at time.Time) error {
	row := customerRow{SessionID: session, WaID: waID, LastInboundAt: utc(at), LastWAMID: wamid}
	if _, err := r.db.NewInsert().Model(&row).
		On("CONFLICT (session_id, wa_id) DO UPDATE").
		Set("last_inbound_at = EXCLUDED.last_inbound_at, last_wamid = EXCLUDED.last_wamid").
		Where("?TableAlias.last_inbound_at <= EXCLUDED.last_inbound_at").Exec(ctx); err != nil {
		return fmt.Errorf("record customer message: %w", err)
	}
	return nil
}

// customer returns what is known of a customer, or ErrNotFound when they never wrote.
func (r *repo) customer(ctx context.Context, session core.SessionID, waID string) (customerRow, error) {
	var row customerRow
	err := r.db.NewSelect().Model(&row).Where("session_id = ? AND wa_id = ?", session, waID).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return row, fmt.Errorf("customer %s: %w", waID, core.ErrNotFound)
	}
	if err != nil {
		return row, fmt.Errorf("look up customer %s: %w", waID, err)
	}
	return row, nil
}

func (r *repo) putMedia(ctx context.Context, row mediaRow) error {
	if _, err := r.db.NewInsert().Model(&row).On("CONFLICT (session_id, message_id) DO NOTHING").Exec(ctx); err != nil {
		return fmt.Errorf("record media of %s: %w", row.MessageID, err)
	}
	return nil
}

func (r *repo) media(ctx context.Context, session core.SessionID, msg core.MessageID) (mediaRow, error) {
	var row mediaRow
	err := r.db.NewSelect().Model(&row).Where("session_id = ? AND message_id = ?", session, msg).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return row, fmt.Errorf("media of message %s: %w", msg, core.ErrNotFound)
	}
	if err != nil {
		return row, fmt.Errorf("look up media of %s: %w", msg, err)
	}
	return row, nil
}
