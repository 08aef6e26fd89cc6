package api_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/28web/hub/channels/core"
)

// sseMessage is one message of a text/event-stream.
type sseMessage struct {
	id, event string
	env       core.Event
}

// openStream connects to the event stream; messages arrive on the channel until the test ends.
func (g *gateway) openStream(t *testing.T, query string, lastEventID string) <-chan sseMessage {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, g.base+"/api/v1/events/stream"+query, nil)
	require.NoError(t, err)
	req.Header.Set("x-28web-gateway-key", key)
	if lastEventID != "" {
		req.Header.Set("Last-Event-ID", lastEventID)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
	out := make(chan sseMessage, 100)
	go func() {
		defer func() { _ = resp.Body.Close() }()
		defer close(out)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		var m sseMessage
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if m.id != "" {
					out <- m
				}
				m = sseMessage{}
			case strings.HasPrefix(line, "id: "):
				m.id = strings.TrimPrefix(line, "id: ")
			case strings.HasPrefix(line, "event: "):
				m.event = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				_ = json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &m.env)
			}
		}
	}()
	return out
}

func next(t *testing.T, ch <-chan sseMessage, what string, match func(sseMessage) bool) sseMessage {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case m, ok := <-ch:
			require.True(t, ok, "stream ended waiting for %s", what)
			if match(m) {
				return m
			}
		case <-deadline:
			t.Fatalf("no %s on the stream", what)
		}
	}
}

func TestEventStreamFiltersAndResumes(t *testing.T) {
	g := newGateway(t, false)
	filtered := g.openStream(t, "?sessionId=s1&event=session.status&event=message_create", "")
	all := g.openStream(t, "", "")

	require.Equal(t, http.StatusCreated, g.do(http.MethodPost, "/api/v1/sessions", map[string]string{"id": "s2"}).status)
	g.connected("s1")
	first := next(t, filtered, "s1's session.status", func(m sseMessage) bool { return true })
	require.Equal(t, "session.status", first.event)
	require.Equal(t, core.SessionID("s1"), first.env.SessionID, "filtered to s1")
	require.NotEmpty(t, first.env.ID)
	next(t, all, "s2's events on the unfiltered stream", func(m sseMessage) bool { return m.env.SessionID == "s2" })

	sent := g.do(http.MethodPost, "/api/v1/sessions/s1/messages", map[string]string{"to": string(g.account("s1")), "type": "text", "text": "streamed"})
	require.Equal(t, http.StatusAccepted, sent.status, string(sent.body))
	created := next(t, filtered, "message_create", func(m sseMessage) bool { return m.event == "message_create" })
	require.Equal(t, core.SessionID("s1"), created.env.SessionID)

	// Reconnecting behind the first message replays what came after it, the filter still applied.
	resumed := g.openStream(t, "?sessionId=s1&event=message_create", first.id)
	again := next(t, resumed, "the replayed message_create", func(m sseMessage) bool { return m.event == "message_create" })
	require.Equal(t, created.id, again.id)
	require.Equal(t, created.env.ID, again.env.ID)

	for _, bad := range []string{"?sessionId=bad%20id", "?event=nope"} {
		r := g.do(http.MethodGet, "/api/v1/events/stream"+bad, nil)
		requireProblem(t, r, http.StatusUnprocessableEntity)
	}
	r := g.do(http.MethodGet, "/api/v1/events/stream", nil, "Last-Event-ID", "not-a-position")
	requireProblem(t, r, http.StatusUnprocessableEntity)
}
