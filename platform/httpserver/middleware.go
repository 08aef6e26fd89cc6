package httpserver

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/netip"
	"runtime/debug"
	"strconv"
	"strings"
	"time"
)

// RequestIDHeader is echoed when the client sends a usable one, generated
// otherwise, and set on every response.
const RequestIDHeader = "X-Request-Id"

type requestIDKey struct{}

// RequestID is the request id of the request ctx belongs to, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// serveHTTP is the middleware chain, in order: request id, access log,
// panic recovery, per-IP rate limit, API key, per-key rate limit, body
// limit, then the mux (whose own 404/405 become problems).
func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	id := requestID(r.Header.Get(RequestIDHeader))
	w.Header().Set(RequestIDHeader, id)
	r = r.WithContext(context.WithValue(r.Context(), requestIDKey{}, id))
	ip := s.clientIP(r)

	rw := &responseWriter{ResponseWriter: w}
	var route string // the matched pattern, once known
	defer func() { s.finish(r, rw, ip, start, route) }()
	defer s.recoverPanic(r, rw)

	var ipDecision, keyDecision *rateDecision
	if s.ipRate != nil {
		d := s.ipRate.allow(rateKey(ip), start)
		if !d.Allowed {
			setRateHeaders(rw.Header(), d)
			WriteProblem(rw, http.StatusTooManyRequests, "rate limit exceeded for this client address")
			return
		}
		ipDecision = &d
	}

	_, pattern := s.mux.Handler(r)
	route = pattern
	isOperation, public := s.routes.lookup(pattern)
	if !public {
		key := r.Header.Get(APIKeyHeader)
		if key == "" { // the dashboard's session cookie stands for the key (dashboardauth.go)
			ok, status, detail := s.cookieAuth(r)
			if status != 0 {
				WriteProblem(rw, status, detail)
				return
			}
			if ok {
				key = s.cfg.APIKey
			}
		}
		if key == "" {
			WriteProblem(rw, http.StatusUnauthorized, "missing API key: send it in the "+APIKeyHeader+" header")
			return
		}
		sum := sha256.Sum256([]byte(key))
		// Hashes have a fixed length, so the comparison leaks nothing about
		// the key's length either.
		if subtle.ConstantTimeCompare(sum[:], s.keyHash[:]) != 1 {
			WriteProblem(rw, http.StatusUnauthorized, "invalid API key")
			return
		}
		if s.keyRate != nil {
			d := s.keyRate.allow(string(sum[:]), start)
			if !d.Allowed {
				setRateHeaders(rw.Header(), d)
				WriteProblem(rw, http.StatusTooManyRequests, "rate limit exceeded for this API key")
				return
			}
			keyDecision = &d
		}
	}
	// Report the limit closest to running out.
	if d := tighter(ipDecision, keyDecision); d != nil {
		setRateHeaders(rw.Header(), *d)
	}

	if pattern != "" {
		limit := s.cfg.BodyLimit
		if op := s.routes.operation(pattern); op != nil {
			limit = op.MaxBodyBytes
			if limit <= 0 {
				limit = humaDefaultBodyLimit
			}
		}
		bad, err := checkInputs(r, limit)
		if err != nil {
			WriteProblem(rw, http.StatusBadRequest, "the request body could not be read")
			return
		}
		if bad != nil {
			writeBadInput(rw, bad)
			return
		}
	}

	// huma operations enforce their own Operation.MaxBodyBytes.
	if !isOperation && r.Body != nil && r.Body != http.NoBody {
		if r.ContentLength > s.cfg.BodyLimit {
			WriteProblem(rw, http.StatusRequestEntityTooLarge,
				fmt.Sprintf("request body too large: limit is %d bytes", s.cfg.BodyLimit))
			return
		}
		// The original writer: MaxBytesReader tells it to close the connection.
		r.Body = http.MaxBytesReader(w, r.Body, s.cfg.BodyLimit)
	}
	// No pattern means the mux answers 404 or 405 itself, in plain text.
	rw.problemOnError = pattern == ""
	s.mux.ServeHTTP(rw, r)
}

// humaDefaultBodyLimit is the body limit huma applies to operations that set none.
const humaDefaultBodyLimit = 1024 * 1024

// requestID echoes a client's id when it is short and log-safe, else makes one.
func requestID(given string) string {
	if given != "" && len(given) <= 128 && strings.IndexFunc(given, func(c rune) bool {
		return !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '-' || c == '_' || c == '.' || c == ':')
	}) < 0 {
		return given
	}
	return rand.Text()
}

// clientIP is the peer's address or, with TrustProxyHeaders, the last
// X-Forwarded-For entry: the one the nearest proxy appended, which the
// client cannot forge (entries before it can be).
func (s *Server) clientIP(r *http.Request) netip.Addr {
	if s.cfg.TrustProxyHeaders {
		if values := r.Header.Values("X-Forwarded-For"); len(values) > 0 {
			last := values[len(values)-1]
			if i := strings.LastIndexByte(last, ','); i >= 0 {
				last = last[i+1:]
			}
			if addr, err := netip.ParseAddr(strings.TrimSpace(last)); err == nil {
				return addr.Unmap()
			}
		}
	}
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		return ap.Addr().Unmap()
	}
	return netip.Addr{}
}

