// Package whatsappcloud is the channel of the WhatsApp Business Cloud API (Meta's Graph API):
// sessions are business phone numbers reached over HTTPS with an access token, not linked
// devices. It sends every message type the API has (templates and interactive messages
// included), serves the API's webhook (verification handshake, X-Hub-Signature-256, stored
// durably before the 200 Meta waits for) and maps its notifications to the canonical events, and
// enforces what the API would refuse later: the 24 h customer-service window, per-number
// throughput and the pair rate.
//
// Its fake network is cloudsim, a Graph API server that runs in tests and as cmd/cloudsim.
package whatsappcloud

import "github.com/28web/hub/channels/core"

// Channel is this channel's name.
const Channel core.Channel = "whatsapp-cloud"
