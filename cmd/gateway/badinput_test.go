package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

// NUL and other control characters in any input — path, query, JSON body — are refused with
// 422 problem+json on every deployment, where they used to reach the database and fail there
// with 500.
func TestControlCharactersAreRefusedAtTheEdge(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end")
	}
	for _, d := range deployments {
		t.Run(d.name, func(t *testing.T) {
			environ, adjust := d.env(t)
			g := startE2E(t, newSim(t), environ, adjust)
			created, err := http.Post(g.base+"/api/v1/sessions", "application/json", nil)
			require.NoError(t, err)
			_ = created.Body.Close()
			call := func(method, path string, body any) (int, map[string]any) {
				var rd io.Reader
				if body != nil {
					b, err := json.Marshal(body)
					require.NoError(t, err)
					rd = bytes.NewReader(b)
				}
				req, err := http.NewRequestWithContext(t.Context(), method, g.base+path, rd)
				require.NoError(t, err)
				req.Header.Set("x-28web-gateway-key", e2eKey)
				req.Header.Set("Content-Type", "application/json")
				resp, err := http.DefaultClient.Do(req)
				require.NoError(t, err)
				defer resp.Body.Close()
				var problem map[string]any
				if resp.StatusCode >= 400 {
					require.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"))
					require.NoError(t, json.NewDecoder(resp.Body).Decode(&problem))
				}
				return resp.StatusCode, problem
			}
			status, _ := call("POST", "/api/v1/sessions", map[string]any{"id": "s1"})
			require.Equal(t, http.StatusCreated, status)

			for _, c := range []struct {
				name, method, path string
				body               any
				where              string
			}{
				{"messageId in the path", "GET", "/api/v1/sessions/s1/messages/ab%00cd", nil, "path"},
				{"messageId, another control", "GET", "/api/v1/sessions/s1/messages/ab%07cd", nil, "path"},
				{"chatId in the query", "GET", "/api/v1/sessions/s1/messages?chatId=55%0011", nil, "query.chatId"},
				{"eventId in the query", "GET", "/api/v1/webhooks/deliveries?eventId=e%00", nil, "query.eventId"},
				{"text of a send", "POST", "/api/v1/sessions/s1/messages", map[string]any{"to": "+5511999990001", "type": "text", "text": "hi\u0000there"}, "body.text"},
				{"a nested field", "POST", "/api/v1/sessions/s1/messages", map[string]any{"to": "+5511999990001", "type": "location",
					"location": map[string]any{"latitude": 1, "longitude": 2, "name": "x\u001by"}}, "body.location.name"},
				{"an array item", "POST", "/api/v1/sessions/s1/messages", map[string]any{"to": "+5511999990001", "type": "text", "text": "x",
					"mentions": []string{"a@s.whatsapp.net", "b\u0000@s.whatsapp.net"}}, "body.mentions[1]"},
				{"text of an edit", "PATCH", "/api/v1/sessions/s1/messages/M1", map[string]any{"text": "\u0000"}, "body.text"},
				{"a session id", "POST", "/api/v1/sessions", map[string]any{"id": "s\u00002"}, "body.id"},
			} {
				status, problem := call(c.method, c.path, c.body)
				require.Equal(t, http.StatusUnprocessableEntity, status, c.name)
				errs, _ := problem["errors"].([]any)
				require.NotEmpty(t, errs, c.name)
				require.Equal(t, c.where, errs[0].(map[string]any)["location"], c.name)
			}
			// Line breaks and tabs are text, not control characters to refuse.
			status, _ = call("POST", "/api/v1/sessions/s1/messages", map[string]any{"to": "+5511999990001", "type": "text", "text": "line 1\nline 2\tend\r\n"})
			require.Equal(t, http.StatusAccepted, status)
		})
	}
}
