package httpserver

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// cookieTestServer is a server (not listening: requests go to its Handler) with one read and
// one state-changing operation, and the dashboard session routes.
func cookieTestServer(t *testing.T) *Server {
	t.Helper()
	s, err := New(testConfig(), APIInfo{Title: "t", Version: "1"}, nil)
	require.NoError(t, err)
	type out struct {
		Body struct {
			OK bool `json:"ok"`
		}
	}
	h := func(context.Context, *struct{}) (*out, error) {
		o := &out{}
		o.Body.OK = true
		return o, nil
	}
	huma.Register(s.API(), huma.Operation{OperationID: "read", Method: http.MethodGet, Path: "/api/v1/thing"}, h)
	huma.Register(s.API(), huma.Operation{OperationID: "write", Method: http.MethodPost, Path: "/api/v1/thing"}, h)
	s.HandleSessionRoutes("/dashboard/session")
	return s
}

func serve(s *Server, r *http.Request) *httptest.ResponseRecorder {
	if r.RemoteAddr == "" || r.RemoteAddr == "192.0.2.1:1234" {
		r.RemoteAddr = "127.0.0.1:5555"
	}
	w := httptest.NewRecorder()
	s.Handler().ServeHTTP(w, r)
	return w
}

func signIn(t *testing.T, s *Server, body, contentType string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "http://gw.test/dashboard/session", strings.NewReader(body))
	r.Header.Set("Content-Type", contentType)
	r.Header.Set("Origin", "http://gw.test")
	return serve(s, r)
}

func sessionCookieOf(t *testing.T, w *httptest.ResponseRecorder) *http.Cookie {
	t.Helper()
	for _, c := range w.Result().Cookies() {
		if c.Name == SessionCookieName {
			return c
		}
	}
	t.Fatalf("no %s cookie in %v", SessionCookieName, w.Result().Header)
	return nil
}

func withCookie(r *http.Request, c *http.Cookie) *http.Request {
	r.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	return r
}

func TestDashboardSignInSetsAHardenedCookieWithoutTheKey(t *testing.T) {
	s := cookieTestServer(t)
	for name, tc := range map[string]struct{ body, ct string }{
		"json": {`{"apiKey":"` + testKey + `"}`, "application/json"},
		"form": {"apiKey=" + testKey, "application/x-www-form-urlencoded"},
	} {
		t.Run(name, func(t *testing.T) {
			w := signIn(t, s, tc.body, tc.ct)
			require.Equal(t, http.StatusOK, w.Code, w.Body.String())
			c := sessionCookieOf(t, w)
			assert.True(t, c.HttpOnly)
			assert.Equal(t, http.SameSiteStrictMode, c.SameSite)
			assert.Equal(t, "/", c.Path)
			assert.False(t, c.Secure, "plain HTTP: a Secure cookie would never come back")
			assert.NotContains(t, c.Value, testKey)
			assert.NotContains(t, w.Body.String(), testKey)
			assert.WithinDuration(t, time.Now().Add(SessionTTL), c.Expires, 5*time.Second)
		})
	}
}

func TestDashboardSignInSecureBehindTLS(t *testing.T) {
	s := cookieTestServer(t)
	r := httptest.NewRequest(http.MethodPost, "https://gw.test/dashboard/session", strings.NewReader(`{"apiKey":"`+testKey+`"}`))
	r.Header.Set("Content-Type", "application/json")
	w := serve(s, r)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	assert.True(t, sessionCookieOf(t, w).Secure)
}

func TestDashboardSignInWrongKeyRefused(t *testing.T) {
	s := cookieTestServer(t)
	for _, body := range []string{`{"apiKey":"nope"}`, `{"apiKey":""}`, `{}`} {
		w := signIn(t, s, body, "application/json")
		assert.Equal(t, http.StatusUnauthorized, w.Code, body)
		assert.Empty(t, w.Result().Cookies(), body)
	}
	// From another site's page: refused before the key is even looked at.
	r := httptest.NewRequest(http.MethodPost, "http://gw.test/dashboard/session", strings.NewReader(`{"apiKey":"`+testKey+`"}`))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Origin", "https://evil.example")
	w := serve(s, r)
	assert.Equal(t, http.StatusForbidden, w.Code)
	assert.Empty(t, w.Result().Cookies())
}

func TestDashboardCookieAuthenticatesAPICalls(t *testing.T) {
	s := cookieTestServer(t)
	c := sessionCookieOf(t, signIn(t, s, `{"apiKey":"`+testKey+`"}`, "application/json"))

	// Valid cookie: reads need nothing else.
	w := serve(s, withCookie(httptest.NewRequest(http.MethodGet, "http://gw.test/api/v1/thing", nil), c))
	assert.Equal(t, http.StatusOK, w.Code, w.Body.String())
	w = serve(s, withCookie(httptest.NewRequest(http.MethodGet, "http://gw.test/dashboard/session", nil), c))
	assert.Equal(t, http.StatusOK, w.Code, w.Body.String())

	// A write with the CSRF header (and a same-origin Origin) passes.
	r := withCookie(httptest.NewRequest(http.MethodPost, "http://gw.test/api/v1/thing", nil), c)
	r.Header.Set(CSRFHeader, CSRFHeaderValue)
	r.Header.Set("Origin", "http://gw.test")
	w = serve(s, r)
	assert.Equal(t, http.StatusOK, w.Code, w.Body.String())

	// No cookie, no key: refused as before.
	w = serve(s, httptest.NewRequest(http.MethodGet, "http://gw.test/api/v1/thing", nil))
	assert.Equal(t, http.StatusUnauthorized, w.Code)
}

