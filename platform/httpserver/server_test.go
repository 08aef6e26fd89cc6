package httpserver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const testKey = "s3cret-test-key"

var (
	errTestNotFound = errors.New("not found")
	errTestConflict = errors.New("conflict")
)

// syncBuffer collects log output written from server goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type testServer struct {
	*Server
	base string
	logs *syncBuffer
	// slowStarted receives when GET /slow is entered; closing slowRelease
	// lets it answer.
	slowStarted chan struct{}
	slowRelease chan struct{}
}

func testConfig() Config {
	var cfg Config
	cfg.SetDefaults()
	cfg.Host = "127.0.0.1"
	cfg.Port = 0
	cfg.APIKey = testKey
	cfg.RateLimit.PerIP.Disabled = true
	cfg.RateLimit.PerKey.Disabled = true
	return cfg
}

type thingOutput struct {
	Body struct {
		ID string `json:"id"`
	}
}

type echoInput struct {
	Body struct {
		Text string `json:"text"`
	}
}

type echoOutput struct {
	Body struct {
		Text string `json:"text"`
	}
}

// startServer starts a real server on a loopback port with a few test
// operations and raw handlers, and shuts it down when the test ends.
func startServer(t *testing.T, cfg Config) *testServer {
	t.Helper()
	logs := &syncBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s, err := New(cfg, APIInfo{Title: "Test API", Version: "1.0.0", Description: "test"}, logger,
		WithErrorMappings(
			ErrorMapping{Target: errTestNotFound, Status: http.StatusNotFound},
			ErrorMapping{Target: errTestConflict, Status: http.StatusConflict},
		))
	require.NoError(t, err)
	ts := &testServer{Server: s, logs: logs, slowStarted: make(chan struct{}, 1), slowRelease: make(chan struct{})}
	ts.register()

	require.NoError(t, s.Start(t.Context()))
	ts.base = "http://" + s.Addr()
	t.Cleanup(func() {
		select {
		case <-ts.slowRelease:
		default:
			close(ts.slowRelease)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx) // tests that shut down themselves make this a no-op
	})
	return ts
}

func (ts *testServer) register() {
	api := ts.API()
	health := huma.Operation{OperationID: "health", Method: http.MethodGet, Path: "/health"}
	Public(&health)
	huma.Register(api, health, func(context.Context, *struct{}) (*struct{}, error) { return nil, nil })

	huma.Register(api, huma.Operation{OperationID: "get-thing", Method: http.MethodGet, Path: "/things/{id}"},
		Handle(ts.Errors(), func(_ context.Context, in *struct {
			ID string `path:"id"`
		}) (*thingOutput, error) {
			switch in.ID {
			case "missing":
				return nil, fmt.Errorf("thing %s: %w", in.ID, errTestNotFound)
			case "taken":
				return nil, fmt.Errorf("thing %s: %w", in.ID, errTestConflict)
			case "broken":
				return nil, errors.New("db: password=hunter2 rejected")
			case "gone":
				return nil, huma.Error410Gone("thing was deleted")
			case "panic":
				panic("handler bug")
			}
			out := &thingOutput{}
			out.Body.ID = in.ID
			return out, nil
		}))
	// Registered without Handle: huma itself turns the error into a 500.
	huma.Register(api, huma.Operation{OperationID: "unmapped", Method: http.MethodGet, Path: "/unmapped"},
		func(context.Context, *struct{}) (*struct{}, error) {
			return nil, errors.New("db: password=hunter2 rejected")
		})
	huma.Register(api, huma.Operation{OperationID: "echo", Method: http.MethodPost, Path: "/echo"},
		func(_ context.Context, in *echoInput) (*echoOutput, error) {
			out := &echoOutput{}
			out.Body.Text = in.Body.Text
			return out, nil
		})
	huma.Register(api, huma.Operation{OperationID: "slow", Method: http.MethodGet, Path: "/slow"},
		func(ctx context.Context, _ *struct{}) (*thingOutput, error) {
			ts.slowStarted <- struct{}{}
			select {
			case <-ts.slowRelease:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			out := &thingOutput{}
			out.Body.ID = "slow"
			return out, nil
		})

	ts.Mux().HandleFunc("GET /raw", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "raw ok")
	})
	ts.Mux().HandleFunc("GET /raw-flush", func(w http.ResponseWriter, _ *http.Request) {
		f, ok := w.(http.Flusher)
		if !ok {
			http.Error(w, "no flusher", http.StatusInternalServerError)
			return
		}
		_, _ = io.WriteString(w, "flushed")
		f.Flush()
	})
	ts.Mux().HandleFunc("GET /raw-panic", func(http.ResponseWriter, *http.Request) { panic("raw bug") })
	ts.Mux().HandleFunc("POST /raw-upload", func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if maxErr := (*http.MaxBytesError)(nil); errors.As(err, &maxErr) {
			WriteProblem(w, http.StatusRequestEntityTooLarge, "too large")
			return
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		_, _ = io.WriteString(w, strconv.Itoa(len(b)))
	})
	ts.HandlePublic("GET /raw-public", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "public ok")
	}))
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) problem(t *testing.T) huma.ErrorModel {
	t.Helper()
	assert.Equal(t, "application/problem+json", r.header.Get("Content-Type"), "body: %s", r.body)
	var p huma.ErrorModel
	require.NoError(t, json.Unmarshal(r.body, &p), "body: %s", r.body)
	assert.Equal(t, r.status, p.Status)
	assert.Equal(t, http.StatusText(r.status), p.Title)
	assert.Equal(t, "about:blank", p.Type)
	return p
}

