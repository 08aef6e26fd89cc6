package webhook

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/28web/hub/channels/core"
)

// eventDocs describes each event type for the OpenAPI webhooks section.
var eventDocs = map[core.EventType]string{
	core.EventMessage:               "An incoming message (not sent by this account).",
	core.EventMessageCreate:         "Every message, both directions, including ones sent from the phone.",
	core.EventSessionStatus:         "The session moved to another status (connecting, qr_code, connected, disconnected, logged_out, failed...).",
	core.EventQRCode:                "A new login QR code, at every rotation until the session is paired.",
	core.EventConnectionStatus:      "The transport connection changed (open, connecting, closed, refused).",
	core.EventDisconnected:          "The session lost its connection, with the reason and whether it reconnects by itself.",
	core.EventMessageAck:            "A sent message's delivery state changed: 0 pending, 1 received, 2 read, 3 played.",
	core.EventMessageEdit:           "A message was edited.",
	core.EventMessageRevokeEveryone: "A message was deleted for everyone.",
	core.EventChangeBattery:         "The phone's battery changed. Never emitted by the WhatsApp channel: multi-device WhatsApp does not report the phone's battery to linked devices. Kept for clients written against the original gateway.",
	core.EventMessageFailed:         "An accepted outgoing message could not be sent after its retries.",
	core.EventWebhookDisabled:       "A webhook endpoint was disabled: it answered 410 Gone or failed for disable_after; re-enable it through the API.",
}

// verifyDoc explains the request every webhook receives.
const verifyDoc = "\n\nEvery event is POSTed as JSON to the global endpoint (APP_WEBHOOK_URL) and to the session's webhooks whose filter " +
	"includes it, signed the Standard Webhooks way: HMAC-SHA256, keyed with the base64-decoded part of the endpoint's whsec_ secret, " +
	"of `webhook-id + \".\" + webhook-timestamp + \".\" + body`, sent as `v1,<base64>` in webhook-signature (two, space-separated, " +
	"during a secret rotation). Any Standard Webhooks library verifies it. Answer 2xx within WEBHOOK_TIMEOUT; other answers are " +
	"retried with backoff (5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h by default), except 4xx other than 408, 409, 425 and 429, " +
	"which dead-letter the delivery, and 410, which also disables the endpoint. Retry-After is honoured. Deliveries of one session " +
	"arrive in order per endpoint; deduplicate on webhook-id."

// DocumentWebhooks adds an OpenAPI 3.1 `webhooks` entry for every canonical event type, with
// the envelope and its typed data as the request body and the signing headers.
func DocumentWebhooks(api huma.API) {
	oapi := api.OpenAPI()
	if oapi.Webhooks == nil {
		oapi.Webhooks = map[string]*huma.PathItem{}
	}
	registry := oapi.Components.Schemas
	header := func(name, doc, example string) *huma.Param {
		return &huma.Param{Name: name, In: "header", Required: true, Description: doc, Example: example,
			Schema: &huma.Schema{Type: huma.TypeString}}
	}
	params := []*huma.Param{
		header(HeaderID, "The event id: the idempotency key, identical on every retry and redelivery.", "0192f5c8-a1b2-7c3e-9d4f-6a8b0c1d2e3f"),
		header(HeaderTimestamp, "Unix seconds when this attempt was signed; reject stale ones (e.g. older than 5 minutes).", "1795862400"),
		header(HeaderSignature, "Space-separated `v1,<base64 HMAC-SHA256>` signatures of `id.timestamp.body`, one per active secret.", "v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4="),
		{Name: HeaderGatewayKey, In: "header", Description: "The gateway's API key; sent to the global endpoint only, as the original gateway did.",
			Schema: &huma.Schema{Type: huma.TypeString}},
	}
	for _, t := range core.EventTypes {
		data, err := core.NewEventData(t)
		if err != nil {
			continue
		}
		dataSchema := registry.Schema(reflect.TypeOf(data).Elem(), true, "")
		envelope := &huma.Schema{
			Type:     huma.TypeObject,
			Required: []string{"id", "sessionId", "event", "timestamp", "data"},
			Properties: map[string]*huma.Schema{
				"id":        {Type: huma.TypeString, Description: "Unique event id (also the webhook-id header).", Examples: []any{"0192f5c8-a1b2-7c3e-9d4f-6a8b0c1d2e3f"}},
				"sessionId": {Type: huma.TypeString, Description: "The session the event belongs to.", Pattern: core.SessionIDPattern, Examples: []any{"support-1"}},
				"event":     {Type: huma.TypeString, Enum: []any{string(t)}, Description: "The event type."},
				"timestamp": {Type: huma.TypeString, Format: "date-time", Description: "When the event happened."},
				"data":      dataSchema,
			},
			AdditionalProperties: false,
		}
		name := string(t)
		oapi.Webhooks[name] = &huma.PathItem{Post: &huma.Operation{
			OperationID: "webhook" + camel(name),
			Summary:     fmt.Sprintf("%s event", name),
			Description: eventDocs[t] + verifyDoc,
			Tags:        []string{apiTag},
			Parameters:  params,
			RequestBody: &huma.RequestBody{Required: true, Content: map[string]*huma.MediaType{
				"application/json": {Schema: envelope},
			}},
			Responses: map[string]*huma.Response{
				"2XX": {Description: "Accepted: the delivery succeeded."},
				"410": {Description: "Gone: the delivery is dead-lettered and the endpoint disabled."},
				"429": {Description: "Retried after Retry-After (capped by max_retry_after)."},
			},
			Security: []map[string][]string{},
		}}
	}
}

// camel turns "message_revoke_everyone" or "session.status" into "MessageRevokeEveryone" or
// "SessionStatus".
func camel(s string) string {
	var b strings.Builder
	for _, part := range strings.FieldsFunc(s, func(r rune) bool { return r == '_' || r == '.' }) {
		b.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return b.String()
}
