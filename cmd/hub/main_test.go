package main

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/types"
	"go.uber.org/fx"

	"github.com/28web/hub/channels/core/channeltest"
	"github.com/28web/hub/channels/whatsapp"
	"github.com/28web/hub/channels/whatsapp/wasim"
	"github.com/28web/hub/cmd/internal/app"
	"github.com/28web/hub/cmd/internal/config"
	"github.com/28web/hub/openapi/client"
	"github.com/28web/hub/platform/bus/bustest"
	"github.com/28web/hub/platform/db/dbtest"
	"github.com/28web/hub/platform/httpserver"
	"github.com/28web/hub/platform/log"
)

func load(t *testing.T, yaml string, environ ...string) *config.Config {
	t.Helper()
	file := filepath.Join(t.TempDir(), "hub.yaml")
	require.NoError(t, os.WriteFile(file, []byte(yaml), 0o600))
	env := append([]string{"SESSIONS_PATH=" + t.TempDir(), "API_KEY=hub-key", "HOST=127.0.0.1", "PORT=0", "CONFIG_FILE=" + file}, environ...)
	cfg, err := config.Load(config.LoadOptions{Environ: env})
	require.NoError(t, err)
	return cfg
}

// TestWiringOfBothModes checks the hub's fx graph with the channel in-process and remote.
func TestWiringOfBothModes(t *testing.T) {
	require.NoError(t, fx.ValidateApp(app.Hub(load(t, ""), "test", log.Discard())))
	remote := load(t, "bus:\n  namespace: hub.\n", "HUB_CHANNEL=remote", "GATEWAY_URL=http://127.0.0.1:1", "GATEWAY_API_KEY=k", "REDIS_URL=redis://127.0.0.1:6379/0")
	require.NoError(t, fx.ValidateApp(app.Hub(remote, "test", log.Discard())))
}

func TestVersion(t *testing.T) {
	var out, errOut bytes.Buffer
	require.Equal(t, 0, run([]string{"version"}, &out, &errOut))
	require.NotEmpty(t, out.String())
	require.Equal(t, 2, run([]string{"sideways"}, &out, &errOut))
}

// start runs an fx app and returns its HTTP address.
func start(t *testing.T, opts fx.Option) string {
	t.Helper()
	var srv *httpserver.Server
	a := fx.New(opts, fx.Populate(&srv), fx.NopLogger)
	require.NoError(t, a.Err())
	require.NoError(t, a.Start(t.Context()))
	t.Cleanup(func() { _ = a.Stop(context.Background()) })
	return "http://" + srv.Addr()
}

// TestRemoteModeDrivesAGateway runs a gateway (channel in-process, talking to the simulator) and
// a hub in remote mode against it, sharing Redis: through the hub's API a session is created and
// paired, a message is sent and reaches the phone, and the phone's read receipt comes back to the
// hub's store as the gateway's events.
func TestRemoteModeDrivesAGateway(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end")
	}
	bc := bustest.Redis(t) // skips without TEST_REDIS_URL: remote mode reads events from Redis
	sim, err := wasim.New(wasim.Options{Logger: log.Discard()})
	require.NoError(t, err)
	require.NoError(t, sim.Start(t.Context()))
	t.Cleanup(func() { _ = sim.Close() })

	gwNS, hubNS := bc.Namespace+"gw.", bc.Namespace+"hub."
	gwCfg := load(t, "bus:\n  namespace: "+gwNS+"\n", "DATABASE_URL="+dbtest.PostgresURL(t), "REDIS_URL="+bc.RedisURL, "API_KEY=gateway-key")
	gateway := start(t, app.Gateway(gwCfg, "test", log.Discard(), whatsapp.WithClientConfigurer(func(cli *whatsmeow.Client) {
		wasim.ConfigureClient(cli, sim)
	})))

	hubCfg := load(t, "bus:\n  namespace: "+hubNS+"\nhub:\n  gateway_namespace: "+gwNS+"\n",
		"DATABASE_URL="+dbtest.PostgresURL(t), "REDIS_URL="+bc.RedisURL,
		"HUB_CHANNEL=remote", "GATEWAY_URL="+gateway, "GATEWAY_API_KEY=gateway-key")
	hub := start(t, app.Hub(hubCfg, "test", log.Discard()))

	c, err := client.NewWithKey(hub, "hub-key")
	require.NoError(t, err)
	ctx := t.Context()
	agent, err := sim.NewPhone("5561900000001")
	require.NoError(t, err)
	customer, err := sim.NewPhone("5561900000002")
	require.NoError(t, err)

	pairThroughHub(t, c, "support", agent)

	text := "sent by the hub through the gateway"
	sent, err := c.SendMessageWithResponse(ctx, "support", nil, client.SendMessageRequest{To: "+" + customer.Number(), Type: client.SendMessageRequestTypeText, Text: &text})
	require.NoError(t, err)
	require.Equal(t, http.StatusAccepted, sent.StatusCode(), string(sent.Body))
	got, err := customer.WaitMessage(ctx, func(m wasim.Message) bool { return m.Text == text })
	require.NoError(t, err)
	require.NoError(t, customer.SendReceipt(ctx, agent.JID(), []string{got.ID}, types.ReceiptTypeRead))

	// The hub keeps its own record under its own id; the gateway's events move it to read.
	hubID := sent.JSON202.Id
	require.Equal(t, hubID, got.ID, "the gateway sends under the hub's id")
	deadline := time.Now().Add(20 * time.Second)
	for {
		res, err := c.GetMessageWithResponse(ctx, "support", hubID)
		require.NoError(t, err)
		require.NotNil(t, res.JSON200, string(res.Body))
		if res.JSON200.Status == client.MessageStatusRead {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("hub message is %s after 20s, want read: %s", res.JSON200.Status, res.Body)
		}
		time.Sleep(20 * time.Millisecond) // polling interval, bounded by the deadline
	}
}

// pairThroughHub creates session id through the hub, has phone scan its QR, and waits until the
// hub sees it connected (which it learns from the gateway's events).
func pairThroughHub(t *testing.T, c *client.ClientWithResponses, id string, phone *wasim.Phone) {
	t.Helper()
	ctx := t.Context()
	created, err := c.CreateSessionWithResponse(ctx, client.CreateSessionRequest{Id: id})
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, created.StatusCode(), string(created.Body))
	var qr string
	channeltest.Eventually(t, 15*time.Second, "QR through the hub", func() bool {
		res, err := c.GetSessionQRWithResponse(ctx, id, nil)
		require.NoError(t, err)
		if res.JSON200 != nil {
			qr = res.JSON200.Qr
		}
		return qr != ""
	})
	_, err = phone.ScanQR(ctx, qr)
	require.NoError(t, err)
	channeltest.Eventually(t, 15*time.Second, "connected through the hub", func() bool {
		res, err := c.GetSessionWithResponse(ctx, id)
		require.NoError(t, err)
		return res.JSON200 != nil && res.JSON200.Status == client.SessionStatusConnected
	})
}