// do sends a request; key "" sends no key header; headers are pairs.
func (ts *testServer) do(t *testing.T, method, path, key string, body io.Reader, headers ...string) response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, ts.base+path, body)
	require.NoError(t, err)
	if key != "" {
		req.Header.Set(APIKeyHeader, key)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return response{status: res.StatusCode, header: res.Header, body: b}
}

func TestAuth(t *testing.T) {
	ts := startServer(t, testConfig())

	tests := []struct {
		name   string
		method string
		path   string
		key    string
		want   int
	}{
		{"operation without key", "GET", "/things/a", "", 401},
		{"operation with wrong key", "GET", "/things/a", "wrong", 401},
		{"operation with key prefix", "GET", "/things/a", testKey[:5], 401},
		{"operation with key", "GET", "/things/a", testKey, 200},
		{"public operation without key", "GET", "/health", "", 204},
		{"public operation HEAD without key", "HEAD", "/health", "", 204},
		{"public operation with wrong key", "GET", "/health", "wrong", 204},
		{"openapi.yaml", "GET", "/openapi.yaml", "", 200},
		{"openapi.json", "GET", "/openapi.json", "", 200},
		{"openapi-3.0.yaml", "GET", "/openapi-3.0.yaml", "", 200},
		{"openapi-3.0.json", "GET", "/openapi-3.0.json", "", 200},
		{"docs", "GET", "/docs", "", 200},
		{"schemas", "GET", "/schemas/ErrorModel.json", "", 200},
		{"unknown path without key", "GET", "/nope", "", 401},
		{"unknown path with wrong key", "GET", "/nope", "wrong", 401},
		{"unknown path with key", "GET", "/nope", testKey, 404},
		{"wrong method without key", "DELETE", "/health", "", 401},
		{"wrong method with key", "DELETE", "/health", testKey, 405},
		{"raw handler without key", "GET", "/raw", "", 401},
		{"raw handler with wrong key", "GET", "/raw", "wrong", 401},
		{"raw handler with key", "GET", "/raw", testKey, 200},
		{"public raw handler without key", "GET", "/raw-public", "", 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := ts.do(t, tc.method, tc.path, tc.key, nil)
			require.Equal(t, tc.want, res.status, "body: %s", res.body)
			if tc.want >= 400 && tc.method != http.MethodHead {
				res.problem(t)
			}
		})
	}

	t.Run("405 keeps Allow", func(t *testing.T) {
		res := ts.do(t, "DELETE", "/health", testKey, nil)
		assert.Contains(t, res.header.Get("Allow"), "GET")
	})
	t.Run("401 detail", func(t *testing.T) {
		assert.Contains(t, ts.do(t, "GET", "/raw", "", nil).problem(t).Detail, APIKeyHeader)
		assert.Equal(t, "invalid API key", ts.do(t, "GET", "/raw", "wrong", nil).problem(t).Detail)
	})
	t.Run("the key is never logged", func(t *testing.T) {
		ts.do(t, "GET", "/things/a?token=x", testKey, nil)
		logs := ts.logs.String()
		require.Contains(t, logs, `"path":"/things/a"`)
		assert.NotContains(t, logs, testKey)
		assert.NotContains(t, logs, "token=x")
	})
}

