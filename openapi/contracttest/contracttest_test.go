package contracttest_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/28web/hub/openapi/contracttest"
)

// recorder is a testing.TB that keeps the errors reported to it.
type recorder struct {
	testing.TB
	errs []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}
func (r *recorder) Helper() {}

func TestViolationsAreReported(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/health":
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"status":"ok","version":"1","uptimeSeconds":1,"timestamp":"2026-12-02T10:00:00Z"}`))
		case "/health/sessions":
			w.WriteHeader(http.StatusTeapot)
		case "/health/system":
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"unexpected":true}`))
		}
	}))
	t.Cleanup(srv.Close)
	rec := &recorder{TB: t}
	c := &http.Client{Transport: contracttest.Transport(rec, http.DefaultTransport)}
	for _, path := range []string{"/health", "/health/sessions", "/health/system", "/no/such/route"} {
		resp, err := c.Get(srv.URL + path)
		require.NoError(t, err)
		_ = resp.Body.Close()
	}
	require.Len(t, rec.errs, 2, "an undeclared status and a body off its schema: %v", rec.errs)
	require.Contains(t, rec.errs[0], "/health/sessions answered 418")
	require.Contains(t, rec.errs[1], "/health/system answered 200")
}
