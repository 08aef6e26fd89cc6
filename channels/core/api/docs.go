package api

import (
	"github.com/danielgtaylor/huma/v2"
)

// Describe completes the OpenAPI document: contact and the description of every tag. The
// webhooks section (one entry per event) is the webhook module's. It sets no servers on purpose:
// huma would then point the $schema links of local responses at that server instead of the host
// the client used.
func Describe(doc *huma.OpenAPI) {
	if doc.Info != nil {
		doc.Info.Contact = &huma.Contact{Name: "28web channel gateway", URL: "https://github.com/28web/hub"}
	}
	doc.Tags = []*huma.Tag{
		{Name: tagSessions, Description: "WhatsApp sessions: create, log in by QR or pairing code, follow their status, delete."},
		{Name: tagMessages, Description: "Send through the durable queue, list and track messages, edit, revoke, react, mark read."},
		{Name: tagContacts, Description: "A session's contacts, cached and synced on demand."},
		{Name: tagHealth, Description: "Liveness, component, session, system and pipeline health."},
		{Name: "Webhooks", Description: "Signed, retried, logged and replayable event delivery: endpoints, the delivery log, and the events POSTed to them."},
	}
}
