package remote_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/28web/hub/channels/core"
	"github.com/28web/hub/channels/core/api"
	"github.com/28web/hub/channels/core/channeltest"
	"github.com/28web/hub/channels/core/eventbus"
	"github.com/28web/hub/channels/core/fakechannel"
	"github.com/28web/hub/channels/core/pipeline"
	"github.com/28web/hub/channels/core/projection"
	"github.com/28web/hub/channels/core/remote"
	"github.com/28web/hub/channels/core/store"
	"github.com/28web/hub/migrations"
	"github.com/28web/hub/openapi/client"
	"github.com/28web/hub/platform/bus"
	"github.com/28web/hub/platform/bus/bustest"
	"github.com/28web/hub/platform/db/dbtest"
	"github.com/28web/hub/platform/health"
	"github.com/28web/hub/platform/httpserver"
	"github.com/28web/hub/platform/log"
)

const key = "remote-test-key"

// gatewayEnv is a gateway (API, queue, projection) over the fake channel, which the remote
// provider drives over HTTP; its events reach the provider through the shared bus.
type gatewayEnv struct {
	net  *fakechannel.Network
	fake *fakechannel.Provider
	bus  *bus.Bus
	base string
}

func newGatewayEnv(t *testing.T) channeltest.Env {
	d := dbtest.SQLite(t, migrations.Core)
	b, err := bus.New(bustest.Config(), log.Discard())
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	sink := eventbus.NewSink(b.Publisher())
	net := fakechannel.NewNetwork()
	fake := fakechannel.New(net, sink)
	require.NoError(t, fake.Start(t.Context()))
	st := store.New(d.Bun())
	channels, err := core.NewChannels(st, "", fake)
	require.NoError(t, err)
	pipe, err := pipeline.New(pipeline.Config{}, st, channels, b, sink, log.Discard(), nil)
	require.NoError(t, err)
	require.NoError(t, pipe.Start(t.Context()))
	t.Cleanup(func() { _ = pipe.Stop(context.Background()) })
	stopProjection, err := projection.New(st, log.Discard()).Start(b)
	require.NoError(t, err)
	t.Cleanup(stopProjection)

	cfg := httpserver.Config{Host: "127.0.0.1", APIKey: key}
	cfg.SetDefaults()
	cfg.RateLimit.PerIP.Disabled, cfg.RateLimit.PerKey.Disabled = true, true
	srv, err := httpserver.New(cfg, httpserver.APIInfo{Title: "gateway", Version: "test"}, log.Discard(), httpserver.WithErrorMappings(api.ErrorMappings()...))
	require.NoError(t, err)
	api.Register(srv.API(), api.Deps{Channels: channels, Store: st, Pipeline: pipe, Errors: srv.Errors(), Logger: log.Discard(), Sink: sink})
	reg, err := health.NewRegistry("test", time.Second, t.TempDir())
	require.NoError(t, err)
	health.Register(srv.API(), reg)
	require.NoError(t, srv.Start(t.Context()))
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	return &gatewayEnv{net: net, fake: fake, bus: b, base: "http://" + srv.Addr()}
}

func (e *gatewayEnv) NewProvider(t *testing.T, sink core.EventSink) core.Provider {
	c, err := client.NewWithKey(e.base, key)
	require.NoError(t, err)
	sub, err := e.bus.Subscriber("hub")
	require.NoError(t, err)
	p := remote.New(c, fakechannel.Channel, sub, sink, log.Discard())
	t.Cleanup(func() { _ = p.Stop(context.Background()) })
	return p
}

func (e *gatewayEnv) Pair(t *testing.T, _ core.Provider, id core.SessionID) {
	_, err := e.fake.Pair(t.Context(), id)
	require.NoError(t, err)
}

func (e *gatewayEnv) NewPeer(*testing.T) channeltest.Peer { return e.net.NewPeer() }

func (e *gatewayEnv) UnknownRecipient() string { return fakechannel.UnknownRecipient }

// TestConformance runs the channel contract against the remote provider: the hub's remote mode
// behaves like the channel in-process.
func TestConformance(t *testing.T) {
	channeltest.Run(t, channeltest.Features{
		QRLogin: true, PairingCode: true, Edit: true, Revoke: true, MarkRead: true, Presence: true,
		MediaDownload: true, Contacts: true, Restore: true, Timeout: 10 * time.Second,
	}, newGatewayEnv)
}

// The remote channel reports the gateway's limits and message types, read when it starts.
func TestInfoIsTheGateways(t *testing.T) {
	env := newGatewayEnv(t).(*gatewayEnv)
	p := env.NewProvider(t, core.EventSinkFunc(func(context.Context, core.Event) error { return nil }))
	require.Empty(t, p.Info().MessageTypes, "before Start the remote channel knows nothing of the gateway")
	require.NoError(t, p.Start(t.Context()))
	require.Equal(t, env.fake.Info(), p.Info())
}
