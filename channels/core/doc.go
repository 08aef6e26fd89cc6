// Package core is the channel-agnostic heart of the gateway: the Provider contract every messaging
// channel implements, its optional capability interfaces, typed identifiers, the canonical event
// envelope and payloads, the commands carried on the bus, and the sentinel errors the API maps to
// HTTP statuses.
//
// The core never parses a channel's wire identifiers (WhatsApp JIDs, LIDs): IDs are opaque strings
// that only the channel makes and reads.
package core
