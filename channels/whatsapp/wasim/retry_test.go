package wasim_test

import (
	"testing"

	"github.com/stretchr/testify/require"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
	"google.golang.org/protobuf/proto"

	"github.com/28web/hub/channels/whatsapp/wasim"
)

func TestCorruptedCiphertextIsRetried(t *testing.T) {
	t.Parallel()
	sim := newSim(t)
	t.Cleanup(func() {
		if t.Failed() {
			for _, r := range sim.Routed() {
				t.Logf("routed: %+v", r)
			}
		}
	})
	phoneA := newPhone(t, sim, "5511999990501")
	phoneB := newPhone(t, sim, "5511999990502")
	a := newPairedClient(t, sim, phoneA, "a")
	b := newPairedClient(t, sim, phoneB, "b")
	ctx := waitCtx(t)
	jidB := *b.cli.Store.ID

	first, err := a.cli.SendMessage(ctx, phoneB.JID(), &waE2E.Message{Conversation: proto.String("first")})
	require.NoError(t, err)
	waitFor(b, func(m *events.Message) bool { return m.Info.ID == first.ID })

	// client -> client: B cannot decrypt, asks A with a retry receipt, A resends.
	require.NoError(t, sim.Faults.CorruptNext(jidB, 1))
	resp, err := a.cli.SendMessage(ctx, phoneB.JID(), &waE2E.Message{Conversation: proto.String("second")})
	require.NoError(t, err)
	waitFor(b, func(m *events.UndecryptableMessage) bool { return m.Info.ID == resp.ID })
	waitFor(a, func(r *events.Receipt) bool { return r.MessageIDs[0] == resp.ID && r.Type == types.ReceiptTypeRetry })
	m := waitFor(b, func(m *events.Message) bool { return m.Info.ID == resp.ID })
	require.Equal(t, "second", m.Message.GetConversation())

	// phone -> client: the phone answers the retry receipt too.
	require.NoError(t, sim.Faults.CorruptNext(jidB, 1))
	id, err := phoneA.SendText(ctx, phoneB.JID(), "third")
	require.NoError(t, err)
	waitFor(b, func(m *events.UndecryptableMessage) bool { return m.Info.ID == id })
	_, err = phoneA.WaitReceipt(ctx, func(r wasim.Receipt) bool { return r.IDs[0] == id && r.Type == "retry" })
	require.NoError(t, err)
	m3 := waitFor(b, func(m *events.Message) bool { return m.Info.ID == id })
	require.Equal(t, "third", m3.Message.GetConversation())

	// client -> phone: the phone cannot decrypt, sends a retry receipt, the client resends.
	require.NoError(t, sim.Faults.CorruptNext(phoneA.JID(), 1))
	r4, err := b.cli.SendMessage(ctx, phoneA.JID(), &waE2E.Message{Conversation: proto.String("fourth")})
	require.NoError(t, err)
	waitFor(b, func(r *events.Receipt) bool { return r.MessageIDs[0] == r4.ID && r.Type == types.ReceiptTypeRetry })
	pm, err := phoneA.WaitMessage(ctx, func(m wasim.Message) bool { return m.ID == r4.ID })
	require.NoError(t, err)
	require.Equal(t, "fourth", pm.Text)

	var kinds []string
	for _, r := range sim.Routed() {
		if r.ID == id {
			kinds = append(kinds, r.Kind)
		}
	}
	require.Contains(t, kinds, "retry")
}
