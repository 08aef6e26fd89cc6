package pipeline_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/28web/hub/channels/core"
	"github.com/28web/hub/channels/core/channeltest"
	"github.com/28web/hub/channels/core/pipeline"
	"github.com/28web/hub/channels/core/store"
)

// unreachable fails, with a retryable error, every send to one address while down is set.
type unreachable struct {
	core.Provider
	to   core.ChatID
	down atomic.Bool
}

func (u *unreachable) SendMessage(ctx context.Context, id core.SessionID, msg core.OutgoingMessage) (core.SendResult, error) {
	if u.down.Load() && core.ChatID(msg.To) == u.to {
		return core.SendResult{}, fmt.Errorf("recipient's server: %w", core.ErrUnavailable)
	}
	return u.Provider.SendMessage(ctx, id, msg)
}

// A message waiting for a retry does not hold the session's queue: later messages to other
// chats are sent meanwhile (default order), later ones to its chat wait behind it; with strict
// session order everything waits.
func TestARetryHoldsBackOnlyWhatTheOrderSays(t *testing.T) {
	each(t, func(t *testing.T, w *world) {
		other := w.net.NewAccount()
		flaky := &unreachable{Provider: w.prov, to: w.peer}
		flaky.down.Store(true)
		cfg := pipeline.Config{InitialBackoff: 50 * time.Millisecond, MaxBackoff: 200 * time.Millisecond, MaxAttempts: 1000}
		p := w.pipeline(cfg, flaky)
		start(t, p)
		toOther := func(r *pipeline.AcceptRequest) { r.Message.To = string(other) }

		a1 := w.accept(p, "a1")
		b1 := w.accept(p, "b1", toOther)
		a2 := w.accept(p, "a2")
		b2 := w.accept(p, "b2", toOther)
		w.waitStatus(b1.ID, core.MessageStatusSent)
		w.waitStatus(b2.ID, core.MessageStatusSent)
		channeltest.Eventually(t, wait, "a1 retried", func() bool {
			m, err := w.store.Message(t.Context(), "s1", a1.ID)
			require.NoError(t, err)
			return m.Attempts >= 3 && m.Error != ""
		})
		// a2 is claimed with a1 each time a1's retry falls due, and released uncounted when a1
		// fails again: between the two its attempt shows, so wait for a moment it does not.
		channeltest.Eventually(t, wait, "a2 queued behind a1, its held claims released", func() bool {
			m, err := w.store.Message(t.Context(), "s1", a2.ID)
			require.NoError(t, err)
			require.Equal(t, core.MessageStatusQueued, m.Status, "a2 waits behind a1")
			return m.Attempts == 0
		})
		require.Empty(t, w.texts(), "nothing to a1's chat was sent")

		flaky.down.Store(false)
		w.waitStatus(a1.ID, core.MessageStatusSent)
		w.waitStatus(a2.ID, core.MessageStatusSent)
		require.Equal(t, []string{"a1", "a2"}, w.texts(), "in order within the chat")
	})
}

func TestStrictSessionOrderHoldsEverything(t *testing.T) {
	each(t, func(t *testing.T, w *world) {
		other := w.net.NewAccount()
		flaky := &unreachable{Provider: w.prov, to: w.peer}
		flaky.down.Store(true)
		cfg := pipeline.Config{InitialBackoff: 50 * time.Millisecond, MaxBackoff: 200 * time.Millisecond, MaxAttempts: 1000,
			Order: store.OrderSession}
		p := w.pipeline(cfg, flaky)
		start(t, p)

		a1 := w.accept(p, "a1")
		b1 := w.accept(p, "b1", func(r *pipeline.AcceptRequest) { r.Message.To = string(other) })
		channeltest.Eventually(t, wait, "a1 retried", func() bool {
			m, err := w.store.Message(t.Context(), "s1", a1.ID)
			require.NoError(t, err)
			return m.Attempts >= 3
		})
		m, err := w.store.Message(t.Context(), "s1", b1.ID)
		require.NoError(t, err)
		require.Equal(t, core.MessageStatusQueued, m.Status, "b1 waits behind a1 although its chat is another")

		flaky.down.Store(false)
		w.waitStatus(a1.ID, core.MessageStatusSent)
		w.waitStatus(b1.ID, core.MessageStatusSent)
	})
}
