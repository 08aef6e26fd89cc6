package store

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/28web/hub/channels/core"
	"github.com/28web/hub/migrations"
	"github.com/28web/hub/platform/db"
	"github.com/28web/hub/platform/db/dbtest"
)

// One batch can hold the same message twice (two concurrent requests with one client-chosen
// id): it is stored once.
func TestBatchWithTheSameMessageTwice(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := t.Context()
		s := New(d.Bun())
		require.NoError(t, s.CreateSession(ctx, SessionRow{ID: "s1", Channel: "fake", Status: core.StatusConnected}))
		payload, err := json.Marshal(core.OutgoingMessage{ID: "M1", To: "123", Type: core.MessageText, Text: "x"})
		require.NoError(t, err)
		row := func(body string) Message {
			t := now()
			return Message{SessionID: "s1", ID: "M1", ChatID: "123", Type: core.MessageText, Body: body, Payload: payload,
				Direction: core.DirectionOut, Status: core.MessageStatusQueued, CreatedAt: t, UpdatedAt: t}
		}
		a, b := &acceptCall{row: row("first")}, &acceptCall{row: row("second")}
		require.NoError(t, s.insertAccepted(ctx, []*acceptCall{a, b}))
		require.True(t, a.inserted)
		require.False(t, b.inserted, "the second takes the one-row path, which reports the conflict")
		m, err := s.Message(ctx, "s1", "M1")
		require.NoError(t, err)
		require.Equal(t, "first", m.Body)
	}, migrations.Core)
}
