package httpserver

import (
	"bufio"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type recordedRequest struct {
	route, method string
	status        int
}

type recordingObserver struct{ got chan recordedRequest }

func (o recordingObserver) ObserveRequest(route, method string, status int, _ time.Duration) {
	o.got <- recordedRequest{route, method, status}
}

// Requests net/http refuses before any handler runs are answered with
// problem+json too, and access-logged.
func TestUnparsableRequestsGetProblems(t *testing.T) {
	cases := []struct {
		name    string
		request string
		status  int
	}{
		{"raw percent in path", "GET /api/v1/%zz HTTP/1.1\r\nHost: x\r\n\r\n", http.StatusBadRequest},
		{"NUL in a header", "GET /health HTTP/1.1\r\nHost: x\r\nX-Thing: a\x00b\r\n\r\n", http.StatusBadRequest},
		{"malformed request line", "NONSENSE\r\n\r\n", http.StatusBadRequest},
		{"missing host", "GET /health HTTP/1.1\r\n\r\n", http.StatusBadRequest},
		{"unknown transfer encoding", "POST /health HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: zip\r\n\r\n", http.StatusNotImplemented},
		{"headers too large", "GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 1<<21) + "\r\n\r\n", http.StatusRequestHeaderFieldsTooLarge},
	}
	ts := startServer(t, testConfig())
	observed := recordingObserver{got: make(chan recordedRequest, len(cases))}
	ts.SetObserver(observed)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			conn, err := net.DialTimeout("tcp", ts.Addr(), 10*time.Second)
			require.NoError(t, err)
			defer conn.Close()
			require.NoError(t, conn.SetDeadline(time.Now().Add(30*time.Second)))
			// The server may answer and close before reading all of an oversized request.
			go func() { _, _ = conn.Write([]byte(tc.request)) }()

			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			require.NoError(t, err)
			defer resp.Body.Close()
			assert.Equal(t, tc.status, resp.StatusCode)
			assert.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"))
			var p huma.ErrorModel
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&p))
			assert.Equal(t, tc.status, p.Status)
			assert.Equal(t, http.StatusText(tc.status), p.Title)
			assert.NotEmpty(t, p.Detail)

			select {
			case r := <-observed.got:
				assert.Equal(t, recordedRequest{UnparsedRoute, "", tc.status}, r)
			case <-time.After(30 * time.Second):
				t.Fatal("the observer never saw the request")
			}
		})
	}
	assert.Contains(t, ts.logs.String(), `"unparsed":true`)
}

// Handlers' own plain-text answers are left alone: only net/http's are rewritten.
func TestParseRawErrorOnlyMatchesNetHTTPForm(t *testing.T) {
	status, detail, ok := parseRawError([]byte("HTTP/1.1 400 Bad Request" + rawErrorHeaders + "400 Bad Request: malformed Host header"))
	assert.True(t, ok)
	assert.Equal(t, 400, status)
	assert.Equal(t, "400 Bad Request: malformed Host header", detail)

	for _, p := range []string{
		"HTTP/1.1 200 OK" + rawErrorHeaders + "fine",
		"HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\nDate: x\r\n\r\nbad",
		"some body bytes HTTP/1.1 400 Bad Request" + rawErrorHeaders,
		"HTTP/1.1 4xx Bad" + rawErrorHeaders,
	} {
		_, _, ok := parseRawError([]byte(p))
		assert.False(t, ok, p)
	}
}
