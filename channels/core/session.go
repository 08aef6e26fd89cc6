package core

import "time"

// SessionStatus is where a session is in its life. The values are part of the public API and of
// the session.status event.
type SessionStatus string

const (
	// StatusConnecting: the client is opening its connection (first start or reconnect).
	StatusConnecting SessionStatus = "connecting"
	// StatusQRCode: waiting for a phone to scan the current QR code (or enter a pairing code).
	StatusQRCode SessionStatus = "qr_code"
	// StatusConnected: logged in and online.
	StatusConnected SessionStatus = "connected"
	// StatusDisconnected: the link dropped; the session reconnects by itself.
	StatusDisconnected SessionStatus = "disconnected"
	// StatusLoggedOut: the device was unlinked (from the phone or by delete); terminal.
	StatusLoggedOut SessionStatus = "logged_out"
	// StatusBanned: the account is temporarily banned; see Session.BannedUntil.
	StatusBanned SessionStatus = "banned"
	// StatusFailed: the session cannot continue (e.g. replaced by another client, outdated); terminal.
	StatusFailed SessionStatus = "failed"
	// StatusDeleted: the session was deleted through the API. Only the session.status event
	// carries it (the session's last event); a deleted session is not listed any more.
	StatusDeleted SessionStatus = "deleted"
)

// SessionStatuses lists every status, for API enums.
var SessionStatuses = []SessionStatus{StatusConnecting, StatusQRCode, StatusConnected,
	StatusDisconnected, StatusLoggedOut, StatusBanned, StatusFailed}

// Terminal reports whether a session in this status stays there without outside action.
func (s SessionStatus) Terminal() bool {
	return s == StatusLoggedOut || s == StatusFailed || s == StatusDeleted
}

// Session is the channel-agnostic view of one account session.
type Session struct {
	ID      SessionID     `json:"id"`
	Channel Channel       `json:"channel"`
	Status  SessionStatus `json:"status"`
	// Account is the logged-in account's own address once paired (a phone-number JID for WhatsApp).
	Account ChatID `json:"account,omitempty"`
	// AccountLID is the account's LID when the channel knows it.
	AccountLID ChatID `json:"accountLid,omitempty"`
	// PushName is the account's display name, when known.
	PushName string `json:"pushName,omitempty"`
	// Reason explains the last disconnect, failure or logout.
	Reason string `json:"reason,omitempty"`
	// BannedUntil is set while Status is banned and the ban has a known expiry.
	BannedUntil *time.Time `json:"bannedUntil,omitempty"`
	CreatedAt   time.Time  `json:"createdAt"`
	UpdatedAt   time.Time  `json:"updatedAt"`
	// ConnectedAt is when the session last reached connected.
	ConnectedAt *time.Time `json:"connectedAt,omitempty"`
}

// CreateSessionRequest asks a provider to start a new session.
type CreateSessionRequest struct {
	ID SessionID
	// Settings are the channel's own parameters (credentials of an account it does not pair by
	// itself, for instance); a channel refuses unknown or missing ones with ErrInvalid.
	Settings map[string]string
}

// SessionStats counts sessions by state, as the health endpoints report them.
type SessionStats struct {
	Total int `json:"total"`
	// Active counts sessions not in a terminal status.
	Active    int `json:"active"`
	Connected int `json:"connected"`
	QRPending int `json:"qrPending"`
	// Disconnected counts sessions that are offline but will come back: disconnected or
	// (re)connecting.
	Disconnected int `json:"disconnected"`
}

// CountSessions derives SessionStats from a list, so every provider counts the same way.
func CountSessions(sessions []Session) SessionStats {
	st := SessionStats{Total: len(sessions)}
	for _, s := range sessions {
		if !s.Status.Terminal() {
			st.Active++
		}
		switch s.Status {
		case StatusConnected:
			st.Connected++
		case StatusQRCode:
			st.QRPending++
		case StatusDisconnected, StatusConnecting:
			st.Disconnected++
		}
	}
	return st
}

// QRCode is the current login QR of a session.
type QRCode struct {
	// Text is the raw QR payload a phone scans.
	Text string `json:"qr"`
	// PNG is the QR rendered as a PNG image.
	PNG []byte `json:"-"`
	// ExpiresAt is when the channel rotates this code.
	ExpiresAt time.Time `json:"expiresAt"`
}