func TestAuthThroughHumaGroups(t *testing.T) {
	ts := startServer(t, testConfig())
	v1 := huma.NewGroup(ts.API(), "/v1")
	status := huma.Operation{OperationID: "status", Method: http.MethodGet, Path: "/status"}
	Public(&status)
	huma.Register(v1, status, func(context.Context, *struct{}) (*struct{}, error) { return nil, nil })
	huma.Register(v1, huma.Operation{OperationID: "secret", Method: http.MethodGet, Path: "/secret"},
		func(context.Context, *struct{}) (*struct{}, error) { return nil, nil })

	assert.Equal(t, http.StatusNoContent, ts.do(t, "GET", "/v1/status", "", nil).status)
	assert.Equal(t, http.StatusUnauthorized, ts.do(t, "GET", "/v1/secret", "", nil).status)
	assert.Equal(t, http.StatusNoContent, ts.do(t, "GET", "/v1/secret", testKey, nil).status)
}

func TestOpenAPIDocumentsSecurity(t *testing.T) {
	ts := startServer(t, testConfig())
	res := ts.do(t, "GET", "/openapi.json", "", nil)
	require.Equal(t, http.StatusOK, res.status)

	var doc struct {
		Info struct {
			Title, Version, Description string
		}
		Security   []map[string][]string
		Components struct {
			SecuritySchemes map[string]struct {
				Type, In, Name string
			}
		}
		Paths map[string]map[string]struct {
			Security  *[]map[string][]string
			Responses map[string]struct {
				Headers map[string]any
				Content map[string]any
			}
		}
	}
	require.NoError(t, json.Unmarshal(res.body, &doc))
	assert.Equal(t, "Test API", doc.Info.Title)
	assert.Equal(t, "1.0.0", doc.Info.Version)
	assert.Equal(t, "test", doc.Info.Description)
	assert.Equal(t, []map[string][]string{{"apiKey": {}}}, doc.Security)
	scheme := doc.Components.SecuritySchemes["apiKey"]
	assert.Equal(t, "apiKey", scheme.Type)
	assert.Equal(t, "header", scheme.In)
	assert.Equal(t, APIKeyHeader, scheme.Name)

	health := doc.Paths["/health"]["get"].Security
	require.NotNil(t, health, "public operation must say security: []")
	assert.Empty(t, *health)
	assert.Nil(t, doc.Paths["/things/{id}"]["get"].Security, "secured operations inherit the default")

	// The middleware's answers are documented.
	thing := doc.Paths["/things/{id}"]["get"].Responses
	assert.Contains(t, thing["401"].Content, "application/problem+json")
	assert.Contains(t, thing["429"].Headers, "Retry-After")
	assert.Contains(t, thing["429"].Headers, "RateLimit-Remaining")
	assert.Contains(t, thing, "200")
	assert.NotContains(t, doc.Paths["/health"]["get"].Responses, "401", "public operations cannot answer 401")
	assert.Contains(t, doc.Paths["/health"]["get"].Responses, "429")
}

