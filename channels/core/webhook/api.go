package webhook

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/28web/hub/channels/core"
	"github.com/28web/hub/platform/httpserver"
)

const apiTag = "Webhooks"

type sessionPath struct {
	SessionID string `path:"sessionId" pattern:"^[A-Za-z0-9_-]{1,64}$" maxLength:"64" doc:"The session id." example:"support-1"`
}

type endpointPath struct {
	WebhookID string `path:"webhookId" pattern:"^[A-Za-z0-9_-]{1,64}$" maxLength:"64" doc:"The webhook endpoint id (\"global\" for APP_WEBHOOK_URL)." example:"ep_0192f5c8a1b27c3e9d4f6a8b0c1d2e3f"`
}

// EndpointBody is an endpoint as API requests give it: EndpointInput with its schema constraints.
type EndpointBody struct {
	URL     string            `json:"url" format:"uri" maxLength:"2048" doc:"Where events are POSTed: http or https, no credentials in the URL. Private and loopback targets are refused unless allow_private_targets is set." example:"https://backend.example.com/hooks/whatsapp"`
	Events  []string          `json:"events,omitempty" maxItems:"32" uniqueItems:"true" enum:"message,message_create,session.status,qr_code,connection.status,disconnected,message_ack,message_edit,message_revoke_everyone,change_battery,message_failed,webhook.disabled" doc:"Event types to deliver; empty or absent delivers every event." example:"[\"message\",\"message_ack\"]"`
	Headers map[string]string `json:"headers,omitempty" doc:"Extra headers sent with every request (at most 20; names may not start with webhook- or content-, nor be host, user-agent or x-28web-gateway-key)." example:"{\"Authorization\":\"Bearer 6f1c…\"}"`
}

func (b EndpointBody) Input() EndpointInput {
	events := make([]core.EventType, len(b.Events))
	for i, e := range b.Events {
		events[i] = core.EventType(e)
	}
	return EndpointInput{URL: b.URL, Events: events, Headers: b.Headers}
}

type endpointListOutput struct {
	Body struct {
		Webhooks []EndpointView `json:"webhooks"`
	}
}

type endpointOutput struct {
	Body EndpointView
}

type createEndpointOutput struct {
	Status int `json:"-"`
	Body   EndpointView
}

type replaceInput struct {
	SessionID string `path:"sessionId" pattern:"^[A-Za-z0-9_-]{1,64}$" maxLength:"64" doc:"The session id." example:"support-1"`
	Body      struct {
		Webhooks []EndpointBody `json:"webhooks" maxItems:"10" doc:"The session's complete list of webhooks. Endpoints whose url is listed are kept (id, secret, state) with the new events and headers; new urls are created (their secrets are in the answer, shown once); the others are deleted."`
	}
}

// DeliveryView is a delivery in the log.
type DeliveryView struct {
	ID             DeliveryID     `json:"id" doc:"Delivery id; pass it as before to page." example:"1842"`
	EventID        core.EventID   `json:"eventId" doc:"The event id, sent as webhook-id: the receiver's idempotency key." example:"0192f5c8-a1b2-7c3e-9d4f-6a8b0c1d2e3f"`
	EndpointID     EndpointID     `json:"endpointId" example:"global"`
	SessionID      core.SessionID `json:"sessionId" example:"support-1"`
	Event          core.EventType `json:"event" enum:"message,message_create,session.status,qr_code,connection.status,disconnected,message_ack,message_edit,message_revoke_everyone,change_battery,message_failed,webhook.disabled"`
	Status         DeliveryStatus `json:"status" enum:"pending,retrying,succeeded,dead,cancelled" doc:"pending: waiting for its first attempt; retrying: failed, next attempt at nextAttemptAt; succeeded; dead: dead-lettered after the last attempt or a non-retryable answer (redeliverable); cancelled: its endpoint was deleted."`
	Attempts       int            `json:"attempts" doc:"Attempts made so far."`
	NextAttemptAt  *time.Time     `json:"nextAttemptAt,omitempty"`
	LastStatusCode int            `json:"lastStatusCode,omitempty" doc:"HTTP status of the last attempt; absent when it got no answer." example:"503"`
	LastError      string         `json:"lastError,omitempty" doc:"Why the last attempt failed (the start of the response body for HTTP errors)." example:"HTTP 503: upstream unavailable"`
	LastLatencyMS  float64        `json:"lastLatencyMs,omitempty" doc:"Duration of the last attempt in milliseconds."`
	CreatedAt      time.Time      `json:"createdAt"`
	UpdatedAt      time.Time      `json:"updatedAt"`
}

