package httpserver

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"testing"

	"github.com/danielgtaylor/huma/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"
)

func fxDeps() fx.Option {
	return fx.Supply(testConfig(), APIInfo{Title: "fx", Version: "1"}, slog.New(slog.DiscardHandler))
}

func TestModuleValidates(t *testing.T) {
	require.NoError(t, fx.ValidateApp(Module, fxDeps()))
}

func TestModuleServesAndStops(t *testing.T) {
	errGone := errors.New("gone for good")
	var srv *Server
	app := fxtest.New(t,
		Module,
		fxDeps(),
		ProvideErrorMappings(ErrorMapping{Target: errGone, Status: http.StatusGone}),
		fx.Invoke(func(api huma.API, errs *ErrorMapper) {
			huma.Register(api, huma.Operation{OperationID: "gone", Method: http.MethodGet, Path: "/gone"},
				Handle(errs, func(context.Context, *struct{}) (*struct{}, error) { return nil, errGone }))
		}),
		fx.Populate(&srv),
	)
	app.RequireStart()
	// OnStart returned: the server must already be listening.
	addr := srv.Addr()
	require.NotEmpty(t, addr)

	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+addr+"/gone", nil)
	require.NoError(t, err)
	req.Header.Set(APIKeyHeader, testKey)
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	require.NoError(t, err)
	assert.Equal(t, http.StatusGone, res.StatusCode)
	assert.Contains(t, string(body), "gone for good")

	app.RequireStop()
	_, err = http.Get("http://" + addr + "/health")
	assert.Error(t, err, "stopped server must not accept connections")
}