func TestRateLimitPerIP(t *testing.T) {
	cfg := testConfig()
	cfg.TrustProxyHeaders = true
	cfg.RateLimit.PerIP = RateLimitRule{RequestsPerSecond: 0.01, Burst: 3}
	ts := startServer(t, cfg)

	for i := range 3 {
		res := ts.do(t, "GET", "/things/a", testKey, nil, "X-Forwarded-For", "203.0.113.1")
		require.Equal(t, http.StatusOK, res.status)
		assert.Equal(t, "3", res.header.Get("RateLimit-Limit"))
		assert.Equal(t, strconv.Itoa(2-i), res.header.Get("RateLimit-Remaining"))
		assert.NotEmpty(t, res.header.Get("RateLimit-Reset"))
		assert.Empty(t, res.header.Get("Retry-After"))
	}

	res := ts.do(t, "GET", "/things/a", testKey, nil, "X-Forwarded-For", "203.0.113.1")
	require.Equal(t, http.StatusTooManyRequests, res.status)
	res.problem(t)
	assert.Equal(t, "100", res.header.Get("Retry-After")) // one token at 0.01/s
	assert.Equal(t, "3", res.header.Get("RateLimit-Limit"))
	assert.Equal(t, "0", res.header.Get("RateLimit-Remaining"))
	reset, err := strconv.Atoi(res.header.Get("RateLimit-Reset"))
	require.NoError(t, err)
	assert.Greater(t, reset, 200)

	// The IP's limit covers public routes and unauthenticated requests too.
	assert.Equal(t, http.StatusTooManyRequests, ts.do(t, "GET", "/health", "", nil, "X-Forwarded-For", "203.0.113.1").status)
	assert.Equal(t, http.StatusTooManyRequests, ts.do(t, "GET", "/raw", "wrong", nil, "X-Forwarded-For", "203.0.113.1").status)

	// Only the last (proxy-appended) entry counts: a forged first one does not help.
	assert.Equal(t, http.StatusTooManyRequests,
		ts.do(t, "GET", "/things/a", testKey, nil, "X-Forwarded-For", "198.51.100.9, 203.0.113.1").status)

	// Another IP is unaffected.
	res = ts.do(t, "GET", "/things/a", testKey, nil, "X-Forwarded-For", "203.0.113.2")
	assert.Equal(t, http.StatusOK, res.status)
	assert.Equal(t, "2", res.header.Get("RateLimit-Remaining"))

	// IPv6 clients share their /64.
	for range 3 {
		require.Equal(t, http.StatusNoContent, ts.do(t, "GET", "/health", "", nil, "X-Forwarded-For", "2001:db8:1:2::1").status)
	}
	assert.Equal(t, http.StatusTooManyRequests, ts.do(t, "GET", "/health", "", nil, "X-Forwarded-For", "2001:db8:1:2::ffff").status)
	assert.Equal(t, http.StatusNoContent, ts.do(t, "GET", "/health", "", nil, "X-Forwarded-For", "2001:db8:1:3::1").status)
}

func TestRateLimitIgnoresForwardedForUnlessTrusted(t *testing.T) {
	cfg := testConfig()
	cfg.RateLimit.PerIP = RateLimitRule{RequestsPerSecond: 0.01, Burst: 1}
	ts := startServer(t, cfg)

	require.Equal(t, http.StatusNoContent, ts.do(t, "GET", "/health", "", nil, "X-Forwarded-For", "203.0.113.1").status)
	assert.Equal(t, http.StatusTooManyRequests, ts.do(t, "GET", "/health", "", nil, "X-Forwarded-For", "203.0.113.2").status)
	assert.Contains(t, ts.logs.String(), `"client_ip":"127.0.0.1"`)
}

func TestRateLimitPerKey(t *testing.T) {
	cfg := testConfig()
	cfg.TrustProxyHeaders = true
	cfg.RateLimit.PerIP = RateLimitRule{RequestsPerSecond: 0.01, Burst: 10}
	cfg.RateLimit.PerKey = RateLimitRule{RequestsPerSecond: 0.01, Burst: 2}
	ts := startServer(t, cfg)

	res := ts.do(t, "GET", "/things/a", testKey, nil, "X-Forwarded-For", "203.0.113.1")
	require.Equal(t, http.StatusOK, res.status)
	// Both limits apply; the headers report the tighter one.
	assert.Equal(t, "2", res.header.Get("RateLimit-Limit"))
	assert.Equal(t, "1", res.header.Get("RateLimit-Remaining"))
	require.Equal(t, http.StatusOK, ts.do(t, "GET", "/raw", testKey, nil, "X-Forwarded-For", "203.0.113.1").status)

	// The key is exhausted, from any IP.
	res = ts.do(t, "GET", "/things/a", testKey, nil, "X-Forwarded-For", "203.0.113.2")
	require.Equal(t, http.StatusTooManyRequests, res.status)
	assert.Equal(t, "rate limit exceeded for this API key", res.problem(t).Detail)
	assert.Equal(t, "100", res.header.Get("Retry-After"))
	assert.Equal(t, "2", res.header.Get("RateLimit-Limit"))
	assert.Equal(t, "0", res.header.Get("RateLimit-Remaining"))

	// Other keys are not charged to it: a wrong key is still just unauthorized,
	// and public routes need no key at all.
	assert.Equal(t, http.StatusUnauthorized, ts.do(t, "GET", "/things/a", "other-key", nil, "X-Forwarded-For", "203.0.113.2").status)
	res = ts.do(t, "GET", "/health", "", nil, "X-Forwarded-For", "203.0.113.2")
	assert.Equal(t, http.StatusNoContent, res.status)
	assert.Equal(t, "10", res.header.Get("RateLimit-Limit"))
}

