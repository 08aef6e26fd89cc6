package webhook_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/28web/hub/channels/core"
	"github.com/28web/hub/channels/core/webhook"
	"github.com/28web/hub/platform/db"
)

// A deleted session's own endpoints still receive its last events (they come after the
// deletion), then take nothing newer and are removed once they delivered; endpoints of a
// session created again under the same id are untouched.
func TestSessionEndpointsDeliverTheLastEventsThenRetire(t *testing.T) {
	eachDB(t, func(t *testing.T, d *db.DB) {
		old := newReceiver(t, nil)
		svc := startService(t, d, fastConfig(""))
		ctx := t.Context()
		_, err := svc.SetSessionEndpoints(ctx, "s1", []webhook.EndpointInput{{URL: old.URL}})
		require.NoError(t, err)

		failed := core.NewEvent("s1", &core.MessageFailedEvent{ID: "m1", To: "5511999990001", Error: core.ErrorSessionDeleted})
		gone := core.NewEvent("s1", &core.DisconnectedEvent{Reason: "session deleted"})
		deleted := core.NewEvent("s1", &core.SessionStatusEvent{Status: core.StatusDeleted, PreviousStatus: core.StatusConnected})
		late := core.NewEvent("s1", &core.ConnectionStatusEvent{Status: core.ConnectionClosed})
		for _, ev := range []core.Event{failed, gone, deleted, late} {
			require.NoError(t, svc.Ingest(ctx, ev))
		}
		got := old.waitCount(t, 3)
		require.Equal(t, core.EventMessageFailed, got[0].Event.Type)
		require.Equal(t, core.EventDisconnected, got[1].Event.Type)
		require.Equal(t, core.EventSessionStatus, got[2].Event.Type)

		eps, err := svc.SessionEndpoints(ctx, "s1")
		require.NoError(t, err)
		require.Empty(t, eps, "a retired endpoint is not listed")
		waitFor(t, "the drained endpoint deleted", func() bool {
			n, err := d.Bun().NewSelect().Table("webhook_endpoints").Where("session_id = ?", "s1").Count(ctx)
			return err == nil && n == 0
		})

		// The id is used again: the new session's endpoint gets its events; the old one nothing.
		fresh := newReceiver(t, nil)
		_, err = svc.SetSessionEndpoints(ctx, "s1", []webhook.EndpointInput{{URL: fresh.URL}})
		require.NoError(t, err)
		require.NoError(t, svc.Ingest(ctx, event("s1", "hello again")))
		require.Equal(t, "hello again", fresh.waitCount(t, 1)[0].Event.Data.(*core.MessageEvent).Body)
		// A redelivery of the old deletion does not retire the new endpoint.
		require.NoError(t, svc.Ingest(ctx, deleted))
		eps, err = svc.SessionEndpoints(ctx, "s1")
		require.NoError(t, err)
		require.Len(t, eps, 1)
		require.Len(t, old.requests(), 3, "the retired endpoint got nothing newer")
	})
}
