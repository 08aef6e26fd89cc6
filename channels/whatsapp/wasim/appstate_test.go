package wasim_test

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"go.mau.fi/whatsmeow/proto/waHistorySync"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
	"google.golang.org/protobuf/proto"
)

func TestAppStatePushNameAndContacts(t *testing.T) {
	t.Parallel()
	sim := newSim(t)
	phone := newPhone(t, sim, "5511999991001")
	friend := newPhone(t, sim, "5511999991002")
	phone.SetPushName("Alice")
	require.NoError(t, phone.SetContactName(friend.JID(), "Bob", "Bob Builder"))
	ctx := waitCtx(t)

	c := newClient(t, sim, "a", filepath.Join(t.TempDir(), "a.db"))
	c.cli.EmitAppStateEventsOnFullSync = true
	_, err := phone.PairClient(ctx, c.cli)
	require.NoError(t, err)

	// The phone shares its app state key; the client syncs the account's settings.
	waitFor(c, func(e *events.PushNameSetting) bool { return e.Action.GetName() == "Alice" })
	ct := waitFor(c, func(e *events.Contact) bool { return e.JID == friend.JID() })
	require.Equal(t, "Bob Builder", ct.Action.GetFullName())
	// With a push name the client may announce its presence.
	require.NoError(t, c.cli.SendPresence(ctx, types.PresenceAvailable))
	info, err := c.cli.Store.Contacts.GetContact(ctx, friend.JID())
	require.NoError(t, err)
	require.Equal(t, "Bob Builder", info.FullName)

	// Later changes arrive through a server_sync notification.
	phone.SetPushName("Alice B.")
	waitFor(c, func(e *events.PushNameSetting) bool { return e.Action.GetName() == "Alice B." })
}

func TestHistorySync(t *testing.T) {
	t.Parallel()
	sim := newSim(t)
	phone := newPhone(t, sim, "5511999991011")
	friend := newPhone(t, sim, "5511999991012")
	c := newPairedClient(t, sim, phone, "a")
	ctx := waitCtx(t)

	n, err := phone.SendHistorySync(ctx, &waHistorySync.HistorySync{
		SyncType:  waHistorySync.HistorySync_PUSH_NAME.Enum(),
		Pushnames: []*waHistorySync.Pushname{{ID: proto.String(friend.JID().String()), Pushname: proto.String("Friendly")}},
	})
	require.NoError(t, err)
	require.Equal(t, 1, n)
	hs := waitFor[*events.HistorySync](c, nil)
	require.Equal(t, "Friendly", hs.Data.GetPushnames()[0].GetPushname())
}
