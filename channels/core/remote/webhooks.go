package remote

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/uptrace/bun"

	"github.com/28web/hub/channels/core"
	"github.com/28web/hub/channels/core/webhook"
	"github.com/28web/hub/openapi/client"
	"github.com/28web/hub/platform/httpserver"
	"github.com/28web/hub/platform/log"
)

// ReceiverPath is where a hub in webhooks mode takes the gateway's events (the gateway's
// APP_WEBHOOK_URL points here).
const ReceiverPath = "/hub/gateway-events"

// signatureTolerance bounds how old (or early) a signed request may be: replays of captured
// requests beyond it are refused.
const signatureTolerance = 5 * time.Minute

// maxEventBytes bounds one webhook body: an event carries no media bytes.
const maxEventBytes = 1 << 20

// Receiver takes the gateway's events from its signed webhooks, for a hub without the gateway's
// Redis: each request is verified (Standard Webhooks, the global endpoint's secret), taken in
// once per webhook-id, and published to the hub's sink before it is answered 2xx, so the gateway
// retries whatever the hub did not keep.
type Receiver struct {
	secret string
	db     bun.IDB
	sink   core.EventSink
	logger *slog.Logger
	now    func() time.Time
}

// NewReceiver returns a receiver verifying with secret (whsec_…), recording webhook ids in db
// (migration set migrations.HubRemote) and publishing to sink.
func NewReceiver(secret string, db bun.IDB, sink core.EventSink, logger *slog.Logger) *Receiver {
	return &Receiver{secret: secret, db: db, sink: sink, logger: logger, now: time.Now}
}

type seenRow struct {
	bun.BaseModel `bun:"table:hub_gateway_events"`

	WebhookID  string    `bun:"webhook_id,pk"`
	ReceivedAt time.Time `bun:"received_at,notnull"`
}

// ServeHTTP handles one webhook request.
func (r *Receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, req.Body, maxEventBytes))
	if err != nil {
		httpserver.WriteProblem(w, http.StatusRequestEntityTooLarge, "event body too large")
		return
	}
	id := req.Header.Get(webhook.HeaderID)
	if err := webhook.Verify(r.secret, id, req.Header.Get(webhook.HeaderTimestamp), req.Header.Get(webhook.HeaderSignature), body,
		r.now(), signatureTolerance); err != nil {
		r.logger.Warn("gateway webhook refused", slog.String("webhookId", id), log.ErrorAttr(err))
		httpserver.WriteProblem(w, http.StatusUnauthorized, "webhook signature: "+err.Error())
		return
	}
	if err := r.take(req.Context(), id, body); err != nil {
		if errors.Is(err, core.ErrInvalid) {
			httpserver.WriteProblem(w, http.StatusUnprocessableEntity, err.Error())
			return
		}
		r.logger.Warn("gateway event not taken in; the gateway retries it", slog.String("webhookId", id), log.ErrorAttr(err))
		httpserver.WriteProblem(w, http.StatusServiceUnavailable, "the hub cannot keep the event now")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// take publishes the event unless its webhook id was taken in before. The id is recorded after
// publishing: a crash in between redelivers an event whose id (a derived one) consumers dedupe.
func (r *Receiver) take(ctx context.Context, id string, body []byte) error {
	exists, err := r.db.NewSelect().Model((*seenRow)(nil)).Where("webhook_id = ?", id).Exists(ctx)
	if err != nil {
		return fmt.Errorf("look up webhook %s: %w", id, err)
	}
	if exists {
		return nil
	}
	var ev core.Event
	if err := json.Unmarshal(body, &ev); err != nil {
		return fmt.Errorf("%w: not an event envelope: %w", core.ErrInvalid, err)
	}
	if err := r.sink.Publish(ctx, ev); err != nil {
		return fmt.Errorf("publish %s: %w", ev.ID, err)
	}
	row := seenRow{WebhookID: id, ReceivedAt: r.now().UTC()}
	if _, err := r.db.NewInsert().Model(&row).On("CONFLICT (webhook_id) DO NOTHING").Exec(ctx); err != nil {
		return fmt.Errorf("record webhook %s: %w", id, err)
	}
	return nil
}

// lastReceived is when the newest event was taken in, zero when none was.
func (r *Receiver) lastReceived(ctx context.Context) (time.Time, error) {
	var row seenRow
	err := r.db.NewSelect().Model(&row).Order("received_at DESC").Limit(1).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("last received event: %w", err)
	}
	return row.ReceivedAt, nil
}

// Prune forgets webhook ids older than before (the gateway stops retrying long before).
func (r *Receiver) Prune(ctx context.Context, before time.Time) error {
	if _, err := r.db.NewDelete().Model((*seenRow)(nil)).Where("received_at < ?", before.UTC()).Exec(ctx); err != nil {
		return fmt.Errorf("prune webhook ids: %w", err)
	}
	return nil
}

// CatchUp asks the gateway to deliver again what its global endpoint gave up on while the hub
// was away: every dead delivery since shortly before the last event taken in (a day back on a
// hub that never took one). Deliveries still retrying arrive by themselves.
func (r *Receiver) CatchUp(ctx context.Context, api *client.ClientWithResponses) (int, error) {
	last, err := r.lastReceived(ctx)
	if err != nil {
		return 0, err
	}
	since := last.Add(-time.Minute)
	if last.IsZero() {
		since = r.now().Add(-24 * time.Hour)
	}
	global := "global"
	res, err := api.RedeliverFailedWebhookDeliveriesWithResponse(ctx, client.RedeliverFailedWebhookDeliveriesJSONRequestBody{
		EndpointId: &global, Since: since, Until: r.now().Add(time.Minute)})
	if err := check("redeliver missed events", err, res, http.StatusAccepted); err != nil {
		return 0, err
	}
	return int(res.JSON202.Redelivered), nil
}