// AttemptView is one attempt in the log.
type AttemptView struct {
	Attempt       int        `json:"attempt" minimum:"1"`
	StatusCode    int        `json:"statusCode,omitempty" example:"200"`
	LatencyMS     float64    `json:"latencyMs"`
	Error         string     `json:"error,omitempty" example:"timeout"`
	NextAttemptAt *time.Time `json:"nextAttemptAt,omitempty" doc:"When the next attempt was scheduled; absent when this one finished the delivery."`
	At            time.Time  `json:"at"`
}

func deliveryView(d Delivery) DeliveryView {
	return DeliveryView{ID: d.ID, EventID: d.EventID, EndpointID: d.EndpointID, SessionID: d.SessionID,
		Event: d.EventType, Status: d.Status, Attempts: d.Attempts, NextAttemptAt: timePtr(d.NextAttemptAt),
		LastStatusCode: d.LastStatus, LastError: d.LastError,
		LastLatencyMS: float64(d.LastLatency.Microseconds()) / 1000, CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt}
}

type deliveryListInput struct {
	SessionID  string    `query:"sessionId" pattern:"^[A-Za-z0-9_-]{1,64}$" maxLength:"64" doc:"Only this session's deliveries."`
	EndpointID string    `query:"endpointId" pattern:"^[A-Za-z0-9_-]{1,64}$" maxLength:"64" doc:"Only this endpoint's deliveries."`
	EventID    string    `query:"eventId" maxLength:"64" doc:"Only this event's deliveries."`
	Event      string    `query:"event" enum:"message,message_create,session.status,qr_code,connection.status,disconnected,message_ack,message_edit,message_revoke_everyone,change_battery,message_failed,webhook.disabled" doc:"Only this event type."`
	Status     string    `query:"status" enum:"pending,retrying,succeeded,dead,cancelled" doc:"Only this status."`
	Since      time.Time `query:"since" doc:"Created at or after (RFC 3339)."`
	Until      time.Time `query:"until" doc:"Created before (RFC 3339)."`
	Before     int64     `query:"before" minimum:"0" doc:"Page cursor: deliveries with an id below this (the last id of the previous page)."`
	Limit      int       `query:"limit" minimum:"1" maximum:"500" default:"50" doc:"Page size."`
}

type deliveryListOutput struct {
	Body struct {
		Deliveries []DeliveryView `json:"deliveries" doc:"Newest first."`
		NextBefore DeliveryID     `json:"nextBefore,omitempty" doc:"Pass as before for the next page; absent on the last page."`
	}
}

type deliveryPath struct {
	DeliveryID int64 `path:"deliveryId" minimum:"1" doc:"The delivery id." example:"1842"`
}

// DeliveryDetail is a delivery with its body and every attempt.
type DeliveryDetail struct {
	DeliveryView
	Payload json.RawMessage `json:"payload" doc:"The request body: the event envelope {id, sessionId, event, timestamp, data}."`
	History []AttemptView   `json:"history" doc:"Every attempt, oldest first."`
}

type deliveryOutput struct {
	Body DeliveryDetail
}

type redeliverOutput struct {
	Status int `json:"-"`
	Body   DeliveryView
}