func TestDashboardCookieCSRFRefused(t *testing.T) {
	s := cookieTestServer(t)
	c := sessionCookieOf(t, signIn(t, s, `{"apiKey":"`+testKey+`"}`, "application/json"))

	// A cross-site form post: no custom header.
	r := withCookie(httptest.NewRequest(http.MethodPost, "http://gw.test/api/v1/thing", nil), c)
	w := serve(s, r)
	assert.Equal(t, http.StatusForbidden, w.Code, w.Body.String())
	assert.Contains(t, w.Body.String(), CSRFHeader)

	// The header with a foreign Origin.
	r = withCookie(httptest.NewRequest(http.MethodPost, "http://gw.test/api/v1/thing", nil), c)
	r.Header.Set(CSRFHeader, CSRFHeaderValue)
	r.Header.Set("Origin", "https://evil.example")
	w = serve(s, r)
	assert.Equal(t, http.StatusForbidden, w.Code, w.Body.String())

	// A foreign Origin on a read (e.g. a cross-origin EventSource) is refused too.
	r = withCookie(httptest.NewRequest(http.MethodGet, "http://gw.test/api/v1/thing", nil), c)
	r.Header.Set("Origin", "https://evil.example")
	w = serve(s, r)
	assert.Equal(t, http.StatusForbidden, w.Code, w.Body.String())

	// Signing out needs the header as well.
	r = withCookie(httptest.NewRequest(http.MethodDelete, "http://gw.test/dashboard/session", nil), c)
	w = serve(s, r)
	assert.Equal(t, http.StatusForbidden, w.Code)
}

func TestDashboardCookieExpired(t *testing.T) {
	s := cookieTestServer(t)
	c := sessionCookieOf(t, signIn(t, s, `{"apiKey":"`+testKey+`"}`, "application/json"))
	s.cookies.now = func() time.Time { return time.Now().Add(SessionTTL + time.Minute) }
	w := serve(s, withCookie(httptest.NewRequest(http.MethodGet, "http://gw.test/api/v1/thing", nil), c))
	assert.Equal(t, http.StatusUnauthorized, w.Code, w.Body.String())
	assert.Contains(t, w.Body.String(), "sign in again")
	w = serve(s, withCookie(httptest.NewRequest(http.MethodGet, "http://gw.test/dashboard/session", nil), c))
	assert.Equal(t, http.StatusUnauthorized, w.Code)
}

func TestDashboardCookieForged(t *testing.T) {
	s := cookieTestServer(t)
	good := sessionCookieOf(t, signIn(t, s, `{"apiKey":"`+testKey+`"}`, "application/json")).Value

	// The same token format signed with another key (another gateway's cookie).
	other := newCookieSessions("another-key")
	foreign, _ := other.issue()
	// The signed payload altered: expiry pushed out.
	parts := strings.Split(good, ".")
	require.Len(t, parts, 3)
	payload := []byte(parts[1])
	payload[0] ^= 1
	tampered := parts[0] + "." + string(payload) + "." + parts[2]

	for name, value := range map[string]string{
		"foreign key": foreign, "tampered": tampered, "garbage": "v1.abc.def", "the key itself": testKey,
		"no signature": parts[0] + "." + parts[1], "other version": "v2." + parts[1] + "." + parts[2],
	} {
		r := httptest.NewRequest(http.MethodGet, "http://gw.test/api/v1/thing", nil)
		r.AddCookie(&http.Cookie{Name: SessionCookieName, Value: value})
		w := serve(s, r)
		assert.Equal(t, http.StatusUnauthorized, w.Code, name)
	}

	// A server with a rotated key refuses the old cookies.
	cfg := testConfig()
	cfg.APIKey = "rotated-key"
	rotated, err := New(cfg, APIInfo{Title: "t", Version: "1"}, nil)
	require.NoError(t, err)
	_, _, err = rotated.cookies.check(good)
	assert.Error(t, err)
}

func TestDashboardSignOutRevokes(t *testing.T) {
	s := cookieTestServer(t)
	c := sessionCookieOf(t, signIn(t, s, `{"apiKey":"`+testKey+`"}`, "application/json"))
	r := withCookie(httptest.NewRequest(http.MethodDelete, "http://gw.test/dashboard/session", nil), c)
	r.Header.Set(CSRFHeader, CSRFHeaderValue)
	w := serve(s, r)
	require.Equal(t, http.StatusNoContent, w.Code)
	cleared := sessionCookieOf(t, w)
	assert.Empty(t, cleared.Value)
	assert.Negative(t, cleared.MaxAge)

	w = serve(s, withCookie(httptest.NewRequest(http.MethodGet, "http://gw.test/api/v1/thing", nil), c))
	assert.Equal(t, http.StatusUnauthorized, w.Code, "a revoked token is refused")
}

func TestDashboardHeaderKeyStillWins(t *testing.T) {
	s := cookieTestServer(t)
	r := httptest.NewRequest(http.MethodGet, "http://gw.test/api/v1/thing", nil)
	r.Header.Set(APIKeyHeader, "wrong")
	r.AddCookie(&http.Cookie{Name: SessionCookieName, Value: "whatever"})
	assert.Equal(t, http.StatusUnauthorized, serve(s, r).Code)
	r = httptest.NewRequest(http.MethodPost, "http://gw.test/api/v1/thing", nil)
	r.Header.Set(APIKeyHeader, testKey)
	r.AddCookie(&http.Cookie{Name: SessionCookieName, Value: "whatever"})
	assert.Equal(t, http.StatusOK, serve(s, r).Code, "API clients are not subject to the cookie's CSRF rules")
}
