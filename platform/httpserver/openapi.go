package httpserver

import (
	"net/http"
	"reflect"
	"strconv"

	"github.com/danielgtaylor/huma/v2"
)

// documentMiddlewareResponses adds to every operation's OpenAPI entry the
// problems the middleware, huma or the ErrorMapper may answer whatever the
// handler: 401 for secured operations, 429 with its headers, 500 and 504 for
// all, and for operations with a request body 400 (malformed JSON), 413 (over
// the body limit) and 415 (not JSON). Responses an operation declares itself
// are kept.
func documentMiddlewareResponses(oapi *huma.OpenAPI, op *huma.Operation) {
	errSchema := oapi.Components.Schemas.Schema(reflect.TypeFor[huma.ErrorModel](), true, "ErrorModel")
	problem := func(description string, headers map[string]*huma.Param) *huma.Response {
		return &huma.Response{
			Description: description,
			Headers:     headers,
			Content:     map[string]*huma.MediaType{"application/problem+json": {Schema: errSchema}},
		}
	}
	integer := func(doc string) *huma.Param {
		return &huma.Param{Description: doc, Schema: &huma.Schema{Type: huma.TypeInteger}}
	}
	if op.Responses == nil {
		op.Responses = map[string]*huma.Response{}
	}
	secured := op.Security == nil || len(op.Security) > 0
	if key := strconv.Itoa(http.StatusUnauthorized); secured && op.Responses[key] == nil {
		op.Responses[key] = problem(
			"Missing or invalid API key ("+APIKeyHeader+" header).", nil)
	}
	generic := map[int]string{
		http.StatusInternalServerError: "Internal error; the detail reveals nothing (the log has it, under the request id).",
		http.StatusGatewayTimeout:      "The operation timed out.",
	}
	if op.RequestBody != nil {
		generic[http.StatusBadRequest] = "The body is not well-formed JSON."
		generic[http.StatusRequestEntityTooLarge] = "The body is over the operation's size limit."
		generic[http.StatusUnsupportedMediaType] = "The body is not application/json."
	}
	for status, description := range generic {
		if key := strconv.Itoa(status); op.Responses[key] == nil {
			op.Responses[key] = problem(description, nil)
		}
	}
	if key := strconv.Itoa(http.StatusTooManyRequests); op.Responses[key] == nil {
		op.Responses[key] = problem(
			"Rate limit exceeded for the client address or the API key.",
			map[string]*huma.Param{
				"Retry-After":         integer("Seconds until a request may succeed."),
				"RateLimit-Limit":     integer("Requests allowed in a burst."),
				"RateLimit-Remaining": integer("Requests left in the current burst."),
				"RateLimit-Reset":     integer("Seconds until the burst allowance is full again."),
			})
	}
}
