// Package httpserver is the gateway's HTTP server: a huma API on a
// net/http ServeMux behind middleware that enforces the API key, rate limits
// per client IP and per key, limits request bodies, answers every error as
// RFC 9457 problem+json and writes an access log.
//
// Modules register operations on Server.API (under fx: huma.API). Every
// operation, raw handler and unknown path requires the x-28web-gateway-key
// header, except the OpenAPI documents, /docs, /schemas/* and what is
// marked public with Public (operations) or HandlePublic (raw handlers).
// Handlers return domain errors through ErrorMapper.Problem, or are wrapped
// in Handle, so that status codes are chosen once, by the mappings.
package httpserver

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
)

const (
	// APIKeyHeader carries the API key on every non-public request.
	APIKeyHeader = "x-28web-gateway-key"
	// SecuritySchemeName is the OpenAPI security scheme every operation
	// requires unless marked Public.
	SecuritySchemeName = "apiKey"
)

// APIInfo is the OpenAPI document's info section.
type APIInfo struct {
	Title       string // required
	Version     string // required
	Description string
}

// Option customises New.
type Option func(*options)

type options struct {
	errorMappings []ErrorMapping
	documents     DocumentsLoader
}

// WithErrorMappings registers the sentinel errors the ErrorMapper maps to
// statuses, e.g. {core.ErrNotFound, 404}. Later calls add to earlier ones.
func WithErrorMappings(mappings ...ErrorMapping) Option {
	return func(o *options) { o.errorMappings = append(o.errorMappings, mappings...) }
}

// Server is the HTTP server. Register operations on API() and raw handlers
// on Mux() (or HandlePublic) before or after Start; every route is behind the
// same middleware.
type Server struct {
	cfg     Config
	logger  *slog.Logger
	mux     *http.ServeMux
	api     huma.API
	routes  *routeTable
	errors  *ErrorMapper
	keyHash [sha256.Size]byte
	cookies *cookieSessions
	ipRate  *rateLimiter // nil when disabled
	keyRate *rateLimiter // nil when disabled
	handler http.Handler
	srv     *http.Server

	mu        sync.Mutex
	ln        net.Listener
	serveDone chan struct{}
	observer  RequestObserver
}

// RequestObserver sees every request once it is answered, for metrics. route is the pattern
// that matched ("" when none did), never the raw path. It must not block.
type RequestObserver interface {
	ObserveRequest(route, method string, status int, d time.Duration)
}

// SetObserver sets the observer of every request. Call it before Start.
func (s *Server) SetObserver(o RequestObserver) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.observer = o
}

