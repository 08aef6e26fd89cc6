// Package dashboard serves the gateway's web dashboard at /dashboard/: static, hand-written
// HTML, CSS and ES modules embedded in the binary (no build step), which drive the REST API
// with the session cookie the gateway issues at sign-in (platform/httpserver, dashboardauth.go).
// The chart library, uPlot, is vendored minified under assets/vendor with its licence.
//
// Every dashboard response carries a strict Content-Security-Policy (scripts, styles and
// connections from the gateway itself only; no inline scripts; no framing), nosniff, a
// no-referrer policy and no caching of the sign-in answers.
package dashboard

import (
	"embed"
	"io/fs"
	"net/http"

	"go.uber.org/fx"

	"github.com/28web/hub/platform/httpserver"
)

// Path is where the dashboard is served.
const Path = "/dashboard/"

// SessionPath is where the page signs in (POST), checks (GET) and signs out (DELETE).
const SessionPath = "/dashboard/session"

//go:embed assets
var assets embed.FS

// ContentSecurityPolicy is sent with every dashboard response. img-src allows data: for the QR
// PNG the API returns as a data URL.
const ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// SecurityHeaders sets the dashboard's security headers on h.
func SecurityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", ContentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
}

// Assets is the embedded file tree (index.html at its root).
func Assets() fs.FS {
	sub, err := fs.Sub(assets, "assets")
	if err != nil {
		panic(err) // the embedded tree always has assets/
	}
	return sub
}

// Handler serves the assets under Path with the security headers.
func Handler() http.Handler {
	files := http.StripPrefix(Path, http.FileServerFS(Assets()))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		SecurityHeaders(w.Header())
		// Assets are revalidated on every load: an upgraded gateway serves its own page at once.
		w.Header().Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	})
}

// withHeaders adds the security headers to h's answers.
func withHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		SecurityHeaders(w.Header())
		h.ServeHTTP(w, r)
	})
}

// Register serves the dashboard and its sign-in routes on srv. The assets are public (they hold
// no data); every API call the page makes needs the session cookie.
func Register(srv *httpserver.Server) {
	srv.HandlePublic("GET "+Path, Handler())
	srv.HandlePublic("GET /dashboard", withHeaders(http.RedirectHandler(Path, http.StatusMovedPermanently)))
	srv.HandleSessionRoutes(SessionPath)
}

// Module registers the dashboard on the gateway's HTTP server.
var Module = fx.Module("dashboard", fx.Invoke(Register))
