package client_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/28web/hub/openapi/client"
)

const testKey = "test-key-123"

// request is what the fake gateway saw.
type request struct {
	method, path, key, idempotencyKey, contentType string
	body                                           map[string]any
}

// fakeGateway answers like the real gateway for a few operations with canned bodies and
// records every request, so the tests check both decoding and what the client sent.
func fakeGateway(t *testing.T) (*httptest.Server, <-chan request) {
	t.Helper()
	seen := make(chan request, 16)
	reply := func(w http.ResponseWriter, status int, contentType, body string) {
		w.Header().Set("Content-Type", contentType)
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := request{
			method: r.Method, path: r.URL.Path, key: r.Header.Get(client.APIKeyHeader),
			idempotencyKey: r.Header.Get("Idempotency-Key"), contentType: r.Header.Get("Content-Type"),
		}
		if r.Body != nil {
			raw, err := io.ReadAll(r.Body)
			if err == nil && len(raw) > 0 {
				if err := json.Unmarshal(raw, &rec.body); err != nil {
					t.Errorf("request body is not JSON: %v: %s", err, raw)
				}
			}
		}
		seen <- rec
		if rec.key != testKey {
			reply(w, http.StatusUnauthorized, "application/problem+json",
				`{"title":"Unauthorized","status":401,"detail":"missing or invalid API key"}`)
			return
		}
		switch {
		case r.Method == http.MethodPost && r.URL.Path == "/api/v1/sessions" && rec.body["id"] == "bad id":
			reply(w, http.StatusUnprocessableEntity, "application/problem+json", `{
				"title":"Unprocessable Entity","status":422,"detail":"validation failed",
				"errors":[{"message":"expected string to match pattern ^[A-Za-z0-9_-]{1,64}$","location":"body.id","value":"bad id"}]}`)
		case r.Method == http.MethodPost && r.URL.Path == "/api/v1/sessions":
			w.Header().Set("Location", "/api/v1/sessions/support-1")
			reply(w, http.StatusCreated, "application/json", `{
				"id":"support-1","channel":"whatsapp","status":"connecting","capabilities":["qr_login"],
				"createdAt":"2026-11-28T10:00:00Z","updatedAt":"2026-11-28T10:00:01Z"}`)
		case r.Method == http.MethodPost && r.URL.Path == "/api/v1/sessions/support-1/messages":
			w.Header().Set("Location", "/api/v1/sessions/support-1/messages/3EB0C431C26A1916E07E")
			reply(w, http.StatusAccepted, "application/json", `{
				"id":"3EB0C431C26A1916E07E","chatId":"5511999990002@s.whatsapp.net","direction":"out",
				"type":"text","body":"hello","status":"queued","attempts":0,
				"createdAt":"2026-11-28T10:00:02Z","updatedAt":"2026-11-28T10:00:02Z"}`)
		default:
			reply(w, http.StatusNotFound, "application/problem+json", `{"title":"Not Found","status":404}`)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, seen
}

func next(t *testing.T, seen <-chan request) request {
	t.Helper()
	select {
	case r := <-seen:
		return r
	case <-time.After(5 * time.Second):
		t.Fatal("the fake gateway received no request")
		return request{}
	}
}

func TestCreateSession(t *testing.T) {
	srv, seen := fakeGateway(t)
	c, err := client.NewWithKey(srv.URL, testKey)
	require.NoError(t, err)

	res, err := c.CreateSessionWithResponse(t.Context(), client.CreateSessionJSONRequestBody{Id: "support-1"})
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, res.StatusCode(), "body: %s", res.Body)
	require.NotNil(t, res.JSON201)
	assert.Equal(t, "support-1", res.JSON201.Id)
	assert.Equal(t, "whatsapp", res.JSON201.Channel)
	assert.EqualValues(t, "connecting", res.JSON201.Status)
	assert.Equal(t, time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC), res.JSON201.CreatedAt)
	require.NotNil(t, res.JSON201.Capabilities)
	assert.Equal(t, []string{"qr_login"}, *res.JSON201.Capabilities)
	require.NotNil(t, res.Headers201)
	require.NotNil(t, res.Headers201.Location)
	assert.Equal(t, "/api/v1/sessions/support-1", *res.Headers201.Location)

	req := next(t, seen)
	assert.Equal(t, http.MethodPost, req.method)
	assert.Equal(t, "/api/v1/sessions", req.path)
	assert.Equal(t, testKey, req.key)
	assert.Equal(t, "application/json", req.contentType)
	assert.Equal(t, map[string]any{"id": "support-1"}, req.body)
}

func TestSendMessage(t *testing.T) {
	srv, seen := fakeGateway(t)
	c, err := client.NewWithKey(srv.URL, testKey)
	require.NoError(t, err)

	text, idem := "hello", "order-42"
	res, err := c.SendMessageWithResponse(t.Context(), "support-1",
		&client.SendMessageParams{IdempotencyKey: &idem},
		client.SendMessageJSONRequestBody{To: "+55 11 99999-0002", Type: "text", Text: &text})
	require.NoError(t, err)
	require.Equal(t, http.StatusAccepted, res.StatusCode(), "body: %s", res.Body)
	require.NotNil(t, res.JSON202)
	assert.Equal(t, "3EB0C431C26A1916E07E", res.JSON202.Id)
	assert.EqualValues(t, "queued", res.JSON202.Status)
	assert.EqualValues(t, "out", res.JSON202.Direction)
	require.NotNil(t, res.JSON202.Body)
	assert.Equal(t, "hello", *res.JSON202.Body)

	req := next(t, seen)
	assert.Equal(t, "/api/v1/sessions/support-1/messages", req.path)
	assert.Equal(t, testKey, req.key)
	assert.Equal(t, "order-42", req.idempotencyKey)
	assert.Equal(t, map[string]any{"to": "+55 11 99999-0002", "type": "text", "text": "hello"}, req.body)
}

func TestProblemResponses(t *testing.T) {
	srv, seen := fakeGateway(t)

	t.Run("422 validation problem", func(t *testing.T) {
		c, err := client.NewWithKey(srv.URL, testKey)
		require.NoError(t, err)
		res, err := c.CreateSessionWithResponse(t.Context(), client.CreateSessionJSONRequestBody{Id: "bad id"})
		require.NoError(t, err)
		next(t, seen)
		require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode())
		assert.Nil(t, res.JSON201)
		p := res.ApplicationproblemJSON422
		require.NotNil(t, p, "body: %s", res.Body)
		require.NotNil(t, p.Status)
		assert.EqualValues(t, 422, *p.Status)
		require.NotNil(t, p.Errors)
		require.Len(t, *p.Errors, 1)
		require.NotNil(t, (*p.Errors)[0].Location)
		assert.Equal(t, "body.id", *(*p.Errors)[0].Location)
	})

	t.Run("401 without the key", func(t *testing.T) {
		c, err := client.NewClientWithResponses(srv.URL)
		require.NoError(t, err)
		res, err := c.CreateSessionWithResponse(t.Context(), client.CreateSessionJSONRequestBody{Id: "support-1"})
		require.NoError(t, err)
		assert.Empty(t, next(t, seen).key)
		require.Equal(t, http.StatusUnauthorized, res.StatusCode())
		require.NotNil(t, res.ApplicationproblemJSON401, "body: %s", res.Body)
		assert.Nil(t, res.JSON201)
	})
}
