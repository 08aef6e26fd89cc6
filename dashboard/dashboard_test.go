package dashboard

import (
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/28web/hub/platform/httpserver"
)

const key = "dashboard-test-key"

func server(t *testing.T) http.Handler {
	t.Helper()
	var cfg httpserver.Config
	cfg.SetDefaults()
	cfg.APIKey = key
	srv, err := httpserver.New(cfg, httpserver.APIInfo{Title: "t", Version: "1"}, nil)
	require.NoError(t, err)
	Register(srv)
	return srv.Handler()
}

func get(t *testing.T, h http.Handler, path string) *http.Response {
	t.Helper()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "http://gw.test"+path, nil))
	return w.Result()
}

func TestAssetsServedWithoutKeyAndWithSecurityHeaders(t *testing.T) {
	h := server(t)
	for _, p := range []string{"/dashboard/", "/dashboard/app.js", "/dashboard/api.js", "/dashboard/i18n.js", "/dashboard/style.css",
		"/dashboard/vendor/uPlot.iife.min.js", "/dashboard/vendor/uPlot.min.css", "/dashboard/favicon.svg"} {
		res := get(t, h, p)
		assert.Equal(t, http.StatusOK, res.StatusCode, p)
		assert.Equal(t, ContentSecurityPolicy, res.Header.Get("Content-Security-Policy"), p)
		assert.Equal(t, "nosniff", res.Header.Get("X-Content-Type-Options"), p)
		assert.Equal(t, "no-referrer", res.Header.Get("Referrer-Policy"), p)
		assert.Equal(t, "DENY", res.Header.Get("X-Frame-Options"), p)
	}
	assert.Contains(t, get(t, h, "/dashboard/app.js").Header.Get("Content-Type"), "javascript")
	res := get(t, h, "/dashboard")
	assert.Equal(t, http.StatusMovedPermanently, res.StatusCode)
	assert.Equal(t, "/dashboard/", res.Header.Get("Location"))
}

func TestCSPIsStrict(t *testing.T) {
	for _, directive := range []string{"default-src 'self'", "script-src 'self'", "frame-ancestors 'none'", "object-src 'none'", "base-uri 'none'"} {
		assert.Contains(t, ContentSecurityPolicy, directive)
	}
	assert.NotContains(t, ContentSecurityPolicy, "unsafe-inline")
	assert.NotContains(t, ContentSecurityPolicy, "unsafe-eval")
}

// The CSP forbids inline scripts and handlers: the page must have none, or it breaks.
func TestPageHasNoInlineScriptOrHandler(t *testing.T) {
	err := fs.WalkDir(Assets(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".html") {
			return err
		}
		b, err := fs.ReadFile(Assets(), p)
		require.NoError(t, err)
		html := string(b)
		for _, m := range regexp.MustCompile(`(?is)<script\b([^>]*)>`).FindAllStringSubmatch(html, -1) {
			assert.Contains(t, m[1], "src=", "%s: inline script %q", p, m[0])
		}
		assert.NotRegexp(t, `(?i)\son[a-z]+\s*=`, html, "%s: inline event handler", p)
		assert.NotRegexp(t, `(?i)\sstyle\s*=`, html, "%s: inline style", p)
		return nil
	})
	require.NoError(t, err)
}

// The page never puts the key anywhere but the sign-in request body.
func TestScriptsNeverStoreTheKey(t *testing.T) {
	for _, f := range []string{"app.js", "api.js", "i18n.js"} {
		b, err := fs.ReadFile(Assets(), f)
		require.NoError(t, err)
		src := string(b)
		// Not sent as a header (the cookie stands for it), not stored, not in a cookie of its own.
		assert.False(t, regexp.MustCompile(`(?i)["']x-28web-gateway-key["']\s*[:\]]`).MatchString(src), "%s sends the key header", f)
		assert.False(t, regexp.MustCompile(`(?:local|session)Storage\.setItem\(\s*["'](?:key|apiKey)`).MatchString(src), "%s stores the key", f)
		assert.False(t, strings.Contains(src, "document.cookie"), "%s touches cookies", f)
	}
}

func TestVendoredChartLibraryHasItsLicence(t *testing.T) {
	b, err := fs.ReadFile(Assets(), "vendor/uPlot.LICENSE")
	require.NoError(t, err)
	assert.Contains(t, string(b), "MIT License")
}

func TestSignInThroughTheDashboardRoutes(t *testing.T) {
	h := server(t)
	post := func(body string) *http.Response {
		r := httptest.NewRequest(http.MethodPost, "http://gw.test"+SessionPath, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Result()
	}
	res := post(`{"apiKey":"wrong"}`)
	assert.Equal(t, http.StatusUnauthorized, res.StatusCode)
	res = post(`{"apiKey":"` + key + `"}`)
	require.Equal(t, http.StatusOK, res.StatusCode)
	body, _ := io.ReadAll(res.Body)
	assert.Contains(t, string(body), `"signedIn":true`)
	var cookie *http.Cookie
	for _, c := range res.Cookies() {
		if c.Name == httpserver.SessionCookieName {
			cookie = c
		}
	}
	require.NotNil(t, cookie)
	r := httptest.NewRequest(http.MethodGet, "http://gw.test"+SessionPath, nil)
	r.AddCookie(cookie)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	assert.Equal(t, http.StatusOK, w.Code)
}
