package wasim_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
	"google.golang.org/protobuf/proto"

	"github.com/28web/hub/channels/whatsapp/wasim"
	"github.com/28web/hub/channels/whatsapp/wasim/simclient"
)

func call(t *testing.T, h http.Handler, method, path string, body any, out any) int {
	t.Helper()
	var buf bytes.Buffer
	if body != nil {
		require.NoError(t, json.NewEncoder(&buf).Encode(body))
	}
	req := httptest.NewRequestWithContext(t.Context(), method, path, &buf)
	req.ContentLength = int64(buf.Len())
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if out != nil {
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), out), rec.Body.String())
	}
	return rec.Code
}

func TestControlAPI(t *testing.T) {
	t.Parallel()
	sim := newSim(t)
	h := sim.ControlHandler()

	var created map[string]string
	require.Equal(t, http.StatusCreated, call(t, h, "POST", "/_sim/phones", map[string]string{"number": "5511999990601", "push_name": "Ctl"}, &created))
	require.Equal(t, "5511999990601@s.whatsapp.net", created["jid"])
	require.Equal(t, http.StatusBadRequest, call(t, h, "POST", "/_sim/phones", map[string]string{"number": "abc"}, nil))
	_, ok := sim.Phone("5511999990601")
	require.True(t, ok)

	// Pair a real client by posting its QR to the scan endpoint.
	c := newClient(t, sim, "ctl", filepath.Join(t.TempDir(), "ctl.db"))
	c.cli.EmitAppStateEventsOnFullSync = true // the first contact patch arrives as a full sync
	ctx := waitCtx(t)
	qrCh, err := c.cli.GetQRChannel(ctx)
	require.NoError(t, err)
	require.NoError(t, c.cli.Connect())
	item := <-qrCh
	require.Equal(t, whatsmeow.QRChannelEventCode, item.Event)
	var scanned map[string]string
	require.Equal(t, http.StatusOK, call(t, h, "POST", "/_sim/phones/5511999990601/scan", map[string]string{"qr": item.Code}, &scanned))
	waitFor[*events.Connected](c, nil)
	require.Equal(t, c.cli.Store.ID.String(), scanned["device"])

	// Another phone sends through the API; the client gets it.
	require.Equal(t, http.StatusCreated, call(t, h, "POST", "/_sim/phones", map[string]string{"number": "5511999990602"}, nil))
	var sent map[string]string
	require.Equal(t, http.StatusOK, call(t, h, "POST", "/_sim/phones/5511999990602/send", map[string]string{"to": "5511999990601", "text": "via api"}, &sent))
	waitFor(c, func(m *events.Message) bool {
		return m.Info.ID == sent["id"] && m.Message.GetConversation() == "via api"
	})

	var edited map[string]string
	require.Equal(t, http.StatusOK, call(t, h, "POST", "/_sim/phones/5511999990602/edit", map[string]string{"to": "5511999990601", "id": sent["id"], "text": "via api!"}, &edited))
	waitFor(c, func(m *events.Message) bool { return m.IsEdit && m.Info.ID == edited["id"] })
	require.Equal(t, http.StatusOK, call(t, h, "POST", "/_sim/phones/5511999990602/react", map[string]string{"to": "5511999990601", "id": sent["id"], "reaction": "❤"}, nil))
	waitFor(c, func(m *events.Message) bool { return m.Message.GetReactionMessage().GetText() == "❤" })
	var img map[string]string
	require.Equal(t, http.StatusOK, call(t, h, "POST", "/_sim/phones/5511999990602/image", map[string]any{"to": "5511999990601", "data": []byte("img"), "mimetype": "image/png"}, &img))
	waitFor(c, func(m *events.Message) bool { return m.Info.ID == img["id"] && m.Message.GetImageMessage() != nil })
	require.Equal(t, http.StatusNotFound, call(t, h, "POST", "/_sim/phones/5511999990602/send", map[string]string{"to": "5599", "text": "x"}, nil))
	require.Equal(t, http.StatusBadRequest, call(t, h, "POST", "/_sim/phones/5511999990602/send", "not an object", nil))

	// What the client sends shows up in the phone's messages.
	r, err := c.cli.SendMessage(ctx, types.NewJID("5511999990602", types.DefaultUserServer), &waE2E.Message{Conversation: proto.String("to the api phone")})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		var msgs []wasim.Message
		call(t, h, "GET", "/_sim/phones/5511999990602/messages", nil, &msgs)
		for _, m := range msgs {
			if m.ID == r.ID && m.Text == "to the api phone" {
				return true
			}
		}
		return false
	}, waitLimit, 5*time.Millisecond)

	require.Equal(t, http.StatusOK, call(t, h, "POST", "/_sim/phones/5511999990601/push-name", map[string]string{"text": "Via API"}, nil))
	waitFor(c, func(e *events.PushNameSetting) bool { return e.Action.GetName() == "Via API" })
	require.Equal(t, http.StatusOK, call(t, h, "POST", "/_sim/phones/5511999990601/contact", map[string]string{"to": "5511999990602", "first_name": "P", "text": "Peer Two"}, nil))
	waitFor(c, func(e *events.Contact) bool { return e.Action.GetFullName() == "Peer Two" })
	require.Equal(t, http.StatusOK, call(t, h, "POST", "/_sim/phones/5511999990602/presence", map[string]bool{"available": true}, nil))

	var devices []wasim.DeviceInfo
	require.Equal(t, http.StatusOK, call(t, h, "GET", "/_sim/devices", nil, &devices))
	require.Len(t, devices, 3)
	var stats wasim.Stats
	require.Equal(t, http.StatusOK, call(t, h, "GET", "/_sim/stats", nil, &stats))
	require.GreaterOrEqual(t, stats.MessagesRouted, int64(1))
	var routed []wasim.Routed
	require.Equal(t, http.StatusOK, call(t, h, "GET", "/_sim/routed", nil, &routed))
	require.NotEmpty(t, routed)

	// Faults through the API.
	require.Equal(t, http.StatusNotFound, call(t, h, "POST", "/_sim/faults/drop", map[string]string{"jid": "5599"}, nil))
	// A phone number where a device is meant: its linked device; one without any is refused.
	require.Equal(t, http.StatusOK, call(t, h, "POST", "/_sim/faults/slow-link", map[string]any{"jid": "+55 11 99999-0601", "duration_ms": 1}, nil))
	require.Equal(t, http.StatusBadRequest, call(t, h, "POST", "/_sim/faults/slow-link", map[string]any{"jid": "5511999990602", "duration_ms": 1}, nil))
	require.Equal(t, http.StatusOK, call(t, h, "POST", "/_sim/faults/replace", map[string]string{"jid": c.cli.Store.ID.String()}, nil))
	waitFor[*events.StreamReplaced](c, nil)
	require.Equal(t, http.StatusOK, call(t, h, "POST", "/_sim/phones/5511999990601/receipt",
		map[string]any{"to": "5511999990602", "ids": []string{sent["id"]}, "type": "read"}, nil))
	var receipts []wasim.Receipt
	require.Eventually(t, func() bool {
		call(t, h, "GET", "/_sim/phones/5511999990602/receipts", nil, &receipts)
		for _, r := range receipts {
			if r.Type == string(types.ReceiptTypeRead) && r.IDs[0] == sent["id"] {
				return true
			}
		}
		return false
	}, waitLimit, 5*time.Millisecond)
}

