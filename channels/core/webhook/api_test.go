package webhook_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/28web/hub/channels/core"
	"github.com/28web/hub/channels/core/api"
	"github.com/28web/hub/channels/core/webhook"
	"github.com/28web/hub/openapi/contracttest"
	"github.com/28web/hub/platform/db"
	"github.com/28web/hub/platform/httpserver"
)

const apiKey = "api-test-key"

// knownSessions is a SessionChecker for a fixed set.
type knownSessions []core.SessionID

func (k knownSessions) SessionExists(_ context.Context, id core.SessionID) error {
	if slices.Contains(k, id) {
		return nil
	}
	return fmt.Errorf("%w: session %s", core.ErrNotFound, id)
}

type apiClient struct {
	t    *testing.T
	base string
}

func newAPI(t *testing.T, svc *webhook.Service, sessions webhook.SessionChecker) (*apiClient, *httpserver.Server) {
	t.Helper()
	cfg := httpserver.Config{APIKey: apiKey}
	cfg.SetDefaults()
	cfg.RateLimit.PerIP.Disabled, cfg.RateLimit.PerKey.Disabled = true, true
	srv, err := httpserver.New(cfg, httpserver.APIInfo{Title: "test", Version: "1"}, testLogger(), httpserver.WithErrorMappings(api.ErrorMappings()...))
	require.NoError(t, err)
	webhook.RegisterRoutes(srv.API(), svc, sessions, srv.Errors())
	webhook.DocumentWebhooks(srv.API())
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return &apiClient{t: t, base: ts.URL}, srv
}

