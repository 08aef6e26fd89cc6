package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// apiKeyHeader carries the gateway's API key (README: every request but /health).
const apiKeyHeader = "x-28web-gateway-key"

// httpClient is shared by every call the bench makes: keep-alive pools big enough for the
// open-loop senders, so that the load generator does not open a connection per request.
var httpClient = &http.Client{
	Transport: &http.Transport{MaxIdleConns: 1024, MaxIdleConnsPerHost: 512, MaxConnsPerHost: 512, IdleConnTimeout: time.Minute},
	Timeout:   2 * time.Minute,
}

// statusError is an answer with an unexpected status.
type statusError struct {
	method, url string
	status      int
	body        string
}

func (e *statusError) Error() string {
	return fmt.Sprintf("%s %s: status %d: %s", e.method, e.url, e.status, e.body)
}

// doJSON sends body (JSON, or nil) and decodes the answer into out (unless nil); any status
// but want is a *statusError.
func doJSON(ctx context.Context, method, url string, header http.Header, body, out any, want int) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("encode %s %s: %w", method, url, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, url, err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != want {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 2048))
		return &statusError{method: method, url: url, status: resp.StatusCode, body: strings.TrimSpace(string(b))}
	}
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("decode %s %s: %w", method, url, err)
	}
	return nil
}

// gatewayAPI is the gateway's public REST API, with its key.
type gatewayAPI struct {
	base string
	key  string
}

func (g *gatewayAPI) header() http.Header {
	return http.Header{http.CanonicalHeaderKey(apiKeyHeader): {g.key}}
}

// session is the part of the Session schema the bench reads.
type session struct {
	ID     string `json:"id"`
	Status string `json:"status"`
}

func (g *gatewayAPI) createSession(ctx context.Context, id string) error {
	return doJSON(ctx, http.MethodPost, g.base+"/api/v1/sessions", g.header(), map[string]string{"id": id}, nil, http.StatusCreated)
}

// qr returns the session's current QR text; a *statusError 404 or 409 while it has none yet.
func (g *gatewayAPI) qr(ctx context.Context, id string) (string, error) {
	var out struct {
		QR string `json:"qr"`
	}
	err := doJSON(ctx, http.MethodGet, g.base+"/api/v1/sessions/"+id+"/qr", g.header(), nil, &out, http.StatusOK)
	return out.QR, err
}

func (g *gatewayAPI) session(ctx context.Context, id string) (session, error) {
	var out session
	err := doJSON(ctx, http.MethodGet, g.base+"/api/v1/sessions/"+id, g.header(), nil, &out, http.StatusOK)
	return out, err
}

func (g *gatewayAPI) sessions(ctx context.Context) ([]session, error) {
	var out struct {
		Sessions []session `json:"sessions"`
	}
	err := doJSON(ctx, http.MethodGet, g.base+"/api/v1/sessions", g.header(), nil, &out, http.StatusOK)
	return out.Sessions, err
}

// countConnected is how many sessions are connected.
func (g *gatewayAPI) countConnected(ctx context.Context) (int, error) {
	all, err := g.sessions(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, s := range all {
		if s.Status == "connected" {
			n++
		}
	}
	return n, nil
}

// sendRequest is a pre-encoded POST /sessions/{id}/messages, so that encoding is not measured.
type sendRequest struct {
	url  string
	body []byte
}

func (g *gatewayAPI) newSendRequest(sessionID, to, text string) sendRequest {
	body, _ := json.Marshal(map[string]string{"to": to, "type": "text", "text": text})
	return sendRequest{url: g.base + "/api/v1/sessions/" + sessionID + "/messages", body: body}
}

// send posts a message and returns the id of the accepted (202) message.
func (g *gatewayAPI) send(ctx context.Context, r sendRequest) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.url, bytes.NewReader(r.body))
	if err != nil {
		return "", fmt.Errorf("send: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(apiKeyHeader, g.key)
	resp, err := httpClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("send: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", fmt.Errorf("send: read answer: %w", err)
	}
	if resp.StatusCode != http.StatusAccepted {
		return "", &statusError{method: http.MethodPost, url: r.url, status: resp.StatusCode, body: string(b)}
	}
	var out struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(b, &out); err != nil || out.ID == "" {
		return "", fmt.Errorf("send: no message id in %q", b)
	}
	return out.ID, nil
}

// metrics reads the Prometheus series of GET /metrics whose names are in want (summing the
// label sets of one name).
func (g *gatewayAPI) metrics(ctx context.Context, want ...string) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, g.base+"/metrics", nil)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	req.Header.Set(apiKeyHeader, g.key)
	resp, err := httpClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("metrics: status %d", resp.StatusCode)
	}
	return parseMetrics(resp.Body, want)
}

// parseMetrics sums the samples of the wanted series in Prometheus text format.
func parseMetrics(r io.Reader, want []string) (map[string]float64, error) {
	wanted := make(map[string]bool, len(want))
	for _, w := range want {
		wanted[w] = true
	}
	out := make(map[string]float64)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		name, rest, ok := strings.Cut(line, " ")
		if i := strings.IndexByte(line, '{'); i >= 0 && i < len(name) {
			name = line[:i]
			j := strings.LastIndexByte(line, '}')
			if j < 0 {
				continue
			}
			rest, ok = strings.TrimSpace(line[j+1:]), true
		}
		if !ok || !wanted[name] {
			continue
		}
		value, _, _ := strings.Cut(strings.TrimSpace(rest), " ")
		v, err := strconv.ParseFloat(value, 64)
		if err != nil {
			return nil, fmt.Errorf("metric %s: %w", name, err)
		}
		out[name] += v
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read metrics: %w", err)
	}
	return out, nil
}

// simAPI is the simulator's control API (/_sim/...).
type simAPI struct {
	base string
	// addr is host:port, for whatsmeow clients of the baseline.
	addr string
}

// bulkPhones creates count phones numbered prefix + index (8 digits) and returns their numbers.
func (s *simAPI) bulkPhones(ctx context.Context, prefix string, count int) ([]string, error) {
	var out struct {
		Numbers []string `json:"numbers"`
	}
	err := doJSON(ctx, http.MethodPost, s.base+"/_sim/phones/bulk", nil,
		map[string]any{"prefix": prefix, "count": count}, &out, http.StatusCreated)
	if err == nil && len(out.Numbers) != count {
		err = fmt.Errorf("bulk phones: got %d numbers, want %d", len(out.Numbers), count)
	}
	return out.Numbers, err
}

// scan has phone number scan a QR code; it returns the linked device's JID.
func (s *simAPI) scan(ctx context.Context, number, qr string) (string, error) {
	var out struct {
		Device string `json:"device"`
	}
	err := doJSON(ctx, http.MethodPost, s.base+"/_sim/phones/"+number+"/scan", nil, map[string]string{"qr": qr}, &out, http.StatusOK)
	return out.Device, err
}

// sendText has phone number send a text to another number; it returns the message id.
func (s *simAPI) sendText(ctx context.Context, number, to, text string) (string, error) {
	var out struct {
		ID string `json:"id"`
	}
	err := doJSON(ctx, http.MethodPost, s.base+"/_sim/phones/"+number+"/send", nil, map[string]string{"to": to, "text": text}, &out, http.StatusOK)
	return out.ID, err
}

// isStatus reports whether err is a *statusError with one of the codes.
func isStatus(err error, codes ...int) bool {
	var se *statusError
	if !errors.As(err, &se) {
		return false
	}
	for _, c := range codes {
		if se.status == c {
			return true
		}
	}
	return false
}
