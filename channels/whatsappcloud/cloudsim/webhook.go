package cloudsim

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// Webhook payload shapes, as documented for the "messages" field of whatsapp_business_account.
type notification struct {
	Object string  `json:"object"`
	Entry  []entry `json:"entry"`
}

type entry struct {
	ID      string   `json:"id"`
	Changes []change `json:"changes"`
}

type change struct {
	Field string      `json:"field"`
	Value changeValue `json:"value"`
}

type changeValue struct {
	MessagingProduct string           `json:"messaging_product"`
	Metadata         metadata         `json:"metadata"`
	Contacts         []contact        `json:"contacts,omitempty"`
	Messages         []inboundMessage `json:"messages,omitempty"`
	Statuses         []status         `json:"statuses,omitempty"`
}

type metadata struct {
	DisplayPhoneNumber string `json:"display_phone_number"`
	PhoneNumberID      string `json:"phone_number_id"`
}

type contact struct {
	Profile profile `json:"profile"`
	WaID    string  `json:"wa_id"`
}

type profile struct {
	Name string `json:"name"`
}

type inboundMessage struct {
	From      string          `json:"from"`
	ID        string          `json:"id"`
	Timestamp string          `json:"timestamp"`
	Type      string          `json:"type"`
	Context   *messageContext `json:"context,omitempty"`
	Text      *textBody       `json:"text,omitempty"`
	Image     *inboundMedia   `json:"image,omitempty"`
}

type messageContext struct {
	From string `json:"from"`
	ID   string `json:"id"`
}

type textBody struct {
	Body string `json:"body"`
}

type inboundMedia struct {
	ID       string `json:"id"`
	MimeType string `json:"mime_type"`
	SHA256   string `json:"sha256"`
	Caption  string `json:"caption,omitempty"`
}

type status struct {
	ID           string            `json:"id"`
	Status       string            `json:"status"`
	Timestamp    string            `json:"timestamp"`
	RecipientID  string            `json:"recipient_id"`
	Conversation *conversationInfo `json:"conversation,omitempty"`
	Pricing      *pricing          `json:"pricing,omitempty"`
	Errors       []statusError     `json:"errors,omitempty"`
}

type conversationInfo struct {
	ID                  string             `json:"id"`
	ExpirationTimestamp string             `json:"expiration_timestamp,omitempty"`
	Origin              conversationOrigin `json:"origin"`
}

type conversationOrigin struct {
	Type string `json:"type"`
}

type pricing struct {
	Billable     bool   `json:"billable"`
	PricingModel string `json:"pricing_model"`
	Category     string `json:"category"`
}

type statusError struct {
	Code      int             `json:"code"`
	Title     string          `json:"title"`
	Message   string          `json:"message"`
	ErrorData statusErrorData `json:"error_data"`
	Href      string          `json:"href"`
}

type statusErrorData struct {
	Details string `json:"details"`
}

func newStatusError(code int) statusError {
	return statusError{
		Code:      code,
		Title:     errorTitle(code),
		Message:   errorTitle(code),
		ErrorData: statusErrorData{Details: errorDetails(code)},
		Href:      "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/",
	}
}

// notificationBody wraps one change value for phone number p.
func (p *phone) notificationBody(v changeValue) ([]byte, error) {
	v.MessagingProduct = "whatsapp"
	v.Metadata = metadata{DisplayPhoneNumber: digitsOf(p.display), PhoneNumberID: p.id}
	body, err := json.Marshal(notification{
		Object: "whatsapp_business_account",
		Entry:  []entry{{ID: p.waba.id, Changes: []change{{Field: "messages", Value: v}}}},
	})
	if err != nil {
		return nil, fmt.Errorf("encode notification for %s: %w", p.id, err)
	}
	return body, nil
}

