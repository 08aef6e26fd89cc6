// Package cloudsim is a fake WhatsApp Business Cloud API (Meta Graph API) server for testing the
// Cloud channel end to end without internet: it answers the documented Graph endpoints (any
// v<major>.<minor> prefix), simulates customers, the 24-hour customer service window, rate limits
// and templates, and pushes signed webhook notifications in order, retrying until delivered.
//
// Use it in-process (New, Start or Handler, then the Go control methods) or as the cmd/cloudsim
// process driven by the JSON control API under /_sim/ (see control.go and README.md).
package cloudsim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Errors returned by the control methods; match them with errors.Is.
var (
	// ErrNotFound means a phone number, WABA, customer, message or template does not exist.
	ErrNotFound = errors.New("cloudsim: not found")
	// ErrExists means the object being added exists already.
	ErrExists = errors.New("cloudsim: already exists")
	// ErrInvalid means an argument is malformed.
	ErrInvalid = errors.New("cloudsim: invalid argument")
)

// Config tunes a Server. Every field is optional; start from DefaultConfig.
type Config struct {
	// Logger receives one event per line; nil discards.
	Logger *slog.Logger
	// WebhookClient performs the subscription handshake and webhook POSTs; nil means a client
	// with a 10s timeout.
	WebhookClient *http.Client
	// Now is the simulated clock (24h window, timestamps, rate limits); nil means time.Now.
	// AdvanceClock and POST /_sim/clock add an offset on top of it.
	Now func() time.Time
	// AutoDeliver pushes "delivered" right after "sent" for messages to known customers.
	AutoDeliver bool
	// Throughput is the messages/second allowed per phone number (token bucket refilled by the
	// simulated clock, burst = Throughput); 0 means unlimited.
	Throughput int
	// PairRateBurst is how many messages one phone number may send to one recipient within
	// PairRateWindow before error 131056; 0 means unlimited.
	PairRateBurst int
	// PairRateWindow defaults to 6s (Meta's documented pair rate) when PairRateBurst is set.
	PairRateWindow time.Duration
	// AutoApproveTemplates makes created templates APPROVED at once instead of PENDING.
	AutoApproveTemplates bool
}

// DefaultConfig returns the configuration tests usually want: statuses delivered by themselves,
// templates approved at once, no rate limits.
func DefaultConfig() Config {
	return Config{AutoDeliver: true, AutoApproveTemplates: true}
}

const defaultPairRateWindow = 6 * time.Second

// Business is one WhatsApp Business Account with one of its phone numbers. Several Businesses
// may share a WABAID when their AccessToken and AppSecret agree.
type Business struct {
	WABAID             string `json:"waba_id"`
	PhoneNumberID      string `json:"phone_number_id"`
	DisplayPhoneNumber string `json:"display_phone_number"`
	VerifiedName       string `json:"verified_name"`
	AccessToken        string `json:"access_token"`
	AppSecret          string `json:"app_secret"`
}

// Received is one message a customer got: the decoded JSON body of the accepted send request.
// Body is shared with the server; do not modify it.
type Received struct {
	ID            string         `json:"id"`
	PhoneNumberID string         `json:"phone_number_id"`
	Type          string         `json:"type"`
	Body          map[string]any `json:"body"`
	At            time.Time      `json:"at"`
}

// Server is the simulated Graph API. All methods are safe for concurrent use.
type Server struct {
	cfg     Config
	log     *slog.Logger
	client  *http.Client
	handler http.Handler

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	clockOffset atomic.Int64 // nanoseconds added to cfg.Now
	deliveries  atomic.Int64

	life      sync.Mutex // guards httpSrv, url, closed and wg.Go against Close's wg.Wait
	httpSrv   *http.Server
	url       string
	closed    bool
	closeOnce sync.Once
	closeErr  error

	mu        sync.Mutex // guards everything below
	objectIDs map[string]struct{}
	wabas     map[string]*waba
	phones    map[string]*phone
	media     map[string]*mediaObject
	customers map[string]*customer
	messages  map[string]*messageRecord
	faults    map[string][]fault
}

