package httpserver

import (
	"bytes"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"
)

// net/http answers requests it cannot parse (a raw "%" in the path, a NUL in
// a header, a malformed request line, headers over the limit) itself, before
// any handler runs, with a plain-text response written to the connection in
// one piece. problemListener rewrites exactly those responses into
// problem+json and access-logs them, so that every answer of the gateway has
// one shape. Everything else passes through untouched.
//
// The responses are recognised by their fixed header block: net/http's own
// responses always carry a Date header and sort Connection before
// Content-Type, so no response of a handler can take this form.
const rawErrorHeaders = "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"

// UnparsedRoute is the route a RequestObserver is given for a request net/http
// could not parse.
const UnparsedRoute = "unparsed"

// rawErrorObserver learns of each rewritten answer (for the access log and
// metrics).
type rawErrorObserver func(remote net.Addr, status int, detail string)

type problemListener struct {
	net.Listener
	observe rawErrorObserver
}

func (l *problemListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &problemConn{Conn: c, observe: l.observe}, nil
}

type problemConn struct {
	net.Conn
	observe rawErrorObserver
}

func (c *problemConn) Write(p []byte) (int, error) {
	status, detail, ok := parseRawError(p)
	if !ok {
		return c.Conn.Write(p)
	}
	if _, err := c.Conn.Write(problemResponse(status, detail)); err != nil {
		return 0, err
	}
	if c.observe != nil {
		c.observe(c.RemoteAddr(), status, detail)
	}
	// net/http wrote p as a whole; tell it so.
	return len(p), nil
}

// parseRawError reports whether p is one whole plain-text error response as
// net/http writes it: "HTTP/1.1 <code> <reason>" + rawErrorHeaders + body.
func parseRawError(p []byte) (status int, detail string, ok bool) {
	rest, found := bytes.CutPrefix(p, []byte("HTTP/1.1 "))
	if !found {
		return 0, "", false
	}
	statusLine, body, found := bytes.Cut(rest, []byte(rawErrorHeaders))
	if !found || bytes.ContainsAny(statusLine, "\r\n") || len(statusLine) < 4 || statusLine[3] != ' ' {
		return 0, "", false
	}
	code, err := strconv.Atoi(string(statusLine[:3]))
	if err != nil || code < 400 || code > 599 {
		return 0, "", false
	}
	return code, string(body), true
}

func problemResponse(status int, detail string) []byte {
	body, err := problemBody(status, "the request could not be parsed: "+detail)
	if err != nil {
		body = []byte(`{"type":"about:blank","status":` + strconv.Itoa(status) + "}\n")
	}
	var b bytes.Buffer
	b.WriteString("HTTP/1.1 " + strconv.Itoa(status) + " " + http.StatusText(status) + "\r\n")
	b.WriteString("Content-Type: application/problem+json\r\n")
	b.WriteString("X-Content-Type-Options: nosniff\r\n")
	b.WriteString("Date: " + time.Now().UTC().Format(http.TimeFormat) + "\r\n")
	b.WriteString("Content-Length: " + strconv.Itoa(len(body)) + "\r\n")
	b.WriteString("Connection: close\r\n\r\n")
	b.Write(body)
	return b.Bytes()
}

// logRawError is the access-log line of an answer net/http gave before the
// middleware: no method, path or request id are known.
func (s *Server) logRawError(remote net.Addr, status int, detail string) {
	ip, _, err := net.SplitHostPort(remote.String())
	if err != nil {
		ip = remote.String()
	}
	s.logger.Warn("http request",
		slog.String("method", ""),
		slog.String("path", ""),
		slog.Int("status", status),
		slog.String("client_ip", ip),
		slog.String("error", detail),
		slog.Bool("unparsed", true))
	s.mu.Lock()
	o := s.observer
	s.mu.Unlock()
	if o != nil {
		o.ObserveRequest(UnparsedRoute, "", status, 0)
	}
}
