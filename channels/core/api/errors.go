package api

import (
	"net/http"

	"github.com/28web/hub/channels/core"
	"github.com/28web/hub/platform/httpserver"
)

// ErrorMappings is the one table from the core's sentinel errors to HTTP statuses, for every
// server that serves core operations (the binaries and the tests alike). ErrNotConnected comes
// before ErrConflict: a not-connected error is the more specific.
func ErrorMappings() []httpserver.ErrorMapping {
	return []httpserver.ErrorMapping{
		{Target: core.ErrNotFound, Status: http.StatusNotFound, Type: core.ProblemNotFound},
		{Target: core.ErrNotConnected, Status: http.StatusConflict, Type: core.ProblemNotConnected},
		{Target: core.ErrConflict, Status: http.StatusConflict, Type: core.ProblemConflict},
		{Target: core.ErrInvalid, Status: http.StatusUnprocessableEntity, Type: core.ProblemInvalid},
		{Target: core.ErrUnavailable, Status: http.StatusServiceUnavailable, Type: core.ProblemUnavailable},
		{Target: core.ErrNotSupported, Status: http.StatusNotImplemented, Type: core.ProblemNotSupported},
	}
}
