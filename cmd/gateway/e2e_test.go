package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"sync/atomic"
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
	"github.com/28web/hub/openapi/contracttest"
	"github.com/28web/hub/platform/bus/bustest"
	"github.com/28web/hub/platform/db/dbtest"
	"github.com/28web/hub/platform/httpserver"
	"github.com/28web/hub/platform/log"
)

const e2eKey = "e2e-key"

// e2eNumbers hands out phone numbers unique within the test binary.
var e2eNumbers atomic.Int64

func e2eNumber() string { return fmt.Sprintf("55219%08d", 20000000+e2eNumbers.Add(1)) }

// deployment is one of the targets the suite runs on.
type deployment struct {
	name string
	env  func(t *testing.T) ([]string, func(*config.Config))
}

var deployments = []deployment{
	{"sqlite+inprocess", func(t *testing.T) ([]string, func(*config.Config)) {
		return []string{"SESSIONS_PATH=" + t.TempDir()}, func(*config.Config) {}
	}},
	{"postgres+redis", func(t *testing.T) ([]string, func(*config.Config)) {
		bc := bustest.Redis(t)
		return []string{"SESSIONS_PATH=" + t.TempDir(), "DATABASE_URL=" + dbtest.PostgresURL(t), "REDIS_URL=" + bc.RedisURL},
			func(c *config.Config) {
				c.Bus.Namespace, c.Bus.ClaimInterval, c.Bus.MaxIdleTime = bc.Namespace, bc.ClaimInterval, bc.MaxIdleTime
			}
	}},
}

// e2eGateway is a whole gateway wired as in production, its WhatsApp clients pointed at an
// in-process simulator, driven through the generated Go client.
type e2eGateway struct {
	sim    *wasim.Simulator
	api    *client.ClientWithResponses
	stop   func()
	base   string
	config *config.Config
}

func startE2E(t *testing.T, sim *wasim.Simulator, environ []string, adjust func(*config.Config)) *e2eGateway {
	t.Helper()
	env := append([]string{"API_KEY=" + e2eKey, "HOST=127.0.0.1", "PORT=0"}, environ...)
	cfg, err := config.Load(config.LoadOptions{Environ: env})
	require.NoError(t, err)
	cfg.Media.AllowPrivateNetworks = true // media URLs are served on loopback here
	cfg.Queue.InitialBackoff, cfg.Queue.MaxBackoff = 50*time.Millisecond, 500*time.Millisecond
	adjust(cfg)
	var srv *httpserver.Server
	app := fx.New(app.Gateway(cfg, "test", e2eLogger(), whatsapp.WithClientConfigurer(func(cli *whatsmeow.Client) {
		wasim.ConfigureClient(cli, sim)
	})), fx.Populate(&srv), fx.NopLogger)
	require.NoError(t, app.Err())
	require.NoError(t, app.Start(t.Context()))
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			require.NoError(t, app.Stop(context.Background()))
		}
	}
	t.Cleanup(stop)
	base := "http://" + srv.Addr()
	c, err := client.NewWithKey(base, e2eKey, client.WithHTTPClient(contracttest.Client(t)))
	require.NoError(t, err)
	return &e2eGateway{sim: sim, api: c, stop: stop, base: base, config: cfg}
}

func newSim(t *testing.T) *wasim.Simulator {
	sim, err := wasim.New(wasim.Options{Logger: log.Discard()})
	require.NoError(t, err)
	require.NoError(t, sim.Start(t.Context()))
	t.Cleanup(func() { _ = sim.Close() })
	return sim
}

