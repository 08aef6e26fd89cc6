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

func (e env) NewPeer(t *testing.T) channeltest.Peer {
	p := fakechannel.New(e.net, channeltest.NewRecorder())
	return &peer{net: e.net, addr: e.net.NewAccount(), p: p}
}

func (e env) UnknownRecipient() string { return "5500000000000@fake" }

type peer struct {
	net  *fakechannel.Network
	addr core.ChatID
	p    *fakechannel.Provider
}

func (p *peer) Address() string { return string(p.addr) }

func (p *peer) Texts(*testing.T) []string {
	var out []string
	for _, m := range p.net.Received(p.addr) {
		out = append(out, m.Text)
	}
	return out
}

func (p *peer) SendText(t *testing.T, to core.ChatID, text string) {
	require.NoError(t, p.net.Deliver(t.Context(), p.addr, to, core.OutgoingMessage{Type: core.MessageText, Text: text}))
}

func TestConformance(t *testing.T) {
	channeltest.Run(t, channeltest.Features{
		QRLogin: true, PairingCode: true, Edit: true, Revoke: true, MarkRead: true, Presence: true,
		MediaDownload: true, Restore: true,
	}, func(t *testing.T) channeltest.Env { return env{net: fakechannel.NewNetwork()} })
}

func TestMinimalLacksEveryCapability(t *testing.T) {
	p := fakechannel.Minimal(fakechannel.New(fakechannel.NewNetwork(), channeltest.NewRecorder()))
	require.Empty(t, core.Capabilities(p))
	_, err := core.As[core.ReadMarker](p, core.CapabilityMarkRead)
	require.ErrorIs(t, err, core.ErrNotSupported)
}
