package store_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/28web/hub/channels/core"
	"github.com/28web/hub/channels/core/store"
	"github.com/28web/hub/migrations"
	"github.com/28web/hub/platform/db"
	"github.com/28web/hub/platform/db/dbtest"
)

func newStore(t *testing.T, d *db.DB) *store.Store {
	s := store.New(d.Bun())
	require.NoError(t, s.CreateSession(t.Context(), store.SessionRow{ID: "s1", Channel: "fake", Status: core.StatusQRCode}))
	return s
}

func outbound(id string, text string) store.Message {
	payload, _ := json.Marshal(core.OutgoingMessage{ID: core.MessageID(id), To: "123", Type: core.MessageText, Text: text})
	return store.Message{SessionID: "s1", ID: core.MessageID(id), ChatID: "123", Type: core.MessageText, Body: text, Payload: payload}
}

func TestSessions(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newStore(t, d)
		ctx := t.Context()
		err := s.CreateSession(ctx, store.SessionRow{ID: "s1", Channel: "fake", Status: core.StatusQRCode})
		require.ErrorIs(t, err, core.ErrConflict)
		require.NoError(t, s.SessionExists(ctx, "s1"))
		require.ErrorIs(t, s.SessionExists(ctx, "nope"), core.ErrNotFound)

		require.NoError(t, s.ApplySession(ctx, core.Session{ID: "s1", Status: core.StatusConnected, Account: "5511@s.whatsapp.net", AccountLID: "99@lid"}))
		row, err := s.Session(ctx, "s1")
		require.NoError(t, err)
		require.Equal(t, core.StatusConnected, row.Status)
		require.Equal(t, "5511@s.whatsapp.net", row.JID)
		require.NotNil(t, row.PairedAt)

		require.NoError(t, s.ApplySession(ctx, core.Session{ID: "unknown", Status: core.StatusConnected}), "unknown sessions are ignored")

		_, _, err = s.AcceptOutbound(ctx, outbound("M1", "x"), nil)
		require.NoError(t, err)
		require.NoError(t, s.DeleteSession(ctx, "s1"))
		_, err = s.Message(ctx, "s1", "M1")
		require.ErrorIs(t, err, core.ErrNotFound, "messages go with their session")
		require.ErrorIs(t, s.DeleteSession(ctx, "s1"), core.ErrNotFound)
	}, migrations.Core)
}

func TestIdempotentAccept(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newStore(t, d)
		ctx := t.Context()
		m := outbound("M1", "hello")
		m.IdempotencyKey, m.RequestHash = "key-1", "hash-a"
		first, created, err := s.AcceptOutbound(ctx, m, nil)
		require.NoError(t, err)
		require.True(t, created)
		require.Equal(t, core.MessageStatusQueued, first.Status)

		replay := outbound("M2", "hello")
		replay.IdempotencyKey, replay.RequestHash = "key-1", "hash-a"
		again, created, err := s.AcceptOutbound(ctx, replay, nil)
		require.NoError(t, err)
		require.False(t, created)
		require.Equal(t, core.MessageID("M1"), again.ID, "the first result is returned")

		other := outbound("M3", "different")
		other.IdempotencyKey, other.RequestHash = "key-1", "hash-b"
		_, _, err = s.AcceptOutbound(ctx, other, nil)
		require.ErrorIs(t, err, store.ErrIdempotencyMismatch)
		require.ErrorIs(t, err, core.ErrInvalid)

		_, _, err = s.AcceptOutbound(ctx, outbound("M1", "dup id"), nil)
		require.ErrorIs(t, err, core.ErrConflict)
	}, migrations.Core)
}