type waba struct {
	id, token, secret string
	templates         []*Template // creation order
}

type phone struct {
	id, display, verifiedName string
	waba                      *waba
	pusher                    *pusher
	bucket                    tokenBucket
	pairSends                 map[string][]time.Time   // recipient wa_id → accepted send times
	lastInbound               map[string]time.Time     // customer wa_id → last message to this number
	conversations             map[string]*conversation // wa_id + "/" + category
}

type customer struct {
	name         string
	received     []Received
	markRequests int
}

// messageRecord remembers every wamid in either direction, for mark-read, replies and reads.
type messageRecord struct {
	id, phoneID, waID string
	inbound, failed   bool
}

type fault struct{ status, code int }

// New builds a Server. It serves nothing until Start, or until Handler is mounted elsewhere.
func New(cfg Config) *Server {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	client := cfg.WebhookClient
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.PairRateBurst > 0 && cfg.PairRateWindow <= 0 {
		cfg.PairRateWindow = defaultPairRateWindow
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		cfg:       cfg,
		log:       log,
		client:    client,
		ctx:       ctx,
		cancel:    cancel,
		objectIDs: map[string]struct{}{},
		wabas:     map[string]*waba{},
		phones:    map[string]*phone{},
		media:     map[string]*mediaObject{},
		customers: map[string]*customer{},
		messages:  map[string]*messageRecord{},
		faults:    map[string][]fault{},
	}
	s.handler = s.routes()
	return s
}

// Handler serves the Graph API, media downloads under /_media/ and the control API under /_sim/.
func (s *Server) Handler() http.Handler { return s.handler }

// Start listens on addr (e.g. "127.0.0.1:0") and serves Handler in the background until Close.
func (s *Server) Start(addr string) error {
	s.life.Lock()
	defer s.life.Unlock()
	if s.httpSrv != nil {
		return fmt.Errorf("cloudsim: already started on %s", s.url)
	}
	if s.closed {
		return errClosed
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("cloudsim: listen %s: %w", addr, err)
	}
	s.httpSrv = &http.Server{Handler: s.handler, ReadHeaderTimeout: 10 * time.Second}
	s.url = "http://" + ln.Addr().String()
	srv := s.httpSrv
	s.wg.Go(func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("cloudsim serve", slog.Any("error", err))
		}
	})
	s.log.Info("cloudsim listening", slog.String("url", s.url))
	return nil
}

// URL is the base URL after Start ("http://127.0.0.1:port"); clients append /v21.0/...
func (s *Server) URL() string {
	s.life.Lock()
	defer s.life.Unlock()
	return s.url
}

// Close stops serving and the webhook pushers (undelivered notifications are abandoned) and
// waits for every goroutine the server started.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.cancel()
		s.life.Lock()
		s.closed = true
		srv := s.httpSrv
		s.life.Unlock()
		if srv != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := srv.Shutdown(ctx); err != nil {
				s.closeErr = fmt.Errorf("cloudsim: shutdown: %w", errors.Join(err, srv.Close()))
			}
		}
		s.wg.Wait()
	})
	return s.closeErr
}

var errClosed = errors.New("cloudsim: closed")

// spawn runs f in a goroutine Close waits for; it refuses once Close has begun.
func (s *Server) spawn(f func()) error {
	s.life.Lock()
	defer s.life.Unlock()
	if s.closed {
		return errClosed
	}
	s.wg.Go(f)
	return nil
}

// now is the simulated clock.
func (s *Server) now() time.Time {
	base := time.Now
	if s.cfg.Now != nil {
		base = s.cfg.Now
	}
	return base().Add(time.Duration(s.clockOffset.Load()))
}

// AdvanceClock moves the simulated clock forward by d (on top of Config.Now), e.g. 25h to close
// the customer service window. It returns the new simulated time.
func (s *Server) AdvanceClock(d time.Duration) time.Time {
	s.clockOffset.Add(int64(d))
	return s.now()
}