func TestLogout(t *testing.T) {
	t.Parallel()
	sim := newSim(t)
	phone := newPhone(t, sim, "5511999990701")
	a := newPairedClient(t, sim, phone, "a")
	jid := *a.cli.Store.ID
	require.NoError(t, a.cli.Logout(waitCtx(t)))
	d, ok := sim.Device(jid)
	require.True(t, ok)
	require.Equal(t, wasim.DeviceRemoved, d.State)
}

func TestRemoteSimulator(t *testing.T) {
	t.Parallel()
	// A simulator serving its control API, reached as if it ran in another process.
	sim, err := wasim.New(wasim.Options{Config: wasim.Config{ControlAPI: true}})
	require.NoError(t, err)
	require.NoError(t, sim.Start(t.Context()))
	t.Cleanup(func() { _ = sim.Close() })
	ctx := waitCtx(t)

	remote, err := simclient.DialRemote(ctx, "http://"+sim.Addr())
	require.NoError(t, err)
	require.Equal(t, sim.Addr(), remote.Addr)
	require.Equal(t, sim.RootPublicKey(), remote.RootPublicKey)
	_, err = simclient.DialRemote(ctx, "ftp://nowhere")
	require.Error(t, err)

	phone := newPhone(t, sim, "5511999990901")
	c := newClient(t, sim, "remote", filepath.Join(t.TempDir(), "remote.db"))
	remote.ConfigureClient(c.cli)
	_, err = phone.PairClient(ctx, c.cli)
	require.NoError(t, err)
}

func TestControlBulkPhones(t *testing.T) {
	t.Parallel()
	sim := newSim(t)
	h := sim.ControlHandler()

	var got struct{ Numbers []string }
	require.Equal(t, http.StatusCreated, call(t, h, "POST", "/_sim/phones/bulk", map[string]any{"prefix": "5531", "count": 3, "start": 7}, &got))
	require.Equal(t, []string{"553100000007", "553100000008", "553100000009"}, got.Numbers)
	for _, n := range got.Numbers {
		p, ok := sim.Phone(n)
		require.True(t, ok, n)
		require.Equal(t, n+"@s.whatsapp.net", p.JID().String())
	}
	// Again, overlapping: the existing phones are kept.
	require.Equal(t, http.StatusCreated, call(t, h, "POST", "/_sim/phones/bulk", map[string]any{"prefix": "5531", "count": 2, "start": 9, "digits": 4}, &got))
	require.Equal(t, []string{"55310009", "55310010"}, got.Numbers)

	for name, body := range map[string]map[string]any{
		"no prefix":       {"count": 1},
		"letters":         {"prefix": "55a", "count": 1},
		"no count":        {"prefix": "55"},
		"too many":        {"prefix": "55", "count": 100001},
		"does not fit":    {"prefix": "55", "count": 11, "digits": 1},
		"negative start":  {"prefix": "55", "count": 1, "start": -1},
		"too many digits": {"prefix": "55", "count": 1, "digits": 13},
	} {
		require.Equal(t, http.StatusBadRequest, call(t, h, "POST", "/_sim/phones/bulk", body, nil), name)
	}
}
