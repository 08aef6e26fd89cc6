package httpserver

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Dashboard sign-in. The dashboard page (package dashboard) trades the API key for a session
// cookie once; the auth middleware then accepts that cookie in place of the x-28web-gateway-key
// header, so that the key never sits in the page's storage, a URL or the cookie itself.
//
// The cookie holds a token signed with a secret derived from the API key (HMAC-SHA256): every
// replica sharing the key accepts it, a restart keeps it, rotating the key voids every one. It is
// HttpOnly, SameSite=Strict and Secure when the request came over TLS. A request authenticated by
// the cookie that changes state (any method but GET, HEAD and OPTIONS) must also carry
// X-Requested-With: 28web-dashboard, which no cross-site form can send and no cross-origin script
// can without a CORS preflight the server never grants, and an Origin, when sent, naming this host.
// Signing out revokes the token in this process (other replicas honour it until it expires).
const (
	// SessionCookieName is the dashboard session cookie.
	SessionCookieName = "gw_dashboard"
	// SessionTTL is how long a dashboard session lasts from sign-in.
	SessionTTL = 12 * time.Hour
	// CSRFHeader must carry CSRFHeaderValue on state-changing cookie-authenticated requests.
	CSRFHeader      = "X-Requested-With"
	CSRFHeaderValue = "28web-dashboard"
)

const sessionTokenVersion = "v1"

// cookieSessions signs and checks dashboard session tokens.
type cookieSessions struct {
	secret [sha256.Size]byte
	now    func() time.Time

	mu      sync.Mutex
	revoked map[string]time.Time // token nonce → its expiry (forgotten after it)
}

func newCookieSessions(apiKey string) *cookieSessions {
	m := hmac.New(sha256.New, []byte(apiKey))
	m.Write([]byte("28web gateway dashboard session cookie v1"))
	c := &cookieSessions{now: time.Now, revoked: map[string]time.Time{}}
	copy(c.secret[:], m.Sum(nil))
	return c
}

// payload: 8 bytes of expiry (Unix seconds, big endian) then a 16-byte random nonce.
const sessionPayloadLen = 8 + 16

func (c *cookieSessions) mac(payload []byte) []byte {
	m := hmac.New(sha256.New, c.secret[:])
	m.Write([]byte(sessionTokenVersion + "."))
	m.Write(payload)
	return m.Sum(nil)
}

// issue makes a token valid until now+SessionTTL.
func (c *cookieSessions) issue() (token string, expires time.Time) {
	expires = c.now().Add(SessionTTL).Truncate(time.Second)
	payload := make([]byte, sessionPayloadLen)
	binary.BigEndian.PutUint64(payload, uint64(expires.Unix()))
	_, _ = rand.Read(payload[8:])
	enc := base64.RawURLEncoding
	return sessionTokenVersion + "." + enc.EncodeToString(payload) + "." + enc.EncodeToString(c.mac(payload)), expires
}

var errBadSession = errors.New("dashboard session invalid or expired: sign in again")

// check verifies a token: signed with this key, not expired, not revoked. It returns the
// token's nonce (for revocation) and expiry.
func (c *cookieSessions) check(token string) (nonce string, expires time.Time, err error) {
	version, rest, ok := strings.Cut(token, ".")
	if !ok || version != sessionTokenVersion {
		return "", time.Time{}, errBadSession
	}
	p, m, ok := strings.Cut(rest, ".")
	if !ok {
		return "", time.Time{}, errBadSession
	}
	enc := base64.RawURLEncoding
	payload, err1 := enc.DecodeString(p)
	sig, err2 := enc.DecodeString(m)
	if err1 != nil || err2 != nil || len(payload) != sessionPayloadLen || !hmac.Equal(sig, c.mac(payload)) {
		return "", time.Time{}, errBadSession
	}
	expires = time.Unix(int64(binary.BigEndian.Uint64(payload)), 0)
	now := c.now()
	if !now.Before(expires) {
		return "", time.Time{}, errBadSession
	}
	nonce = string(payload[8:])
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, gone := c.revoked[nonce]; gone {
		return "", time.Time{}, errBadSession
	}
	return nonce, expires, nil
}

// revoke voids a token in this process until it would have expired.
func (c *cookieSessions) revoke(nonce string, expires time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	for n, exp := range c.revoked {
		if !now.Before(exp) {
			delete(c.revoked, n)
		}
	}
	c.revoked[nonce] = expires
}