// do sends a request and decodes the JSON answer into out (when not nil); it returns the status.
func (c *apiClient) do(method, path string, body any, out any) int {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(c.t, err)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(c.t.Context(), method, c.base+path, rd)
	require.NoError(c.t, err)
	req.Header.Set(httpserver.APIKeyHeader, apiKey)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := contracttest.Client(c.t).Do(req)
	require.NoError(c.t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(c.t, err)
	if resp.StatusCode == 422 && testing.Verbose() {
		c.t.Log(string(raw))
	}
	if resp.StatusCode >= 400 {
		assert.Equal(c.t, "application/problem+json", resp.Header.Get("Content-Type"), string(raw))
	}
	if out != nil && len(raw) > 0 {
		require.NoError(c.t, json.Unmarshal(raw, out), string(raw))
	}
	return resp.StatusCode
}

type endpointJSON struct {
	ID         string            `json:"id"`
	SessionID  string            `json:"sessionId"`
	URL        string            `json:"url"`
	Events     []string          `json:"events"`
	Headers    map[string]string `json:"headers"`
	Secret     string            `json:"secret"`
	SecretHint string            `json:"secretHint"`
	Disabled   bool              `json:"disabled"`
}

type problem struct {
	Status int    `json:"status"`
	Detail string `json:"detail"`
}

func TestAPI(t *testing.T) {
	eachDB(t, func(t *testing.T, d *db.DB) {
		global := newReceiver(t, nil)
		hook := newReceiver(t, nil)
		svc := startService(t, d, fastConfig(global.URL))
		c, _ := newAPI(t, svc, knownSessions{"s1", "s2"})

		var list struct{ Webhooks []endpointJSON }
		assert.Equal(t, http.StatusOK, c.do("GET", "/api/v1/sessions/s1/webhooks", nil, &list))
		assert.Empty(t, list.Webhooks)
		var p problem
		assert.Equal(t, http.StatusNotFound, c.do("GET", "/api/v1/sessions/nope/webhooks", nil, &p))
		assert.Contains(t, p.Detail, "nope")
		assert.Equal(t, http.StatusNotFound, c.do("PUT", "/api/v1/sessions/nope/webhooks", map[string]any{"webhooks": []any{}}, nil))

		// Replace: created endpoints carry their secret once.
		assert.Equal(t, http.StatusOK, c.do("PUT", "/api/v1/sessions/s1/webhooks", map[string]any{"webhooks": []any{
			map[string]any{"url": hook.URL + "/a", "events": []string{"message"}, "headers": map[string]string{"X-Tenant": "42"}},
		}}, &list))
		require.Len(t, list.Webhooks, 1)
		created := list.Webhooks[0]
		assert.True(t, strings.HasPrefix(created.Secret, "whsec_"))
		assert.Equal(t, "[redacted]", created.Headers["X-Tenant"])
		list.Webhooks = nil
		assert.Equal(t, http.StatusOK, c.do("GET", "/api/v1/sessions/s1/webhooks", nil, &list))
		require.Len(t, list.Webhooks, 1)
		assert.Empty(t, list.Webhooks[0].Secret, "listings never show the secret")
		assert.Equal(t, created.SecretHint, list.Webhooks[0].SecretHint)

		// Schema constraints answer 422 before the handler; the service's checks too.
		for _, body := range []map[string]any{
			{"url": "https://example.com/x", "events": []string{"not_an_event"}},
			{"url": strings.Repeat("a", 2100)},
			{"url": "ftp://example.com"},
			{"url": "https://example.com/x", "headers": map[string]string{"Webhook-Id": "x"}},
		} {
			assert.Equal(t, http.StatusUnprocessableEntity, c.do("POST", "/api/v1/sessions/s2/webhooks", body, &p), "%v", body)
		}
		var one endpointJSON
		assert.Equal(t, http.StatusCreated, c.do("POST", "/api/v1/sessions/s2/webhooks", map[string]any{"url": hook.URL + "/b"}, &one))
		assert.NotEmpty(t, one.Secret)
		assert.Equal(t, http.StatusConflict, c.do("POST", "/api/v1/sessions/s2/webhooks", map[string]any{"url": hook.URL + "/b"}, &p))

		var all struct{ Webhooks []endpointJSON }
		assert.Equal(t, http.StatusOK, c.do("GET", "/api/v1/webhooks/endpoints", nil, &all))
		require.Len(t, all.Webhooks, 3)
		assert.Equal(t, "global", all.Webhooks[0].ID)

		var rotated endpointJSON
		assert.Equal(t, http.StatusOK, c.do("POST", "/api/v1/webhooks/endpoints/"+one.ID+"/rotate-secret", nil, &rotated))
		assert.NotEqual(t, one.Secret, rotated.Secret)
		assert.Equal(t, http.StatusNotFound, c.do("POST", "/api/v1/webhooks/endpoints/ep_missing/enable", nil, &p))
		var enabled endpointJSON
		assert.Equal(t, http.StatusOK, c.do("POST", "/api/v1/webhooks/endpoints/global/enable", nil, &enabled))
		assert.False(t, enabled.Disabled)

		// Deliveries: the log, one delivery, redelivery.
		ev := event("s1", "logged")
		require.NoError(t, svc.Ingest(t.Context(), ev))
		hook.waitCount(t, 1)
		global.waitCount(t, 1)
		type deliveryJSON struct {
			ID         int64
			EventID    string
			EndpointID string
			Status     string
			Attempts   int
			Payload    json.RawMessage
			History    []struct {
				Attempt    int
				StatusCode int
			}
		}
		var page struct {
			Deliveries []deliveryJSON
			NextBefore int64
		}
		waitFor(t, "two succeeded deliveries", func() bool {
			c.do("GET", "/api/v1/webhooks/deliveries?status=succeeded&eventId="+string(ev.ID), nil, &page)
			return len(page.Deliveries) == 2
		})
		assert.Equal(t, http.StatusOK, c.do("GET", "/api/v1/webhooks/deliveries?since=2000-01-01T00:00:00Z&until=2001-01-01T00:00:00Z", nil, &page))
		assert.Empty(t, page.Deliveries, "time range filter")
		assert.Equal(t, http.StatusOK, c.do("GET", "/api/v1/webhooks/deliveries?event=message&sessionId=s1&since="+
			time.Now().Add(-time.Hour).UTC().Format(time.RFC3339), nil, &page))
		assert.Len(t, page.Deliveries, 2)
		assert.Equal(t, http.StatusOK, c.do("GET", "/api/v1/webhooks/deliveries?sessionId=s1&endpointId="+created.ID+"&limit=1", nil, &page))
		require.Len(t, page.Deliveries, 1)
		assert.Equal(t, page.Deliveries[0].ID, page.NextBefore)
		assert.Equal(t, http.StatusOK, c.do("GET", fmt.Sprintf("/api/v1/webhooks/deliveries?before=%d", page.NextBefore), nil, &page))
		assert.Len(t, page.Deliveries, 1, "the global endpoint's delivery is older")
		assert.Equal(t, http.StatusUnprocessableEntity, c.do("GET", "/api/v1/webhooks/deliveries?status=lost", nil, &p))
		assert.Equal(t, http.StatusUnprocessableEntity, c.do("GET", "/api/v1/webhooks/deliveries?limit=9999", nil, &p))

		var detail deliveryJSON
		id := page.Deliveries[0].ID
		assert.Equal(t, http.StatusOK, c.do("GET", fmt.Sprintf("/api/v1/webhooks/deliveries/%d", id), nil, &detail))
		assert.Equal(t, string(ev.ID), detail.EventID)
		require.Len(t, detail.History, 1)
		assert.Equal(t, http.StatusNoContent, detail.History[0].StatusCode)
		var payload core.Event
		require.NoError(t, json.Unmarshal(detail.Payload, &payload))
		assert.Equal(t, ev.ID, payload.ID)
		assert.Equal(t, http.StatusNotFound, c.do("GET", "/api/v1/webhooks/deliveries/999999", nil, &p))

		var redone deliveryJSON
		assert.Equal(t, http.StatusAccepted, c.do("POST", fmt.Sprintf("/api/v1/webhooks/deliveries/%d/redeliver", id), nil, &redone))
		assert.Contains(t, []string{"pending", "succeeded"}, redone.Status)
		global.waitCount(t, 2)

		var n struct{ Redelivered int }
		now := time.Now().UTC()
		assert.Equal(t, http.StatusAccepted, c.do("POST", "/api/v1/webhooks/deliveries/redeliver",
			map[string]any{"since": now.Add(-time.Hour), "until": now.Add(time.Hour)}, &n))
		assert.Zero(t, n.Redelivered, "nothing is dead")
		assert.Equal(t, http.StatusUnprocessableEntity, c.do("POST", "/api/v1/webhooks/deliveries/redeliver",
			map[string]any{"since": now, "until": now.Add(-time.Hour)}, &p))

		assert.Equal(t, http.StatusNoContent, c.do("DELETE", "/api/v1/sessions/s2/webhooks/"+one.ID, nil, nil))
		assert.Equal(t, http.StatusNotFound, c.do("DELETE", "/api/v1/sessions/s2/webhooks/"+one.ID, nil, &p))
		assert.Equal(t, http.StatusNoContent, c.do("DELETE", "/api/v1/sessions/s1/webhooks", nil, nil))
		assert.Equal(t, http.StatusOK, c.do("GET", "/api/v1/webhooks/endpoints", nil, &all))
		assert.Len(t, all.Webhooks, 1)
	})
}

func TestOpenAPIDocumentsWebhooks(t *testing.T) {
	// Documenting needs no running service: handlers are registered, never called.
	cfg := httpserver.Config{APIKey: apiKey}
	cfg.SetDefaults()
	srv, err := httpserver.New(cfg, httpserver.APIInfo{Title: "test", Version: "1"}, testLogger())
	require.NoError(t, err)
	webhook.RegisterRoutes(srv.API(), nil, nil, srv.Errors())
	webhook.DocumentWebhooks(srv.API())
	oapi := srv.API().OpenAPI()
	_, err = oapi.YAML()
	require.NoError(t, err)
	_, err = oapi.DowngradeYAML()
	require.NoError(t, err)

	require.Len(t, oapi.Webhooks, len(core.EventTypes))
	for _, et := range core.EventTypes {
		item := oapi.Webhooks[string(et)]
		require.NotNil(t, item, et)
		op := item.Post
		require.NotNil(t, op)
		assert.NotEmpty(t, op.Description)
		schema := op.RequestBody.Content["application/json"].Schema
		assert.Equal(t, []any{string(et)}, schema.Properties["event"].Enum)
		assert.NotEmpty(t, schema.Properties["data"].Ref, "typed payload for %s", et)
		var names []string
		for _, p := range op.Parameters {
			names = append(names, p.Name)
		}
		assert.Subset(t, names, []string{"webhook-id", "webhook-timestamp", "webhook-signature"})
	}

	// Every operation is documented, and the event enums match core.EventTypes.
	var want []any
	for _, et := range core.EventTypes {
		want = append(want, string(et))
	}
	ops := 0
	for path, item := range oapi.Paths {
		for _, op := range []*huma.Operation{item.Get, item.Put, item.Post, item.Delete, item.Patch} {
			if op == nil || !strings.Contains(path, "webhooks") {
				continue
			}
			ops++
			assert.NotEmpty(t, op.OperationID, path)
			assert.NotEmpty(t, op.Summary, op.OperationID)
			assert.NotEmpty(t, op.Description, op.OperationID)
			for _, p := range op.Parameters {
				if p.Name == "event" {
					assert.Equal(t, want, p.Schema.Enum, op.OperationID)
				}
			}
		}
	}
	assert.Equal(t, 12, ops)
	body := oapi.Components.Schemas.Map()
	var bodyEvents []any
	for name, s := range body {
		if strings.Contains(name, "EndpointBody") {
			bodyEvents = s.Properties["events"].Items.Enum
		}
	}
	assert.Equal(t, want, bodyEvents)
}