func TestLifecycleMovesForwardOnly(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newStore(t, d)
		ctx := t.Context()
		_, _, err := s.AcceptOutbound(ctx, outbound("M1", "hi"), nil)
		require.NoError(t, err)

		claimed, err := s.ClaimNext(ctx, "s1", time.Now(), 10, store.OrderChat)
		require.NoError(t, err)
		require.Len(t, claimed, 1)
		require.Equal(t, 1, claimed[0].Attempts)

		// A fast receipt may land before the sender records the send.
		moved, err := s.ApplyAck(ctx, "s1", "M1", core.AckReceived, time.Now())
		require.NoError(t, err)
		require.True(t, moved)
		require.NoError(t, s.MarkSent(ctx, "s1", "M1", "123@s.whatsapp.net", time.Now()))
		m, err := s.Message(ctx, "s1", "M1")
		require.NoError(t, err)
		require.Equal(t, core.MessageStatusDelivered, m.Status, "sent never downgrades delivered")
		require.Equal(t, core.ChatID("123@s.whatsapp.net"), m.ChatID)
		require.NotNil(t, m.SentAt)

		claimed, err = s.ClaimNext(ctx, "s1", time.Now(), 10, store.OrderChat)
		require.NoError(t, err)
		require.Empty(t, claimed, "a sent message is not sent again")

		moved, err = s.ApplyAck(ctx, "s1", "M1", core.AckRead, time.Now())
		require.NoError(t, err)
		require.True(t, moved)
		moved, err = s.ApplyAck(ctx, "s1", "M1", core.AckReceived, time.Now())
		require.NoError(t, err)
		require.False(t, moved, "a late delivery receipt does not undo read")
		m, err = s.Message(ctx, "s1", "M1")
		require.NoError(t, err)
		require.Equal(t, core.MessageStatusRead, m.Status)
		require.NotNil(t, m.ReadAt)

		_, _, err = s.AcceptOutbound(ctx, outbound("M2", "doomed"), nil)
		require.NoError(t, err)
		require.NoError(t, s.MarkFailed(ctx, "s1", "M2", "not on WhatsApp", core.ProblemInvalid))
		m, err = s.Message(ctx, "s1", "M2")
		require.NoError(t, err)
		require.Equal(t, core.MessageStatusFailed, m.Status)
		require.Equal(t, "not on WhatsApp", m.Error)
	}, migrations.Core)
}

func TestPendingAndScheduled(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newStore(t, d)
		ctx := t.Context()
		later := time.Now().Add(time.Hour)
		_, _, err := s.AcceptOutbound(ctx, outbound("NOW", "a"), nil)
		require.NoError(t, err)
		sched := outbound("LATER", "b")
		sched.SendAt = &later
		_, _, err = s.AcceptOutbound(ctx, sched, nil)
		require.NoError(t, err)

		sessions, err := s.PendingSessions(ctx, time.Now(), 10)
		require.NoError(t, err)
		require.Equal(t, []core.SessionID{"s1"}, sessions)
		_, _, err = s.AcceptOutbound(ctx, outbound("NOW2", "c"), nil)
		require.NoError(t, err)
		claimed, err := s.ClaimNext(ctx, "s1", time.Now(), 1, store.OrderChat)
		require.NoError(t, err)
		require.Len(t, claimed, 1, "up to the limit")
		require.Equal(t, core.MessageID("NOW"), claimed[0].ID, "oldest first")
		require.Equal(t, 1, claimed[0].Attempts, "claiming counts the attempt")
		claimed, err = s.ClaimNext(ctx, "s1", time.Now(), 10, store.OrderChat)
		require.NoError(t, err)
		require.Len(t, claimed, 2, "still queued: claimed again; the scheduled one is not due")
		require.Equal(t, []core.MessageID{"NOW", "NOW2"}, []core.MessageID{claimed[0].ID, claimed[1].ID})

		next, ok, err := s.NextScheduled(ctx, time.Now())
		require.NoError(t, err)
		require.True(t, ok)
		require.WithinDuration(t, later, next, time.Millisecond)

		claimed, err = s.ClaimNext(ctx, "s1", later.Add(time.Second), 10, store.OrderChat)
		require.NoError(t, err)
		require.Len(t, claimed, 3, "due once its time came")
		require.NoError(t, s.MarkSent(ctx, "s1", "NOW", "", time.Now()))
		claimed, err = s.ClaimNext(ctx, "s1", later.Add(time.Second), 10, store.OrderChat)
		require.NoError(t, err)
		require.Len(t, claimed, 2, "a sent message is not claimed")
	}, migrations.Core)
}

