package cloudsim_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/28web/hub/channels/whatsappcloud/cloudsim"
)

func TestAuth(t *testing.T) {
	h := newHarness(t, nil)
	require.NoError(t, h.sim.AddBusiness(cloudsim.Business{
		WABAID: "200000000000001", PhoneNumberID: "200000000000002", DisplayPhoneNumber: "+1 555-0199",
		AccessToken: "other-token", AppSecret: "other-secret",
	}))
	path := "/v21.0/" + phoneID + "/messages"

	for name, bearer := range map[string]string{"missing": "", "garbage": "nope", "other business": "other-token"} {
		t.Run(name, func(t *testing.T) {
			status, resp := h.call(t, http.MethodPost, path, bearer, textBody(custA, "hi"))
			require.Equal(t, http.StatusUnauthorized, status)
			code, _, _ := graphErr(t, resp)
			assert.Equal(t, 190, code)
			assert.Equal(t, "Invalid OAuth access token - Cannot parse access token", resp["error"].(map[string]any)["message"])
		})
	}

	t.Run("unknown id with a valid token", func(t *testing.T) {
		status, resp := h.call(t, http.MethodGet, "/v21.0/999999", token, nil)
		require.Equal(t, http.StatusBadRequest, status)
		code, subcode, _ := graphErr(t, resp)
		assert.Equal(t, 100, code)
		assert.Equal(t, 33, subcode)
		assert.Contains(t, resp["error"].(map[string]any)["message"], "Object with ID '999999' does not exist")
	})

	t.Run("access_token query parameter", func(t *testing.T) {
		status, _ := h.call(t, http.MethodGet, "/v21.0/"+phoneID+"?access_token="+token, "", nil)
		assert.Equal(t, http.StatusOK, status)
	})
}

func TestPhoneNumberAndVersions(t *testing.T) {
	h := newHarness(t, nil)
	for _, v := range []string{"v21.0", "v19.0", "v23.1"} {
		status, resp := h.call(t, http.MethodGet, "/"+v+"/"+phoneID, token, nil)
		require.Equal(t, http.StatusOK, status, v)
		assert.Equal(t, map[string]any{
			"id": phoneID, "display_phone_number": display, "verified_name": "Acme",
			"quality_rating": "GREEN", "code_verification_status": "VERIFIED", "platform_type": "CLOUD_API",
		}, resp)
	}
	status, resp := h.call(t, http.MethodGet, "/latest/"+phoneID, token, nil)
	requireGraphErr(t, http.StatusBadRequest, 100, status, resp)

	status, resp = h.call(t, http.MethodGet, "/v21.0/"+wabaID+"/phone_numbers", token, nil)
	require.Equal(t, http.StatusOK, status)
	require.Len(t, resp["data"], 1)

	// A WABA id is not a phone number: sending through it is unsupported.
	status, resp = h.call(t, http.MethodPost, "/v21.0/"+wabaID+"/messages", token, textBody(custA, "x"))
	requireGraphErr(t, http.StatusBadRequest, 100, status, resp)
}

