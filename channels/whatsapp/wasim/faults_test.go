package wasim_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types/events"
	"google.golang.org/protobuf/proto"

	"github.com/28web/hub/channels/whatsapp/wasim"
)

func TestFaultDropConnectionReconnects(t *testing.T) {
	t.Parallel()
	sim := newSim(t)
	phone := newPhone(t, sim, "5511999990101")
	a := newPairedClient(t, sim, phone, "a")
	require.NoError(t, sim.Faults.DropConnection(*a.cli.Store.ID))
	waitFor[*events.Disconnected](a, nil)
	require.Eventually(t, func() bool { return count[*events.Connected](a, nil) >= 2 }, waitLimit, 5*time.Millisecond)
}

func TestFaultStreamReplaced(t *testing.T) {
	t.Parallel()
	sim := newSim(t)
	phone := newPhone(t, sim, "5511999990102")
	a := newPairedClient(t, sim, phone, "a")
	require.NoError(t, sim.Faults.Replace(*a.cli.Store.ID))
	waitFor[*events.StreamReplaced](a, nil)
}

func TestFaultDeviceRemoved(t *testing.T) {
	t.Parallel()
	sim := newSim(t)
	phone := newPhone(t, sim, "5511999990103")
	a := newPairedClient(t, sim, phone, "a")
	jid := *a.cli.Store.ID
	require.NoError(t, sim.Faults.DeviceRemoved(jid))
	lo := waitFor[*events.LoggedOut](a, nil)
	require.False(t, lo.OnConnect)
	d, ok := sim.Device(jid)
	require.True(t, ok)
	require.Equal(t, wasim.DeviceRemoved, d.State)
}

func TestFaultLoginFailures(t *testing.T) {
	t.Parallel()
	sim := newSim(t)
	cases := []struct {
		name   string
		reason int
		extra  map[string]any
		check  func(t *testing.T, c *testClient)
	}{
		{"ban", wasim.FailureTempBanned, map[string]any{"code": 101, "expire": 3600}, func(t *testing.T, c *testClient) {
			ban := waitFor[*events.TemporaryBan](c, nil)
			require.Equal(t, events.TempBanReason(101), ban.Code)
			require.Equal(t, time.Hour, ban.Expire)
		}},
		{"outdated", wasim.FailureClientOutdated, nil, func(t *testing.T, c *testClient) {
			waitFor[*events.ClientOutdated](c, nil)
		}},
		{"logged-out", wasim.FailureLoggedOut, nil, func(t *testing.T, c *testClient) {
			lo := waitFor[*events.LoggedOut](c, nil)
			require.True(t, lo.OnConnect)
		}},
		{"unavailable-then-ok", wasim.FailureServiceUnavailable, nil, func(t *testing.T, c *testClient) {
			// 503 is retried automatically; the next login succeeds.
			require.Eventually(t, func() bool { return count[*events.Connected](c, nil) >= 2 }, waitLimit, 5*time.Millisecond)
		}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			phone := newPhone(t, sim, "55119999902"+string(rune('0'+i))+"0")
			c := newPairedClient(t, sim, phone, tc.name)
			jid := *c.cli.Store.ID
			require.NoError(t, sim.Faults.RefuseLogins(jid, tc.reason, 1, tc.extra))
			require.NoError(t, sim.Faults.DropConnection(jid))
			tc.check(t, c)
		})
	}
}

// A refusal set on an account (its phone's JID, as the control API's phone numbers give) refuses
// the logins of every device of the account.
func TestRefuseLoginsOfAnAccount(t *testing.T) {
	t.Parallel()
	sim := newSim(t)
	phone := newPhone(t, sim, "5511999990106")
	c := newPairedClient(t, sim, phone, "account")
	require.NoError(t, sim.Faults.RefuseLogins(phone.JID(), wasim.FailureClientOutdated, 1, nil))
	require.NoError(t, sim.Faults.DropConnection(*c.cli.Store.ID))
	waitFor[*events.ClientOutdated](c, nil)
}

