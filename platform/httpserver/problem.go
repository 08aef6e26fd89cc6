package httpserver

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
)

// problemType is the RFC 9457 type of problems that need no other
// documentation than their status code.
const problemType = "about:blank"

// WriteProblem writes an RFC 9457 problem+json response in the same shape
// as huma's ErrorModel. The middleware and the mux's 404/405 use it; raw
// handlers should too.
func WriteProblem(w http.ResponseWriter, status int, detail string) {
	body, err := problemBody(status, detail)
	if err != nil {
		// Marshalling a struct of strings and an int cannot fail; keep the
		// status even so.
		http.Error(w, http.StatusText(status), status)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/problem+json")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Del("Content-Length")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// problemBody is the problem+json body (newline-terminated) of a problem
// that needs no type beyond its status.
func problemBody(status int, detail string) ([]byte, error) {
	body, err := json.Marshal(&huma.ErrorModel{Type: problemType, Title: http.StatusText(status), Status: status, Detail: detail})
	return append(body, '\n'), err
}

// ErrorMapping maps every error matching Target (errors.Is) to Status. The
// error's message becomes the problem's detail, so mapped errors must carry
// messages fit for clients. Type, when set, is the problem's RFC 9457 type: a
// URI that tells clients which error it is when the status alone does not
// (two sentinels may share a status).
type ErrorMapping struct {
	Target error
	Status int
	Type   string
}

// ErrorMapper turns the errors operation handlers return into problem
// responses. Domain packages register their sentinels once (see
// WithErrorMappings and ProvideErrorMappings) instead of choosing status codes
// in every handler. Immutable after construction; safe for concurrent use.
type ErrorMapper struct {
	mappings []ErrorMapping
	logger   *slog.Logger
}

// NewErrorMapper returns a mapper that tries mappings in order.
func NewErrorMapper(logger *slog.Logger, mappings ...ErrorMapping) *ErrorMapper {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &ErrorMapper{mappings: append([]ErrorMapping(nil), mappings...), logger: logger}
}

// Problem maps err to a status error for a handler to return:
//
//	if err != nil {
//		return nil, errs.Problem(err)
//	}
//
// A huma.StatusError (e.g. huma.Error404NotFound) is returned unchanged; a
// registered mapping gives its status with err's message as detail; a
// request body over its limit gives 413; a context deadline 504; anything
// else is logged and becomes a 500 that reveals nothing. Problem(nil) is nil.
func (m *ErrorMapper) Problem(err error) huma.StatusError {
	return m.problem(context.Background(), err)
}

// problem is Problem, logging with ctx's request id.
func (m *ErrorMapper) problem(ctx context.Context, err error) huma.StatusError {
	if err == nil {
		return nil
	}
	var se huma.StatusError
	if errors.As(err, &se) {
		return se
	}
	for _, mp := range m.mappings {
		if errors.Is(err, mp.Target) {
			if mp.Type == "" {
				return huma.NewError(mp.Status, err.Error())
			}
			return &huma.ErrorModel{Type: mp.Type, Title: http.StatusText(mp.Status), Status: mp.Status, Detail: err.Error()}
		}
	}
	var maxBytes *http.MaxBytesError
	switch {
	case errors.As(err, &maxBytes):
		return huma.NewError(http.StatusRequestEntityTooLarge, "request body too large")
	case errors.Is(err, context.DeadlineExceeded):
		return huma.NewError(http.StatusGatewayTimeout, "the operation timed out")
	}
	m.logger.ErrorContext(ctx, "unmapped handler error",
		slog.String("request_id", RequestID(ctx)), slog.Any("error", err))
	return huma.NewError(http.StatusInternalServerError, "internal error")
}

// Handle wraps an operation handler so that every error it returns goes
// through Problem:
//
//	huma.Register(api, op, httpserver.Handle(errs, h.getSession))
func Handle[I, O any](m *ErrorMapper, h func(context.Context, *I) (*O, error)) func(context.Context, *I) (*O, error) {
	return func(ctx context.Context, in *I) (*O, error) {
		out, err := h(ctx, in)
		if err != nil {
			return nil, m.problem(ctx, err)
		}
		return out, nil
	}
}

// problemTransformer gives huma's own error bodies the same shape as
// WriteProblem's (an explicit type) and strips the details of 5xx errors:
// huma puts the raw message of an unmapped handler error there, which may
// reveal internals. The stripped message is logged instead.
func problemTransformer(logger *slog.Logger) huma.Transformer {
	return func(ctx huma.Context, _ string, v any) (any, error) {
		em, ok := v.(*huma.ErrorModel)
		if !ok {
			return v, nil
		}
		out := *em // never mutate: a handler may return a shared error value
		if out.Type == "" {
			out.Type = problemType
		}
		if out.Status >= 500 && len(out.Errors) > 0 {
			attrs := []slog.Attr{
				slog.String("request_id", RequestID(ctx.Context())),
				slog.Int("status", out.Status),
				slog.String("detail", out.Detail),
			}
			for _, d := range out.Errors {
				if d != nil {
					attrs = append(attrs, slog.String("error", d.Message))
				}
			}
			logger.LogAttrs(ctx.Context(), slog.LevelError, "handler error", attrs...)
			out.Errors = nil
		}
		return &out, nil
	}
}
