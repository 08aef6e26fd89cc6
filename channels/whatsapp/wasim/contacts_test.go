package wasim_test

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
	"google.golang.org/protobuf/proto"
)

func TestContactsAndUserInfo(t *testing.T) {
	t.Parallel()
	sim := newSim(t)
	phoneA := newPhone(t, sim, "5511999990401")
	phoneB := newPhone(t, sim, "5511999990402")
	phoneB.SetStatus("at work")
	a := newPairedClient(t, sim, phoneA, "a")
	ctx := waitCtx(t)

	resp, err := a.cli.IsOnWhatsApp(ctx, []string{"+5511999990402", "5511999999999"})
	require.NoError(t, err)
	require.Len(t, resp, 2)
	byQuery := map[string]types.IsOnWhatsAppResponse{}
	for _, r := range resp {
		byQuery[r.Query] = r
	}
	known := byQuery["+5511999990402"]
	require.True(t, known.IsIn)
	require.Equal(t, phoneB.LID(), known.JID)
	require.Equal(t, phoneB.JID(), known.PhoneNumber)
	require.False(t, byQuery["5511999999999"].IsIn)

	unknown := types.NewJID("5511999999999", types.DefaultUserServer)
	info, err := a.cli.GetUserInfo(ctx, []types.JID{phoneB.JID(), unknown})
	require.NoError(t, err)
	require.Equal(t, "at work", info[phoneB.JID()].Status)
	require.Equal(t, phoneB.LID(), info[phoneB.JID()].LID)
	require.Equal(t, []types.JID{phoneB.JID()}, info[phoneB.JID()].Devices, "the primary device is listed")
	require.True(t, info[unknown].LID.IsEmpty())
	require.Empty(t, info[unknown].Devices)

	_, err = a.cli.GetProfilePictureInfo(ctx, phoneB.JID(), nil)
	require.ErrorIs(t, err, whatsmeow.ErrProfilePictureNotSet)

	// Sending to an unknown number fails before anything is routed.
	_, err = a.cli.SendMessage(ctx, unknown, &waE2E.Message{Conversation: proto.String("hello?")})
	require.Error(t, err)

	// A companion device shows up in the device list, with its LID form (paired with the
	// PairClient helper this time).
	b := newClient(t, sim, "b", filepath.Join(t.TempDir(), "b.db"))
	_, err = phoneB.PairClient(ctx, b.cli)
	require.NoError(t, err)
	devs, err := a.cli.GetUserDevices(ctx, []types.JID{phoneB.LID()})
	require.NoError(t, err)
	require.Contains(t, devs, types.JID{User: phoneB.LID().User, Server: types.HiddenUserServer, Device: b.cli.Store.ID.Device})
}

func TestPresenceAndChatState(t *testing.T) {
	t.Parallel()
	sim := newSim(t)
	phoneA := newPhone(t, sim, "5511999990411")
	phoneB := newPhone(t, sim, "5511999990412")
	a := newPairedClient(t, sim, phoneA, "a")
	b := newPairedClient(t, sim, phoneB, "b")
	ctx := waitCtx(t)

	require.NoError(t, a.cli.SubscribePresence(ctx, phoneB.JID()))
	waitFor(a, func(p *events.Presence) bool { return p.From == phoneB.JID() && p.Unavailable })
	phoneB.SetAvailable(true)
	waitFor(a, func(p *events.Presence) bool { return p.From == phoneB.JID() && !p.Unavailable })

	require.NoError(t, a.cli.SendChatPresence(ctx, phoneB.JID(), types.ChatPresenceComposing, ""))
	cp := waitFor(b, func(p *events.ChatPresence) bool { return p.State == types.ChatPresenceComposing })
	require.Equal(t, phoneA.JID(), cp.Chat)
}
