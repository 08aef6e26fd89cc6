package cloudsim_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/28web/hub/channels/whatsappcloud/cloudsim"
)

// ctl calls the control API and decodes a JSON answer into out (when not nil).
func ctl(t *testing.T, base, method, path string, body any, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		require.NoError(t, err)
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, base+path, rd)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	if out != nil && len(raw) > 0 {
		require.NoError(t, json.Unmarshal(raw, out), "body %s", raw)
	}
	return resp.StatusCode
}

func TestControlAPI(t *testing.T) {
	hook := newReceiver(t, appSecret)
	sim := cloudsim.New(cloudsim.DefaultConfig())
	t.Cleanup(func() { require.NoError(t, sim.Close()) })
	srv := httptest.NewServer(sim.Handler()) // Handler works without Start too
	t.Cleanup(srv.Close)
	base := srv.URL
	h := &harness{base: base, sim: sim, hook: hook}

	business := map[string]string{
		"waba_id": wabaID, "phone_number_id": phoneID, "display_phone_number": display,
		"verified_name": "Acme", "access_token": token, "app_secret": appSecret,
	}
	require.Equal(t, http.StatusCreated, ctl(t, base, http.MethodPost, "/_sim/businesses", business, nil))
	var e map[string]string
	require.Equal(t, http.StatusConflict, ctl(t, base, http.MethodPost, "/_sim/businesses", business, &e))
	assert.NotEmpty(t, e["error"])
	require.Equal(t, http.StatusBadRequest, ctl(t, base, http.MethodPost, "/_sim/businesses", map[string]string{"wabaid": "x"}, &e))

	require.Equal(t, http.StatusNoContent, ctl(t, base, http.MethodPost, "/_sim/subscriptions",
		map[string]string{"phone_number_id": phoneID, "callback_url": hook.url(), "verify_token": verifyToken}, nil))
	require.Equal(t, http.StatusBadRequest, ctl(t, base, http.MethodPost, "/_sim/subscriptions",
		map[string]string{"phone_number_id": phoneID, "callback_url": hook.url(), "verify_token": "wrong"}, &e))
	require.Equal(t, http.StatusNoContent, ctl(t, base, http.MethodPost, "/_sim/customers",
		map[string]string{"wa_id": custA, "profile_name": "Ana"}, nil))

	var sent struct{ ID string }
	require.Equal(t, http.StatusCreated, ctl(t, base, http.MethodPost, "/_sim/customers/"+custA+"/messages",
		map[string]string{"phone_number_id": phoneID, "text": "hi from curl"}, &sent))
	assert.Contains(t, sent.ID, "wamid.")
	assert.Equal(t, "hi from curl", hook.waitMessages(t, 1)[0].Text.Body)
	require.Equal(t, http.StatusCreated, ctl(t, base, http.MethodPost, "/_sim/customers/"+custA+"/messages",
		map[string]any{"phone_number_id": phoneID, "image": pngBytes, "mime_type": "image/png", "caption": "pic"}, &sent))
	assert.Equal(t, "pic", hook.waitMessages(t, 2)[1].Image.Caption)

	// The gateway side goes through the Graph API of the same listener.
	wamid := h.mustSend(t, textBody(custA, "answer"))
	hook.waitStatuses(t, wamid, "sent", "delivered")

	require.Equal(t, http.StatusCreated, ctl(t, base, http.MethodPost, "/_sim/customers/"+custA+"/messages",
		map[string]string{"phone_number_id": phoneID, "text": "quoting", "context_id": wamid}, &sent))
	assert.Equal(t, wamid, hook.waitMessages(t, 3)[2].Context.ID)

	require.Equal(t, http.StatusNoContent, ctl(t, base, http.MethodPost, "/_sim/customers/"+custA+"/read",
		map[string]string{"message_id": wamid}, nil))
	hook.waitStatuses(t, wamid, "sent", "delivered", "read")

	var received []cloudsim.Received
	require.Equal(t, http.StatusOK, ctl(t, base, http.MethodGet, "/_sim/customers/"+custA+"/received", nil, &received))
	require.Len(t, received, 1)
	assert.Equal(t, wamid, received[0].ID)
	assert.Equal(t, "answer", received[0].Body["text"].(map[string]any)["body"])
	require.Equal(t, http.StatusNotFound, ctl(t, base, http.MethodGet, "/_sim/customers/123/received", nil, &e))

	require.Equal(t, http.StatusNoContent, ctl(t, base, http.MethodPost, "/_sim/faults",
		map[string]any{"phone_number_id": phoneID, "count": 1, "http_status": 503, "code": 131000}, nil))
	status, resp, _ := h.send(t, textBody(custA, "x"))
	requireGraphErr(t, http.StatusServiceUnavailable, 131000, status, resp)
	require.Equal(t, http.StatusBadRequest, ctl(t, base, http.MethodPost, "/_sim/faults",
		map[string]any{"phone_number_id": phoneID, "count": 0, "http_status": 503, "code": 1}, &e))

	var clock struct{ Now string }
	require.Equal(t, http.StatusOK, ctl(t, base, http.MethodPost, "/_sim/clock", map[string]any{"advance_seconds": 25 * 3600}, &clock))
	assert.NotEmpty(t, clock.Now)
	late := h.mustSend(t, textBody(custA, "too late now"))
	assert.Equal(t, 131047, hook.waitStatuses(t, late, "failed")[0].Errors[0].Code)

	status, resp = h.call(t, http.MethodPost, "/v21.0/"+wabaID+"/message_templates", token, map[string]any{
		"name": "hello", "language": "en_US", "category": "UTILITY",
		"components": []map[string]any{{"type": "BODY", "text": "Hello"}},
	})
	require.Equal(t, http.StatusOK, status, "%v", resp)
	require.Equal(t, http.StatusNoContent, ctl(t, base, http.MethodPut, "/_sim/templates/"+wabaID+"/hello",
		map[string]string{"status": "REJECTED"}, nil))
	assert.Equal(t, "REJECTED", sim.Templates(wabaID)[0].Status)
	require.Equal(t, http.StatusNotFound, ctl(t, base, http.MethodPut, "/_sim/templates/"+wabaID+"/nope",
		map[string]string{"status": "APPROVED"}, &e))

	var stats struct{ Deliveries int }
	require.Equal(t, http.StatusOK, ctl(t, base, http.MethodGet, "/_sim/stats", nil, &stats))
	assert.Equal(t, sim.Deliveries(), stats.Deliveries)
	require.Equal(t, http.StatusNotFound, ctl(t, base, http.MethodGet, "/_sim/nothing/here", nil, &e))
}
