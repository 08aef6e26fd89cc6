package fakechannel

import (
	"testing"

	"github.com/28web/hub/channels/core"
)

// UnknownRecipient is an address no account of a fake network answers to.
const UnknownRecipient = "5500000000000@fake"

// Peer is an account of the network that a test drives; it implements channeltest.Peer.
type Peer struct {
	net  *Network
	addr core.ChatID
}

// NewPeer registers a new account and returns it as a peer.
func (n *Network) NewPeer() *Peer { return &Peer{net: n, addr: n.NewAccount()} }

// Address is the peer's address.
func (p *Peer) Address() string { return string(p.addr) }

// Texts returns the text bodies the peer received, in order.
func (p *Peer) Texts(*testing.T) []string {
	var out []string
	for _, m := range p.net.Received(p.addr) {
		out = append(out, m.Text)
	}
	return out
}

// SendText delivers a text from the peer to the account to.
func (p *Peer) SendText(t *testing.T, to core.ChatID, text string) {
	t.Helper()
	if err := p.net.Deliver(t.Context(), p.addr, to, core.OutgoingMessage{Type: core.MessageText, Text: text}); err != nil {
		t.Fatalf("peer %s sends to %s: %v", p.addr, to, err)
	}
}
