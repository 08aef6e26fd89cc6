package api_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/28web/hub/channels/core"
	"github.com/28web/hub/channels/core/api"
	"github.com/28web/hub/channels/core/channeltest"
	"github.com/28web/hub/channels/core/eventbus"
	"github.com/28web/hub/channels/core/fakechannel"
	"github.com/28web/hub/channels/core/media"
	"github.com/28web/hub/channels/core/pipeline"
	"github.com/28web/hub/channels/core/projection"
	"github.com/28web/hub/channels/core/store"
	"github.com/28web/hub/migrations"
	"github.com/28web/hub/openapi/contracttest"
	"github.com/28web/hub/platform/bus"
	"github.com/28web/hub/platform/bus/bustest"
	"github.com/28web/hub/platform/db/dbtest"
	"github.com/28web/hub/platform/health"
	"github.com/28web/hub/platform/httpserver"
	"github.com/28web/hub/platform/log"
)

const key = "test-key"

type gateway struct {
	t    testing.TB
	base string
	net  *fakechannel.Network
	// prov is the fake behind the default channel (fake, or fake-minimal for a minimal gateway);
	// other is the fake behind the other one.
	prov, other *fakechannel.Provider
	st          *store.Store
	// rec records every event published, besides the bus.
	rec *channeltest.Recorder
	// files serves media URLs on loopback: /a.pdf (a small PDF), /big (over the test limit),
	// /gone (404).
	files *httptest.Server
}

// teeSink publishes to the bus and records.
type teeSink struct {
	core.EventSink
	rec *channeltest.Recorder
}

func (s teeSink) Publish(ctx context.Context, e core.Event) error {
	if err := s.rec.Publish(ctx, e); err != nil {
		return err
	}
	return s.EventSink.Publish(ctx, e)
}

// newGateway runs the API on a real HTTP server over the fake channel, SQLite and the in-process bus.
func newGateway(t testing.TB, minimal bool) *gateway {
	return newGatewayFetching(t, minimal, media.NewFetcher(media.Config{AllowPrivateNetworks: true, MaxBytes: 1024}))
}

// newGatewayFetching is newGateway with its media fetcher.
func newGatewayFetching(t testing.TB, minimal bool, fetcher *media.Fetcher) *gateway {
	d := dbtest.SQLite(t, migrations.Core)
	b, err := bus.New(bustest.Config(), log.Discard())
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	rec := channeltest.NewRecorder()
	sink := teeSink{EventSink: eventbus.NewSink(b.Publisher()), rec: rec}
	net := fakechannel.NewNetwork()
	full, small := fakechannel.New(net, sink), fakechannel.New(net, sink)
	require.NoError(t, full.Start(t.Context()))
	require.NoError(t, small.Start(t.Context()))
	st := store.New(d.Bun())
	prov, other, def := full, small, fakechannel.Channel
	if minimal {
		prov, other, def = small, full, fakechannel.MinimalChannel
	}
	channels, err := core.NewChannels(st, def, full, fakechannel.Minimal(small))
	require.NoError(t, err)
	pipe, err := pipeline.New(pipeline.Config{InitialBackoff: 5 * time.Millisecond, MaxBackoff: 10 * time.Millisecond}, st, channels, b, sink, log.Discard(), nil)
	require.NoError(t, err)
	require.NoError(t, pipe.Start(t.Context()))
	t.Cleanup(func() { _ = pipe.Stop(context.Background()) })

	stopProjection, err := projection.New(st, log.Discard()).Start(b)
	require.NoError(t, err)
	t.Cleanup(stopProjection)

	cfg := httpserver.Config{Host: "127.0.0.1", APIKey: key}
	cfg.SetDefaults()
	cfg.RateLimit.PerIP.Disabled, cfg.RateLimit.PerKey.Disabled = true, true
	srv, err := httpserver.New(cfg, httpserver.APIInfo{Title: "test", Version: "test"}, log.Discard(), httpserver.WithErrorMappings(api.ErrorMappings()...))
	require.NoError(t, err)
	files := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/a.pdf":
			w.Header().Set("Content-Type", "application/pdf")
			_, _ = w.Write([]byte("%PDF-1.4 fake"))
		case "/big":
			_, _ = w.Write(bytes.Repeat([]byte("x"), 2048))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(files.Close)
	api.Register(srv.API(), api.Deps{Channels: channels, Store: st, Pipeline: pipe, Errors: srv.Errors(), Logger: log.Discard(), Sink: sink, Media: fetcher, Bus: b})
	reg, err := health.NewRegistry("test", time.Second, t.TempDir())
	require.NoError(t, err)
	health.Register(srv.API(), reg)
	require.NoError(t, srv.Start(t.Context()))
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	return &gateway{t: t, base: "http://" + srv.Addr(), net: net, prov: prov, other: other, st: st, rec: rec, files: files}
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(r.body, &m), string(r.body))
	return m
}

