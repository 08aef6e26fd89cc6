package whatsapp

import (
	"go.mau.fi/whatsmeow"

	"github.com/28web/hub/channels/core"
)

// ClientOf exposes a session's whatsmeow client to the e2e tests (nil when none).
func (p *Provider) ClientOf(id core.SessionID) *whatsmeow.Client {
	s, err := p.get(id)
	if err != nil {
		return nil
	}
	return s.client()
}
