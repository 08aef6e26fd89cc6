package wasim_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
	"google.golang.org/protobuf/proto"

	"github.com/28web/hub/channels/whatsapp/wasim"
)

func TestPairAndExchangeText(t *testing.T) {
	t.Parallel()
	sim := newSim(t)
	phoneA := newPhone(t, sim, "5511999990001")
	phoneB := newPhone(t, sim, "5511999990002")
	a := newPairedClient(t, sim, phoneA, "a")
	b := newPairedClient(t, sim, phoneB, "b")
	ctx := t.Context()

	// A -> B
	resp, err := a.cli.SendMessage(ctx, phoneB.JID(), &waE2E.Message{Conversation: proto.String("hello B")})
	require.NoError(t, err)
	got := waitFor(b, func(m *events.Message) bool { return m.Info.ID == resp.ID })
	require.Equal(t, "hello B", got.Message.GetConversation())
	require.False(t, got.Info.IsFromMe)
	// B's phone sees the message too, A's phone sees its own companion's copy.
	_, err = phoneB.WaitMessage(ctx, func(m wasim.Message) bool { return m.ID == resp.ID && m.Text == "hello B" })
	require.NoError(t, err)

	// A sees B's delivery receipt, then B reads it and A sees the read receipt.
	waitFor(a, func(r *events.Receipt) bool {
		return r.MessageIDs[0] == resp.ID && r.Type == types.ReceiptTypeDelivered
	})
	require.NoError(t, b.cli.MarkRead(ctx, []types.MessageID{resp.ID}, got.Info.Timestamp, got.Info.Chat, got.Info.Sender))
	waitFor(a, func(r *events.Receipt) bool { return r.MessageIDs[0] == resp.ID && r.Type == types.ReceiptTypeRead })

	// B -> A
	resp2, err := b.cli.SendMessage(ctx, phoneA.JID(), &waE2E.Message{Conversation: proto.String("hello A")})
	require.NoError(t, err)
	got2 := waitFor(a, func(m *events.Message) bool { return m.Info.ID == resp2.ID })
	require.Equal(t, "hello A", got2.Message.GetConversation())
	waitFor(b, func(r *events.Receipt) bool {
		return r.MessageIDs[0] == resp2.ID && r.Type == types.ReceiptTypeDelivered
	})
	require.NoError(t, a.cli.MarkRead(ctx, []types.MessageID{resp2.ID}, got2.Info.Timestamp, got2.Info.Chat, got2.Info.Sender))
	waitFor(b, func(r *events.Receipt) bool { return r.MessageIDs[0] == resp2.ID && r.Type == types.ReceiptTypeRead })

	// Everything pushed to the clients (messages, receipts, device notifications) was acknowledged.
	require.Eventually(t, func() bool {
		for _, d := range sim.Devices() {
			if d.Queued != 0 {
				return false
			}
		}
		return true
	}, waitLimit, 5*time.Millisecond)
	st := sim.Stats()
	require.Equal(t, int64(2), st.Logins, "one login per pairing")
	require.Equal(t, int64(2), st.Registrations)
	require.GreaterOrEqual(t, st.MessagesRouted, int64(6))
}

func TestPairByCode(t *testing.T) {
	t.Parallel()
	sim := newSim(t)
	phone := newPhone(t, sim, "5511999990003")
	other := newPhone(t, sim, "5511999990004")
	c := newClient(t, sim, "code", filepath.Join(t.TempDir(), "code.db"))
	ctx := waitCtx(t)
	qrCh, err := c.cli.GetQRChannel(ctx)
	require.NoError(t, err)
	require.NoError(t, c.cli.Connect())
	<-qrCh // the login websocket is up
	code, err := c.cli.PairPhone(ctx, phone.Number(), false, whatsmeow.PairClientChrome, "Chrome (Linux)")
	require.NoError(t, err)

	_, err = other.PairWithCode(ctx, code)
	require.ErrorIs(t, err, wasim.ErrNoPairingCode)
	jid, err := phone.PairWithCode(ctx, code)
	require.NoError(t, err)
	waitFor[*events.PairSuccess](c, nil)
	waitFor[*events.Connected](c, nil)
	require.Equal(t, jid, *c.cli.Store.ID)

	// The code-paired client talks like any other.
	id, err := other.SendText(ctx, phone.JID(), "hi code")
	require.NoError(t, err)
	waitFor(c, func(m *events.Message) bool { return m.Info.ID == id && m.Message.GetConversation() == "hi code" })
}
