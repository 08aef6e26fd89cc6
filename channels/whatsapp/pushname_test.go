package whatsapp_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/28web/hub/channels/core"
	"github.com/28web/hub/channels/core/channeltest"
)

func TestOwnPushNameFromAppState(t *testing.T) {
	env := newSimEnv(t)
	rec := channeltest.NewRecorder()
	p := env.build(t, rec)
	require.NoError(t, p.Start(t.Context()))
	id := core.SessionID("named")
	_, err := p.CreateSession(t.Context(), core.CreateSessionRequest{ID: id})
	require.NoError(t, err)
	phone := env.newPhone(t)
	phone.SetPushName("Loja Centro")
	env.pairPhone(t, p, id, phone)
	waitStatus(t, rec, id, core.StatusConnected)
	channeltest.Eventually(t, waitLimit, "push name synced from the phone", func() bool {
		s, err := p.Session(t.Context(), id)
		return err == nil && s.PushName == "Loja Centro"
	})
	// Availability needs that name; now it is known.
	require.NoError(t, p.SendPresence(t.Context(), id, "", core.PresenceAvailable))
}