type redeliverRangeInput struct {
	Body struct {
		Since      time.Time `json:"since" doc:"Redeliver dead deliveries created at or after this instant."`
		Until      time.Time `json:"until" doc:"... and before this one."`
		EndpointID string    `json:"endpointId,omitempty" pattern:"^[A-Za-z0-9_-]{1,64}$" maxLength:"64" doc:"Only this endpoint's."`
		SessionID  string    `json:"sessionId,omitempty" pattern:"^[A-Za-z0-9_-]{1,64}$" maxLength:"64" doc:"Only this session's."`
		Event      string    `json:"event,omitempty" enum:"message,message_create,session.status,qr_code,connection.status,disconnected,message_ack,message_edit,message_revoke_everyone,change_battery,message_failed,webhook.disabled" doc:"Only this event type."`
	}
}

type redeliverRangeOutput struct {
	Status int `json:"-"`
	Body   struct {
		Redelivered int `json:"redelivered" doc:"How many dead deliveries were queued again (at most 10000 per call: repeat to continue)." example:"37"`
	}
}

// RegisterRoutes adds the webhook operations to api. sessions tells whether a session exists
// (unknown sessions answer 404); errs maps the core's sentinel errors to problem responses.
func RegisterRoutes(api huma.API, svc *Service, sessions SessionChecker, errs *httpserver.ErrorMapper) {
	h := &handlers{svc: svc, sessions: sessions}
	sessionWebhooks := "/api/v1/sessions/{sessionId}/webhooks"

	huma.Register(api, huma.Operation{
		OperationID: "listSessionWebhooks", Method: http.MethodGet, Path: sessionWebhooks, Tags: []string{apiTag},
		Summary:     "List a session's webhooks",
		Description: "Lists the endpoints receiving this session's events (the global APP_WEBHOOK_URL endpoint is listed by listWebhookEndpoints). Secrets are never shown here.",
		Errors:      []int{http.StatusServiceUnavailable, http.StatusNotFound, http.StatusUnprocessableEntity},
	}, httpserver.Handle(errs, h.list))

	huma.Register(api, huma.Operation{
		OperationID: "replaceSessionWebhooks", Method: http.MethodPut, Path: sessionWebhooks, Tags: []string{apiTag},
		Summary: "Replace a session's webhooks",
		Description: "Sets the session's complete list of webhook endpoints. An endpoint whose url is listed keeps its id, secret and state; " +
			"new urls get new endpoints, whose whsec_ secrets are in this answer only; unlisted endpoints are deleted and their pending deliveries cancelled.",
		Errors: []int{http.StatusServiceUnavailable, http.StatusNotFound, http.StatusUnprocessableEntity},
	}, httpserver.Handle(errs, h.replace))

	huma.Register(api, huma.Operation{
		OperationID: "deleteSessionWebhooks", Method: http.MethodDelete, Path: sessionWebhooks, Tags: []string{apiTag},
		Summary:       "Delete a session's webhooks",
		Description:   "Deletes every webhook endpoint of the session and cancels their pending deliveries. The delivery log keeps their history.",
		DefaultStatus: http.StatusNoContent,
		Errors:        []int{http.StatusServiceUnavailable, http.StatusNotFound, http.StatusUnprocessableEntity},
	}, httpserver.Handle(errs, h.deleteAll))

	huma.Register(api, huma.Operation{
		OperationID: "createSessionWebhook", Method: http.MethodPost, Path: sessionWebhooks, Tags: []string{apiTag},
		Summary: "Add a webhook to a session",
		Description: "Adds one endpoint receiving this session's events. The answer carries its whsec_ signing secret, shown only here " +
			"(and after rotateWebhookSecret). A session has at most 10 webhooks; a url already registered for the session is a conflict.",
		DefaultStatus: http.StatusCreated,
		Errors:        []int{http.StatusServiceUnavailable, http.StatusNotFound, http.StatusConflict, http.StatusUnprocessableEntity},
	}, httpserver.Handle(errs, h.create))

	huma.Register(api, huma.Operation{
		OperationID: "deleteSessionWebhook", Method: http.MethodDelete, Path: sessionWebhooks + "/{webhookId}", Tags: []string{apiTag},
		Summary:       "Delete one of a session's webhooks",
		Description:   "Deletes the endpoint and cancels its pending deliveries.",
		DefaultStatus: http.StatusNoContent,
		Errors:        []int{http.StatusServiceUnavailable, http.StatusNotFound, http.StatusUnprocessableEntity},
	}, httpserver.Handle(errs, h.deleteOne))

	huma.Register(api, huma.Operation{
		OperationID: "listWebhookEndpoints", Method: http.MethodGet, Path: "/api/v1/webhooks/endpoints", Tags: []string{apiTag},
		Summary:     "List every webhook endpoint",
		Description: "Lists the global endpoint (id \"global\", from APP_WEBHOOK_URL) first, then every session's endpoints, with their state. Secrets are never shown here.",
		Errors:      []int{http.StatusServiceUnavailable},
	}, httpserver.Handle(errs, h.listAll))

	huma.Register(api, huma.Operation{
		OperationID: "enableWebhookEndpoint", Method: http.MethodPost, Path: "/api/v1/webhooks/endpoints/{webhookId}/enable", Tags: []string{apiTag},
		Summary: "Re-enable a disabled webhook endpoint",
		Description: "An endpoint is disabled when it answers 410 Gone or fails without success for disable_after (default 5 days). " +
			"Re-enabling resumes its paused deliveries; events that arrived while it was disabled are logged dead: send them with redeliverFailedWebhookDeliveries.",
		Errors: []int{http.StatusServiceUnavailable, http.StatusNotFound, http.StatusUnprocessableEntity},
	}, httpserver.Handle(errs, h.enable))

	huma.Register(api, huma.Operation{
		OperationID: "rotateWebhookSecret", Method: http.MethodPost, Path: "/api/v1/webhooks/endpoints/{webhookId}/rotate-secret", Tags: []string{apiTag},
		Summary: "Rotate a webhook endpoint's signing secret",
		Description: "Issues a new whsec_ secret, returned in this answer only. During the grace period (rotation_grace, default 24 h) every " +
			"request carries two signatures in webhook-signature, one per secret, so receivers can switch without losing a message. " +
			"The global endpoint's secret, when it is configured (webhook.secret), is rotated in the configuration instead: 409.",
		Errors: []int{http.StatusServiceUnavailable, http.StatusNotFound, http.StatusConflict, http.StatusUnprocessableEntity},
	}, httpserver.Handle(errs, h.rotate))

	huma.Register(api, huma.Operation{
		OperationID: "listWebhookDeliveries", Method: http.MethodGet, Path: "/api/v1/webhooks/deliveries", Tags: []string{apiTag},
		Summary: "Query the webhook delivery log",
		Description: "Lists deliveries (one per event and endpoint), newest first, filtered by session, endpoint, event, type, status and creation time. " +
			"Page with before=nextBefore. Finished deliveries are pruned after the retention period (default 30 days).",
		Errors: []int{http.StatusUnprocessableEntity},
	}, httpserver.Handle(errs, h.deliveries))

	huma.Register(api, huma.Operation{
		OperationID: "getWebhookDelivery", Method: http.MethodGet, Path: "/api/v1/webhooks/deliveries/{deliveryId}", Tags: []string{apiTag},
		Summary:     "Get one webhook delivery with its attempts",
		Description: "Returns the delivery, the exact body sent, and every attempt with its status code, latency, error and the next attempt it scheduled.",
		Errors:      []int{http.StatusNotFound, http.StatusUnprocessableEntity},
	}, httpserver.Handle(errs, h.delivery))

	huma.Register(api, huma.Operation{
		OperationID: "redeliverWebhookDelivery", Method: http.MethodPost, Path: "/api/v1/webhooks/deliveries/{deliveryId}/redeliver", Tags: []string{apiTag},
		Summary: "Redeliver one webhook delivery",
		Description: "Sends a succeeded or dead delivery again, with a fresh retry schedule and the same webhook-id (receivers deduplicate on it). " +
			"It keeps its place in its session's order. A pending or retrying delivery, or one whose endpoint was deleted, is a conflict.",
		DefaultStatus: http.StatusAccepted,
		Errors:        []int{http.StatusServiceUnavailable, http.StatusNotFound, http.StatusConflict, http.StatusUnprocessableEntity},
	}, httpserver.Handle(errs, h.redeliver))

	huma.Register(api, huma.Operation{
		OperationID: "redeliverFailedWebhookDeliveries", Method: http.MethodPost, Path: "/api/v1/webhooks/deliveries/redeliver", Tags: []string{apiTag},
		Summary:       "Redeliver every failed webhook delivery in a time range",
		Description:   "Queues again every dead delivery created in [since, until), optionally only one endpoint's, session's or event type's, oldest first, at most 10000 per call.",
		DefaultStatus: http.StatusAccepted,
		Errors:        []int{http.StatusServiceUnavailable, http.StatusUnprocessableEntity},
	}, httpserver.Handle(errs, h.redeliverRange))
}

