package whatsapp

import (
	"fmt"
	"strings"

	"go.mau.fi/whatsmeow/types"

	"github.com/28web/hub/channels/core"
)

// Channel is the name this provider reports.
const Channel core.Channel = "whatsapp"

// chatID turns a JID into the opaque core id: the user JID without device part.
func chatID(j types.JID) core.ChatID {
	if j.IsEmpty() {
		return ""
	}
	return core.ChatID(j.ToNonAD().String())
}

// parseChat parses a core chat id made by chatID (or typed by a client as a JID).
func parseChat(id core.ChatID) (types.JID, error) {
	s := strings.TrimSpace(string(id))
	if !strings.Contains(s, "@") {
		n, err := NormalizeNumber(s)
		if err != nil {
			return types.EmptyJID, err
		}
		return types.NewJID(n, types.DefaultUserServer), nil
	}
	j, err := types.ParseJID(s)
	if err != nil || j.User == "" {
		return types.EmptyJID, fmt.Errorf("%w: chat id %q is not a WhatsApp JID", core.ErrInvalid, s)
	}
	return j.ToNonAD(), nil
}

// NormalizeNumber turns a phone number written in any common format ("+55 (11) 99999-0001",
// "0055 11 99999 0001", "5511999990001") into E.164 digits without the '+'. It cannot add a
// missing country code: numbers must be international.
func NormalizeNumber(s string) (string, error) {
	s = strings.TrimSpace(s)
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == '+' || r == ' ' || r == '-' || r == '(' || r == ')' || r == '.' || r == '/':
		default:
			return "", fmt.Errorf("%w: %q is not a phone number", core.ErrInvalid, s)
		}
	}
	d := b.String()
	if !strings.HasPrefix(s, "+") {
		// "00" is the international call prefix in most of the world.
		d = strings.TrimPrefix(d, "00")
	}
	if len(d) < 8 || len(d) > 15 || d[0] == '0' {
		return "", fmt.Errorf("%w: %q is not an international phone number (E.164)", core.ErrInvalid, s)
	}
	return d, nil
}

// numberCandidates lists the numbers to ask WhatsApp about for one E.164 number, most likely
// first. Brazilian mobiles gained a ninth digit in 2012-2016, but accounts registered before keep
// the 8-digit form on WhatsApp, so both forms are tried: 55 + 2-digit area + 9 + 8 digits, and
// 55 + area + 8 digits starting with 6-9 (a mobile written without its 9).
func numberCandidates(n string) []string {
	if !strings.HasPrefix(n, "55") {
		return []string{n}
	}
	switch rest := n[4:]; {
	case len(n) == 13 && rest[0] == '9':
		return []string{n, n[:4] + rest[1:]}
	case len(n) == 12 && rest[0] >= '6':
		return []string{n, n[:4] + "9" + rest}
	}
	return []string{n}
}

// ValidateAddress implements core.Provider: a phone number in international format, or a JID of
// a WhatsApp chat (a user by number or LID, a group, a broadcast list, a newsletter).
func (p *Provider) ValidateAddress(to string) error {
	j, err := parseChat(core.ChatID(to))
	if err != nil {
		return err
	}
	switch j.Server {
	case types.DefaultUserServer, types.HiddenUserServer, types.GroupServer, types.BroadcastServer, types.NewsletterServer:
		return nil
	}
	return fmt.Errorf("%w: %q is not a WhatsApp chat (unknown server %s)", core.ErrInvalid, to, j.Server)
}
