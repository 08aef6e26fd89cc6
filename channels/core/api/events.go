package api

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"reflect"
	"slices"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"

	"github.com/28web/hub/channels/core"
	"github.com/28web/hub/channels/core/eventbus"
	"github.com/28web/hub/platform/httpserver"
	"github.com/28web/hub/platform/log"
)

const tagEvents = "Events"

// keepAliveEvery is how often an idle stream sends a comment, so that proxies keep it open and
// a dead client is noticed.
const keepAliveEvery = 15 * time.Second

// eventTypeNames is the event filter's enum.
func eventTypeNames() []any {
	names := make([]any, len(core.EventTypes))
	for i, t := range core.EventTypes {
		names[i] = string(t)
	}
	return names
}

// EventTypeFilter is one event name of the stream's filter.
type EventTypeFilter string

// Schema lists the canonical event names.
func (EventTypeFilter) Schema(huma.Registry) *huma.Schema {
	return &huma.Schema{Type: huma.TypeString, Enum: eventTypeNames()}
}

type streamInput struct {
	SessionIDs  []string          `query:"sessionId,explode" maxItems:"100" doc:"Only events of these sessions (repeat the parameter); all sessions by default."`
	Events      []EventTypeFilter `query:"event,explode" maxItems:"20" doc:"Only these events (repeat the parameter); every event by default."`
	LastEventID string            `header:"Last-Event-ID" maxLength:"64" pattern:"^[0-9]{1,20}-[0-9]{1,20}$" doc:"Resume behind this stream position (the id: of the last message received), as EventSource does on reconnect."`
}

// Resolve validates the session ids.
func (in *streamInput) Resolve(huma.Context) []error {
	var errs []error
	for i, id := range in.SessionIDs {
		if err := core.SessionID(id).Validate(); err != nil {
			errs = append(errs, &huma.ErrorDetail{Location: fmt.Sprintf("query.sessionId[%d]", i), Value: id, Message: "not a session id"})
		}
	}
	return errs
}

func (h *Handlers) registerEvents(api huma.API) {
	stream := withErrors(op("streamEvents", http.MethodGet, "/events/stream", tagEvents, "Stream events (Server-Sent Events)",
		"The canonical events as they happen, as text/event-stream: each message has id: (its stream position), event: (the event name) "+
			"and data: (the event envelope, as webhooks receive it). Filter by session and event. A client that reconnects with "+
			"Last-Event-ID resumes behind it (within what the bus still holds: the stream is a live view; webhooks are the delivery "+
			"guarantee). A comment line is sent every 15 s while idle.", 0))
	eventSchema := api.OpenAPI().Components.Schemas.Schema(reflect.TypeFor[EventEnvelope](), true, "EventEnvelope")
	stream.Responses = map[string]*huma.Response{"200": {
		Description: "An endless stream of events.",
		Content: map[string]*huma.MediaType{"text/event-stream": {Schema: &huma.Schema{
			Type:        huma.TypeString,
			Description: "Server-Sent Events; each data: line holds one event envelope: " + eventSchema.Ref,
		}}},
	}}
	huma.Register(api, stream, httpserver.Handle(h.Errors, h.streamEvents))
}

// EventEnvelope documents the data: of a streamed event (the canonical envelope).
type EventEnvelope struct {
	ID        string          `json:"id" doc:"The event's id: an idempotency key."`
	SessionID string          `json:"sessionId"`
	Event     string          `json:"event" doc:"The event name."`
	Timestamp time.Time       `json:"timestamp"`
	Data      json.RawMessage `json:"data" doc:"The event's payload, as the webhooks section of this document describes it."`
}

func (h *Handlers) streamEvents(ctx context.Context, in *streamInput) (*huma.StreamResponse, error) {
	if h.Bus == nil {
		return nil, fmt.Errorf("event stream: no bus: %w", core.ErrUnavailable)
	}
	// Subscribed before answering, so that an error is still a problem response.
	tailCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	entries, wait, err := h.Bus.Tail(tailCtx, core.TopicEvents, in.LastEventID)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("event stream: %w: %w", core.ErrUnavailable, err)
	}
	sessions := map[string]bool{}
	for _, id := range in.SessionIDs {
		sessions[id] = true
	}
	return &huma.StreamResponse{Body: func(hctx huma.Context) {
		defer func() {
			cancel()
			_ = wait()
		}()
		r, w := humago.Unwrap(hctx)
		rc := http.NewResponseController(w)
		_ = rc.SetWriteDeadline(time.Time{}) // streams outlive the server's write timeout
		hctx.SetHeader("Content-Type", "text/event-stream")
		hctx.SetHeader("Cache-Control", "no-cache")
		hctx.SetHeader("X-Accel-Buffering", "no")
		hctx.SetStatus(http.StatusOK)
		write := func(s string) bool {
			if _, err := w.Write([]byte(s)); err != nil {
				return false
			}
			return rc.Flush() == nil
		}
		if !write(": stream open\n\n") {
			return
		}
		keepAlive := time.NewTicker(keepAliveEvery)
		defer keepAlive.Stop()
		for {
			select {
			case <-r.Context().Done():
				return
			case <-keepAlive.C:
				if !write(": keep-alive\n\n") {
					return
				}
			case e, ok := <-entries:
				if !ok {
					return // the tail ended (reader behind): the client reconnects with Last-Event-ID
				}
				ev, err := eventbus.DecodeEvent(e.Msg)
				if err != nil {
					h.Logger.Warn("undecodable event skipped by the event stream", slog.String("position", e.ID), log.ErrorAttr(err))
					continue
				}
				if len(sessions) > 0 && !sessions[string(ev.SessionID)] {
					continue
				}
				if len(in.Events) > 0 && !slices.Contains(in.Events, EventTypeFilter(ev.Type)) {
					continue
				}
				data, err := json.Marshal(ev)
				if err != nil {
					continue
				}
				if !write("id: " + e.ID + "\nevent: " + string(ev.Type) + "\ndata: " + string(data) + "\n\n") {
					return
				}
			}
		}
	}}, nil
}