type handlers struct {
	svc      *Service
	sessions SessionChecker
}

func (h *handlers) list(ctx context.Context, in *sessionPath) (*endpointListOutput, error) {
	id := core.SessionID(in.SessionID)
	if err := h.svc.checkSession(ctx, h.sessions, id); err != nil {
		return nil, err
	}
	views, err := h.svc.SessionEndpoints(ctx, id)
	if err != nil {
		return nil, err
	}
	out := &endpointListOutput{}
	out.Body.Webhooks = views
	return out, nil
}

func (h *handlers) replace(ctx context.Context, in *replaceInput) (*endpointListOutput, error) {
	id := core.SessionID(in.SessionID)
	if err := h.svc.checkSession(ctx, h.sessions, id); err != nil {
		return nil, err
	}
	inputs := make([]EndpointInput, len(in.Body.Webhooks))
	for i, b := range in.Body.Webhooks {
		inputs[i] = b.Input()
	}
	views, err := h.svc.SetSessionEndpoints(ctx, id, inputs)
	if err != nil {
		return nil, err
	}
	out := &endpointListOutput{}
	out.Body.Webhooks = views
	return out, nil
}

func (h *handlers) deleteAll(ctx context.Context, in *sessionPath) (*struct{}, error) {
	id := core.SessionID(in.SessionID)
	if err := h.svc.checkSession(ctx, h.sessions, id); err != nil {
		return nil, err
	}
	return nil, h.svc.DeleteSessionEndpoints(ctx, id)
}

