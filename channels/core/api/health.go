package api

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/28web/hub/channels/core"
	"github.com/28web/hub/channels/core/pipeline"
	"github.com/28web/hub/platform/httpserver"
)

type sessionStatsOutput struct {
	Body core.SessionStats
}

type performanceOutput struct {
	Body pipeline.Stats
}

// SessionHealth is one session's health.
type SessionHealth struct {
	ID          core.SessionID     `json:"id"`
	Status      core.SessionStatus `json:"status"`
	Healthy     bool               `json:"healthy" doc:"Connected and able to send."`
	Reason      string             `json:"reason,omitempty"`
	ConnectedAt *time.Time         `json:"connectedAt,omitempty"`
	// QueuedMessages counts this session's accepted messages not yet sent.
	QueuedMessages int `json:"queuedMessages"`
}

type sessionHealthOutput struct {
	Body SessionHealth
}

func (h *Handlers) registerHealth(api huma.API) {
	huma.Register(api, withErrors(huma.Operation{OperationID: "getSessionsHealth", Method: http.MethodGet, Path: "/health/sessions", Tags: []string{tagHealth},
		Summary: "Session counts", Description: "Total, active, connected, waiting for QR and disconnected sessions."}, unavailable),
		httpserver.Handle(h.Errors, h.sessionsHealth))
	huma.Register(api, withErrors(huma.Operation{OperationID: "getSessionHealth", Method: http.MethodGet, Path: "/health/sessions/{id}", Tags: []string{tagHealth},
		Summary: "One session's health", Description: "Whether the session is connected and able to send, and how many messages wait for it."}, notFound, unavailable),
		httpserver.Handle(h.Errors, h.sessionHealth))
	huma.Register(api, huma.Operation{OperationID: "getPerformance", Method: http.MethodGet, Path: "/health/performance", Tags: []string{tagHealth},
		Summary: "Send pipeline figures", Description: "Queue depth, messages processed and failed, and send latency percentiles over the latest sends."},
		httpserver.Handle(h.Errors, h.performance))
}

func (h *Handlers) sessionsHealth(ctx context.Context, _ *struct{}) (*sessionStatsOutput, error) {
	st, err := h.Channels.Stats(ctx)
	if err != nil {
		return nil, err
	}
	return &sessionStatsOutput{Body: st}, nil
}

func (h *Handlers) sessionHealth(ctx context.Context, in *SessionPath) (*sessionHealthOutput, error) {
	p, err := h.Channels.For(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	s, err := p.Session(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	queued, err := h.Store.CountQueued(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	return &sessionHealthOutput{Body: SessionHealth{ID: s.ID, Status: s.Status, Healthy: s.Status == core.StatusConnected,
		Reason: s.Reason, ConnectedAt: s.ConnectedAt, QueuedMessages: queued}}, nil
}

func (h *Handlers) performance(ctx context.Context, _ *struct{}) (*performanceOutput, error) {
	st, err := h.Pipeline.Stats(ctx)
	if err != nil {
		return nil, fmt.Errorf("send pipeline figures: %w", err)
	}
	return &performanceOutput{Body: st}, nil
}
