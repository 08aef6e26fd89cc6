package api

import (
	"github.com/danielgtaylor/huma/v2"
)

// Describe completes the OpenAPI document: contact, servers (a template: the gateway is
// self-hosted, so its address is the operator's) and the description of every tag. The webhooks
// section (one entry per event) is the webhook module's.
func Describe(doc *huma.OpenAPI) {
	if doc.Info != nil {
		doc.Info.Contact = &huma.Contact{Name: "28web channel gateway", URL: "https://github.com/28web/hub"}
	}
	doc.Servers = []*huma.Server{{
		URL:         "{scheme}://{host}",
		Description: "Your gateway (self-hosted).",
		Variables: map[string]*huma.ServerVariable{
			"scheme": {Default: "http", Enum: []string{"http", "https"}, Description: "https behind a TLS proxy."},
			"host":   {Default: "localhost:3001", Description: "Host and port the gateway listens on (HOST, PORT)."},
		},
	}}
	doc.Tags = []*huma.Tag{
		{Name: tagSessions, Description: "WhatsApp sessions: create, log in by QR or pairing code, follow their status, delete."},
		{Name: tagMessages, Description: "Send through the durable queue, list and track messages, edit, revoke, react, mark read."},
		{Name: tagContacts, Description: "A session's contacts, cached and synced on demand."},
		{Name: tagHealth, Description: "Liveness, component, session, system and pipeline health."},
		{Name: tagChannels, Description: "The channels this gateway runs: limits, message types, capabilities."},
		{Name: tagAnalytics, Description: "Figures for monitoring dashboards, computed by the database: sessions by status, queue depth, send latency, webhook success, and messages per session and day with delivery and read rates and time to first reply."},
		{Name: "Webhooks", Description: "Signed, retried, logged and replayable event delivery: endpoints, the delivery log, and the events POSTed to them."},
	}
}
