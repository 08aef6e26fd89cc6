package fakechannel_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/28web/hub/channels/core"
	"github.com/28web/hub/channels/core/channeltest"
	"github.com/28web/hub/channels/core/fakechannel"
)

type env struct{ net *fakechannel.Network }

func (e env) NewProvider(t *testing.T, sink core.EventSink) core.Provider {
	p := fakechannel.New(e.net, sink)
	t.Cleanup(func() { _ = p.Stop(t.Context()) })
	return p
}

func (e env) Pair(t *testing.T, p core.Provider, id core.SessionID) {
	_, err := p.(*fakechannel.Provider).Pair(t.Context(), id)
	require.NoError(t, err)
}

func (e env) NewPeer(*testing.T) channeltest.Peer { return e.net.NewPeer() }

func (e env) UnknownRecipient() string { return fakechannel.UnknownRecipient }

func TestConformance(t *testing.T) {
	channeltest.Run(t, channeltest.Features{
		QRLogin: true, PairingCode: true, Edit: true, Revoke: true, MarkRead: true, Presence: true,
		MediaDownload: true, Contacts: true, Restore: true,
	}, func(t *testing.T) channeltest.Env { return env{net: fakechannel.NewNetwork()} })
}

func TestMinimalLacksEveryCapability(t *testing.T) {
	p := fakechannel.Minimal(fakechannel.New(fakechannel.NewNetwork(), channeltest.NewRecorder()))
	require.Empty(t, core.Capabilities(p))
	_, err := core.As[core.ReadMarker](p, core.CapabilityMarkRead)
	require.ErrorIs(t, err, core.ErrNotSupported)
}