// Subscribe sets the webhook callback of a phone number after Meta's verification handshake:
// GET callbackURL?hub.mode=subscribe&hub.verify_token=T&hub.challenge=N must answer 200 with
// exactly N. Queued notifications then flow to the new URL.
func (s *Server) Subscribe(phoneNumberID, callbackURL, verifyToken string) error {
	s.mu.Lock()
	p := s.phones[phoneNumberID]
	s.mu.Unlock()
	if p == nil {
		return fmt.Errorf("subscribe phone number %s: %w", phoneNumberID, ErrNotFound)
	}
	u, err := url.Parse(callbackURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("subscribe %s: callback URL %q must be absolute http(s): %w", phoneNumberID, callbackURL, ErrInvalid)
	}
	challenge := newChallenge()
	q := u.Query()
	q.Set("hub.mode", "subscribe")
	q.Set("hub.verify_token", verifyToken)
	q.Set("hub.challenge", challenge)
	verify := *u
	verify.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(s.ctx, http.MethodGet, verify.String(), nil)
	if err != nil {
		return fmt.Errorf("subscribe %s: %w", phoneNumberID, err)
	}
	req.Header.Set("User-Agent", "facebookplatform/1.0 (+http://developers.facebook.com)")
	resp, err := s.client.Do(req)
	if err != nil {
		return fmt.Errorf("subscribe %s: verification request: %w", phoneNumberID, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1024))
	if err != nil {
		return fmt.Errorf("subscribe %s: read verification answer: %w", phoneNumberID, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("subscribe %s: verification answered HTTP %d", phoneNumberID, resp.StatusCode)
	}
	if string(body) != challenge {
		return fmt.Errorf("subscribe %s: verification answered %q, want the challenge %q", phoneNumberID, body, challenge)
	}
	p.pusher.setURL(callbackURL)
	s.log.Info("webhook subscribed", slog.String("phoneNumberId", phoneNumberID), slog.String("callbackUrl", callbackURL))
	return nil
}

const (
	retryStart = 50 * time.Millisecond
	retryCap   = 2 * time.Second
)

// pusher delivers one phone number's notifications in FIFO order, retrying the head until it
// is answered 2xx; nothing is dropped or reordered. Items enqueued "held" wait for their
// release, so statuses of a send never leave before the send's own HTTP answer.
type pusher struct {
	s     *Server
	phone *phone
	wake  chan struct{}

	mu    sync.Mutex
	url   string
	queue []*queued
}

type queued struct {
	body []byte
	held bool
}

func newPusher(s *Server, p *phone) *pusher {
	return &pusher{s: s, phone: p, wake: make(chan struct{}, 1)}
}

func (p *pusher) signal() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

func (p *pusher) setURL(u string) {
	p.mu.Lock()
	p.url = u
	p.mu.Unlock()
	p.signal()
}

// enqueue appends bodies in order; with hold they stay back (and so does everything after
// them) until release is called. release is idempotent.
func (p *pusher) enqueue(hold bool, bodies ...[]byte) (release func()) {
	items := make([]*queued, 0, len(bodies))
	p.mu.Lock()
	for _, b := range bodies {
		it := &queued{body: b, held: hold}
		items = append(items, it)
		p.queue = append(p.queue, it)
	}
	p.mu.Unlock()
	p.signal()
	return func() {
		p.mu.Lock()
		for _, it := range items {
			it.held = false
		}
		p.mu.Unlock()
		p.signal()
	}
}

// head returns the next deliverable item and the callback URL, or nil when there is none yet.
func (p *pusher) head() (*queued, string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.queue) == 0 || p.url == "" || p.queue[0].held {
		return nil, ""
	}
	return p.queue[0], p.url
}

func (p *pusher) currentURL() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.url
}

func (p *pusher) pop() {
	p.mu.Lock()
	p.queue[0] = nil
	p.queue = p.queue[1:]
	p.mu.Unlock()
}

func (p *pusher) run(ctx context.Context) {
	for {
		it, target := p.head()
		if it == nil {
			select {
			case <-ctx.Done():
				return
			case <-p.wake:
				continue
			}
		}
		if !p.deliver(ctx, it.body, target) {
			return
		}
		p.pop()
		p.s.deliveries.Add(1)
	}
}

// deliver retries with exponential backoff until a 2xx answer; false means ctx ended first.
func (p *pusher) deliver(ctx context.Context, body []byte, target string) bool {
	backoff := retryStart
	for attempt := 1; ; attempt++ {
		err := p.post(ctx, target, body)
		if err == nil {
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		p.s.log.Warn("webhook delivery failed", slog.String("phoneNumberId", p.phone.id),
			slog.Int("attempt", attempt), slog.Duration("retryIn", backoff), slog.Any("error", err))
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return false
		case <-t.C:
		}
		backoff = min(2*backoff, retryCap)
		target = p.currentURL() // a new subscription takes over the retries
	}
}

func (p *pusher) post(ctx context.Context, target string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("build webhook request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "facebookexternalua")
	req.Header.Set("X-Hub-Signature-256", "sha256="+sign(p.phone.waba.secret, body))
	resp, err := p.s.client.Do(req)
	if err != nil {
		return fmt.Errorf("post webhook: %w", err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("post webhook: HTTP %d", resp.StatusCode)
	}
	return nil
}

// sign is the X-Hub-Signature-256 value without its "sha256=" prefix.
func sign(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}