// New builds the server without listening; Start listens. cfg must have
// its defaults applied (Config.SetDefaults); it is validated here.
func New(cfg Config, info APIInfo, logger *slog.Logger, opts ...Option) (*Server, error) {
	var errs []error
	if err := cfg.Validate(); err != nil {
		errs = append(errs, err)
	}
	if info.Title == "" {
		errs = append(errs, errors.New("api info: title is required"))
	}
	if info.Version == "" {
		errs = append(errs, errors.New("api info: version is required"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("new http server: %w", err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	var o options
	for _, opt := range opts {
		opt(&o)
	}

	s := &Server{
		cfg:     cfg,
		logger:  logger,
		mux:     http.NewServeMux(),
		routes:  newRouteTable(),
		errors:  NewErrorMapper(logger, o.errorMappings...),
		keyHash: sha256.Sum256([]byte(cfg.APIKey)),
		cookies: newCookieSessions(cfg.APIKey),
	}
	if !cfg.RateLimit.PerIP.Disabled {
		s.ipRate = newRateLimiter(cfg.RateLimit.PerIP)
	}
	if !cfg.RateLimit.PerKey.Disabled {
		s.keyRate = newRateLimiter(cfg.RateLimit.PerKey)
	}

	hcfg := huma.DefaultConfig(info.Title, info.Version)
	hcfg.Info.Description = info.Description
	// No `$schema` links in bodies (huma's default create hook): they pointed at the document's
	// first server, a template with variables, and validating proxies and generated clients
	// are simpler without a property no operation documents as input.
	hcfg.CreateHooks = nil
	hcfg.Components.SecuritySchemes = map[string]*huma.SecurityScheme{
		SecuritySchemeName: {
			Type:        "apiKey",
			In:          "header",
			Name:        APIKeyHeader,
			Description: "The gateway's API key (API_KEY).",
		},
	}
	// The document-level requirement is every operation's default; Public
	// overrides it with an empty one.
	hcfg.Security = []map[string][]string{{SecuritySchemeName: {}}}
	hcfg.OnAddOperation = append(hcfg.OnAddOperation, documentMiddlewareResponses)
	hcfg.Transformers = append(hcfg.Transformers, problemTransformer(logger))
	adapter := &recordingAdapter{Adapter: humago.NewAdapter(s.mux, ""), routes: s.routes, openAPIPath: hcfg.OpenAPIPath}
	load := o.documents
	if load == nil {
		load = func() (Documents, error) { return OwnDocuments(s.api.OpenAPI()) }
	}
	adapter.docs = &servedDocuments{load: load}
	s.api = huma.NewAPI(hcfg, adapter)
	for _, p := range docsPatterns(hcfg) {
		s.routes.addPublic(p)
	}

	s.handler = http.HandlerFunc(s.serveHTTP)
	s.srv = &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		ReadTimeout:       cfg.ReadTimeout,
		WriteTimeout:      cfg.WriteTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	return s, nil
}

// API is the huma API modules register their operations on. Operations
// require the API key unless marked with Public.
func (s *Server) API() huma.API { return s.api }

// Mux is the underlying ServeMux, for raw handlers such as /metrics. They
// sit behind the same middleware: API key required, body limited to
// Config.BodyLimit. Use HandlePublic for a raw handler without a key.
func (s *Server) Mux() *http.ServeMux { return s.mux }

// HandlePublic registers a raw handler on the mux that needs no API key.
// Like ServeMux.Handle, it panics on an invalid or conflicting pattern.
func (s *Server) HandlePublic(pattern string, h http.Handler) {
	s.mux.Handle(pattern, h)
	s.routes.addPublic(pattern)
}

// Errors is the mapper handlers use to turn errors into problem responses.
func (s *Server) Errors() *ErrorMapper { return s.errors }

// Handler is the full middleware chain in front of the mux, for serving
// the API from another http.Server or a test.
func (s *Server) Handler() http.Handler { return s.handler }

// Start listens and serves in the background. It returns once the listener
// is bound, so Addr is valid and requests are accepted when it returns.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln != nil {
		return errors.New("http server: already started")
	}
	addr := net.JoinHostPort(s.cfg.Host, strconv.Itoa(s.cfg.Port))
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("http server: listen on %s: %w", addr, err)
	}
	s.ln = ln
	ln = &problemListener{Listener: ln, observe: s.logRawError}
	done := make(chan struct{})
	s.serveDone = done
	go func() {
		defer close(done)
		if err := s.srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			s.logger.Error("http server stopped serving", slog.Any("error", err))
		}
	}()
	s.logger.Info("http server listening", slog.String("addr", ln.Addr().String()))
	return nil
}

// Addr is the address the server listens on ("host:port"), or "" before
// Start.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// Shutdown stops accepting connections and waits for in-flight requests,
// for at most Config.ShutdownTimeout (or ctx's deadline if sooner); then it
// closes the remaining connections and reports the timeout. A server that
// was never started shuts down at once. It cannot be started again.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	done := s.serveDone
	s.mu.Unlock()
	if done == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.ShutdownTimeout)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	if err != nil {
		err = errors.Join(fmt.Errorf("http server: graceful shutdown: %w", err), s.srv.Close())
	}
	<-done
	s.logger.Info("http server stopped")
	return err
}