func TestBodyLimit(t *testing.T) {
	cfg := testConfig()
	cfg.BodyLimit = 1024
	ts := startServer(t, cfg)

	t.Run("operation within limit", func(t *testing.T) {
		res := ts.do(t, "POST", "/echo", testKey, strings.NewReader(`{"text":"hi"}`), "Content-Type", "application/json")
		require.Equal(t, http.StatusOK, res.status, "body: %s", res.body)
		assert.JSONEq(t, `{"text":"hi"}`, stripSchema(t, res.body))
	})
	t.Run("operation over huma's 1 MiB", func(t *testing.T) {
		big := `{"text":"` + strings.Repeat("x", 1<<20) + `"}`
		res := ts.do(t, "POST", "/echo", testKey, strings.NewReader(big), "Content-Type", "application/json")
		require.Equal(t, http.StatusRequestEntityTooLarge, res.status)
		res.problem(t)
	})
	t.Run("raw handler within limit", func(t *testing.T) {
		res := ts.do(t, "POST", "/raw-upload", testKey, strings.NewReader(strings.Repeat("x", 1024)))
		require.Equal(t, http.StatusOK, res.status, "body: %s", res.body)
		assert.Equal(t, "1024", string(res.body))
	})
	t.Run("raw handler over limit, with Content-Length", func(t *testing.T) {
		res := ts.do(t, "POST", "/raw-upload", testKey, strings.NewReader(strings.Repeat("x", 1025)))
		require.Equal(t, http.StatusRequestEntityTooLarge, res.status)
		assert.Contains(t, res.problem(t).Detail, "1024 bytes")
	})
	t.Run("raw handler over limit, chunked", func(t *testing.T) {
		// A reader of unknown length makes the client send it chunked, so
		// only the MaxBytesReader can catch it.
		res := ts.do(t, "POST", "/raw-upload", testKey, io.MultiReader(strings.NewReader(strings.Repeat("x", 4096))))
		require.Equal(t, http.StatusRequestEntityTooLarge, res.status)
		res.problem(t)
	})
}

// stripSchema drops the $schema link huma adds to response bodies.
func stripSchema(t *testing.T, body []byte) string {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(body, &m))
	delete(m, "$schema")
	b, err := json.Marshal(m)
	require.NoError(t, err)
	return string(b)
}

func TestErrorMapping(t *testing.T) {
	ts := startServer(t, testConfig())

	tests := []struct {
		path   string
		status int
		detail string
	}{
		{"/things/missing", http.StatusNotFound, "thing missing: not found"},
		{"/things/taken", http.StatusConflict, "thing taken: conflict"},
		{"/things/gone", http.StatusGone, "thing was deleted"},
		{"/things/broken", http.StatusInternalServerError, "internal error"},
		{"/unmapped", http.StatusInternalServerError, "unexpected error occurred"},
		{"/things/panic", http.StatusInternalServerError, "internal error"},
		{"/raw-panic", http.StatusInternalServerError, "internal error"},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			res := ts.do(t, "GET", tc.path, testKey, nil)
			require.Equal(t, tc.status, res.status, "body: %s", res.body)
			p := res.problem(t)
			assert.Equal(t, tc.detail, p.Detail)
			assert.Empty(t, p.Errors)
			assert.NotContains(t, string(res.body), "hunter2", "internal error text must not leak")
		})
	}
	logs := ts.logs.String()
	assert.Contains(t, logs, `"msg":"unmapped handler error"`)
	assert.Contains(t, logs, `"msg":"handler error"`) // huma's own 500, detail moved to the log
	assert.Contains(t, logs, `"msg":"http handler panic"`)
	assert.Contains(t, logs, "hunter2")
}

func TestRequestID(t *testing.T) {
	ts := startServer(t, testConfig())

	res := ts.do(t, "GET", "/health", "", nil, RequestIDHeader, "abc-123")
	assert.Equal(t, "abc-123", res.header.Get(RequestIDHeader))
	assert.Contains(t, ts.logs.String(), `"request_id":"abc-123"`)

	generated := ts.do(t, "GET", "/health", "", nil).header.Get(RequestIDHeader)
	assert.NotEmpty(t, generated)
	assert.NotEqual(t, generated, ts.do(t, "GET", "/health", "", nil).header.Get(RequestIDHeader))

	replaced := ts.do(t, "GET", "/health", "", nil, RequestIDHeader, "bad id\twith\"quotes").header.Get(RequestIDHeader)
	assert.NotEmpty(t, replaced)
	assert.NotContains(t, replaced, " ")

	// Errors from middleware carry it too.
	assert.Equal(t, "xyz", ts.do(t, "GET", "/raw", "", nil, RequestIDHeader, "xyz").header.Get(RequestIDHeader))
}