func TestListMessagesPagesAndFilters(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newStore(t, d)
		ctx := t.Context()
		for i := range 7 {
			_, _, err := s.AcceptOutbound(ctx, outbound(fmt.Sprintf("OUT%d", i), "x"), nil)
			require.NoError(t, err)
		}
		require.NoError(t, s.RecordMessage(ctx, store.Message{SessionID: "s1", ID: "IN1", ChatID: "999", Direction: core.DirectionIn,
			Status: core.MessageStatusReceived, Type: core.MessageText, Body: "incoming"}))
		require.NoError(t, s.RecordMessage(ctx, store.Message{SessionID: "s1", ID: "IN1", ChatID: "999", Direction: core.DirectionIn,
			Status: core.MessageStatusReceived, Type: core.MessageText, Body: "again"}), "re-recording is a no-op")

		var seen []core.MessageID
		cursor := ""
		for {
			page, err := s.ListMessages(ctx, "s1", store.MessageFilter{Limit: 3, Cursor: cursor})
			require.NoError(t, err)
			for _, m := range page.Messages {
				seen = append(seen, m.ID)
			}
			if page.NextCursor == "" {
				break
			}
			cursor = page.NextCursor
		}
		require.Len(t, seen, 8, "every message exactly once across pages")
		require.Equal(t, core.MessageID("IN1"), seen[0], "newest first")

		page, err := s.ListMessages(ctx, "s1", store.MessageFilter{Direction: core.DirectionIn})
		require.NoError(t, err)
		require.Len(t, page.Messages, 1)
		require.Equal(t, "incoming", page.Messages[0].Body)

		page, err = s.ListMessages(ctx, "s1", store.MessageFilter{ChatID: "123", Status: core.MessageStatusQueued, Since: time.Now().Add(-time.Minute)})
		require.NoError(t, err)
		require.Len(t, page.Messages, 7)

		_, err = s.ListMessages(ctx, "s1", store.MessageFilter{Cursor: "!!!"})
		require.ErrorIs(t, err, core.ErrInvalid)

		prev, err := s.ApplyEdit(ctx, "s1", "IN1", "edited", time.Now())
		require.NoError(t, err)
		require.Equal(t, "incoming", prev)
		body, err := s.Body(ctx, "s1", "IN1")
		require.NoError(t, err)
		require.Equal(t, "edited", body)
		require.NoError(t, s.ApplyRevoke(ctx, "s1", "IN1", time.Now()))
		m, err := s.Message(ctx, "s1", "IN1")
		require.NoError(t, err)
		require.NotNil(t, m.RevokedAt)
	}, migrations.Core)
}

func TestContacts(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newStore(t, d)
		ctx := t.Context()
		require.NoError(t, s.UpsertContacts(ctx, "s1", []core.Contact{{ID: "b@s", PushName: "Bee", OnWhatsApp: true}, {ID: "a@s", Phone: "1"}}))
		require.NoError(t, s.UpsertContacts(ctx, "s1", []core.Contact{{ID: "a@s", Phone: "1", PushName: "Ay", LID: "9@lid", OnWhatsApp: true}}))
		cs, err := s.Contacts(ctx, "s1")
		require.NoError(t, err)
		require.Len(t, cs, 2)
		require.Equal(t, core.ChatID("a@s"), cs[0].ID)
		require.Equal(t, "Ay", cs[0].PushName)
		require.Equal(t, core.ChatID("9@lid"), cs[0].LID)
	}, migrations.Core)
}

// TestConcurrentSendPathSharesStatements drives the batched writes of the send path from many
// goroutines at once, so that batches hold several rows with their own values: duplicates,
// idempotent replays and an unknown session among them must each get their own answer.
func TestConcurrentSendPathSharesStatements(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newStore(t, d)
		ctx := t.Context()
		// 0..39 new ids; 40..49 five ids twice each; 50..57 four idempotency keys twice each;
		// 58, 59 an unknown session.
		const n = 60
		base := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
		errs := make([]error, n)
		created := make([]bool, n)
		got := make([]store.Message, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				m := outbound(fmt.Sprintf("U%02d", i), fmt.Sprintf("text %d", i))
				switch {
				case i >= 40 && i < 50:
					m.ID = core.MessageID(fmt.Sprintf("D%d", i%5))
				case i >= 50 && i < 58:
					m.IdempotencyKey, m.RequestHash = fmt.Sprintf("k-%d", i%4), "same"
				case i >= 58:
					m.SessionID = "unknown"
				}
				got[i], created[i], errs[i] = s.AcceptOutbound(ctx, m, nil)
			})
		}
		wg.Wait()
		for i := range 40 {
			require.NoError(t, errs[i], "accept %d", i)
			require.True(t, created[i], "accept %d", i)
		}
		for i := 40; i < 45; i++ {
			require.True(t, (errs[i] == nil) != (errs[i+5] == nil), "one of D%d's two accepts wins: %v / %v", i%5, errs[i], errs[i+5])
			require.ErrorIs(t, errors.Join(errs[i], errs[i+5]), core.ErrConflict)
		}
		for i := 50; i < 54; i++ {
			require.NoError(t, errs[i])
			require.NoError(t, errs[i+4])
			require.True(t, created[i] != created[i+4], "one of key k-%d's two accepts creates", i%4)
			require.Equal(t, got[i].ID, got[i+4].ID, "the replay returns the first result")
		}
		require.ErrorIs(t, errs[58], core.ErrNotFound, "unknown session")
		require.ErrorIs(t, errs[59], core.ErrNotFound, "unknown session")

		// Sent marks for every stored message at once, each with its own time and chat.
		for i := range 40 {
			wg.Go(func() {
				id := core.MessageID(fmt.Sprintf("U%02d", i))
				chat := core.ChatID("")
				if i%2 == 0 {
					chat = core.ChatID(fmt.Sprintf("%d@s.whatsapp.net", 5500+i))
				}
				assert.NoError(t, s.MarkSent(ctx, "s1", id, chat, base.Add(time.Duration(i)*time.Second)))
			})
		}
		wg.Wait()
		for i := range 40 {
			m, err := s.Message(ctx, "s1", core.MessageID(fmt.Sprintf("U%02d", i)))
			require.NoError(t, err)
			require.Equal(t, core.MessageStatusSent, m.Status)
			require.NotNil(t, m.SentAt)
			require.True(t, m.SentAt.Equal(base.Add(time.Duration(i)*time.Second)), "U%02d sent at %s", i, m.SentAt)
			if i%2 == 0 {
				require.Equal(t, core.ChatID(fmt.Sprintf("%d@s.whatsapp.net", 5500+i)), m.ChatID)
			} else {
				require.Equal(t, core.ChatID("123"), m.ChatID, "no chat given: unchanged")
			}
		}
		claimed, err := s.ClaimNext(ctx, "s1", time.Now(), 100, store.OrderChat)
		require.NoError(t, err)
		for _, m := range claimed {
			require.NotRegexp(t, `^U[0-3][0-9]$`, string(m.ID), "sent messages are not claimed")
		}
	}, migrations.Core)
}