// pair creates session id and links it to phone through the QR, as a person would.
func (g *e2eGateway) pair(t testing.TB, id string, phone *wasim.Phone) {
	t.Helper()
	ctx := t.Context()
	created, err := g.api.CreateSessionWithResponse(ctx, client.CreateSessionRequest{Id: id})
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, created.StatusCode(), string(created.Body))

	var qr string
	channeltest.Eventually(t, 15*time.Second, "QR available", func() bool {
		res, err := g.api.GetSessionQRWithResponse(ctx, id, nil)
		require.NoError(t, err)
		if res.JSON200 == nil {
			return false
		}
		qr = res.JSON200.Qr
		return qr != ""
	})
	_, err = phone.ScanQR(ctx, qr)
	require.NoError(t, err)
	channeltest.Eventually(t, 15*time.Second, "session connected", func() bool {
		res, err := g.api.GetSessionHealthWithResponse(ctx, id)
		require.NoError(t, err)
		return res.JSON200 != nil && res.JSON200.Healthy
	})
}

func (g *e2eGateway) send(t testing.TB, session string, body client.SendMessageRequest) string {
	t.Helper()
	res, err := g.api.SendMessageWithResponse(t.Context(), session, nil, body)
	require.NoError(t, err)
	for backOff(t, res.HTTPResponse) {
		res, err = g.api.SendMessageWithResponse(t.Context(), session, nil, body)
		require.NoError(t, err)
	}
	require.Equal(t, http.StatusAccepted, res.StatusCode(), string(res.Body))
	require.Equal(t, client.MessageStatusQueued, res.JSON202.Status)
	return res.JSON202.Id
}

// backOff reports whether res is a 429, after waiting as long as its Retry-After asks: the
// tests poll like any client and honour the gateway's rate limit.
func backOff(t testing.TB, res *http.Response) bool {
	t.Helper()
	if res.StatusCode != http.StatusTooManyRequests {
		return false
	}
	secs, err := strconv.Atoi(res.Header.Get("Retry-After"))
	require.NoError(t, err, "a 429 says when to retry")
	select {
	case <-time.After(time.Duration(secs) * time.Second):
	case <-t.Context().Done():
	}
	return true
}

// rank orders outbound statuses: waiting for sent is satisfied by delivered or read.
var rank = map[client.MessageStatus]int{client.MessageStatusQueued: 0, client.MessageStatusSent: 1,
	client.MessageStatusDelivered: 2, client.MessageStatusRead: 3}

// waitStatus waits until the message reached want (or a later outbound status).
func (g *e2eGateway) waitStatus(t testing.TB, session, id string, want client.MessageStatus) client.Message {
	t.Helper()
	var m client.Message
	deadline := time.Now().Add(20 * time.Second)
	for {
		res, err := g.api.GetMessageWithResponse(t.Context(), session, id)
		require.NoError(t, err)
		if backOff(t, res.HTTPResponse) {
			continue // polled faster than the rate limit allows
		}
		require.NotNil(t, res.JSON200, string(res.Body))
		m = *res.JSON200
		if m.Status == want || rank[m.Status] > rank[want] {
			return m
		}
		require.NotEqual(t, client.MessageStatusFailed, m.Status, "message %s (%s) failed: %v", id, m.Type, m.Error)
		if time.Now().After(deadline) {
			t.Fatalf("message %s (%s) is %s after 20s, want %s (error: %v, attempts %d)", id, m.Type, m.Status, want, m.Error, m.Attempts)
		}
		time.Sleep(20 * time.Millisecond) // polling interval, bounded by the deadline above
	}
}

func ptr[T any](v T) *T { return &v }