// AddBusiness registers a WABA phone number and starts its webhook pusher.
func (s *Server) AddBusiness(b Business) error {
	var errs []error
	for _, f := range []struct{ name, value string }{
		{"WABAID", b.WABAID}, {"PhoneNumberID", b.PhoneNumberID}, {"AccessToken", b.AccessToken},
	} {
		if f.value == "" {
			errs = append(errs, fmt.Errorf("%s is required", f.name))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("add business: %w: %w", ErrInvalid, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.objectIDs[b.PhoneNumberID]; ok {
		return fmt.Errorf("add business: phone number id %s: %w", b.PhoneNumberID, ErrExists)
	}
	w := s.wabas[b.WABAID]
	switch {
	case w == nil:
		if _, ok := s.objectIDs[b.WABAID]; ok {
			return fmt.Errorf("add business: waba id %s is used by another object: %w", b.WABAID, ErrExists)
		}
		w = &waba{id: b.WABAID, token: b.AccessToken, secret: b.AppSecret}
	case w.token != b.AccessToken || w.secret != b.AppSecret:
		return fmt.Errorf("add business: waba %s exists with another access token or app secret: %w", b.WABAID, ErrExists)
	}
	p := &phone{
		id:            b.PhoneNumberID,
		display:       b.DisplayPhoneNumber,
		verifiedName:  b.VerifiedName,
		waba:          w,
		pairSends:     map[string][]time.Time{},
		lastInbound:   map[string]time.Time{},
		conversations: map[string]*conversation{},
	}
	p.pusher = newPusher(s, p)
	if err := s.spawn(func() { p.pusher.run(s.ctx) }); err != nil {
		return fmt.Errorf("add business: %w", err)
	}
	s.wabas[w.id] = w
	s.phones[p.id] = p
	s.objectIDs[w.id] = struct{}{}
	s.objectIDs[p.id] = struct{}{}
	s.log.Info("business added", slog.String("wabaId", w.id), slog.String("phoneNumberId", p.id))
	return nil
}

// AddCustomer registers (or renames) a WhatsApp user; waID is its digits, e.g. "5511999990001".
func (s *Server) AddCustomer(waID, profileName string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.customers[waID]; c != nil {
		c.name = profileName
		return
	}
	s.customers[waID] = &customer{name: profileName}
}

// Received lists, in order, the messages customer waID got (accepted sends that did not fail).
func (s *Server) Received(waID string) []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.customers[waID]; c != nil {
		return append([]Received(nil), c.received...)
	}
	return nil
}

// Inject makes the next n send requests (not mark-read) of phoneNumberID fail with httpStatus
// and Graph error code, before any validation or rate limit. Calls queue up.
func (s *Server) Inject(phoneNumberID string, n int, httpStatus, code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.faults[phoneNumberID] = append(s.faults[phoneNumberID], fault{status: httpStatus, code: code})
	}
}

// takeFaultLocked consumes the next injected fault of a phone number.
func (s *Server) takeFaultLocked(phoneID string) (fault, bool) {
	q := s.faults[phoneID]
	if len(q) == 0 {
		return fault{}, false
	}
	s.faults[phoneID] = q[1:]
	return q[0], true
}

// Deliveries counts webhook POSTs answered 2xx.
func (s *Server) Deliveries() int { return int(s.deliveries.Load()) }

// MarkRequests counts mark-as-read requests that referenced messages of customer waID.
func (s *Server) MarkRequests(waID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.customers[waID]; c != nil {
		return c.markRequests
	}
	return 0
}

// newObjectIDLocked returns a fresh numeric Graph object id.
func (s *Server) newObjectIDLocked() string {
	for {
		id := numericID()
		if _, ok := s.objectIDs[id]; !ok {
			s.objectIDs[id] = struct{}{}
			return id
		}
	}
}
