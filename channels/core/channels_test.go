package core_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/28web/hub/channels/core"
	"github.com/28web/hub/channels/core/channeltest"
	"github.com/28web/hub/channels/core/fakechannel"
)

// registry is the core's session registry as a map, counting lookups.
type registry struct {
	channels map[core.SessionID]core.Channel
	lookups  int
}

func (r *registry) SessionChannel(_ context.Context, id core.SessionID) (core.Channel, error) {
	r.lookups++
	if c, ok := r.channels[id]; ok {
		return c, nil
	}
	return "", fmt.Errorf("session %s: %w", id, core.ErrNotFound)
}

func TestChannelsRouteBySession(t *testing.T) {
	net := fakechannel.NewNetwork()
	full := fakechannel.New(net, channeltest.NewRecorder())
	small := fakechannel.New(net, channeltest.NewRecorder())
	minimal := fakechannel.Minimal(small)
	reg := &registry{channels: map[core.SessionID]core.Channel{"a": fakechannel.Channel, "b": fakechannel.MinimalChannel}}

	_, err := core.NewChannels(reg, "", full, fakechannel.Minimal(full), fakechannel.New(net, nil))
	require.ErrorContains(t, err, `"fake" registered twice`)
	_, err = core.NewChannels(reg, "telegram", full)
	require.ErrorContains(t, err, `default channel "telegram" is not registered`)

	ch, err := core.NewChannels(reg, fakechannel.MinimalChannel, minimal, full)
	require.NoError(t, err)
	require.Equal(t, fakechannel.MinimalChannel, ch.Default())
	require.Equal(t, []core.Channel{fakechannel.Channel, fakechannel.MinimalChannel}, ch.Names(), "ordered by name")

	p, err := ch.For(t.Context(), "b")
	require.NoError(t, err)
	require.Equal(t, fakechannel.MinimalChannel, p.Info().Channel)
	_, err = ch.For(t.Context(), "b")
	require.NoError(t, err)
	require.Equal(t, 1, reg.lookups, "a session's channel is looked up once")

	// A session the registry does not know belongs to the provider that knows it.
	_, err = small.CreateSession(t.Context(), core.CreateSessionRequest{ID: "legacy"})
	require.NoError(t, err)
	p, err = ch.For(t.Context(), "legacy")
	require.NoError(t, err)
	require.Equal(t, fakechannel.MinimalChannel, p.Info().Channel)
	_, err = ch.For(t.Context(), "nobody")
	require.ErrorIs(t, err, core.ErrNotFound)

	_, err = ch.Get("telegram")
	require.ErrorIs(t, err, core.ErrInvalid)
	require.ErrorContains(t, err, "this gateway runs fake, fake-minimal")

	_, err = full.CreateSession(t.Context(), core.CreateSessionRequest{ID: "a"})
	require.NoError(t, err)
	all, err := ch.Sessions(t.Context())
	require.NoError(t, err)
	require.Len(t, all, 2)
	require.Equal(t, core.SessionID("a"), all[0].ID)
	require.Equal(t, fakechannel.Channel, all[0].Channel)
	require.Equal(t, fakechannel.MinimalChannel, all[1].Channel)
	stats, err := ch.Stats(t.Context())
	require.NoError(t, err)
	require.Equal(t, 2, stats.Total)
}
