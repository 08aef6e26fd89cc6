package store

import (
	"context"
	"fmt"
	"time"

	"github.com/uptrace/bun"

	"github.com/28web/hub/channels/core"
)

// ContactRow is one contact of a session.
type ContactRow struct {
	bun.BaseModel `bun:"table:contacts"`

	SessionID  core.SessionID `bun:"session_id,pk"`
	JID        core.ChatID    `bun:"jid,pk"`
	LID        core.ChatID    `bun:"lid,nullzero"`
	Phone      string         `bun:"phone,nullzero"`
	PushName   string         `bun:"push_name,nullzero"`
	Name       string         `bun:"name,nullzero"`
	OnWhatsApp bool           `bun:"on_whatsapp"`
	UpdatedAt  time.Time      `bun:"updated_at,notnull"`
}

// Contact converts the row to the core type.
func (r ContactRow) Contact() core.Contact {
	return core.Contact{ID: r.JID, LID: r.LID, Phone: r.Phone, PushName: r.PushName, Name: r.Name, OnWhatsApp: r.OnWhatsApp, UpdatedAt: r.UpdatedAt}
}

// UpsertContacts stores contacts of a session, replacing what is known of each.
func (s *Store) UpsertContacts(ctx context.Context, session core.SessionID, contacts []core.Contact) error {
	if len(contacts) == 0 {
		return nil
	}
	t := now()
	rows := make([]ContactRow, len(contacts))
	for i, c := range contacts {
		rows[i] = ContactRow{SessionID: session, JID: c.ID, LID: c.LID, Phone: c.Phone, PushName: c.PushName, Name: c.Name, OnWhatsApp: c.OnWhatsApp, UpdatedAt: t}
	}
	if _, err := s.db.NewInsert().Model(&rows).
		On("CONFLICT (session_id, jid) DO UPDATE").
		Set("lid = EXCLUDED.lid, phone = EXCLUDED.phone, push_name = EXCLUDED.push_name, name = EXCLUDED.name, on_whatsapp = EXCLUDED.on_whatsapp, updated_at = EXCLUDED.updated_at").
		Exec(ctx); err != nil {
		return fmt.Errorf("upsert contacts of %s: %w", session, err)
	}
	return nil
}

// Contacts lists a session's stored contacts ordered by address.
func (s *Store) Contacts(ctx context.Context, session core.SessionID) ([]core.Contact, error) {
	var rows []ContactRow
	if err := s.db.NewSelect().Model(&rows).Where("session_id = ?", session).Order("jid").Scan(ctx); err != nil {
		return nil, fmt.Errorf("list contacts of %s: %w", session, err)
	}
	out := make([]core.Contact, len(rows))
	for i, r := range rows {
		out[i] = r.Contact()
	}
	return out, nil
}
