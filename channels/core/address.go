package core

import (
	"fmt"
	"regexp"
	"strings"
)

var phonePattern = regexp.MustCompile(`^\+?[0-9][0-9 ().-]{6,30}$`)

// CheckPhoneOrChatID is the address grammar of channels addressed by phone number or by
// "user@server" chat id, for their ValidateAddress: a chat id, or an international phone number
// in any common format (8 to 15 digits). Errors wrap ErrInvalid.
func CheckPhoneOrChatID(to string) error {
	if user, server, ok := strings.Cut(to, "@"); ok {
		if user == "" || server == "" || strings.ContainsAny(to, " /") {
			return fmt.Errorf("%w: want a chat id (user@server) or a phone number", ErrInvalid)
		}
		return nil
	}
	if !phonePattern.MatchString(to) {
		return fmt.Errorf("%w: want a phone number in international format, e.g. +55 11 99999-0001", ErrInvalid)
	}
	digits := 0
	for _, r := range to {
		if r >= '0' && r <= '9' {
			digits++
		}
	}
	if digits < 8 || digits > 15 {
		return fmt.Errorf("%w: a phone number has 8 to 15 digits", ErrInvalid)
	}
	return nil
}
