package whatsapp

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/uptrace/bun"

	"github.com/28web/hub/channels/core"
)

// SessionRecord is what the channel persists about one session: enough to restore it after a
// restart. Status and Reason only matter for terminal states (logged_out, failed, banned): a live
// session's status is rebuilt from the network.
type SessionRecord struct {
	ID core.SessionID
	// JID is the whatsmeow device JID once paired; empty while waiting for a QR scan.
	JID         string
	LID         string
	PushName    string
	Status      core.SessionStatus
	Reason      string
	BannedUntil *time.Time
	CreatedAt   time.Time
	PairedAt    *time.Time
}

// MediaRecord references the encrypted attachment of a received message.
type MediaRecord struct {
	SessionID core.SessionID
	MessageID core.MessageID
	Chat      string
	// MediaType is the core message type (image, video, ...).
	MediaType core.MessageType
	// Message is the serialised waE2E.Message holding the media keys and direct path.
	Message []byte
}

// SessionRepository stores the channel's sessions and media references. Safe for concurrent use.
type SessionRepository interface {
	// ListSessions returns every stored session.
	ListSessions(ctx context.Context) ([]SessionRecord, error)
	// InsertSession stores a new session; an existing id yields core.ErrConflict.
	InsertSession(ctx context.Context, rec SessionRecord) error
	// UpdateSession overwrites a stored session; an unknown id yields core.ErrNotFound.
	UpdateSession(ctx context.Context, rec SessionRecord) error
	// DeleteSession removes a session and its media references; unknown ids are not an error.
	DeleteSession(ctx context.Context, id core.SessionID) error
	// PutMedia stores (or replaces) a media reference.
	PutMedia(ctx context.Context, rec MediaRecord) error
	// Media returns a media reference; core.ErrNotFound when there is none.
	Media(ctx context.Context, session core.SessionID, msg core.MessageID) (MediaRecord, error)
}

// BunRepository is the SessionRepository on the gateway's database (migration set
// migrations.Whatsapp).
type BunRepository struct {
	db bun.IDB
}

var _ SessionRepository = (*BunRepository)(nil)

// NewBunRepository returns a repository on db.
func NewBunRepository(db bun.IDB) *BunRepository { return &BunRepository{db: db} }

type sessionRow struct {
	bun.BaseModel `bun:"table:whatsapp_sessions"`

	ID          string     `bun:"id,pk"`
	JID         string     `bun:"jid,nullzero"`
	LID         string     `bun:"lid,nullzero"`
	PushName    string     `bun:"push_name,nullzero"`
	Status      string     `bun:"status,notnull"`
	Reason      string     `bun:"reason,nullzero"`
	BannedUntil *time.Time `bun:"banned_until"`
	CreatedAt   time.Time  `bun:"created_at,notnull"`
	UpdatedAt   time.Time  `bun:"updated_at,notnull"`
	PairedAt    *time.Time `bun:"paired_at"`
}

type mediaRow struct {
	bun.BaseModel `bun:"table:whatsapp_media"`

	SessionID string    `bun:"session_id,pk"`
	MessageID string    `bun:"message_id,pk"`
	Chat      string    `bun:"chat,notnull"`
	MediaType string    `bun:"media_type,notnull"`
	Message   []byte    `bun:"message,notnull"`
	CreatedAt time.Time `bun:"created_at,notnull"`
}