func (g *gateway) do(method, path string, body any, headers ...string) response {
	g.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		require.NoError(g.t, err)
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(g.t.Context(), method, g.base+path, rd)
	require.NoError(g.t, err)
	req.Header.Set("x-28web-gateway-key", key)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := contracttest.Client(g.t).Do(req)
	require.NoError(g.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(g.t, err)
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// connected creates session id and pairs it on the fake network.
func (g *gateway) connected(id string) {
	g.t.Helper()
	r := g.do("POST", "/api/v1/sessions", map[string]any{"id": id})
	require.Equal(g.t, 201, r.status, string(r.body))
	_, err := g.prov.Pair(g.t.Context(), core.SessionID(id))
	require.NoError(g.t, err)
}

func (g *gateway) waitMessage(session, id string, status core.MessageStatus) map[string]any {
	g.t.Helper()
	var m map[string]any
	channeltest.Eventually(g.t, 10*time.Second, "message "+id+" "+string(status), func() bool {
		r := g.do("GET", "/api/v1/sessions/"+session+"/messages/"+id, nil)
		require.Equal(g.t, 200, r.status, string(r.body))
		m = r.json(g.t)
		return m["status"] == string(status)
	})
	return m
}

func requireProblem(t *testing.T, r response, status int, contains ...string) {
	t.Helper()
	require.Equal(t, status, r.status, string(r.body))
	require.Equal(t, "application/problem+json", r.header.Get("Content-Type"))
	for _, c := range contains {
		require.Contains(t, string(r.body), c)
	}
}

func TestSessionsLifecycle(t *testing.T) {
	g := newGateway(t, false)
	r := g.do("POST", "/api/v1/sessions", map[string]any{"id": "s1"})
	require.Equal(t, 201, r.status, string(r.body))
	require.Equal(t, "/api/v1/sessions/s1", r.header.Get("Location"))
	body := r.json(t)
	require.Equal(t, "qr_code", body["status"])
	require.Contains(t, body["capabilities"], "edit_message")

	requireProblem(t, g.do("POST", "/api/v1/sessions", map[string]any{"id": "s1"}), 409)
	requireProblem(t, g.do("POST", "/api/v1/sessions", map[string]any{"id": "bad id!"}), 422, "body.id")
	requireProblem(t, g.do("POST", "/api/v1/sessions", `{"id":`), 400)

	r = g.do("GET", "/api/v1/sessions/s1/qr", nil)
	require.Equal(t, 200, r.status, string(r.body))
	qr := r.json(t)
	require.NotEmpty(t, qr["qr"])
	require.True(t, strings.HasPrefix(qr["image"].(string), "data:image/png;base64,"))
	r = g.do("GET", "/api/v1/sessions/s1/qr?format=image", nil)
	require.Equal(t, 200, r.status)
	require.Equal(t, "image/png", r.header.Get("Content-Type"))
	require.True(t, bytes.HasPrefix(r.body, []byte("\x89PNG")))

	r = g.do("POST", "/api/v1/sessions/s1/pairing-code", map[string]any{"phone": "+55 11 99999-0001"})
	require.Equal(t, 200, r.status, string(r.body))
	requireProblem(t, g.do("POST", "/api/v1/sessions/s1/pairing-code", map[string]any{"phone": "abc"}), 422, "body.phone")

	_, err := g.prov.Pair(t.Context(), "s1")
	require.NoError(t, err)
	r = g.do("GET", "/api/v1/sessions/s1", nil)
	require.Equal(t, "connected", r.json(t)["status"])
	requireProblem(t, g.do("GET", "/api/v1/sessions/s1/qr", nil), 409)

	r = g.do("GET", "/health/sessions", nil)
	require.Equal(t, 200, r.status)
	require.EqualValues(t, 1, r.json(t)["connected"])
	r = g.do("GET", "/health/sessions/s1", nil)
	require.Equal(t, true, r.json(t)["healthy"])

	r = g.do("GET", "/api/v1/sessions", nil)
	require.Len(t, r.json(t)["sessions"], 1)

	require.Equal(t, 204, g.do("DELETE", "/api/v1/sessions/s1", nil).status)
	requireProblem(t, g.do("GET", "/api/v1/sessions/s1", nil), 404)
	requireProblem(t, g.do("DELETE", "/api/v1/sessions/s1", nil), 404)
	requireProblem(t, g.do("GET", "/health/sessions/s1", nil), 404)
}

func TestSendAndTrackMessages(t *testing.T) {
	g := newGateway(t, false)
	g.connected("s1")
	peer := g.net.NewAccount()

	r := g.do("POST", "/api/v1/sessions/s1/messages", map[string]any{"to": string(peer), "type": "text", "text": "hello"})
	require.Equal(t, 202, r.status, string(r.body))
	msg := r.json(t)
	id := msg["id"].(string)
	require.Equal(t, "queued", msg["status"])
	require.Equal(t, "/api/v1/sessions/s1/messages/"+id, r.header.Get("Location"))

	g.waitMessage("s1", id, core.MessageStatusSent)
	require.NoError(t, g.prov.Ack(t.Context(), "s1", core.MessageID(id), core.AckReceived))
	g.waitMessage("s1", id, core.MessageStatusDelivered)
	require.NoError(t, g.prov.Ack(t.Context(), "s1", core.MessageID(id), core.AckRead))
	m := g.waitMessage("s1", id, core.MessageStatusRead)
	require.NotEmpty(t, m["readAt"])

	// Every type is accepted with its fields.
	png := base64.StdEncoding.EncodeToString([]byte("\x89PNG\r\n\x1a\nfake"))
	for _, body := range []map[string]any{
		{"to": string(peer), "type": "image", "text": "caption", "media": map[string]any{"data": png, "mimeType": "image/png"}},
		{"to": string(peer), "type": "document", "media": map[string]any{"url": g.files.URL + "/a.pdf"}},
		{"to": string(peer), "type": "audio", "media": map[string]any{"data": png, "mimeType": "audio/ogg; codecs=opus", "voiceNote": true}},
		{"to": string(peer), "type": "location", "location": map[string]any{"latitude": -23.5, "longitude": -46.6, "name": "office"}},
		{"to": string(peer), "type": "contact", "contact": map[string]any{"displayName": "Support", "vcard": "BEGIN:VCARD\nVERSION:3.0\nFN:S\nEND:VCARD"}},
		{"to": string(peer), "type": "reaction", "reaction": map[string]any{"messageId": id, "emoji": "👍"}},
		{"to": string(peer), "type": "text", "text": "reply", "quotedMessageId": id, "linkPreview": true},
	} {
		r := g.do("POST", "/api/v1/sessions/s1/messages", body)
		require.Equal(t, 202, r.status, "%v: %s", body["type"], r.body)
		g.waitMessage("s1", r.json(t)["id"].(string), core.MessageStatusSent)
	}

	// Reactions, edits, revokes and read receipts by message.
	r = g.do("POST", "/api/v1/sessions/s1/messages/"+id+"/reactions", map[string]any{"emoji": "❤️"})
	require.Equal(t, 202, r.status, string(r.body))
	r = g.do("PATCH", "/api/v1/sessions/s1/messages/"+id, map[string]any{"text": "hello (edited)"})
	require.Equal(t, 200, r.status, string(r.body))
	require.Equal(t, "hello (edited)", r.json(t)["body"])
	require.Equal(t, 204, g.do("DELETE", "/api/v1/sessions/s1/messages/"+id, nil).status)
	requireProblem(t, g.do("POST", "/api/v1/sessions/s1/messages/"+id+"/read", nil), 409, "outgoing")
	require.Equal(t, 204, g.do("POST", "/api/v1/sessions/s1/presence", map[string]any{"chatId": string(peer), "presence": "typing"}).status)

	// Incoming messages are listed too, and can be marked read.
	require.NoError(t, g.net.Deliver(t.Context(), peer, g.account("s1"), core.OutgoingMessage{ID: "IN1", Type: core.MessageText, Text: "hi there"}))
	channeltest.Eventually(t, 10*time.Second, "incoming stored", func() bool {
		return g.do("GET", "/api/v1/sessions/s1/messages/IN1", nil).status == 200
	})
	require.Equal(t, 204, g.do("POST", "/api/v1/sessions/s1/messages/IN1/read", nil).status)
	requireProblem(t, g.do("GET", "/api/v1/sessions/s1/messages/IN1/media", nil), 404)

	r = g.do("GET", "/api/v1/sessions/s1/messages?direction=in", nil)
	require.Equal(t, 200, r.status, string(r.body))
	in := r.json(t)["messages"].([]any)
	require.Len(t, in, 1)
	require.Equal(t, "read", in[0].(map[string]any)["status"])

	// Pages of 3 walk every message once.
	seen := map[string]bool{}
	cursor := ""
	for {
		r := g.do("GET", "/api/v1/sessions/s1/messages?limit=3&cursor="+cursor, nil)
		require.Equal(t, 200, r.status, string(r.body))
		page := r.json(t)
		for _, m := range page["messages"].([]any) {
			mid := m.(map[string]any)["id"].(string)
			require.False(t, seen[mid], "message %s twice", mid)
			seen[mid] = true
		}
		next, _ := page["nextCursor"].(string)
		if next == "" {
			break
		}
		cursor = next
	}
	require.Len(t, seen, 10)

	r = g.do("GET", "/health/performance", nil)
	require.Equal(t, 200, r.status)
	require.GreaterOrEqual(t, r.json(t)["processed"], float64(8))
	r = g.do("GET", "/health/system", nil)
	require.Equal(t, 200, r.status, string(r.body))
	require.Greater(t, r.json(t)["memory"].(map[string]any)["processRssBytes"], float64(0))
}

func (g *gateway) account(id string) core.ChatID {
	s, err := g.prov.Session(g.t.Context(), core.SessionID(id))
	require.NoError(g.t, err)
	return s.Account
}

func TestIdempotencyKey(t *testing.T) {
	g := newGateway(t, false)
	g.connected("s1")
	peer := string(g.net.NewAccount())
	body := fmt.Sprintf(`{"to":%q,"type":"text","text":"once"}`, peer)
	first := g.do("POST", "/api/v1/sessions/s1/messages", body, "Idempotency-Key", "abc")
	require.Equal(t, 202, first.status, string(first.body))
	again := g.do("POST", "/api/v1/sessions/s1/messages", body, "Idempotency-Key", "abc")
	require.Equal(t, 202, again.status)
	require.Equal(t, first.json(t)["id"], again.json(t)["id"])
	other := g.do("POST", "/api/v1/sessions/s1/messages", fmt.Sprintf(`{"to":%q,"type":"text","text":"twice?"}`, peer), "Idempotency-Key", "abc")
	requireProblem(t, other, 422, "idempotency key")
	g.waitMessage("s1", first.json(t)["id"].(string), core.MessageStatusSent)
	require.Len(t, g.net.Received(core.ChatID(peer)), 1)
}

func TestBadInput(t *testing.T) {
	g := newGateway(t, false)
	g.connected("s1")
	send := func(body any) response { return g.do("POST", "/api/v1/sessions/s1/messages", body) }
	cases := []struct {
		name     string
		body     any
		status   int
		contains []string
	}{
		{"text without text", map[string]any{"to": "5511999990001", "type": "text"}, 422, []string{"body.text"}},
		{"unknown type", map[string]any{"to": "5511999990001", "type": "hologram", "text": "x"}, 422, []string{"body.type"}},
		{"bad phone", map[string]any{"to": "call me", "type": "text", "text": "x"}, 422, []string{"body.to"}},
		{"short phone", map[string]any{"to": "+1 234", "type": "text", "text": "x"}, 422, []string{"body.to"}},
		{"another network's address", map[string]any{"to": "5511999990001@s.whatsapp.net", "type": "text", "text": "x"}, 422, []string{"body.to", "not an address of the fake network"}},
		{"media missing", map[string]any{"to": "5511999990001", "type": "image"}, 422, []string{"body.media"}},
		{"media url and data", map[string]any{"to": "5511999990001", "type": "image", "media": map[string]any{"url": "https://x.example/a.png", "data": "AAAA", "mimeType": "image/png"}}, 422, []string{"body.media"}},
		{"media bad url", map[string]any{"to": "5511999990001", "type": "image", "media": map[string]any{"url": "ftp://x.example/a.png"}}, 422, []string{"body.media.url"}},
		{"media data without type", map[string]any{"to": "5511999990001", "type": "image", "media": map[string]any{"data": "AAAA"}}, 422, []string{"body.media.mimeType"}},
		{"media not base64", map[string]any{"to": "5511999990001", "type": "image", "media": map[string]any{"data": "!!!", "mimeType": "image/png"}}, 422, []string{"body.media.data"}},
		{"latitude out of range", map[string]any{"to": "5511999990001", "type": "location", "location": map[string]any{"latitude": 91, "longitude": 0}}, 422, []string{"body.location.latitude"}},
		{"bad vcard", map[string]any{"to": "5511999990001", "type": "contact", "contact": map[string]any{"displayName": "x", "vcard": "hello"}}, 422, []string{"body.contact.vcard"}},
		{"sendAt in the past", map[string]any{"to": "5511999990001", "type": "text", "text": "x", "sendAt": "2020-01-01T00:00:00Z"}, 422, []string{"body.sendAt"}},
		{"unknown field", map[string]any{"to": "5511999990001", "type": "text", "text": "x", "colour": "red"}, 422, []string{"colour"}},
		{"not json", "{", 400, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { requireProblem(t, send(c.body), c.status, c.contains...) })
	}

	t.Run("too large", func(t *testing.T) {
		big := strings.Repeat("A", 24<<20)
		requireProblem(t, send(fmt.Sprintf(`{"to":"5511999990001","type":"image","media":{"data":%q,"mimeType":"image/png"}}`, big)), 413)
	})
	t.Run("unknown session", func(t *testing.T) {
		requireProblem(t, g.do("POST", "/api/v1/sessions/nope/messages", map[string]any{"to": "5511999990001", "type": "text", "text": "x"}), 404)
		requireProblem(t, g.do("GET", "/api/v1/sessions/nope/messages", nil), 404)
		requireProblem(t, g.do("GET", "/api/v1/sessions/nope/contacts", nil), 404)
	})
	t.Run("bad query", func(t *testing.T) {
		requireProblem(t, g.do("GET", "/api/v1/sessions/s1/messages?limit=1000", nil), 422, "limit")
		requireProblem(t, g.do("GET", "/api/v1/sessions/s1/messages?status=lost", nil), 422, "status")
		requireProblem(t, g.do("GET", "/api/v1/sessions/s1/messages?cursor=!!", nil), 422, "cursor")
	})
	t.Run("unknown message", func(t *testing.T) {
		requireProblem(t, g.do("GET", "/api/v1/sessions/s1/messages/NOPE", nil), 404)
		requireProblem(t, g.do("PATCH", "/api/v1/sessions/s1/messages/NOPE", map[string]any{"text": "x"}), 404)
	})
}

func TestContacts(t *testing.T) {
	g := newGateway(t, false)
	g.connected("s1")
	g.net.NewAccount()
	r := g.do("GET", "/api/v1/sessions/s1/contacts", nil)
	require.Equal(t, 200, r.status, string(r.body))
	require.Len(t, r.json(t)["contacts"], 1)
	r = g.do("POST", "/api/v1/sessions/s1/contacts/sync", nil)
	require.Equal(t, 200, r.status, string(r.body))
	stored, err := g.st.Contacts(t.Context(), "s1")
	require.NoError(t, err)
	require.Len(t, stored, 1)
}

func TestMissingCapabilitiesAnswer501(t *testing.T) {
	g := newGateway(t, true)
	g.connected("s1")
	peer := string(g.net.NewAccount())
	r := g.do("POST", "/api/v1/sessions/s1/messages", map[string]any{"to": peer, "type": "text", "text": "x"})
	require.Equal(t, 202, r.status)
	id := r.json(t)["id"].(string)
	g.waitMessage("s1", id, core.MessageStatusSent)
	for _, c := range []struct{ method, path string }{
		{"GET", "/api/v1/sessions/s1/qr"},
		{"POST", "/api/v1/sessions/s1/pairing-code"},
		{"PATCH", "/api/v1/sessions/s1/messages/" + id},
		{"DELETE", "/api/v1/sessions/s1/messages/" + id},
		{"POST", "/api/v1/sessions/s1/messages/" + id + "/read"},
		{"GET", "/api/v1/sessions/s1/messages/" + id + "/media"},
		{"POST", "/api/v1/sessions/s1/presence"},
		{"GET", "/api/v1/sessions/s1/contacts"},
		{"POST", "/api/v1/sessions/s1/contacts/sync"},
	} {
		var body any
		switch {
		case strings.HasSuffix(c.path, "pairing-code"):
			body = map[string]any{"phone": "+5511999990001"}
		case c.method == "PATCH":
			body = map[string]any{"text": "y"}
		case strings.HasSuffix(c.path, "presence"):
			body = map[string]any{"chatId": peer, "presence": "typing"}
		}
		requireProblem(t, g.do(c.method, c.path, body), 501, "does not support")
	}
}

// Media URLs are fetched when the message is accepted: a bad one is a 422 at once and nothing is
// queued; a good one is stored with the message, whose send no longer needs the URL.
func TestMediaURLsAreFetchedAtAccept(t *testing.T) {
	g := newGateway(t, false)
	g.connected("s1")
	peer := string(g.net.NewAccount())
	send := func(url string) response {
		return g.do("POST", "/api/v1/sessions/s1/messages", map[string]any{"to": peer, "type": "document", "media": map[string]any{"url": url}})
	}
	requireProblem(t, send(g.files.URL+"/gone"), 422, "body.media.url", "404")
	requireProblem(t, send(g.files.URL+"/big"), 422, "body.media.url", "limit")
	requireProblem(t, send("http://127.0.0.1:1/nothing-listens"), 422, "body.media.url", "unreachable")
	page := g.do("GET", "/api/v1/sessions/s1/messages", nil).json(t)
	require.Empty(t, page["messages"], "nothing was queued")

	r := send(g.files.URL + "/a.pdf")
	require.Equal(t, 202, r.status, string(r.body))
	id := r.json(t)["id"].(string)
	g.files.Close() // the URL is not needed any more
	g.waitMessage("s1", id, core.MessageStatusSent)
	got := g.net.Received(core.ChatID(peer))
	require.Len(t, got, 1)
	require.Equal(t, []byte("%PDF-1.4 fake"), got[0].Media.Data)
	require.Equal(t, "application/pdf", got[0].Media.MimeType)
	require.Equal(t, "a.pdf", got[0].Media.FileName)
}

// The SSRF policy applies at accept: without allow_private_networks a loopback URL is refused.
func TestMediaURLsOnPrivateAddressesAreRefused(t *testing.T) {
	g := newGatewayFetching(t, false, media.NewFetcher(media.Config{}))
	g.connected("s1")
	peer := string(g.net.NewAccount())
	for _, u := range []string{"http://localhost:8080/x", "http://169.254.169.254/latest/meta-data", "http://[::1]/x",
		"http://2130706433/x", g.files.URL + "/a.pdf"} {
		r := g.do("POST", "/api/v1/sessions/s1/messages", map[string]any{"to": peer, "type": "image", "media": map[string]any{"url": u}})
		requireProblem(t, r, 422, "not allowed")
	}
}

// A message type the channel cannot send is refused when it is accepted, not when it is sent.
func TestMessageTypesTheChannelLacksAre422AtAccept(t *testing.T) {
	g := newGateway(t, true)
	g.connected("s1")
	peer := string(g.net.NewAccount())
	r := g.do("POST", "/api/v1/sessions/s1/messages", map[string]any{"to": peer, "type": "location",
		"location": map[string]any{"latitude": 1, "longitude": 2}})
	requireProblem(t, r, 422, "channel fake-minimal cannot send location messages")
	page := g.do("GET", "/api/v1/sessions/s1/messages", nil).json(t)
	require.Empty(t, page["messages"], "nothing was queued")
	r = g.do("POST", "/api/v1/sessions/s1/messages", map[string]any{"to": peer, "type": "text", "text": "fine"})
	require.Equal(t, 202, r.status, string(r.body))
}

// GET /channels tells clients what each channel accepts before they send: the full fake lists
// every capability, the minimal one none.
func TestChannelsListWhatEachAccepts(t *testing.T) {
	channels := newGateway(t, false).do("GET", "/api/v1/channels", nil).json(t)["channels"].([]any)
	require.Len(t, channels, 2)
	full, minimal := channels[0].(map[string]any), channels[1].(map[string]any)
	require.Equal(t, "fake", full["channel"])
	require.ElementsMatch(t, []any{"qr_login", "pairing_code", "edit_message", "revoke_message", "mark_read", "presence", "media_download", "contacts"}, full["capabilities"])
	require.Contains(t, full["messageTypes"], "location")
	require.Equal(t, "fake-minimal", minimal["channel"])
	require.Equal(t, []any{"text"}, minimal["messageTypes"])
	require.Empty(t, minimal["capabilities"])
}

// Two channels in one gateway: each session is created on the channel it names (the default
// otherwise), and every operation goes to its channel's provider, with that channel's limits and
// capabilities.
func TestSessionsOfTwoChannelsInOneGateway(t *testing.T) {
	g := newGateway(t, false)
	g.connected("full")
	r := g.do("POST", "/api/v1/sessions", map[string]any{"id": "small", "channel": "fake-minimal"})
	require.Equal(t, 201, r.status, string(r.body))
	require.Equal(t, "fake-minimal", r.json(t)["channel"])
	require.Empty(t, r.json(t)["capabilities"])
	_, err := g.other.Pair(t.Context(), "small")
	require.NoError(t, err)

	requireProblem(t, g.do("POST", "/api/v1/sessions", map[string]any{"id": "nowhere", "channel": "telegram"}), 422,
		`unknown channel \"telegram\" (this gateway runs fake, fake-minimal)`)
	require.Equal(t, 404, g.do("GET", "/api/v1/sessions/nowhere", nil).status, "a refused creation leaves nothing")

	list := g.do("GET", "/api/v1/sessions", nil).json(t)["sessions"].([]any)
	require.Len(t, list, 2)
	require.Equal(t, "full", list[0].(map[string]any)["id"])
	require.Equal(t, "fake", list[0].(map[string]any)["channel"])
	require.Equal(t, "small", list[1].(map[string]any)["id"])
	require.Equal(t, "fake-minimal", list[1].(map[string]any)["channel"])

	// Each session sends through its own channel.
	peer := string(g.net.NewAccount())
	for _, session := range []string{"full", "small"} {
		r := g.do("POST", "/api/v1/sessions/"+session+"/messages", map[string]any{"to": peer, "type": "text", "text": "hi from " + session})
		require.Equal(t, 202, r.status, string(r.body))
		g.waitMessage(session, r.json(t)["id"].(string), core.MessageStatusSent)
	}
	loc := map[string]any{"to": peer, "type": "location", "location": map[string]any{"latitude": 1, "longitude": 2}}
	require.Equal(t, 202, g.do("POST", "/api/v1/sessions/full/messages", loc).status)
	requireProblem(t, g.do("POST", "/api/v1/sessions/small/messages", loc), 422, "channel fake-minimal cannot send location messages")
	requireProblem(t, g.do("GET", "/api/v1/sessions/small/qr", nil), 501, "does not support")

	stats := g.do("GET", "/health/sessions", nil).json(t)
	require.EqualValues(t, 2, stats["connected"])
}

// A failed message says why by problem type, as an immediate error would.
func TestFailedMessagesCarryTheirProblemType(t *testing.T) {
	g := newGateway(t, false)
	g.connected("s1")
	r := g.do("POST", "/api/v1/sessions/s1/messages", map[string]any{"to": fakechannel.UnknownRecipient, "type": "text", "text": "x"})
	require.Equal(t, 202, r.status, string(r.body))
	m := g.waitMessage("s1", r.json(t)["id"].(string), core.MessageStatusFailed)
	require.Equal(t, core.ProblemInvalid, m["errorType"])
}
