package api_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"testing"
)

// FuzzAPIInputs drives the API's string inputs — path segments, query parameters, JSON body
// fields — with arbitrary bytes through the real HTTP stack and a real store: whatever comes in,
// the answer is never a 5xx. `go test` runs the seeds (the outside campaign's cases); `go test
// -fuzz FuzzAPIInputs ./channels/core/api` explores.
func FuzzAPIInputs(f *testing.F) {
	for _, seed := range []struct{ session, message, chat, text string }{
		{"s1", "M1", "5511999990001@s.whatsapp.net", "hello"},
		{"s1", "ab\x00cd", "55\x0011", "hi\x00there"},
		{"s\x00", "%zz", "\x07", "\x1b[31mred"},
		{"../..", "M1/../x", "'; DROP TABLE messages;--", "\uFFFF\uFFFE"},
		{"s1", "\xff\xfe", "\xc3\x28", "\xed\xa0\x80"},
		{"", "", "", ""},
		{"s1", string(bytes.Repeat([]byte("x"), 600)), string(bytes.Repeat([]byte("y"), 600)), string(bytes.Repeat([]byte("z"), 70000))},
	} {
		f.Add(seed.session, seed.message, seed.chat, seed.text)
	}
	g := newGateway(f, false)
	g.connected("s1")
	client := &http.Client{}
	send := func(t *testing.T, method, path string, body any) {
		var rd io.Reader
		if body != nil {
			b, err := json.Marshal(body)
			if err != nil {
				return
			}
			rd = bytes.NewReader(b)
		}
		req, err := http.NewRequestWithContext(t.Context(), method, g.base+path, rd)
		if err != nil {
			return // not even a request: nothing reaches the gateway
		}
		req.Header.Set("x-28web-gateway-key", key)
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode >= 500 {
			t.Fatalf("%s %s answered %d: %s", method, path, resp.StatusCode, b)
		}
	}
	f.Fuzz(func(t *testing.T, session, message, chat, text string) {
		s, m := url.PathEscape(session), url.PathEscape(message)
		q := url.Values{"chatId": {chat}, "cursor": {text}, "status": {chat}}.Encode()
		send(t, "GET", "/api/v1/sessions/"+s, nil)
		send(t, "GET", "/api/v1/sessions/"+s+"/messages?"+q, nil)
		send(t, "GET", "/api/v1/sessions/s1/messages/"+m, nil)
		send(t, "PATCH", "/api/v1/sessions/s1/messages/"+m, map[string]any{"text": text})
		send(t, "POST", "/api/v1/sessions/s1/messages", map[string]any{"to": chat, "type": "text", "text": text, "id": message})
		send(t, "POST", "/api/v1/sessions/s1/messages", map[string]any{"to": "+5511999990001", "type": "contact",
			"contact": map[string]any{"displayName": text, "vcard": "BEGIN:VCARD\n" + text}})
		send(t, "POST", "/api/v1/sessions/s1/messages/"+m+"/reactions", map[string]any{"emoji": text})
		send(t, "POST", "/api/v1/sessions/"+s+"/presence", map[string]any{"chatId": chat, "presence": "typing"})
		send(t, "GET", "/health/sessions/"+s, nil)
	})
}