func TestFaultFailNow(t *testing.T) {
	t.Parallel()
	sim := newSim(t)
	phone := newPhone(t, sim, "5511999990104")
	a := newPairedClient(t, sim, phone, "a")
	require.NoError(t, sim.Faults.Fail(*a.cli.Store.ID, wasim.FailureClientOutdated, nil))
	waitFor[*events.ClientOutdated](a, nil)
	require.ErrorIs(t, sim.Faults.Fail(*a.cli.Store.ID, wasim.FailureClientOutdated, nil), wasim.ErrNotConnected)

	b := newPairedClient(t, sim, newPhone(t, sim, "5511999990105"), "b")
	require.NoError(t, sim.Faults.Ban(*b.cli.Store.ID, 102, 90*time.Second))
	ban := waitFor[*events.TemporaryBan](b, nil)
	require.Equal(t, events.TempBanReason(102), ban.Code)
	require.Equal(t, 90*time.Second, ban.Expire)
}

func TestFaultAcksAndDedupe(t *testing.T) {
	t.Parallel()
	sim := newSim(t)
	phoneA := newPhone(t, sim, "5511999990301")
	phoneB := newPhone(t, sim, "5511999990302")
	a := newPairedClient(t, sim, phoneA, "a")
	b := newPairedClient(t, sim, phoneB, "b")
	ctx := waitCtx(t)
	jidA := *a.cli.Store.ID

	// Dropped ack: the send times out, the resend with the same id is acknowledged but not
	// delivered twice.
	require.NoError(t, sim.Faults.DropAcks(jidA, 1))
	msg := &waE2E.Message{Conversation: proto.String("once")}
	_, err := a.cli.SendMessage(ctx, phoneB.JID(), msg, whatsmeow.SendRequestExtra{ID: "DEDUPE1", Timeout: 300 * time.Millisecond})
	require.True(t, errors.Is(err, whatsmeow.ErrMessageTimedOut), "got %v", err)
	_, err = a.cli.SendMessage(ctx, phoneB.JID(), msg, whatsmeow.SendRequestExtra{ID: "DEDUPE1"})
	require.NoError(t, err)
	waitFor(b, func(m *events.Message) bool { return m.Info.ID == "DEDUPE1" })
	require.GreaterOrEqual(t, sim.Stats().Duplicates, int64(1))
	// A later marker proves the duplicate had its chance to arrive.
	marker, err := a.cli.SendMessage(ctx, phoneB.JID(), &waE2E.Message{Conversation: proto.String("marker")})
	require.NoError(t, err)
	waitFor(b, func(m *events.Message) bool { return m.Info.ID == marker.ID })
	require.Equal(t, 1, count(b, func(m *events.Message) bool { return m.Info.ID == "DEDUPE1" }))

	// Delayed acks slow the sender down.
	require.NoError(t, sim.Faults.DelayAcks(jidA, 300*time.Millisecond))
	start := time.Now()
	_, err = a.cli.SendMessage(ctx, phoneB.JID(), &waE2E.Message{Conversation: proto.String("slow ack")})
	require.NoError(t, err)
	require.GreaterOrEqual(t, time.Since(start), 300*time.Millisecond)
	require.NoError(t, sim.Faults.DelayAcks(jidA, 0))

	// A slow link delays what B receives.
	require.NoError(t, sim.Faults.SlowLink(*b.cli.Store.ID, 300*time.Millisecond))
	start = time.Now()
	r, err := a.cli.SendMessage(ctx, phoneB.JID(), &waE2E.Message{Conversation: proto.String("slow link")})
	require.NoError(t, err)
	waitFor(b, func(m *events.Message) bool { return m.Info.ID == r.ID })
	require.GreaterOrEqual(t, time.Since(start), 300*time.Millisecond)
}
