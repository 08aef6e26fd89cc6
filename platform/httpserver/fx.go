package httpserver

import (
	"log/slog"

	"github.com/danielgtaylor/huma/v2"
	"go.uber.org/fx"
)

// ErrorMappingsGroup is the fx value group ErrorMappings are collected from.
const ErrorMappingsGroup = "httpserver_error_mappings"

// Module provides *Server, huma.API and *ErrorMapper, and runs the server
// with the application: OnStart returns once it listens, OnStop shuts it
// down gracefully. It needs a Config, an APIInfo and a *slog.Logger; error
// mappings come from ProvideErrorMappings.
var Module = fx.Module("httpserver",
	fx.Provide(
		NewFromParams,
		func(s *Server) huma.API { return s.API() },
		func(s *Server) *ErrorMapper { return s.Errors() },
	),
	// The server runs whenever the module is included, even if nothing
	// else asks for it (e.g. only raw handlers or health).
	fx.Invoke(func(*Server) {}),
)

// Params are New's dependencies under fx.
type Params struct {
	fx.In

	Config        Config
	Info          APIInfo
	Logger        *slog.Logger
	Lifecycle     fx.Lifecycle
	ErrorMappings []ErrorMapping `group:"httpserver_error_mappings"`
	// Documents, when given, are the OpenAPI documents to serve (see WithDocuments).
	Documents DocumentsLoader `optional:"true"`
}

// NewFromParams is New for fx, with the server's start and stop bound to
// the lifecycle.
func NewFromParams(p Params) (*Server, error) {
	opts := []Option{WithErrorMappings(p.ErrorMappings...)}
	if p.Documents != nil {
		opts = append(opts, WithDocuments(p.Documents))
	}
	s, err := New(p.Config, p.Info, p.Logger, opts...)
	if err != nil {
		return nil, err
	}
	p.Lifecycle.Append(fx.Hook{
		OnStart: s.Start,
		OnStop:  s.Shutdown,
	})
	return s, nil
}

// ProvideErrorMappings adds mappings to the server's ErrorMapper, from the
// package that owns the sentinel errors. fx groups are unordered, so
// mappings from different packages must not match the same error:
//
//	httpserver.ProvideErrorMappings(
//		httpserver.ErrorMapping{Target: core.ErrNotFound, Status: http.StatusNotFound},
//	)
func ProvideErrorMappings(mappings ...ErrorMapping) fx.Option {
	opts := make([]fx.Option, 0, len(mappings))
	for _, m := range mappings {
		opts = append(opts, fx.Supply(fx.Annotated{Group: ErrorMappingsGroup, Target: m}))
	}
	return fx.Options(opts...)
}
