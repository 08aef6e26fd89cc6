package core

import (
	"fmt"
	"regexp"

	"github.com/google/uuid"
)

// Channel names a messaging channel ("whatsapp").
type Channel string

// SessionID identifies one logged-in account of a channel. It is chosen by the API client, so it is
// validated: 1-64 characters of letters, digits, '-' and '_'.
type SessionID string

// ChatID is a channel-specific conversation address (for WhatsApp a JID such as
// 5511999990001@s.whatsapp.net). Opaque to the core.
type ChatID string

// MessageID is a channel-specific message identifier (for WhatsApp the stanza id). Opaque to the core.
type MessageID string

// EventID uniquely identifies one canonical event; consumers use it as an idempotency key.
type EventID string

var sessionIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// SessionIDPattern is the pattern session ids must match, for API schemas.
const SessionIDPattern = `^[A-Za-z0-9_-]{1,64}$`

// Validate reports whether id is a well-formed session id.
func (id SessionID) Validate() error {
	if !sessionIDPattern.MatchString(string(id)) {
		return fmt.Errorf("%w: session id %q must be 1-64 letters, digits, '-' or '_'", ErrInvalid, string(id))
	}
	return nil
}

// NewEventID returns a fresh, time-ordered (UUIDv7) event id.
func NewEventID() EventID {
	id, err := uuid.NewV7()
	if err != nil {
		// crypto/rand cannot fail since Go 1.24, so this branch is unreachable in practice; a
		// random v4 id keeps the signature free of an error no caller could handle.
		return EventID(uuid.NewString())
	}
	return EventID(id.String())
}

// eventNamespace derives the ids of events that may be reported more than once.
var eventNamespace = uuid.MustParse("6f1f6a52-3b1e-4d43-9a58-2f0b5d0c7e11")

// DerivedEventID is the id of an event identified by key within its session and type: reporting
// the same thing twice (a redelivery, a retried call) yields the same id, so consumers deduplicate
// it.
func DerivedEventID(session SessionID, t EventType, key string) EventID {
	return EventID(uuid.NewSHA1(eventNamespace, []byte(string(session)+"\x00"+string(t)+"\x00"+key)).String())
}