func toRow(rec SessionRecord) *sessionRow {
	return &sessionRow{
		ID: string(rec.ID), JID: rec.JID, LID: rec.LID, PushName: rec.PushName, Status: string(rec.Status),
		Reason: rec.Reason, BannedUntil: utcPtr(rec.BannedUntil), CreatedAt: rec.CreatedAt.UTC(),
		UpdatedAt: time.Now().UTC(), PairedAt: utcPtr(rec.PairedAt),
	}
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// ListSessions implements SessionRepository.
func (r *BunRepository) ListSessions(ctx context.Context) ([]SessionRecord, error) {
	var rows []sessionRow
	if err := r.db.NewSelect().Model(&rows).Order("id").Scan(ctx); err != nil {
		return nil, fmt.Errorf("list whatsapp sessions: %w", err)
	}
	out := make([]SessionRecord, 0, len(rows))
	for _, row := range rows {
		out = append(out, SessionRecord{
			ID: core.SessionID(row.ID), JID: row.JID, LID: row.LID, PushName: row.PushName,
			Status: core.SessionStatus(row.Status), Reason: row.Reason, BannedUntil: row.BannedUntil,
			CreatedAt: row.CreatedAt, PairedAt: row.PairedAt,
		})
	}
	return out, nil
}

// InsertSession implements SessionRepository.
func (r *BunRepository) InsertSession(ctx context.Context, rec SessionRecord) error {
	res, err := r.db.NewInsert().Model(toRow(rec)).On("CONFLICT (id) DO NOTHING").Exec(ctx)
	if err != nil {
		return fmt.Errorf("insert whatsapp session %s: %w", rec.ID, err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return fmt.Errorf("insert whatsapp session %s: %w", rec.ID, core.ErrConflict)
	}
	return nil
}

// UpdateSession implements SessionRepository.
func (r *BunRepository) UpdateSession(ctx context.Context, rec SessionRecord) error {
	res, err := r.db.NewUpdate().Model(toRow(rec)).WherePK().ExcludeColumn("created_at").Exec(ctx)
	if err != nil {
		return fmt.Errorf("update whatsapp session %s: %w", rec.ID, err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return fmt.Errorf("update whatsapp session %s: %w", rec.ID, core.ErrNotFound)
	}
	return nil
}

// DeleteSession implements SessionRepository.
func (r *BunRepository) DeleteSession(ctx context.Context, id core.SessionID) error {
	// Media first: SQLite enforces the foreign key but cascades only with foreign_keys on.
	if _, err := r.db.NewDelete().Model((*mediaRow)(nil)).Where("session_id = ?", string(id)).Exec(ctx); err != nil {
		return fmt.Errorf("delete whatsapp media of %s: %w", id, err)
	}
	if _, err := r.db.NewDelete().Model((*sessionRow)(nil)).Where("id = ?", string(id)).Exec(ctx); err != nil {
		return fmt.Errorf("delete whatsapp session %s: %w", id, err)
	}
	return nil
}

// PutMedia implements SessionRepository.
func (r *BunRepository) PutMedia(ctx context.Context, rec MediaRecord) error {
	row := &mediaRow{SessionID: string(rec.SessionID), MessageID: string(rec.MessageID), Chat: rec.Chat,
		MediaType: string(rec.MediaType), Message: rec.Message, CreatedAt: time.Now().UTC()}
	_, err := r.db.NewInsert().Model(row).
		On("CONFLICT (session_id, message_id) DO UPDATE").
		Set("chat = EXCLUDED.chat, media_type = EXCLUDED.media_type, message = EXCLUDED.message").
		Exec(ctx)
	if err != nil {
		return fmt.Errorf("store media ref %s/%s: %w", rec.SessionID, rec.MessageID, err)
	}
	return nil
}

// Media implements SessionRepository.
func (r *BunRepository) Media(ctx context.Context, session core.SessionID, msg core.MessageID) (MediaRecord, error) {
	var row mediaRow
	err := r.db.NewSelect().Model(&row).Where("session_id = ? AND message_id = ?", string(session), string(msg)).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return MediaRecord{}, fmt.Errorf("media of message %s: %w", msg, core.ErrNotFound)
	}
	if err != nil {
		return MediaRecord{}, fmt.Errorf("load media ref %s/%s: %w", session, msg, err)
	}
	return MediaRecord{SessionID: session, MessageID: msg, Chat: row.Chat, MediaType: core.MessageType(row.MediaType), Message: row.Message}, nil
}
