package httpserver

import (
	"net/http"
	"strings"
	"sync"

	"github.com/danielgtaylor/huma/v2"
)

// Public marks an operation as needing no API key: an empty (not nil)
// security requirement, which the OpenAPI document shows as `security: []`
// and the auth middleware honours. Every other operation requires the key.
//
//	op := huma.Operation{OperationID: "health", Method: http.MethodGet, Path: "/health"}
//	httpserver.Public(&op)
//	huma.Register(api, op, h)
func Public(op *huma.Operation) {
	op.Security = []map[string][]string{}
}

// routeTable knows, for each mux pattern, whether it is served by a huma
// operation and whether it is public. The auth and body-limit middleware
// look a request's pattern up here. Safe for concurrent use: operations may
// be registered while the server runs.
type routeTable struct {
	mu     sync.RWMutex
	ops    map[string]*huma.Operation
	public map[string]bool
}

func newRouteTable() *routeTable {
	return &routeTable{ops: map[string]*huma.Operation{}, public: map[string]bool{}}
}

// pattern is the ServeMux pattern humago registers an operation under.
func pattern(method, path string) string {
	return strings.ToUpper(method) + " " + path
}

func (t *routeTable) addOperation(op *huma.Operation) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.ops[pattern(op.Method, op.Path)] = op
}

func (t *routeTable) addPublic(pattern string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.public[pattern] = true
}

// operation is the huma operation served under pattern, or nil.
func (t *routeTable) operation(pattern string) *huma.Operation {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.ops[pattern]
}

// lookup reports whether the mux pattern is a huma operation and whether it
// may be called without a key. An empty pattern (no route) is never public.
func (t *routeTable) lookup(pattern string) (isOperation, public bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if t.public[pattern] {
		_, isOp := t.ops[pattern]
		return isOp, true
	}
	op, ok := t.ops[pattern]
	if !ok {
		return false, false
	}
	return true, op.Security != nil && len(op.Security) == 0
}

// recordingAdapter is the humago adapter, recording every operation it is
// given (after huma groups have applied their prefixes) in the route table.
type recordingAdapter struct {
	huma.Adapter
	routes *routeTable
	// docs, when set, answers the OpenAPI document routes instead of huma.
	docs        *servedDocuments
	openAPIPath string
}

func (a *recordingAdapter) Handle(op *huma.Operation, handler func(huma.Context)) {
	a.routes.addOperation(op)
	if a.docs != nil {
		handler = a.docs.handler(a.openAPIPath, op, handler)
	}
	a.Adapter.Handle(op, handler)
}

// docsPatterns are the routes huma serves its OpenAPI documents, docs page
// and JSON schemas on. They are public: they describe the API, and the
// schemas are what the public documents already contain (response bodies
// link to them in `$schema`).
func docsPatterns(cfg huma.Config) []string {
	var ps []string
	if cfg.OpenAPIPath != "" {
		for _, suffix := range []string{".json", ".yaml", "-3.0.json", "-3.0.yaml"} {
			ps = append(ps, pattern(http.MethodGet, cfg.OpenAPIPath+suffix))
		}
	}
	if cfg.DocsPath != "" {
		ps = append(ps, pattern(http.MethodGet, cfg.DocsPath))
	}
	if cfg.SchemasPath != "" {
		ps = append(ps, pattern(http.MethodGet, cfg.SchemasPath+"/{schema}"))
	}
	return ps
}
