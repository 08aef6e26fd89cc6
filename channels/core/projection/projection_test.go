package projection_test

import (
	"bytes"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/28web/hub/channels/core"
	"github.com/28web/hub/channels/core/projection"
	"github.com/28web/hub/channels/core/store"
	"github.com/28web/hub/migrations"
	"github.com/28web/hub/platform/db"
	"github.com/28web/hub/platform/db/dbtest"
)

// syncBuffer is a log destination safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func message(session core.SessionID, id string) core.Event {
	return core.NewEvent(session, &core.MessageEvent{Kind: core.EventMessageCreate, ID: core.MessageID(id),
		ChatID: "5511999990001@s.whatsapp.net", From: "5511999990001@s.whatsapp.net", Type: core.MessageText, Body: id,
		Timestamp: time.Now().UTC()})
}

// A message of a session the registry does not know is dropped with a log line, and the rest of
// its batch is still applied (on PostgreSQL a swallowed foreign-key error aborted the whole
// transaction).
func TestMessageOfAnUnknownSessionDoesNotSpoilItsBatch(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		st := store.New(d.Bun())
		require.NoError(t, st.CreateSession(t.Context(), store.SessionRow{ID: "known", Channel: "fake", Status: core.StatusConnected}))
		var logs syncBuffer
		p := projection.New(st, slog.New(slog.NewJSONHandler(&logs, nil)))

		batch := []core.Event{message("known", "before"), message("ghost", "lost"), message("known", "after")}
		require.NoError(t, p.ApplyBatch(t.Context(), batch))
		for _, id := range []core.MessageID{"before", "after"} {
			m, err := st.Message(t.Context(), "known", id)
			require.NoError(t, err)
			require.Equal(t, core.MessageStatusReceived, m.Status)
		}
		_, err := st.Message(t.Context(), "ghost", "lost")
		require.ErrorIs(t, err, core.ErrNotFound)
		require.Contains(t, logs.String(), "message of an unknown session not stored")
		require.Contains(t, logs.String(), `"messageId":"lost"`)
	}, migrations.Core)
}

// The core's session registry learns who a session is from its session.status events.
func TestSessionStatusFillsTheRegistry(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		st := store.New(d.Bun())
		require.NoError(t, st.CreateSession(t.Context(), store.SessionRow{ID: "s1", Channel: "fake", Status: core.StatusQRCode}))
		p := projection.New(st, slog.New(slog.DiscardHandler))
		require.NoError(t, p.ApplyBatch(t.Context(), []core.Event{core.NewEvent("s1", &core.SessionStatusEvent{
			Status: core.StatusConnected, PreviousStatus: core.StatusQRCode,
			Account: "5511999990001@s.whatsapp.net", AccountLID: "1234567@lid", PushName: "Support",
		})}))
		row, err := st.Session(t.Context(), "s1")
		require.NoError(t, err)
		require.Equal(t, core.StatusConnected, row.Status)
		require.Equal(t, "5511999990001@s.whatsapp.net", row.JID)
		require.Equal(t, "1234567@lid", row.LID)
		require.Equal(t, "Support", row.PushName)
		require.NotNil(t, row.PairedAt)
	}, migrations.Core)
}
