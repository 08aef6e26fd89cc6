package wasim

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

	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/util/keys"
)

// ErrUnknownUser is returned when a JID or number does not belong to any simulated account.
var ErrUnknownUser = errors.New("unknown user")

// Simulator is a fake WhatsApp server. All methods are safe for concurrent use.
type Simulator struct {
	opts      Options
	log       *slog.Logger
	root      *keys.KeyPair
	static    *keys.KeyPair
	certChain []byte

	// Faults injects failures; see Faults.
	Faults *Faults

	srv     *http.Server
	ln      net.Listener
	started atomic.Bool
	done    chan struct{}
	closed  sync.Once
	closeMu sync.Mutex
	conns   map[*conn]struct{}

	mu       sync.Mutex
	accounts map[string]*account // by phone number (PN user)
	lids     map[string]*account // by LID user
	pending  map[string]*conn    // registering connections by QR ref
	codes    map[string]*conn    // registering connections by pairing-code ref
	nextLID  uint64
	dedupe   map[dedupeKey]struct{}
	dedupeQ  []dedupeKey
	dedupeI  int
	routed   []Routed
	routedI  int
	routedN  int

	media mediaStore
	stats stats
}

type dedupeKey struct {
	sender string
	id     string
}

// New builds a simulator; call Start to listen.
func New(opts Options) (*Simulator, error) {
	opts.SetDefaults()
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("wasim options: %w", err)
	}
	root := keys.NewKeyPairFromPrivateKey(opts.rootPrivateKey())
	static := keys.NewKeyPair()
	chain, err := buildCertChain(root, static, opts.CertValidity, time.Now())
	if err != nil {
		return nil, fmt.Errorf("wasim certificates: %w", err)
	}
	s := &Simulator{
		opts:      opts,
		log:       opts.Logger,
		root:      root,
		static:    static,
		certChain: chain,
		conns:     make(map[*conn]struct{}),
		done:      make(chan struct{}),
		accounts:  make(map[string]*account),
		lids:      make(map[string]*account),
		pending:   make(map[string]*conn),
		codes:     make(map[string]*conn),
		nextLID:   100000000000001,
		dedupe:    make(map[dedupeKey]struct{}, 1024),
		media:     mediaStore{blobs: make(map[string][]byte)},
	}
	if opts.RoutedLogSize > 0 {
		s.routed = make([]Routed, 0, min(opts.RoutedLogSize, 1024))
	}
	s.Faults = &Faults{sim: s, devices: make(map[string]*deviceFaults)}
	return s, nil
}

// RootPublicKey is the public key of the simulator's certificate root: assign it to
// whatsmeow.WACertPubKey (ConfigureClient does).
func (s *Simulator) RootPublicKey() [32]byte { return *s.root.Pub }

// Start listens on Options.Addr and serves until Close or ctx ends.
func (s *Simulator) Start(ctx context.Context) error {
	if !s.started.CompareAndSwap(false, true) {
		return errors.New("wasim: already started")
	}
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", s.opts.Addr)
	if err != nil {
		return fmt.Errorf("wasim listen %s: %w", s.opts.Addr, err)
	}
	s.ln = ln
	s.srv = &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("wasim serve", slog.Any("error", err))
		}
	}()
	go func() {
		select {
		case <-ctx.Done():
			_ = s.Close()
		case <-s.done:
		}
	}()
	s.log.Info("wasim listening", slog.String("addr", ln.Addr().String()))
	return nil
}

// Addr is the listening address (host:port), empty before Start.
func (s *Simulator) Addr() string {
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// Close stops listening and drops every connection. It is idempotent.
func (s *Simulator) Close() error {
	s.closed.Do(func() { close(s.done) })
	s.closeMu.Lock()
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.closeMu.Unlock()
	for _, c := range conns {
		c.close()
	}
	if s.srv == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.srv.Shutdown(ctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("wasim shutdown: %w", err)
	}
	return nil
}

// Handler serves the websocket endpoint (/ws/chat) and the media hosts (/mms/, /m/).
// Every Host lands here: whatsmeow clients are redirected at the dial level (see ConfigureClient).
func (s *Simulator) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/ws/chat", s.serveWS)
	mux.HandleFunc("POST /mms/", s.serveUpload)
	mux.HandleFunc("GET /m/", s.serveDownload)
	if s.opts.ControlAPI {
		mux.Handle("/_sim/", s.ControlHandler())
	}
	return mux
}