func TestSendValidation(t *testing.T) {
	h := newHarness(t, nil)
	_, err := h.sim.CustomerSendText(phoneID, custA, "hello")
	require.NoError(t, err)

	base := func(typ string, obj any) map[string]any {
		return map[string]any{"messaging_product": "whatsapp", "to": custA, "type": typ, typ: obj}
	}
	button := func(id, title string) map[string]any {
		return map[string]any{"type": "reply", "reply": map[string]any{"id": id, "title": title}}
	}
	rows := func(n int) []any {
		out := make([]any, n)
		for i := range out {
			out[i] = map[string]any{"id": "r" + strings.Repeat("x", i), "title": "Row"}
		}
		return out
	}
	list := func(r []any) map[string]any {
		return map[string]any{
			"type": "list", "body": map[string]any{"text": "Pick"},
			"action": map[string]any{"button": "Options", "sections": []any{map[string]any{"title": "S", "rows": r}}},
		}
	}
	buttons := func(b ...any) map[string]any {
		return map[string]any{"type": "button", "body": map[string]any{"text": "Choose"}, "action": map[string]any{"buttons": b}}
	}

	bad := []struct {
		name  string
		body  map[string]any
		field string // details must name it
	}{
		{"no messaging_product", map[string]any{"to": custA, "text": map[string]any{"body": "x"}}, "messaging_product"},
		{"no to", map[string]any{"messaging_product": "whatsapp", "text": map[string]any{"body": "x"}}, "to"},
		{"to not digits", textBody("55-11", "x"), "to"},
		{"unknown type", base("hologram", map[string]any{}), "type"},
		{"text missing", map[string]any{"messaging_product": "whatsapp", "to": custA}, "text"},
		{"empty body", textBody(custA, ""), "text['body']"},
		{"body too long", textBody(custA, strings.Repeat("é", 4097)), "text['body']"},
		{"preview_url not bool", base("text", map[string]any{"body": "x", "preview_url": "yes"}), "preview_url"},
		{"image without id or link", base("image", map[string]any{"caption": "c"}), "image"},
		{"image with both", base("image", map[string]any{"id": "1", "link": "https://x/y.png"}), "image"},
		{"image unknown media id", base("image", map[string]any{"id": "123"}), "image['id']"},
		{"image bad link", base("image", map[string]any{"link": "ftp://x/y.png"}), "image['link']"},
		{"audio caption", base("audio", map[string]any{"link": "https://x/a.ogg", "caption": "c"}), "audio['caption']"},
		{"sticker caption", base("sticker", map[string]any{"link": "https://x/s.webp", "caption": "c"}), "sticker['caption']"},
		{"image filename", base("image", map[string]any{"link": "https://x/y.png", "filename": "y.png"}), "image['filename']"},
		{"location without latitude", base("location", map[string]any{"longitude": 1.0}), "latitude"},
		{"location out of range", base("location", map[string]any{"latitude": 91.0, "longitude": 1.0}), "latitude"},
		{"contacts empty", base("contacts", []any{}), "contacts"},
		{"contacts without formatted_name", base("contacts", []any{map[string]any{"name": map[string]any{}}}), "formatted_name"},
		{"reaction without emoji", base("reaction", map[string]any{"message_id": "wamid.x"}), "emoji"},
		{"reaction without message_id", base("reaction", map[string]any{"emoji": "👍"}), "message_id"},
		{"template without language", base("template", map[string]any{"name": "t"}), "language"},
		{"template bad component", base("template", map[string]any{"name": "t", "language": map[string]any{"code": "en"},
			"components": []any{map[string]any{"type": "sidebar"}}}), "type"},
		{"interactive unknown type", base("interactive", map[string]any{"type": "carousel"}), "interactive['type']"},
		{"interactive no body", base("interactive", map[string]any{"type": "button", "action": map[string]any{}}), "interactive['body']"},
		{"no buttons", base("interactive", buttons()), "buttons"},
		{"four buttons", base("interactive", buttons(button("a", "A"), button("b", "B"), button("c", "C"), button("d", "D"))), "buttons"},
		{"button title too long", base("interactive", buttons(button("a", strings.Repeat("t", 21)))), "title"},
		{"duplicate button id", base("interactive", buttons(button("a", "A"), button("a", "B"))), "reply"},
		{"list without rows", base("interactive", list([]any{})), "rows"},
		{"list with 11 rows", base("interactive", list(rows(11))), "rows"},
		{"list without button label", base("interactive", map[string]any{"type": "list", "body": map[string]any{"text": "x"},
			"action": map[string]any{"sections": []any{map[string]any{"rows": rows(1)}}}}), "button"},
		{"context without message_id", func() map[string]any {
			b := textBody(custA, "x")
			b["context"] = map[string]any{}
			return b
		}(), "context['message_id']"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			status, resp, _ := h.send(t, tc.body)
			details := requireGraphErr(t, http.StatusBadRequest, 100, status, resp)
			assert.Contains(t, details, tc.field)
			assert.Equal(t, "(#100) Invalid parameter", resp["error"].(map[string]any)["message"])
		})
	}

	good := []struct {
		name string
		body map[string]any
	}{
		{"image by link", base("image", map[string]any{"link": "https://example.com/a.png", "caption": "c"})},
		{"document with filename", base("document", map[string]any{"link": "https://example.com/a.pdf", "filename": "a.pdf"})},
		{"audio", base("audio", map[string]any{"link": "https://example.com/a.ogg"})},
		{"location", base("location", map[string]any{"latitude": -23.5, "longitude": "-46.6", "name": "SP", "address": "Av. Paulista"})},
		{"contacts", base("contacts", []any{map[string]any{"name": map[string]any{"formatted_name": "Ana B", "first_name": "Ana"}}})},
		{"reaction remove", base("reaction", map[string]any{"message_id": "wamid.abc", "emoji": ""})},
		{"buttons", base("interactive", buttons(button("yes", "Yes"), button("no", "No")))},
		{"list", base("interactive", list(rows(10)))},
		{"default type is text with +", map[string]any{"messaging_product": "whatsapp", "to": "+" + custA, "text": map[string]any{"body": "x"}}},
		{"reply context", func() map[string]any {
			b := textBody(custA, "x")
			b["context"] = map[string]any{"message_id": "wamid.abc"}
			return b
		}()},
	}
	for _, tc := range good {
		t.Run(tc.name, func(t *testing.T) {
			h.mustSend(t, tc.body)
		})
	}
	assert.Len(t, h.sim.Received(custA), len(good))
}