// A message waiting for a retry holds back later messages of its chat (OrderChat) or of its
// session (OrderSession), not the others; released claims do not count an attempt.
func TestRetryWaitHoldsBackWhatOrderSays(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newStore(t, d)
		ctx := t.Context()
		to := func(id, chat string) store.Message {
			m := outbound(id, id)
			m.ChatID = core.ChatID(chat)
			return m
		}
		for _, m := range []store.Message{to("A1", "a"), to("B1", "b"), to("A2", "a"), to("B2", "b")} {
			_, _, err := s.AcceptOutbound(ctx, m, nil)
			require.NoError(t, err)
		}
		ids := func(ms []store.Message) []core.MessageID {
			out := make([]core.MessageID, len(ms))
			for i, m := range ms {
				out[i] = m.ID
			}
			return out
		}
		claimed, err := s.ClaimNext(ctx, "s1", time.Now(), 1, store.OrderChat)
		require.NoError(t, err)
		require.Equal(t, []core.MessageID{"A1"}, ids(claimed))
		retryAt := time.Now().Add(time.Hour)
		require.NoError(t, s.ScheduleRetry(ctx, "s1", "A1", retryAt, "recipient unreachable"))

		claimed, err = s.ClaimNext(ctx, "s1", time.Now(), 10, store.OrderChat)
		require.NoError(t, err)
		require.Equal(t, []core.MessageID{"B1", "B2"}, ids(claimed), "chat a waits behind A1, chat b goes on")
		require.NoError(t, s.Release(ctx, "s1", ids(claimed)))
		claimed, err = s.ClaimNext(ctx, "s1", time.Now(), 10, store.OrderSession)
		require.NoError(t, err)
		require.Empty(t, claimed, "strict session order: everything waits behind A1")

		next, ok, err := s.NextScheduled(ctx, time.Now())
		require.NoError(t, err)
		require.True(t, ok)
		require.WithinDuration(t, retryAt, next, time.Millisecond, "the retry wakes the sender")
		pending, err := s.PendingSessions(ctx, time.Now(), 10)
		require.NoError(t, err)
		require.Equal(t, []core.SessionID{"s1"}, pending, "B1 and B2 are due")

		claimed, err = s.ClaimNext(ctx, "s1", retryAt.Add(time.Second), 10, store.OrderSession)
		require.NoError(t, err)
		require.Equal(t, []core.MessageID{"A1", "B1", "A2", "B2"}, ids(claimed), "once due, in acceptance order")
		byID := map[core.MessageID]int{}
		for _, m := range claimed {
			byID[m.ID] = m.Attempts
		}
		require.Equal(t, map[core.MessageID]int{"A1": 2, "B1": 1, "A2": 1, "B2": 1}, byID, "released claims counted no attempt")
		m, err := s.Message(ctx, "s1", "A1")
		require.NoError(t, err)
		require.Equal(t, "recipient unreachable", m.Error)
	}, migrations.Core)
}