// cookieAuth is the middleware's fallback when a request carries no API key header. ok: a valid
// session cookie authenticates the request. status (401 or 403) and detail: the request carries a
// cookie that must be refused. All zero: no cookie.
func (s *Server) cookieAuth(r *http.Request) (ok bool, status int, detail string) {
	cookie, err := r.Cookie(SessionCookieName)
	if err != nil || cookie.Value == "" {
		return false, 0, ""
	}
	if _, _, err := s.cookies.check(cookie.Value); err != nil {
		return false, http.StatusUnauthorized, err.Error()
	}
	if reason := crossSite(r, !safeMethod(r.Method)); reason != "" {
		return false, http.StatusForbidden, reason
	}
	return true, 0, ""
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// crossSite says why a cookie-authenticated request looks forged, or "". An Origin header, when
// present, must name this host; needHeader also requires the CSRF header.
func crossSite(r *http.Request, needHeader bool) string {
	if origin := r.Header.Get("Origin"); origin != "" {
		u, err := url.Parse(origin)
		if err != nil || u.Host == "" || !strings.EqualFold(u.Host, r.Host) {
			return "cross-site request refused: the Origin is not this gateway"
		}
	}
	if needHeader && r.Header.Get(CSRFHeader) != CSRFHeaderValue {
		return "cross-site request refused: a request authenticated by the dashboard cookie must send " +
			CSRFHeader + ": " + CSRFHeaderValue
	}
	return ""
}

// secureRequest reports whether the client reached the gateway over TLS (directly, or through a
// trusted proxy that says so).
func (s *Server) secureRequest(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	return s.cfg.TrustProxyHeaders && strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

func (s *Server) sessionCookie(r *http.Request, value string, expires time.Time) *http.Cookie {
	c := &http.Cookie{Name: SessionCookieName, Value: value, Path: "/", HttpOnly: true,
		Secure: s.secureRequest(r), SameSite: http.SameSiteStrictMode}
	if value == "" {
		c.MaxAge = -1
	} else {
		c.Expires = expires
		c.MaxAge = int(time.Until(expires).Seconds())
	}
	return c
}

// SessionInfo is the answer of the dashboard session routes.
type SessionInfo struct {
	SignedIn  bool      `json:"signedIn"`
	ExpiresAt time.Time `json:"expiresAt,omitzero"`
}

// signInLimit bounds a sign-in body.
const signInLimit = 4 << 10

// HandleSessionRoutes serves the dashboard session under path (public routes; the key or the
// cookie is checked here):
//
//	POST   path  sign in: {"apiKey": "..."} (JSON) or apiKey=... (form) → 200 SessionInfo and the
//	             cookie; 401 for a wrong key
//	GET    path  200 SessionInfo while the cookie is valid, 401 otherwise
//	DELETE path  sign out: revokes the cookie's token and clears it → 204
func (s *Server) HandleSessionRoutes(path string) {
	s.HandlePublic("POST "+path, http.HandlerFunc(s.signIn))
	s.HandlePublic("GET "+path, http.HandlerFunc(s.sessionStatus))
	s.HandlePublic("DELETE "+path, http.HandlerFunc(s.signOut))
}

func (s *Server) signIn(w http.ResponseWriter, r *http.Request) {
	// Login CSRF: a page elsewhere must not sign a browser in to this gateway either.
	if reason := crossSite(r, false); reason != "" {
		WriteProblem(w, http.StatusForbidden, reason)
		return
	}
	key, err := signInKey(r)
	if err != nil {
		WriteProblem(w, http.StatusBadRequest, err.Error())
		return
	}
	sum := sha256.Sum256([]byte(key))
	if key == "" || subtle.ConstantTimeCompare(sum[:], s.keyHash[:]) != 1 {
		WriteProblem(w, http.StatusUnauthorized, "invalid API key")
		return
	}
	token, expires := s.cookies.issue()
	http.SetCookie(w, s.sessionCookie(r, token, expires))
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, SessionInfo{SignedIn: true, ExpiresAt: expires.UTC()})
}

func signInKey(r *http.Request) (string, error) {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	body, err := io.ReadAll(io.LimitReader(r.Body, signInLimit+1))
	if err != nil || len(body) > signInLimit {
		return "", errors.New("the sign-in body could not be read (at most 4 KiB)")
	}
	switch ct {
	case "application/json":
		var in struct {
			APIKey string `json:"apiKey"`
		}
		if err := json.Unmarshal(body, &in); err != nil {
			return "", errors.New(`the sign-in body must be {"apiKey": "..."}`)
		}
		return in.APIKey, nil
	case "application/x-www-form-urlencoded":
		v, err := url.ParseQuery(string(body))
		if err != nil {
			return "", errors.New("the sign-in form could not be parsed")
		}
		return v.Get("apiKey"), nil
	default:
		return "", errors.New("sign in with application/json or a form")
	}
}

func (s *Server) sessionStatus(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	cookie, err := r.Cookie(SessionCookieName)
	if err != nil {
		WriteProblem(w, http.StatusUnauthorized, "not signed in")
		return
	}
	_, expires, err := s.cookies.check(cookie.Value)
	if err != nil {
		WriteProblem(w, http.StatusUnauthorized, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, SessionInfo{SignedIn: true, ExpiresAt: expires.UTC()})
}

func (s *Server) signOut(w http.ResponseWriter, r *http.Request) {
	if reason := crossSite(r, true); reason != "" {
		WriteProblem(w, http.StatusForbidden, reason)
		return
	}
	if cookie, err := r.Cookie(SessionCookieName); err == nil {
		if nonce, expires, err := s.cookies.check(cookie.Value); err == nil {
			s.cookies.revoke(nonce, expires)
		}
	}
	http.SetCookie(w, s.sessionCookie(r, "", time.Time{}))
	w.WriteHeader(http.StatusNoContent)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
