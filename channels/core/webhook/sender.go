package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
	"time"

	"github.com/28web/hub/channels/core"
	"github.com/28web/hub/platform/netguard"
)

// userAgent identifies the gateway's webhook requests.
const userAgent = "28web-gateway-webhooks/1"

// verdict is what an attempt's outcome means for its delivery.
type verdict int

const (
	verdictSuccess verdict = iota
	// verdictRetry: try again later, on the schedule or after Retry-After.
	verdictRetry
	// verdictDead: a non-retryable answer; dead-letter now.
	verdictDead
	// verdictGone: 410, dead-letter and disable the endpoint.
	verdictGone
)

// attemptResult is one HTTP attempt's outcome.
type attemptResult struct {
	verdict    verdict
	status     int
	latency    time.Duration
	err        string
	retryAfter time.Duration
}

// send performs one attempt: POST body to ep, signed, within timeout.
func (d *Dispatcher) send(ctx context.Context, ep *Endpoint, eventID core.EventID, body []byte) attemptResult {
	ctx, cancel := context.WithTimeout(ctx, d.cfg.Timeout)
	defer cancel()
	now := d.now()
	sig, err := Sign(ep.secrets(now), string(eventID), now, body)
	if err != nil {
		return attemptResult{verdict: verdictRetry, err: "sign: " + err.Error()}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep.URL, bytes.NewReader(body))
	if err != nil {
		return attemptResult{verdict: verdictDead, err: "build request: " + err.Error()}
	}
	h := req.Header
	for k, v := range ep.Headers {
		h.Set(k, v)
	}
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", userAgent)
	h.Set(HeaderID, string(eventID))
	h.Set(HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
	h.Set(HeaderSignature, sig)
	if ep.ID == GlobalEndpointID && d.cfg.APIKey != "" {
		h.Set(HeaderGatewayKey, d.cfg.APIKey)
	}

	client := d.client
	if ep.ID == GlobalEndpointID {
		client = d.trusted
	}
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		res := attemptResult{verdict: verdictRetry, latency: time.Since(start), err: describeError(err)}
		if errors.Is(err, netguard.ErrForbidden) {
			// The name resolves to an address the gateway must not reach: no retry would be
			// allowed either, so the delivery is dead at once, with the reason.
			res.verdict, res.err = verdictDead, "refused by the SSRF policy: "+res.err
		}
		return res
	}
	defer resp.Body.Close()
	snippet, readErr := io.ReadAll(io.LimitReader(resp.Body, d.cfg.MaxResponseBody))
	res := attemptResult{status: resp.StatusCode, latency: time.Since(start)}
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		res.verdict = verdictSuccess
		return res
	case code == http.StatusGone:
		res.verdict = verdictGone
	case code == http.StatusRequestTimeout, code == http.StatusConflict, code == http.StatusTooEarly,
		code == http.StatusTooManyRequests, code >= 500, code < 400:
		res.verdict = verdictRetry
		res.retryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), now)
	default:
		res.verdict = verdictDead
	}
	res.err = "HTTP " + strconv.Itoa(resp.StatusCode)
	if s := strings.TrimSpace(string(snippet)); s != "" {
		res.err += ": " + strings.ToValidUTF8(s, "?")
	}
	if readErr != nil {
		res.err += " (reading body: " + readErr.Error() + ")"
	}
	return res
}

// describeError shortens transport errors: url.Error repeats the method and URL, which may
// carry a customer's token in its query.
func describeError(err error) string {
	if errors.Is(err, context.DeadlineExceeded) {
		return "timeout"
	}
	var uerr interface{ Unwrap() error }
	if errors.As(err, &uerr) {
		if inner := uerr.Unwrap(); inner != nil {
			return inner.Error()
		}
	}
	return err.Error()
}

// parseRetryAfter reads a Retry-After header: delay seconds or an HTTP date. Zero when absent or
// unreadable.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.Atoi(v); err == nil {
		if secs < 0 {
			return 0
		}
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// reservedHeaders may not be set by an endpoint's custom headers.
func reservedHeader(name string) bool {
	n := strings.ToLower(name)
	return strings.HasPrefix(n, "webhook-") || strings.HasPrefix(n, "content-") || n == "host" ||
		n == HeaderGatewayKey || n == "user-agent" || n == "transfer-encoding" || n == "connection"
}

// maxHeaders bounds an endpoint's custom headers.
const maxHeaders = 20

// validateHeaders checks custom headers and returns them canonicalised.
func validateHeaders(in map[string]string) (map[string]string, error) {
	if len(in) > maxHeaders {
		return nil, fmt.Errorf("%w: at most %d headers", core.ErrInvalid, maxHeaders)
	}
	out := make(map[string]string, len(in))
	for k, v := range in {
		if k == "" || len(k) > 256 || strings.ContainsFunc(k, func(r rune) bool { return !isTokenChar(r) }) {
			return nil, fmt.Errorf("%w: header name %q is not a valid HTTP token", core.ErrInvalid, k)
		}
		if reservedHeader(k) {
			return nil, fmt.Errorf("%w: header %q is set by the gateway", core.ErrInvalid, k)
		}
		if len(v) > 4096 || strings.ContainsAny(v, "\r\n\x00") {
			return nil, fmt.Errorf("%w: header %q has an invalid value", core.ErrInvalid, k)
		}
		out[textproto.CanonicalMIMEHeaderKey(k)] = v
	}
	return out, nil
}

func isTokenChar(r rune) bool {
	return r < 127 && r > 32 && !strings.ContainsRune(`"(),/:;<=>?@[\]{}`, r)
}
