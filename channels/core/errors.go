package core

import (
	"errors"
	"fmt"
)

// Sentinel errors. Providers and stores wrap them with context; the HTTP layer maps each to one
// status (see the httpserver error table) so handlers never pick status codes ad hoc.
var (
	// ErrNotFound: the session, message or contact does not exist (HTTP 404).
	ErrNotFound = errors.New("not found")
	// ErrConflict: the resource already exists or is in a state that forbids the call (HTTP 409).
	ErrConflict = errors.New("conflict")
	// ErrInvalid: the input is malformed or refers to something the channel rejects, such as a
	// number that is not on WhatsApp (HTTP 422).
	ErrInvalid = errors.New("invalid input")
	// ErrNotConnected: the session exists but is not connected, so it cannot send now (HTTP 409).
	ErrNotConnected = errors.New("session not connected")
	// ErrUnavailable: a dependency (the channel's network, the database, the bus) is temporarily
	// unavailable; retrying later may succeed (HTTP 503).
	ErrUnavailable = errors.New("temporarily unavailable")
	// ErrNotSupported: the channel lacks the capability asked for (HTTP 501). Returned wrapped in a
	// *NotSupportedError naming the capability.
	ErrNotSupported = errors.New("not supported by this channel")
)

// Problem types: the RFC 9457 type of the API's answer for each sentinel, so that clients (the
// hub's remote channel among them) tell errors apart without reading their text: ErrConflict and
// ErrNotConnected share 409.
const (
	ProblemNotFound     = "urn:28web:problem:not-found"
	ProblemConflict     = "urn:28web:problem:conflict"
	ProblemNotConnected = "urn:28web:problem:not-connected"
	ProblemInvalid      = "urn:28web:problem:invalid"
	ProblemUnavailable  = "urn:28web:problem:unavailable"
	ProblemNotSupported = "urn:28web:problem:not-supported"
)

// ProblemTypeOf is the problem type of err's sentinel: the same table the API answers with, so a
// failure recorded now reads the same as one answered at once. Errors of no sentinel are
// ProblemUnavailable (retrying later may succeed); nil is "".
func ProblemTypeOf(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, ErrNotFound):
		return ProblemNotFound
	case errors.Is(err, ErrNotConnected):
		return ProblemNotConnected
	case errors.Is(err, ErrConflict):
		return ProblemConflict
	case errors.Is(err, ErrInvalid):
		return ProblemInvalid
	case errors.Is(err, ErrNotSupported):
		return ProblemNotSupported
	default:
		return ProblemUnavailable
	}
}

// SentinelOfProblemType is the sentinel a problem type stands for; unknown types are
// ErrUnavailable.
func SentinelOfProblemType(problemType string) error {
	switch problemType {
	case ProblemNotFound:
		return ErrNotFound
	case ProblemNotConnected:
		return ErrNotConnected
	case ProblemConflict:
		return ErrConflict
	case ProblemInvalid:
		return ErrInvalid
	case ProblemNotSupported:
		return ErrNotSupported
	default:
		return ErrUnavailable
	}
}

// NotSupportedError says which capability a channel lacks. errors.Is(err, ErrNotSupported) holds.
type NotSupportedError struct {
	Channel    Channel
	Capability string
}

func (e *NotSupportedError) Error() string {
	return fmt.Sprintf("channel %q does not support %s", e.Channel, e.Capability)
}

// Unwrap makes errors.Is(err, ErrNotSupported) true.
func (e *NotSupportedError) Unwrap() error { return ErrNotSupported }
