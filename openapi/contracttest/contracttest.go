// Package contracttest checks HTTP exchanges against the committed OpenAPI document, as the
// validating proxy in front of third-party clients does: every answer's status must be declared
// for its operation, its content type declared, and its body valid against the schema. Tests
// send their requests through Client (or wrap a transport with Transport), so the whole suite
// walks the handlers' real code paths against the contract.
package contracttest

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/28web/hub/openapi"
)

var (
	loadOnce sync.Once
	router   routers.Router
	loadErr  error
)

// load reads the committed 3.0 document once per test binary.
func load() (routers.Router, error) {
	loadOnce.Do(func() {
		doc, err := openapi3.NewLoader().LoadFromData(openapi.YAML30)
		if err != nil {
			loadErr = err
			return
		}
		// The servers are a template of the operator's address: match paths on any host.
		doc.Servers = nil
		router, loadErr = legacy.NewRouter(doc)
	})
	return router, loadErr
}

// Client is an *http.Client whose every exchange is checked.
func Client(t testing.TB) *http.Client {
	return &http.Client{Transport: Transport(t, http.DefaultTransport)}
}

// Transport checks every response base returns; a violation fails t (the response is still
// returned, so the test's own assertions run too). Requests that match no operation are not
// checked: they test the router's own 404 and 405.
func Transport(t testing.TB, base http.RoundTripper) http.RoundTripper {
	r, err := load()
	if err != nil {
		t.Fatalf("load the committed OpenAPI document: %v", err)
	}
	return &checker{t: t, base: base, router: r}
}

type checker struct {
	t      testing.TB
	base   http.RoundTripper
	router routers.Router
}

func (c *checker) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := c.base.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	route, params, rerr := c.router.FindRoute(req)
	if rerr != nil {
		return resp, nil
	}
	body, rerr := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if rerr != nil {
		return resp, nil
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}},
		Status:  resp.StatusCode,
		Header:  resp.Header,
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	in.SetBodyBytes(body)
	if verr := openapi3filter.ValidateResponse(context.WithoutCancel(req.Context()), in); verr != nil {
		c.t.Errorf("contract: %s %s answered %d, which %s %s does not declare as given: %v\nbody: %.500s",
			req.Method, req.URL.Path, resp.StatusCode, route.Method, route.Path, verr, body)
	}
	return resp, nil
}