func TestRawHandlerCanFlush(t *testing.T) {
	ts := startServer(t, testConfig())
	res := ts.do(t, "GET", "/raw-flush", testKey, nil)
	require.Equal(t, http.StatusOK, res.status)
	assert.Equal(t, "flushed", string(res.body))
}

func TestGracefulShutdownFinishesInFlightRequest(t *testing.T) {
	ts := startServer(t, testConfig())

	type result struct {
		res *http.Response
		err error
	}
	inFlight := make(chan result, 1)
	go func() {
		req, err := http.NewRequestWithContext(t.Context(), "GET", ts.base+"/slow", nil)
		if err != nil {
			inFlight <- result{err: err}
			return
		}
		req.Header.Set(APIKeyHeader, testKey)
		res, err := http.DefaultClient.Do(req)
		inFlight <- result{res, err}
	}()
	waitFor(t, ts.slowStarted, "slow handler to start")

	shutdownDone := make(chan error, 1)
	go func() { shutdownDone <- ts.Shutdown(t.Context()) }()

	// New connections are refused while the request is still running.
	fresh := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	require.Eventually(t, func() bool {
		res, err := fresh.Get(ts.base + "/health")
		if err != nil {
			return true
		}
		res.Body.Close()
		return false
	}, 5*time.Second, 10*time.Millisecond)
	select {
	case err := <-shutdownDone:
		t.Fatalf("shutdown returned before the in-flight request finished: %v", err)
	default:
	}

	close(ts.slowRelease)
	r := <-inFlight
	require.NoError(t, r.err)
	defer r.res.Body.Close()
	assert.Equal(t, http.StatusOK, r.res.StatusCode)
	body, err := io.ReadAll(r.res.Body)
	require.NoError(t, err)
	assert.Contains(t, string(body), `"id":"slow"`)

	select {
	case err := <-shutdownDone:
		require.NoError(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("shutdown did not return")
	}
}

func TestShutdownTimeoutClosesConnections(t *testing.T) {
	cfg := testConfig()
	cfg.ShutdownTimeout = 50 * time.Millisecond
	ts := startServer(t, cfg)

	inFlight := make(chan error, 1)
	go func() {
		req, err := http.NewRequestWithContext(t.Context(), "GET", ts.base+"/slow", nil)
		if err == nil {
			req.Header.Set(APIKeyHeader, testKey)
			var res *http.Response
			if res, err = http.DefaultClient.Do(req); err == nil {
				_, err = io.ReadAll(res.Body)
				res.Body.Close()
			}
		}
		inFlight <- err
	}()
	waitFor(t, ts.slowStarted, "slow handler to start")

	err := ts.Shutdown(t.Context())
	require.ErrorIs(t, err, context.DeadlineExceeded)
	select {
	case err := <-inFlight:
		assert.Error(t, err, "the stuck request's connection must be closed")
	case <-time.After(5 * time.Second):
		t.Fatal("stuck request was not cut off")
	}
}

func TestStartTwiceAndShutdownUnstarted(t *testing.T) {
	s, err := New(testConfig(), APIInfo{Title: "t", Version: "1"}, nil)
	require.NoError(t, err)
	require.NoError(t, s.Shutdown(t.Context()), "never started")
	assert.Empty(t, s.Addr())
	require.NoError(t, s.Start(t.Context()))
	t.Cleanup(func() { _ = s.Shutdown(context.Background()) })
	assert.NotEmpty(t, s.Addr())
	assert.Error(t, s.Start(t.Context()))
}

func TestNewRejectsInvalidInput(t *testing.T) {
	_, err := New(Config{}, APIInfo{}, nil)
	require.Error(t, err)
	for _, want := range []string{"api_key", "body_limit", "read_timeout", "title", "version"} {
		assert.Contains(t, err.Error(), want)
	}
}

func waitFor(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
}
