package api

import (
	"net/http"

	"github.com/28web/hub/channels/core"
	"github.com/28web/hub/platform/httpserver"
)

// ErrorMappings is the one table from the core's sentinel errors to HTTP statuses, for every
// server that serves core operations (the binaries and the tests alike).
func ErrorMappings() []httpserver.ErrorMapping {
	return []httpserver.ErrorMapping{
		{Target: core.ErrNotFound, Status: http.StatusNotFound},
		{Target: core.ErrConflict, Status: http.StatusConflict},
		{Target: core.ErrNotConnected, Status: http.StatusConflict},
		{Target: core.ErrInvalid, Status: http.StatusUnprocessableEntity},
		{Target: core.ErrUnavailable, Status: http.StatusServiceUnavailable},
		{Target: core.ErrNotSupported, Status: http.StatusNotImplemented},
	}
}
