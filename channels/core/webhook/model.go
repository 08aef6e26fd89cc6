package webhook

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/28web/hub/channels/core"
)

// EndpointID identifies a webhook endpoint. The global endpoint's id is GlobalEndpointID.
type EndpointID string

// GlobalEndpointID is the id of the endpoint configured by APP_WEBHOOK_URL.
const GlobalEndpointID EndpointID = "global"

// DeliveryID identifies one delivery: one event for one endpoint.
type DeliveryID int64

// DeliveryStatus is where a delivery stands.
type DeliveryStatus string

const (
	// StatusPending: waiting for its first attempt.
	StatusPending DeliveryStatus = "pending"
	// StatusRetrying: an attempt failed; the next one is at NextAttemptAt.
	StatusRetrying DeliveryStatus = "retrying"
	// StatusSucceeded: the endpoint answered 2xx.
	StatusSucceeded DeliveryStatus = "succeeded"
	// StatusDead: dead-lettered, after the last attempt or a non-retryable answer. Redeliverable.
	StatusDead DeliveryStatus = "dead"
	// StatusCancelled: its endpoint was deleted before it was delivered.
	StatusCancelled DeliveryStatus = "cancelled"
)

// DeliveryStatuses lists every status, for API enums.
var DeliveryStatuses = []DeliveryStatus{StatusPending, StatusRetrying, StatusSucceeded, StatusDead, StatusCancelled}

func (s DeliveryStatus) open() bool { return s == StatusPending || s == StatusRetrying }

// Endpoint is a webhook target as stored. Secret and PreviousSecret never leave the package
// except once, in the answer to creation or rotation.
type Endpoint struct {
	ID        EndpointID
	SessionID core.SessionID // empty for the global endpoint
	URL       string
	// Events filters the events delivered; empty means all.
	Events  []core.EventType
	Headers map[string]string
	Secret  string
	// PreviousSecret also signs until PreviousExpiresAt, during a rotation.
	PreviousSecret    string
	PreviousExpiresAt time.Time
	DisabledAt        time.Time
	DisabledReason    string
	FailingSince      time.Time
	// RetiredAt is set once the endpoint's session was deleted: it receives no new event,
	// delivers what it holds, then is deleted.
	RetiredAt time.Time
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Disabled reports whether deliveries to e are paused.
func (e *Endpoint) Disabled() bool { return !e.DisabledAt.IsZero() }

// Retired reports whether e's session was deleted.
func (e *Endpoint) Retired() bool { return !e.RetiredAt.IsZero() }

// Wants reports whether e receives events of type t.
func (e *Endpoint) Wants(t core.EventType) bool {
	return len(e.Events) == 0 || slices.Contains(e.Events, t)
}

// secrets are the secrets signing a message sent at now: the current one, and the previous one
// during its grace period.
func (e *Endpoint) secrets(now time.Time) []string {
	if e.PreviousSecret != "" && now.Before(e.PreviousExpiresAt) {
		return []string{e.Secret, e.PreviousSecret}
	}
	return []string{e.Secret}
}

// EndpointInput describes a per-session endpoint to create or keep.
type EndpointInput struct {
	URL string `json:"url" format:"uri" maxLength:"2048" doc:"Where events are POSTed: http or https, no credentials in the URL." example:"https://backend.example.com/hooks/whatsapp"`
	// Events filters the events delivered; empty or absent means all.
	Events []core.EventType `json:"events,omitempty" maxItems:"32" uniqueItems:"true" doc:"Event types to deliver; empty or absent delivers every event."`
	// Headers are added to every request; they may not override the signature, content or
	// gateway headers.
	Headers map[string]string `json:"headers,omitempty" doc:"Extra headers sent with every request (at most 20; names may not be webhook-*, content-*, host or x-28web-gateway-key)."`
}

// Delivery is one event for one endpoint, with its latest outcome.
type Delivery struct {
	ID            DeliveryID
	EventID       core.EventID
	EndpointID    EndpointID
	SessionID     core.SessionID
	EventType     core.EventType
	Status        DeliveryStatus
	Attempts      int
	NextAttemptAt time.Time
	LastStatus    int
	LastError     string
	LastLatency   time.Duration
	CreatedAt     time.Time
	UpdatedAt     time.Time
	// Payload is the request body (the event envelope).
	Payload json.RawMessage
}

// Attempt is one HTTP attempt of a delivery.
type Attempt struct {
	Attempt       int
	StatusCode    int
	Latency       time.Duration
	Error         string
	NextAttemptAt time.Time
	At            time.Time
}

// parseEvents checks event names against core.EventTypes.
func parseEvents(names []string) ([]core.EventType, error) {
	out := make([]core.EventType, 0, len(names))
	for _, n := range names {
		t := core.EventType(n)
		if !slices.Contains(core.EventTypes, t) {
			return nil, fmt.Errorf("%w: unknown event type %q", core.ErrInvalid, n)
		}
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out, nil
}

func ms(t time.Time) *int64 {
	if t.IsZero() {
		return nil
	}
	v := t.UnixMilli()
	return &v
}

func fromMS(v *int64) time.Time {
	if v == nil {
		return time.Time{}
	}
	return time.UnixMilli(*v).UTC()
}
