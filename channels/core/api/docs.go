package api

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/28web/hub/channels/core"
)

// eventDocs describes each canonical event for the OpenAPI webhooks section.
var eventDocs = map[core.EventType]string{
	core.EventMessage:               "An incoming message (not sent by this session's account).",
	core.EventMessageCreate:         "Every message, both directions, including ones sent from the phone or another linked device.",
	core.EventSessionStatus:         "The session moved to another status (connecting, qr_code, connected, disconnected, logged_out, banned, failed).",
	core.EventQRCode:                "A new login QR code; emitted at every rotation until the session is paired.",
	core.EventConnectionStatus:      "The connection to WhatsApp changed: open, connecting, closed, refused.",
	core.EventDisconnected:          "The session lost its connection: the reason and whether it reconnects by itself.",
	core.EventMessageAck:            "A sent message's delivery state changed: 0 pending, 1 received, 2 read, 3 played.",
	core.EventMessageEdit:           "A message was edited; previousBody is the text before, when the gateway stored it.",
	core.EventMessageRevokeEveryone: "A message was deleted for everyone.",
	core.EventChangeBattery:         "The phone's battery changed. Multi-device WhatsApp does not report the phone's battery to linked devices, so the WhatsApp channel never emits it; the event stays for compatibility with the seed.",
	core.EventMessageFailed:         "An accepted outgoing message could not be sent after every attempt.",
}

// Describe completes the OpenAPI document: contact, tag descriptions, and a webhooks entry per
// canonical event with its envelope and payload schema. It sets no servers on purpose: huma
// would then point the $schema links of local responses at that server instead of the host the
// client used.
func Describe(doc *huma.OpenAPI) {
	if doc.Info != nil {
		doc.Info.Contact = &huma.Contact{Name: "28web channel gateway", URL: "https://github.com/28web/hub"}
	}
	doc.Tags = []*huma.Tag{
		{Name: tagSessions, Description: "WhatsApp sessions: create, log in by QR or pairing code, follow their status, delete."},
		{Name: tagMessages, Description: "Send through the durable queue, list and track messages, edit, revoke, react, mark read."},
		{Name: tagContacts, Description: "A session's contacts, cached and synced on demand."},
		{Name: tagHealth, Description: "Liveness, component, session, system and pipeline health."},
	}
	if doc.Components != nil && doc.Components.Schemas != nil {
		addWebhooks(doc)
	}
}

// addWebhooks documents every event as the POST the gateway makes to webhook endpoints.
func addWebhooks(doc *huma.OpenAPI) {
	reg := doc.Components.Schemas
	doc.Webhooks = map[string]*huma.PathItem{}
	header := func(name, desc string) *huma.Param {
		return &huma.Param{Name: name, In: "header", Required: true, Description: desc, Schema: &huma.Schema{Type: huma.TypeString}}
	}
	for _, t := range core.EventTypes {
		data, err := core.NewEventData(t)
		if err != nil {
			continue // EventTypes and NewEventData are kept in step by the core's tests
		}
		name := schemaName(t)
		dataSchema := reg.Schema(reflect.TypeOf(data).Elem(), true, name+"Data")
		envelope := &huma.Schema{
			Type:        huma.TypeObject,
			Description: "The envelope of every event: {id, sessionId, event, timestamp, data}.",
			Required:    []string{"id", "sessionId", "event", "timestamp", "data"},
			Properties: map[string]*huma.Schema{
				"id":        {Type: huma.TypeString, Description: "Unique event id (UUIDv7); use it as an idempotency key. Also sent as webhook-id."},
				"sessionId": {Type: huma.TypeString, Description: "The session the event belongs to."},
				"event":     {Type: huma.TypeString, Enum: []any{string(t)}},
				"timestamp": {Type: huma.TypeString, Format: "date-time"},
				"data":      dataSchema,
			},
		}
		doc.Webhooks[string(t)] = &huma.PathItem{Post: &huma.Operation{
			OperationID: "webhook" + name,
			Summary:     fmt.Sprintf("%s event", t),
			Description: eventDocs[t] + " Delivered to APP_WEBHOOK_URL and to the session's webhook endpoints, signed per Standard Webhooks.",
			Tags:        []string{"Webhooks"},
			Parameters: []*huma.Param{
				header("webhook-id", "The event id."),
				header("webhook-timestamp", "Unix seconds when this attempt was signed."),
				header("webhook-signature", "v1,<base64 HMAC-SHA256 of id.timestamp.body with the endpoint secret>; several, space-separated, while a secret rotates."),
			},
			RequestBody: &huma.RequestBody{Required: true, Content: map[string]*huma.MediaType{"application/json": {Schema: envelope}}},
			Responses: map[string]*huma.Response{
				"200": {Description: "Any 2xx acknowledges the delivery."},
				"410": {Description: "Gone: the endpoint is disabled and receives nothing more."},
			},
		}}
	}
	doc.Tags = append(doc.Tags, &huma.Tag{Name: "Webhooks", Description: "Events POSTed to the backend's webhook endpoints."})
}

// schemaName turns an event type into a schema name: message_ack → MessageAck, session.status →
// SessionStatus.
func schemaName(t core.EventType) string {
	var b strings.Builder
	for _, part := range strings.FieldsFunc(string(t), func(r rune) bool { return r == '_' || r == '.' }) {
		b.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return b.String() + "Event"
}
