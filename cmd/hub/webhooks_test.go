package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/types"
	"go.uber.org/fx"

	"github.com/28web/hub/channels/core/channeltest"
	"github.com/28web/hub/channels/core/remote"
	"github.com/28web/hub/channels/whatsapp"
	"github.com/28web/hub/channels/whatsapp/wasim"
	"github.com/28web/hub/cmd/internal/app"
	"github.com/28web/hub/openapi/client"
	"github.com/28web/hub/platform/httpserver"
	"github.com/28web/hub/platform/log"
)

const hubWebhookSecret = "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="

// freePort reserves a loopback port for a process the gateway must know before it starts.
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := l.Addr().(*net.TCPAddr).Port
	require.NoError(t, l.Close())
	return fmt.Sprint(port)
}

// startStoppable starts an app and returns its base URL and a stop function (also run at cleanup).
func startStoppable(t *testing.T, opts fx.Option) (string, func()) {
	t.Helper()
	var srv *httpserver.Server
	a := fx.New(opts, fx.Populate(&srv), fx.NopLogger)
	require.NoError(t, a.Err())
	require.NoError(t, a.Start(t.Context()))
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			require.NoError(t, a.Stop(context.Background()))
		}
	}
	t.Cleanup(stop)
	return "http://" + srv.Addr(), stop
}

// TestRemoteModeOverWebhooks: a hub with no Redis at all drives a gateway and takes its events
// from the gateway's signed webhooks; events the gateway gave up on while the hub was down arrive
// once it is back, exactly once.
func TestRemoteModeOverWebhooks(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end")
	}
	sim, err := wasim.New(wasim.Options{Logger: log.Discard()})
	require.NoError(t, err)
	require.NoError(t, sim.Start(t.Context()))
	t.Cleanup(func() { _ = sim.Close() })

	hubPort := freePort(t)
	hubEvents := "http://127.0.0.1:" + hubPort + remote.ReceiverPath
	// Deliveries to a hub that is down give up fast here, so that catching up has work to do.
	gwCfg := load(t, "webhook:\n  secret: "+hubWebhookSecret+"\n  retry_schedule: [20ms, 40ms]\n  jitter: 0\n",
		"API_KEY=gateway-key", "APP_WEBHOOK_URL="+hubEvents)
	gateway, _ := startStoppable(t, app.Gateway(gwCfg, "test", log.Discard(), whatsapp.WithClientConfigurer(func(cli *whatsmeow.Client) {
		wasim.ConfigureClient(cli, sim)
	})))
	hubData := t.TempDir()
	hubCfg := func() fx.Option {
		cfg := load(t, "", "PORT="+hubPort, "SESSIONS_PATH="+hubData, "HUB_CHANNEL=remote", "HUB_EVENTS=webhooks",
			"HUB_WEBHOOK_SECRET="+hubWebhookSecret, "GATEWAY_URL="+gateway, "GATEWAY_API_KEY=gateway-key")
		return app.Hub(cfg, "test", log.Discard())
	}
	hub, stopHub := startStoppable(t, hubCfg())

	c, err := client.NewWithKey(hub, "hub-key")
	require.NoError(t, err)
	ctx := t.Context()
	agent, err := sim.NewPhone("5561900000011")
	require.NoError(t, err)
	customer, err := sim.NewPhone("5561900000012")
	require.NoError(t, err)
	pairThroughHub(t, c, "support", agent) // connected: the hub learned it by webhook

	text := "sent by the hub, acked by webhook"
	sent, err := c.SendMessageWithResponse(ctx, "support", nil, client.SendMessageRequest{To: "+" + customer.Number(), Type: client.SendMessageRequestTypeText, Text: &text})
	require.NoError(t, err)
	require.Equal(t, http.StatusAccepted, sent.StatusCode(), string(sent.Body))
	got, err := customer.WaitMessage(ctx, func(m wasim.Message) bool { return m.Text == text })
	require.NoError(t, err)
	require.NoError(t, customer.SendReceipt(ctx, agent.JID(), []string{got.ID}, types.ReceiptTypeRead))
	channeltest.Eventually(t, 20*time.Second, "read, from the gateway's message_ack webhook", func() bool {
		res, err := c.GetMessageWithResponse(ctx, "support", sent.JSON202.Id)
		require.NoError(t, err)
		return res.JSON200 != nil && res.JSON200.Status == client.MessageStatusRead
	})

	// The hub goes down; the customer writes; the gateway's deliveries to the hub die.
	stopHub()
	gw, err := client.NewWithKey(gateway, "gateway-key")
	require.NoError(t, err)
	inID, err := customer.SendText(ctx, agent.JID(), "written while the hub was down")
	require.NoError(t, err)
	channeltest.Eventually(t, 20*time.Second, "the gateway gives up delivering it", func() bool {
		dead := client.ListWebhookDeliveriesParamsStatus("dead")
		res, err := gw.ListWebhookDeliveriesWithResponse(ctx, &client.ListWebhookDeliveriesParams{Status: &dead})
		require.NoError(t, err)
		return res.JSON200 != nil && res.JSON200.Deliveries != nil && len(*res.JSON200.Deliveries) > 0
	})

	// Back up: it asks for what it missed; the message arrives, once.
	hub, _ = startStoppable(t, hubCfg())
	c, err = client.NewWithKey(hub, "hub-key")
	require.NoError(t, err)
	channeltest.Eventually(t, 20*time.Second, "the missed message caught up", func() bool {
		res, err := c.GetMessageWithResponse(ctx, "support", inID)
		require.NoError(t, err)
		return res.JSON200 != nil && res.JSON200.Direction == client.MessageDirectionIn
	})
	list, err := c.ListMessagesWithResponse(ctx, "support", &client.ListMessagesParams{Direction: ptrTo(client.ListMessagesParamsDirectionIn)})
	require.NoError(t, err)
	require.NotNil(t, list.JSON200, string(list.Body))
	count := 0
	for _, m := range *list.JSON200.Messages {
		if m.Id == inID {
			count++
		}
	}
	require.Equal(t, 1, count)
}

func ptrTo[T any](v T) *T { return &v }