// rateKey groups IPv6 clients by /64, the block one subscriber usually
// holds, so rotating addresses within it does not escape the limit.
func rateKey(ip netip.Addr) string {
	if ip.Is6() {
		if p, err := ip.Prefix(64); err == nil {
			return p.String()
		}
	}
	return ip.String()
}

func tighter(a, b *rateDecision) *rateDecision {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	case b.Remaining < a.Remaining:
		return b
	default:
		return a
	}
}

// setRateHeaders writes the IETF draft RateLimit-* fields (and Retry-After
// on refusal), in whole seconds rounded up.
func setRateHeaders(h http.Header, d rateDecision) {
	h.Set("RateLimit-Limit", strconv.Itoa(d.Limit))
	h.Set("RateLimit-Remaining", strconv.Itoa(d.Remaining))
	h.Set("RateLimit-Reset", strconv.Itoa(ceilSeconds(d.Reset)))
	if !d.Allowed {
		h.Set("Retry-After", strconv.Itoa(max(1, ceilSeconds(d.RetryAfter))))
	}
}

func ceilSeconds(d time.Duration) int {
	return int(math.Ceil(d.Seconds()))
}

func (s *Server) recoverPanic(r *http.Request, rw *responseWriter) {
	v := recover()
	if v == nil {
		return
	}
	if v == http.ErrAbortHandler { // net/http's own signal to abort quietly
		panic(v)
	}
	s.logger.ErrorContext(r.Context(), "http handler panic",
		slog.String("request_id", RequestID(r.Context())),
		slog.String("method", r.Method), slog.String("path", r.URL.Path),
		slog.Any("panic", v), slog.String("stack", string(debug.Stack())))
	if !rw.wroteHeader {
		WriteProblem(rw, http.StatusInternalServerError, "internal error")
	}
}

// finish logs the request and hands it to the observer.
func (s *Server) finish(r *http.Request, rw *responseWriter, ip netip.Addr, start time.Time, route string) {
	status := rw.status
	if status == 0 {
		// Nothing written: net/http sends 200, or aborts on panic.
		status = http.StatusOK
	}
	s.logAccess(r, rw, ip, start, status)
	s.mu.Lock()
	o := s.observer
	s.mu.Unlock()
	if o != nil {
		o.ObserveRequest(route, r.Method, status, time.Since(start))
	}
}

// logAccess logs one line per request: no query string, headers or bodies,
// so neither the API key nor message contents can end up in the log.
func (s *Server) logAccess(r *http.Request, rw *responseWriter, ip netip.Addr, start time.Time, status int) {
	level := slog.LevelInfo
	if status >= 500 {
		level = slog.LevelError
	}
	s.logger.LogAttrs(r.Context(), level, "http request",
		slog.String("method", r.Method),
		slog.String("path", r.URL.Path),
		slog.Int("status", status),
		slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
		slog.Int64("bytes", rw.bytes),
		slog.String("client_ip", ip.String()),
		slog.String("request_id", RequestID(r.Context())),
	)
}

// responseWriter records status and size for the access log and, when
// problemOnError is set, replaces an error response's body with a problem.
// It keeps Flush and Hijack reachable (Unwrap) for streaming handlers.
type responseWriter struct {
	http.ResponseWriter
	status      int
	bytes       int64
	wroteHeader bool
	// problemOnError: the mux is about to answer 404/405 in plain text.
	problemOnError bool
	discardBody    bool
}

func (w *responseWriter) WriteHeader(code int) {
	if w.wroteHeader {
		w.ResponseWriter.WriteHeader(code) // let net/http report the superfluous call
		return
	}
	if code < 200 {
		w.ResponseWriter.WriteHeader(code) // informational: the real status follows
		return
	}
	w.wroteHeader = true
	w.status = code
	if w.problemOnError && code >= 400 {
		w.discardBody = true
		detail := "no route matches this path"
		if code == http.StatusMethodNotAllowed {
			detail = "method not allowed for this path; see the Allow header"
		}
		body := &countingWriter{ResponseWriter: w.ResponseWriter}
		WriteProblem(body, code, detail)
		w.bytes += body.n
		return
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *responseWriter) Write(p []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if w.discardBody {
		return len(p), nil
	}
	n, err := w.ResponseWriter.Write(p)
	w.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the connection (deadlines).
func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush is implemented directly because streaming code (SSE) checks for
// http.Flusher by type assertion.
func (w *responseWriter) Flush() {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Hijack is implemented directly because websocket libraries check for
// http.Hijacker by type assertion.
func (w *responseWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, rw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err == nil && !w.wroteHeader {
		w.wroteHeader = true
		w.status = http.StatusSwitchingProtocols
	}
	return conn, rw, err
}

// countingWriter counts the bytes WriteProblem sends through it.
type countingWriter struct {
	http.ResponseWriter
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.ResponseWriter.Write(p)
	c.n += int64(n)
	return n, err
}
