package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/uptrace/bun/dialect"

	"github.com/28web/hub/channels/core"
	"github.com/28web/hub/platform/db"
)

// The send path's per-message writes (accept, sent) go through
// batchers: under load, concurrent calls share one statement and one commit instead of paying a
// round trip and a WAL flush each; alone, a call runs at once.
type batchers struct {
	accepts db.Batcher[*acceptCall]
	sents   db.Batcher[*sentCall]
}

func (s *Store) initBatchers() {
	s.batch.accepts.Exec = s.insertAccepted
	s.batch.sents.Exec = s.markSent
}

// acceptCall is one AcceptOutbound; inserted reports whether the batch stored it. One that was
// not (a conflicting id or idempotency key, an unknown session) takes the one-row path, which
// tells which.
type acceptCall struct {
	row      Message
	inserted bool
}

func (s *Store) insertAccepted(ctx context.Context, calls []*acceptCall) error {
	// A message id twice in one batch: only the first goes in; the other takes the one-row
	// path and learns of the conflict there.
	rows := make([]Message, 0, len(calls))
	first := make(map[messageKey]*acceptCall, len(calls))
	for _, c := range calls {
		k := messageKey{c.row.SessionID, c.row.ID}
		if _, dup := first[k]; dup {
			continue
		}
		first[k] = c
		rows = append(rows, c.row)
	}
	var stored []messageKey
	err := s.db.NewInsert().Model(&rows).On("CONFLICT DO NOTHING").Returning("session_id, id").Scan(ctx, &stored)
	if err != nil {
		// One unknown session fails the whole statement: every call retries alone.
		return nil
	}
	for _, k := range stored {
		if c := first[k]; c != nil {
			c.inserted = true
		}
	}
	return nil
}

type messageKey struct {
	SessionID core.SessionID `bun:"session_id"`
	ID        core.MessageID `bun:"id"`
}

// sentCall is one MarkSent.
type sentCall struct {
	key  messageKey
	chat core.ChatID
	at   time.Time
}

func (s *Store) markSent(ctx context.Context, calls []*sentCall) error {
	// One UPDATE for the batch: per-row values by CASE on the key.
	pg := s.db.Dialect().Name() == dialect.PG
	var sentAt, chat strings.Builder
	var sentArgs, chatArgs []any
	sentAt.WriteString("CASE")
	chat.WriteString("CASE")
	keys := make([]messageKey, len(calls))
	for i, c := range calls {
		keys[i] = c.key
		if pg {
			sentAt.WriteString(" WHEN session_id = ? AND id = ? THEN CAST(? AS timestamptz)")
		} else {
			sentAt.WriteString(" WHEN session_id = ? AND id = ? THEN ?")
		}
		sentArgs = append(sentArgs, c.key.SessionID, c.key.ID, c.at)
		if c.chat != "" {
			chat.WriteString(" WHEN session_id = ? AND id = ? THEN ?")
			chatArgs = append(chatArgs, c.key.SessionID, c.key.ID, c.chat)
		}
	}
	sentAt.WriteString(" END")
	chat.WriteString(" ELSE chat_id END")
	where, args := keysIn(keys)
	q := s.db.NewUpdate().Model((*Message)(nil)).
		Set("status = CASE WHEN status = ? THEN ? ELSE status END", core.MessageStatusQueued, core.MessageStatusSent).
		Set("sent_at = COALESCE(sent_at, "+sentAt.String()+")", sentArgs...).
		Set("error = NULL").Set("next_attempt_at = NULL").Set("updated_at = ?", now())
	if len(chatArgs) > 0 {
		q = q.Set("chat_id = "+chat.String(), chatArgs...)
	}
	if _, err := q.Where(where, args...).Exec(ctx); err != nil {
		return fmt.Errorf("mark %d messages sent: %w", len(calls), err)
	}
	return nil
}

// keysIn is the condition "(session_id, id) is one of keys" with its arguments.
func keysIn(keys []messageKey) (string, []any) {
	var b strings.Builder
	args := make([]any, 0, 2*len(keys))
	b.WriteString("(session_id, id) IN (")
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("(?, ?)")
		args = append(args, k.SessionID, k.ID)
	}
	b.WriteString(")")
	return b.String(), args
}
