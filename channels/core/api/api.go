// Package api is the gateway's REST API over the channel contract: sessions, login, messages,
// contacts and session health, registered on a huma API. Handlers return the core's sentinel
// errors; the httpserver ErrorMapper turns them into RFC 9457 problems, so a missing capability
// answers 501 and an unknown session 404 everywhere alike.
package api

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
	"go.uber.org/fx"

	"github.com/28web/hub/channels/core"
	"github.com/28web/hub/channels/core/media"
	"github.com/28web/hub/channels/core/pipeline"
	"github.com/28web/hub/channels/core/store"
	"github.com/28web/hub/channels/core/webhook"
	"github.com/28web/hub/platform/bus"
	"github.com/28web/hub/platform/httpserver"
)

// Prefix is the base path of the versioned API.
const Prefix = "/api/v1"

// Deps are what the operations work with.
type Deps struct {
	fx.In

	// Channels routes each session's operations to its channel's provider.
	Channels *core.Channels
	Store    *store.Store
	Pipeline *pipeline.Pipeline
	Errors   *httpserver.ErrorMapper
	Logger   *slog.Logger
	// Media fetches the attachments given by URL when a message is accepted.
	Media *media.Fetcher
	// Sink reports what the API itself decides: the failures and the last events of a deleted
	// session.
	Sink core.EventSink
	// Bus, when present, feeds the event stream.
	Bus *bus.Bus `optional:"true"`
	// Webhooks, when present, takes the webhook endpoints given at session creation.
	Webhooks *webhook.Service `optional:"true"`
}

// capability returns the provider of a session's channel as the capability T, or a
// *core.NotSupportedError naming it.
func capability[T any](ctx context.Context, channels *core.Channels, session core.SessionID, name string) (T, error) {
	p, err := channels.For(ctx, session)
	if err != nil {
		var zero T
		return zero, err
	}
	return core.As[T](p, name)
}

// Handlers holds the operations' dependencies.
type Handlers struct {
	Deps
}

// Register adds every operation to api.
func Register(api huma.API, d Deps) {
	if d.Media == nil {
		d.Media = media.NewFetcher(media.Config{})
	}
	h := &Handlers{Deps: d}
	h.registerSessions(api)
	h.registerMessages(api)
	h.registerContacts(api)
	h.registerHealth(api)
	h.registerChannels(api)
	h.registerTemplates(api)
	h.registerEvents(api)
	h.registerAnalytics(api)
	Describe(api.OpenAPI())
}

// Tags group operations in the reference.
const (
	tagSessions = "Sessions"
	tagMessages = "Messages"
	tagContacts = "Contacts"
	tagHealth   = "Health"
	tagChannels = "Channels"
)

// op is an operation of the core API. Every one may answer 503: the channel (a remote gateway,
// a provider not started yet) or another dependency is unavailable for now.
func op(id, method, path, tag, summary, description string, status int) huma.Operation {
	return huma.Operation{
		OperationID: id, Method: method, Path: Prefix + path, Tags: []string{tag},
		Summary: summary, Description: description, DefaultStatus: status,
		Errors: []int{http.StatusServiceUnavailable},
	}
}

// withErrors documents the problem responses an operation can give besides 401/429/422/500.
func withErrors(o huma.Operation, statuses ...int) huma.Operation {
	o.Errors = append(o.Errors, statuses...)
	return o
}

var (
	notFound       = http.StatusNotFound
	conflict       = http.StatusConflict
	notImplemented = http.StatusNotImplemented
	unavailable    = http.StatusServiceUnavailable
)