type createInput struct {
	SessionID string `path:"sessionId" pattern:"^[A-Za-z0-9_-]{1,64}$" maxLength:"64" doc:"The session id." example:"support-1"`
	Body      EndpointBody
}

func (h *handlers) create(ctx context.Context, in *createInput) (*createEndpointOutput, error) {
	id := core.SessionID(in.SessionID)
	if err := h.svc.checkSession(ctx, h.sessions, id); err != nil {
		return nil, err
	}
	v, err := h.svc.CreateSessionEndpoint(ctx, id, in.Body.Input())
	if err != nil {
		return nil, err
	}
	return &createEndpointOutput{Status: http.StatusCreated, Body: v}, nil
}

type deleteOneInput struct {
	SessionID string `path:"sessionId" pattern:"^[A-Za-z0-9_-]{1,64}$" maxLength:"64" doc:"The session id." example:"support-1"`
	WebhookID string `path:"webhookId" pattern:"^[A-Za-z0-9_-]{1,64}$" maxLength:"64" doc:"The webhook endpoint id (\"global\" for APP_WEBHOOK_URL)." example:"ep_0192f5c8a1b27c3e9d4f6a8b0c1d2e3f"`
}

func (h *handlers) deleteOne(ctx context.Context, in *deleteOneInput) (*struct{}, error) {
	id := core.SessionID(in.SessionID)
	if err := h.svc.checkSession(ctx, h.sessions, id); err != nil {
		return nil, err
	}
	return nil, h.svc.DeleteSessionEndpoint(ctx, id, EndpointID(in.WebhookID))
}

