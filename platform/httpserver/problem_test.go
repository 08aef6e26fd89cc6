package httpserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/danielgtaylor/huma/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestErrorMapperProblem(t *testing.T) {
	errA := errors.New("a is missing")
	errB := errors.New("b is busy")
	logs := &syncBuffer{}
	m := NewErrorMapper(slog.New(slog.NewJSONHandler(logs, nil)),
		ErrorMapping{Target: errA, Status: http.StatusNotFound},
		ErrorMapping{Target: errB, Status: http.StatusServiceUnavailable},
	)

	assert.Nil(t, m.Problem(nil))
	var asError error = m.Problem(nil)
	assert.NoError(t, asError, "a nil problem must be a nil error for handlers")

	tests := []struct {
		name   string
		err    error
		status int
		detail string
	}{
		{"mapped", errA, 404, "a is missing"},
		{"mapped when wrapped", fmt.Errorf("get x: %w", errB), 503, "get x: b is busy"},
		{"first match wins", errors.Join(errB, errA), 404, "b is busy\na is missing"},
		{"status errors pass through", fmt.Errorf("wrapped: %w", huma.Error403Forbidden("no")), 403, "no"},
		{"body too large", fmt.Errorf("read: %w", &http.MaxBytesError{Limit: 10}), 413, "request body too large"},
		{"deadline", fmt.Errorf("query: %w", context.DeadlineExceeded), 504, "the operation timed out"},
		{"unknown", errors.New("secret internals"), 500, "internal error"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			se := m.Problem(tc.err)
			require.NotNil(t, se)
			assert.Equal(t, tc.status, se.GetStatus())
			var em *huma.ErrorModel
			require.ErrorAs(t, se, &em)
			assert.Equal(t, tc.detail, em.Detail)
		})
	}
	assert.Contains(t, logs.String(), "secret internals", "unknown errors are logged")
	assert.NotContains(t, logs.String(), "a is missing", "mapped errors are the client's business")
}

func TestWriteProblem(t *testing.T) {
	rec := httptest.NewRecorder()
	rec.Header().Set("Content-Length", "99") // set for another body: must go
	WriteProblem(rec, http.StatusConflict, "already there")
	assert.Equal(t, http.StatusConflict, rec.Code)
	assert.Equal(t, "application/problem+json", rec.Header().Get("Content-Type"))
	assert.Empty(t, rec.Header().Get("Content-Length"))
	assert.JSONEq(t, `{"type":"about:blank","title":"Conflict","status":409,"detail":"already there"}`, rec.Body.String())
}