func (s *Simulator) trackConn(c *conn, add bool) {
	s.closeMu.Lock()
	if add {
		s.conns[c] = struct{}{}
	} else {
		delete(s.conns, c)
	}
	s.closeMu.Unlock()
}

// seenBefore records (sender, id) and reports whether it was already routed. Caller holds s.mu.
func (s *Simulator) seenBefore(k dedupeKey) bool {
	if _, ok := s.dedupe[k]; ok {
		return true
	}
	if len(s.dedupeQ) < s.opts.DedupeWindow {
		s.dedupeQ = append(s.dedupeQ, k)
	} else {
		delete(s.dedupe, s.dedupeQ[s.dedupeI])
		s.dedupeQ[s.dedupeI] = k
		s.dedupeI = (s.dedupeI + 1) % len(s.dedupeQ)
	}
	s.dedupe[k] = struct{}{}
	return false
}

// Routed is one entry of the routing log.
type Routed struct {
	Time time.Time `json:"time"`
	// Kind is "message", "receipt" or "retry" (a resend to one device after a retry receipt).
	Kind string    `json:"kind"`
	ID   string    `json:"id"`
	Type string    `json:"type,omitempty"`
	From types.JID `json:"from"`
	To   types.JID `json:"to"`
	// Queued is true when the target was offline and the stanza waits in its queue.
	Queued bool `json:"queued"`
}

// logRouted appends to the bounded routing log. Caller holds s.mu.
func (s *Simulator) logRouted(r Routed) {
	size := s.opts.RoutedLogSize
	if size <= 0 {
		return
	}
	if len(s.routed) < size {
		s.routed = append(s.routed, r)
	} else {
		s.routed[s.routedI] = r
	}
	s.routedI = (s.routedI + 1) % size
	s.routedN++
}

// Routed returns the routing log, oldest first (bounded by Options.RoutedLogSize).
func (s *Simulator) Routed() []Routed {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Routed, 0, len(s.routed))
	if s.opts.RoutedLogSize <= 0 || len(s.routed) < s.opts.RoutedLogSize {
		return append(out, s.routed...)
	}
	out = append(out, s.routed[s.routedI:]...)
	return append(out, s.routed[:s.routedI]...)
}

type stats struct {
	connections    atomic.Int64
	logins         atomic.Int64
	registrations  atomic.Int64
	messagesIn     atomic.Int64
	messagesRouted atomic.Int64
	receiptsRouted atomic.Int64
	queued         atomic.Int64
	dropped        atomic.Int64
	duplicates     atomic.Int64
	acks           atomic.Int64
	iqs            atomic.Int64
	framesIn       atomic.Int64
	framesOut      atomic.Int64
}

// Stats are cumulative counters (Connections is the current number of open websockets).
type Stats struct {
	Connections    int64 `json:"connections"`
	Logins         int64 `json:"logins"`
	Registrations  int64 `json:"registrations"`
	MessagesIn     int64 `json:"messages_in"`
	MessagesRouted int64 `json:"messages_routed"`
	ReceiptsRouted int64 `json:"receipts_routed"`
	Queued         int64 `json:"queued"`
	Dropped        int64 `json:"dropped"` // stanzas dropped from full device queues (Options.MaxQueue)
	Duplicates     int64 `json:"duplicates"`
	Acks           int64 `json:"acks"`
	IQs            int64 `json:"iqs"`
	FramesIn       int64 `json:"frames_in"`
	FramesOut      int64 `json:"frames_out"`
}

// Stats returns a snapshot of the counters.
func (s *Simulator) Stats() Stats {
	return Stats{
		Connections:    s.stats.connections.Load(),
		Logins:         s.stats.logins.Load(),
		Registrations:  s.stats.registrations.Load(),
		MessagesIn:     s.stats.messagesIn.Load(),
		MessagesRouted: s.stats.messagesRouted.Load(),
		ReceiptsRouted: s.stats.receiptsRouted.Load(),
		Queued:         s.stats.queued.Load(),
		Dropped:        s.stats.dropped.Load(),
		Duplicates:     s.stats.duplicates.Load(),
		Acks:           s.stats.acks.Load(),
		IQs:            s.stats.iqs.Load(),
		FramesIn:       s.stats.framesIn.Load(),
		FramesOut:      s.stats.framesOut.Load(),
	}
}
