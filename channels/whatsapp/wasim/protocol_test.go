package wasim

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	waBinary "go.mau.fi/whatsmeow/binary"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/util/keys"
)

// TestRawProtocol checks server answers that whatsmeow itself does not exercise.
func TestRawProtocol(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	sim, err := New(Options{Config: Config{MaxQueue: 2}})
	require.NoError(t, err)
	require.NoError(t, sim.Start(ctx))
	t.Cleanup(func() { _ = sim.Close() })

	noiseA, noiseB := keys.NewKeyPair(), keys.NewKeyPair()
	jidA := sim.provisionDevice("5511999990801", noiseA)
	jidB := sim.provisionDevice("5511999990802", noiseB)
	nodesA := make(chan *waBinary.Node, 16)
	a, err := dialRaw(ctx, sim, jidA, noiseA, rawOptions{nodes: nodesA})
	require.NoError(t, err)
	next := func() *waBinary.Node {
		select {
		case n := <-nodesA:
			return n
		case <-ctx.Done():
			t.Fatal("no stanza from the server")
			return nil
		}
	}
	for n := next(); n.Tag != "ib" || n.GetChildren()[0].Tag != "offline"; n = next() { // <ib><offline/> ends the login
	}

	// Unknown IQs are answered, never left hanging.
	require.NoError(t, a.sendNode(ctx, waBinary.Node{Tag: "iq", Attrs: waBinary.Attrs{
		"id": "q1", "to": types.ServerJID, "type": "get", "xmlns": "w:made-up"}, Content: []waBinary.Node{{Tag: "whatever"}}}))
	resp := next()
	require.Equal(t, "q1", resp.Attrs["id"])
	require.Equal(t, "result", resp.Attrs["type"])

	// The key digest describes what was uploaded.
	require.NoError(t, a.sendNode(ctx, waBinary.Node{Tag: "iq", Attrs: waBinary.Attrs{
		"id": "q2", "to": types.ServerJID, "type": "set", "xmlns": "encrypt"}, Content: []waBinary.Node{
		{Tag: "registration", Content: []byte{0, 0, 0, 7}},
		{Tag: "type", Content: []byte{5}},
		{Tag: "identity", Content: noiseA.Pub[:]},
		{Tag: "list", Content: []waBinary.Node{{Tag: "key", Content: []waBinary.Node{
			{Tag: "id", Content: []byte{0, 0, 1}}, {Tag: "value", Content: noiseB.Pub[:]}}}}},
		{Tag: "skey", Content: []waBinary.Node{{Tag: "id", Content: []byte{0, 0, 1}}, {Tag: "value", Content: noiseB.Pub[:]},
			{Tag: "signature", Content: make([]byte, 64)}}},
	}}))
	require.Equal(t, "q2", next().Attrs["id"])
	require.NoError(t, a.sendNode(ctx, waBinary.Node{Tag: "iq", Attrs: waBinary.Attrs{
		"id": "q3", "to": types.ServerJID, "type": "get", "xmlns": "encrypt"}, Content: []waBinary.Node{{Tag: "digest"}}}))
	dig := next()
	require.Equal(t, "q3", dig.Attrs["id"])
	digest := dig.GetChildByTag("digest")
	require.Equal(t, []byte{0, 0, 0, 7}, digest.GetChildByTag("registration").Content)
	list := digest.GetChildByTag("list")
	require.Len(t, list.GetChildren(), 1)
	require.Len(t, digest.GetChildByTag("hash").Content, 20)

	// A message without recipients is an error, not a silent success.
	require.NoError(t, a.sendNode(ctx, waBinary.Node{Tag: "message", Attrs: waBinary.Attrs{
		"id": "M1", "to": jidB.ToNonAD(), "type": "text"}}))
	ack := next()
	require.Equal(t, "ack", ack.Tag)
	require.Equal(t, "M1", ack.Attrs["id"])
	require.NotEmpty(t, ack.Attrs["error"])

	// A message to an offline device is acknowledged and queued.
	require.NoError(t, a.send(ctx, jidB, "M2", []byte("ciphertext")))
	ack = next()
	require.Equal(t, "M2", ack.Attrs["id"])
	require.Nil(t, ack.Attrs["error"])
	require.Equal(t, int64(1), sim.Stats().Queued)

	// The offline queue is bounded: the oldest stanza goes.
	for _, id := range []string{"M3", "M4"} {
		require.NoError(t, a.send(ctx, jidB, id, []byte("ciphertext")))
		require.Equal(t, id, next().Attrs["id"])
	}
	st := sim.Stats()
	require.Equal(t, int64(3), st.Queued)
	require.Equal(t, int64(1), st.Dropped)
	d, ok := sim.Device(jidB)
	require.True(t, ok)
	require.Equal(t, 2, d.Queued)
}