// TestEndToEnd runs the API suite on every deployment: create a session, scan its QR with a
// simulated phone, send every message type to another phone, see each arrive and its status
// reach read, and list them.
func TestEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end")
	}
	for _, d := range deployments {
		t.Run(d.name, func(t *testing.T) {
			environ, adjust := d.env(t)
			sim := newSim(t)
			g := startE2E(t, sim, environ, adjust)
			ctx := t.Context()

			agent, err := sim.NewPhone(e2eNumber())
			require.NoError(t, err)
			customer, err := sim.NewPhone(e2eNumber())
			require.NoError(t, err)
			g.pair(t, "support", agent)

			files := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "application/pdf")
				_, _ = w.Write([]byte("%PDF-1.4 e2e invoice"))
			}))
			t.Cleanup(files.Close)
			png := []byte("\x89PNG\r\n\x1a\n e2e image bytes")
			to := "+" + customer.Number()

			first := g.send(t, "support", client.SendMessageRequest{To: to, Type: client.SendMessageRequestTypeText, Text: ptr("hello from e2e")})
			bodies := []client.SendMessageRequest{
				{To: to, Type: client.SendMessageRequestTypeText, Text: ptr("a reply"), QuotedMessageId: ptr(first), LinkPreview: ptr(true)},
				{To: to, Type: client.SendMessageRequestTypeImage, Text: ptr("caption"), Media: &client.MediaInput{Data: &png, MimeType: ptr("image/png")}},
				{To: to, Type: client.SendMessageRequestTypeVideo, Media: &client.MediaInput{Data: &png, MimeType: ptr("video/mp4")}},
				{To: to, Type: client.SendMessageRequestTypeAudio, Media: &client.MediaInput{Data: &png, MimeType: ptr("audio/ogg; codecs=opus"), VoiceNote: ptr(true)}},
				{To: to, Type: client.SendMessageRequestTypeDocument, Media: &client.MediaInput{Url: ptr(files.URL + "/invoice.pdf"), FileName: ptr("invoice.pdf")}},
				{To: to, Type: client.SendMessageRequestTypeSticker, Media: &client.MediaInput{Data: &png, MimeType: ptr("image/webp")}},
				{To: to, Type: client.SendMessageRequestTypeLocation, Location: &client.LocationInput{Latitude: -23.55, Longitude: -46.63, Name: ptr("office")}},
				{To: to, Type: client.SendMessageRequestTypeContact, Contact: &client.ContactInput{DisplayName: "Support", Vcard: "BEGIN:VCARD\nVERSION:3.0\nFN:Support\nEND:VCARD"}},
				{To: to, Type: client.SendMessageRequestTypeReaction, Reaction: &client.ReactionInput{MessageId: first, Emoji: "👍"}},
			}
			ids := []string{first}
			for _, b := range bodies {
				ids = append(ids, g.send(t, "support", b))
			}
			for _, id := range ids {
				g.waitStatus(t, "support", id, client.MessageStatusSent)
				_, err := customer.WaitMessage(ctx, func(m wasim.Message) bool { return m.ID == id })
				require.NoError(t, err, "the customer's phone receives %s", id)
			}
			got, err := customer.WaitMessage(ctx, func(m wasim.Message) bool { return m.ID == first })
			require.NoError(t, err)
			require.Equal(t, "hello from e2e", got.Text, "decrypted by the phone")

			require.NoError(t, customer.SendReceipt(ctx, agent.JID(), ids, types.ReceiptTypeRead))
			for _, id := range ids {
				m := g.waitStatus(t, "support", id, client.MessageStatusRead)
				require.NotNil(t, m.ReadAt)
			}

			list, err := g.api.ListMessagesWithResponse(ctx, "support", &client.ListMessagesParams{Direction: ptr(client.ListMessagesParamsDirectionOut), Limit: ptr(int64(50))})
			require.NoError(t, err)
			require.NotNil(t, list.JSON200, string(list.Body))
			require.NotNil(t, list.JSON200.Messages)
			require.Len(t, *list.JSON200.Messages, len(ids))

			// And the other way: the customer writes, the gateway stores it as incoming.
			inID, err := customer.SendText(ctx, agent.JID(), "I need help")
			require.NoError(t, err)
			channeltest.Eventually(t, 20*time.Second, "incoming message stored", func() bool {
				res, err := g.api.GetMessageWithResponse(ctx, "support", inID)
				require.NoError(t, err)
				return res.StatusCode() == http.StatusOK
			})
			in := g.waitStatus(t, "support", inID, client.MessageStatusReceived)
			require.Equal(t, "I need help", *in.Body)
		})
	}
}

// e2eLogger is silent unless E2E_DEBUG is set.
func e2eLogger() *slog.Logger {
	if os.Getenv("E2E_DEBUG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return log.Discard()
}
