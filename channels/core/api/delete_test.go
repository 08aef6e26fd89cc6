package api_test

import (
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/28web/hub/channels/core"
	"github.com/28web/hub/channels/core/channeltest"
)

// A client told "accepted" learns the outcome when the session is deleted first: the delete is
// refused while messages wait, and with force each is failed and reported; the session's last
// events say it is gone.
func TestDeletingASessionReportsWhatItsMessagesBecame(t *testing.T) {
	g := newGateway(t, false)
	g.connected("leaving")
	later := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	var ids []string
	for i := range 3 {
		r := g.do("POST", "/api/v1/sessions/leaving/messages", map[string]any{"to": "+5511999990001", "type": "text",
			"text": "scheduled " + string(rune('a'+i)), "sendAt": later})
		require.Equal(t, 202, r.status, string(r.body))
		ids = append(ids, r.json(t)["id"].(string))
	}

	r := g.do("DELETE", "/api/v1/sessions/leaving", nil)
	require.Equal(t, 409, r.status, string(r.body))
	require.Equal(t, "application/problem+json", r.header.Get("Content-Type"))
	require.Contains(t, r.json(t)["detail"], "force=true")
	require.Equal(t, 200, g.do("GET", "/api/v1/sessions/leaving", nil).status, "a refused delete changes nothing")

	r = g.do("DELETE", "/api/v1/sessions/leaving?force=true", nil)
	require.Equal(t, 204, r.status, string(r.body))

	for _, id := range ids {
		g.rec.Wait(t, 5*time.Second, "message_failed of "+id, channeltest.Is("leaving", func(e *core.MessageFailedEvent) bool {
			return string(e.ID) == id && e.Error == core.ErrorSessionDeleted
		}))
	}
	g.rec.Wait(t, 5*time.Second, "session.status deleted", channeltest.Is("leaving", func(e *core.SessionStatusEvent) bool {
		return e.Status == core.StatusDeleted && e.PreviousStatus == core.StatusConnected
	}))
	g.rec.Wait(t, 5*time.Second, "disconnected", channeltest.Is("leaving", func(e *core.DisconnectedEvent) bool { return !e.IsReconnectable }))
	evs := g.rec.Events()
	last := slices.IndexFunc(evs, func(e core.Event) bool {
		return e.Type == core.EventSessionStatus && e.Data.(*core.SessionStatusEvent).Status == core.StatusDeleted
	})
	for i, e := range evs {
		if e.Type == core.EventMessageFailed {
			require.Less(t, i, last, "failures are reported before the session's last events")
		}
	}

	require.Equal(t, 404, g.do("GET", "/api/v1/sessions/leaving", nil).status)
	require.Equal(t, 404, g.do("DELETE", "/api/v1/sessions/leaving?force=true", nil).status)
	r = g.do("POST", "/api/v1/sessions/leaving/messages", map[string]any{"to": "+5511999990001", "type": "text", "text": "too late"})
	require.Equal(t, 404, r.status, string(r.body))
}
