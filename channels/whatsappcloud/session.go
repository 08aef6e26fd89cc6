package whatsappcloud

import (
	"strings"
	"sync"
	"time"

	"github.com/28web/hub/channels/core"
)

// userServer is the WhatsApp server of user chat ids. The channel names customers with the same
// chat ids as the whatsmeow channel, so that a hub sees one customer as one chat on both.
const userServer = "s.whatsapp.net"

// session is one business phone number.
type session struct {
	id            core.SessionID
	phoneNumberID string
	wabaID        string
	account       core.ChatID
	verifiedName  string
	createdAt     time.Time

	// Secrets, decrypted; never logged.
	token, appSecret, verifyToken string

	// inFlight is held (shared) from a send's request to the recording of its wamid; a status of
	// an unknown wamid takes it exclusively to wait for sends in flight before judging the wamid
	// foreign (Meta may report "sent" before the send's answer is recorded).
	inFlight sync.RWMutex

	mu          sync.Mutex
	status      core.SessionStatus
	reason      string
	updatedAt   time.Time
	connectedAt *time.Time
	throughput  *bucket
	pairs       map[string]*bucket
	pairCfg     Config
}

func newSession(row sessionRow, cfg Config) *session {
	s := &session{id: row.ID, phoneNumberID: row.PhoneNumberID, wabaID: row.WABAID, verifiedName: row.VerifiedName,
		createdAt: row.CreatedAt, status: row.Status, reason: row.Reason, updatedAt: row.UpdatedAt, connectedAt: row.ConnectedAt,
		throughput: newBucket(float64(cfg.Throughput), float64(cfg.Throughput)), pairs: map[string]*bucket{}, pairCfg: cfg}
	if row.DisplayPhoneNumber != "" {
		s.account = chatOf(row.DisplayPhoneNumber)
	}
	return s
}

func (s *session) snapshot() core.Session {
	s.mu.Lock()
	defer s.mu.Unlock()
	return core.Session{ID: s.id, Channel: Channel, Status: s.status, Account: s.account, PushName: s.verifiedName,
		Reason: s.reason, CreatedAt: s.createdAt, UpdatedAt: s.updatedAt, ConnectedAt: s.connectedAt}
}

// setStatus records a new status and reports the previous one and whether it changed.
func (s *session) setStatus(status core.SessionStatus, reason string, now time.Time) (core.SessionStatus, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	prev := s.status
	if prev == status && s.reason == reason {
		return prev, false
	}
	s.status, s.reason, s.updatedAt = status, reason, now.UTC()
	if status == core.StatusConnected {
		at := now.UTC()
		s.connectedAt = &at
	}
	return prev, true
}

func (s *session) fail(reason string) {
	s.mu.Lock()
	s.status, s.reason = core.StatusFailed, reason
	s.mu.Unlock()
}

func (s *session) connected() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.status == core.StatusConnected
}

// throughputWait is how long to wait before the number may send one more message (0: now, and
// the slot is taken).
func (s *session) throughputWait(now time.Time) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.throughput.take(now)
}

// pairWait is the same for the pair rate of one customer.
func (s *session) pairWait(waID string, now time.Time) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.pairs[waID]
	if !ok {
		if len(s.pairs) >= 10_000 {
			// Forget customers whose bucket refilled: they behave like new ones.
			for k, old := range s.pairs {
				if old.full(now) {
					delete(s.pairs, k)
				}
			}
		}
		b = newBucket(1/s.pairCfg.PairInterval.Seconds(), float64(s.pairCfg.PairBurst))
		s.pairs[waID] = b
	}
	return b.take(now)
}

// bucket is a token bucket: rate tokens per second, up to burst. A zero rate never limits.
type bucket struct {
	rate, burst, tokens float64
	last                time.Time
}

func newBucket(rate, burst float64) *bucket {
	return &bucket{rate: rate, burst: burst, tokens: burst}
}

func (b *bucket) refill(now time.Time) {
	if !b.last.IsZero() {
		b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	}
	b.last = now
}

func (b *bucket) full(now time.Time) bool {
	b.refill(now)
	return b.tokens >= b.burst
}

// take takes one token, or says how long until one is there (and takes nothing).
func (b *bucket) take(now time.Time) time.Duration {
	if b.rate <= 0 {
		return 0
	}
	b.refill(now)
	if b.tokens >= 1 {
		b.tokens--
		return 0
	}
	return time.Duration((1 - b.tokens) / b.rate * float64(time.Second))
}

func digitsOnly(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// digits keeps the digits of a phone number as written (+55 11 99999-0001 → 5511999990001).
func digits(s string) string {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			out = append(out, s[i])
		}
	}
	return string(out)
}

func chatOf(waID string) core.ChatID { return core.ChatID(waID + "@" + userServer) }

// waIDOf is the Cloud API's recipient (digits) of an address ValidateAddress accepted.
func waIDOf(to string) string {
	if user, _, ok := strings.Cut(to, "@"); ok {
		return user
	}
	return digits(to)
}