func (h *handlers) listAll(ctx context.Context, _ *struct{}) (*endpointListOutput, error) {
	views, err := h.svc.Endpoints(ctx)
	if err != nil {
		return nil, err
	}
	out := &endpointListOutput{}
	out.Body.Webhooks = views
	return out, nil
}

func (h *handlers) enable(ctx context.Context, in *endpointPath) (*endpointOutput, error) {
	v, err := h.svc.EnableEndpoint(ctx, EndpointID(in.WebhookID))
	if err != nil {
		return nil, err
	}
	return &endpointOutput{Body: v}, nil
}

func (h *handlers) rotate(ctx context.Context, in *endpointPath) (*endpointOutput, error) {
	v, err := h.svc.RotateSecret(ctx, EndpointID(in.WebhookID))
	if err != nil {
		return nil, err
	}
	return &endpointOutput{Body: v}, nil
}

func (h *handlers) deliveries(ctx context.Context, in *deliveryListInput) (*deliveryListOutput, error) {
	f := DeliveryFilter{SessionID: core.SessionID(in.SessionID), EndpointID: EndpointID(in.EndpointID),
		EventID: core.EventID(in.EventID), EventType: core.EventType(in.Event), Status: DeliveryStatus(in.Status),
		Since: in.Since, Until: in.Until, Before: DeliveryID(in.Before), Limit: in.Limit}
	if f.Limit <= 0 {
		f.Limit = 50
	}
	ds, err := h.svc.Deliveries(ctx, f)
	if err != nil {
		return nil, err
	}
	out := &deliveryListOutput{}
	out.Body.Deliveries = make([]DeliveryView, len(ds))
	for i, d := range ds {
		out.Body.Deliveries[i] = deliveryView(d)
	}
	if len(ds) == f.Limit {
		out.Body.NextBefore = ds[len(ds)-1].ID
	}
	return out, nil
}

func (h *handlers) delivery(ctx context.Context, in *deliveryPath) (*deliveryOutput, error) {
	d, atts, err := h.svc.Delivery(ctx, DeliveryID(in.DeliveryID))
	if err != nil {
		return nil, err
	}
	out := &deliveryOutput{Body: DeliveryDetail{DeliveryView: deliveryView(d), Payload: d.Payload, History: make([]AttemptView, len(atts))}}
	for i, a := range atts {
		out.Body.History[i] = AttemptView{Attempt: a.Attempt, StatusCode: a.StatusCode,
			LatencyMS: float64(a.Latency.Microseconds()) / 1000, Error: a.Error, NextAttemptAt: timePtr(a.NextAttemptAt), At: a.At}
	}
	return out, nil
}

func (h *handlers) redeliver(ctx context.Context, in *deliveryPath) (*redeliverOutput, error) {
	d, err := h.svc.Redeliver(ctx, DeliveryID(in.DeliveryID))
	if err != nil {
		return nil, err
	}
	return &redeliverOutput{Status: http.StatusAccepted, Body: deliveryView(d)}, nil
}

func (h *handlers) redeliverRange(ctx context.Context, in *redeliverRangeInput) (*redeliverRangeOutput, error) {
	b := in.Body
	if !b.Until.After(b.Since) {
		return nil, huma.Error422UnprocessableEntity("until must be after since")
	}
	n, err := h.svc.RedeliverFailed(ctx, DeliveryFilter{Since: b.Since, Until: b.Until, EndpointID: EndpointID(b.EndpointID),
		SessionID: core.SessionID(b.SessionID), EventType: core.EventType(b.Event)})
	if err != nil {
		return nil, err
	}
	out := &redeliverRangeOutput{Status: http.StatusAccepted}
	out.Body.Redelivered = n
	return out, nil
}
