package api

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/28web/hub/channels/core"
	"github.com/28web/hub/channels/core/store"
	"github.com/28web/hub/channels/core/webhook"
	"github.com/28web/hub/platform/httpserver"
	"github.com/28web/hub/platform/log"
)

// SessionPath is the {id} path parameter of every session operation.
type SessionPath struct {
	ID core.SessionID `path:"id" pattern:"^[A-Za-z0-9_-]{1,64}$" maxLength:"64" doc:"Session id, chosen at creation." example:"support-1"`
}

// Session is a session as the API shows it.
type Session struct {
	ID      core.SessionID     `json:"id" example:"support-1"`
	Channel core.Channel       `json:"channel" example:"whatsapp"`
	Status  core.SessionStatus `json:"status" enum:"connecting,qr_code,connected,disconnected,logged_out,banned,failed"`
	// Account and AccountLID identify the logged-in account once paired.
	Account     core.ChatID `json:"account,omitempty" example:"5511999990001@s.whatsapp.net" doc:"The account's phone-number address, once paired."`
	AccountLID  core.ChatID `json:"accountLid,omitempty" example:"123456789012345@lid" doc:"The account's LID, when known."`
	PushName    string      `json:"pushName,omitempty"`
	Reason      string      `json:"reason,omitempty" doc:"Why the session last disconnected, failed or was logged out."`
	BannedUntil *time.Time  `json:"bannedUntil,omitempty"`
	CreatedAt   time.Time   `json:"createdAt"`
	UpdatedAt   time.Time   `json:"updatedAt"`
	ConnectedAt *time.Time  `json:"connectedAt,omitempty"`
	// Capabilities are the optional operations this session's channel offers.
	Capabilities []string `json:"capabilities" doc:"Optional operations the session's channel supports (edit_message, revoke_message, mark_read, presence, media_download, qr_login, pairing_code, contacts)."`
	// Webhooks are returned by the creation only, with their secrets.
	Webhooks []webhook.EndpointView `json:"webhooks,omitempty" doc:"Only in the answer to the creation: the session's webhook endpoints with their signing secrets, shown this once."`
}

func (h *Handlers) view(s core.Session) Session {
	caps := []string{}
	if p, err := h.Channels.Get(s.Channel); err == nil {
		caps = append(caps, core.Capabilities(p)...)
	}
	return Session{ID: s.ID, Channel: s.Channel, Status: s.Status, Account: s.Account, AccountLID: s.AccountLID,
		PushName: s.PushName, Reason: s.Reason, BannedUntil: s.BannedUntil, CreatedAt: s.CreatedAt, UpdatedAt: s.UpdatedAt,
		ConnectedAt: s.ConnectedAt, Capabilities: caps}
}

// CreateSessionRequest asks for a new session.
type CreateSessionRequest struct {
	ID core.SessionID `json:"id" pattern:"^[A-Za-z0-9_-]{1,64}$" maxLength:"64" doc:"Session id: letters, digits, '-' and '_'." example:"support-1"`
	// Channel is the channel the session runs on; empty is the gateway's first channel.
	Channel core.Channel `json:"channel,omitempty" pattern:"^[a-z0-9-]{1,32}$" maxLength:"32" doc:"The channel the session runs on, one of those GET /channels lists; default whatsapp (the gateway's default channel)." example:"whatsapp"`
	// Settings are the channel's own parameters, passed to it as they are.
	Settings map[string]string `json:"settings,omitempty" maxProperties:"16" doc:"The channel's own parameters. whatsapp takes none; whatsapp-cloud needs phoneNumberId, wabaId, accessToken, appSecret and verifyToken (secrets are stored encrypted and never shown again)." example:"{}"`
	// Webhooks are the session's own webhook endpoints, besides the global APP_WEBHOOK_URL.
	Webhooks []webhook.EndpointBody `json:"webhooks,omitempty" maxItems:"10" doc:"The session's own webhook endpoints (besides APP_WEBHOOK_URL); manage them later under /sessions/{id}/webhooks."`
}

type createSessionInput struct {
	Body CreateSessionRequest
}

type sessionOutput struct {
	Location string `header:"Location"`
	Body     Session
}

// SessionList is every session.
type SessionList struct {
	Sessions []Session `json:"sessions"`
}

type sessionsOutput struct {
	Body SessionList
}

type emptyOutput struct{}

type qrInput struct {
	SessionPath
	Format string `query:"format" enum:"json,image" default:"json" doc:"json: the QR as text and base64 PNG; image: the PNG itself."`
}

// QRCode is the current login QR of a session.
type QRCode struct {
	QR        string    `json:"qr" doc:"Raw QR text, to render yourself." example:"2@abc...,xyz...,...,..."`
	Image     string    `json:"image" doc:"The QR as a base64 PNG data URL." example:"data:image/png;base64,iVBORw0KGgo..."`
	ExpiresAt time.Time `json:"expiresAt" doc:"When WhatsApp rotates this code; a qr_code event announces the next."`
}

type qrOutput struct {
	ContentType  string `header:"Content-Type"`
	CacheControl string `header:"Cache-Control"`
	Body         []byte
}

// PairingCodeRequest asks for a code to link the session by phone number.
type PairingCodeRequest struct {
	Phone string `json:"phone" minLength:"8" maxLength:"32" pattern:"^\\+?[0-9][0-9 ().-]{6,30}$" doc:"The phone number of the account to link, international format." example:"+55 11 99999-0001"`
}

// PairingCode is the code to type on the phone.
type PairingCode struct {
	Code string `json:"code" doc:"Type it on the phone: Linked devices → Link with phone number." example:"ABCD-EFGH"`
}

type pairingCodeInput struct {
	SessionPath
	Body PairingCodeRequest
}

type pairingCodeOutput struct {
	Body PairingCode
}

func (h *Handlers) registerSessions(api huma.API) {
	huma.Register(api, withErrors(op("createSession", http.MethodPost, "/sessions", tagSessions, "Create a session",
		"Starts a new session. It answers at once with the session in its first status (connecting or qr_code); "+
			"follow the login through GET /sessions/{id}/qr, the qr_code and session.status events.", http.StatusCreated), conflict, unavailable),
		httpserver.Handle(h.Errors, h.createSession))
	huma.Register(api, op("listSessions", http.MethodGet, "/sessions", tagSessions, "List sessions", "Every session with its current status.", 0),
		httpserver.Handle(h.Errors, h.listSessions))
	huma.Register(api, withErrors(op("getSession", http.MethodGet, "/sessions/{id}", tagSessions, "Get a session", "The session's current status.", 0), notFound),
		httpserver.Handle(h.Errors, h.getSession))
	huma.Register(api, withErrors(op("deleteSession", http.MethodDelete, "/sessions/{id}", tagSessions, "Delete a session",
		"Logs the session out of WhatsApp when it is paired, wipes its credentials, stops its client and forgets its messages. "+
			"While accepted messages are not sent yet it answers 409, unless force=true: they are then failed (error session_deleted) and "+
			"each reported as message_failed. The session's last events are disconnected and session.status (deleted); its own webhooks "+
			"receive them, then are removed.", http.StatusNoContent), notFound, conflict),
		httpserver.Handle(h.Errors, h.deleteSession))
	qrOp := withErrors(op("getSessionQR", http.MethodGet, "/sessions/{id}/qr", tagSessions, "Get the login QR code",
		"The current QR of a session waiting to be paired, as text and PNG (format=json) or as image/png (format=image). "+
			"404 until the first code is available, 409 once paired.", 0), notFound, conflict, notImplemented)
	qrOp.Responses = map[string]*huma.Response{"200": {
		Description: "The current QR code.",
		Content: map[string]*huma.MediaType{
			"application/json": {Schema: api.OpenAPI().Components.Schemas.Schema(reflect.TypeFor[QRCode](), true, "QRCode")},
			"image/png":        {Schema: &huma.Schema{Type: huma.TypeString, Format: "binary"}},
		},
	}}
	huma.Register(api, qrOp, httpserver.Handle(h.Errors, h.getQR))
	huma.Register(api, withErrors(op("requestPairingCode", http.MethodPost, "/sessions/{id}/pairing-code", tagSessions, "Link by phone number",
		"Asks for a pairing code to type on the phone instead of scanning the QR.", 0), notFound, conflict, notImplemented),
		httpserver.Handle(h.Errors, h.pairingCode))
}

func (h *Handlers) createSession(ctx context.Context, in *createSessionInput) (*sessionOutput, error) {
	id := in.Body.ID
	if err := id.Validate(); err != nil {
		return nil, err
	}
	if len(in.Body.Webhooks) > 0 && h.Webhooks == nil {
		return nil, fmt.Errorf("session webhooks: %w", core.ErrUnavailable)
	}
	channel := in.Body.Channel
	if channel == "" {
		channel = h.Channels.Default()
	}
	provider, err := h.Channels.Get(channel)
	if err != nil {
		return nil, huma.Error422UnprocessableEntity("validation failed", &huma.ErrorDetail{Location: "body.channel", Value: channel,
			Message: strings.TrimSuffix(err.Error(), ": "+core.ErrInvalid.Error())})
	}
	if err := h.Store.CreateSession(ctx, store.SessionRow{ID: id, Channel: channel, Status: core.StatusConnecting}); err != nil {
		return nil, err
	}
	var hooks []webhook.EndpointView
	if len(in.Body.Webhooks) > 0 {
		inputs := make([]webhook.EndpointInput, len(in.Body.Webhooks))
		for i, b := range in.Body.Webhooks {
			inputs[i] = b.Input()
		}
		if hooks, err = h.Webhooks.SetSessionEndpoints(ctx, id, inputs); err != nil {
			h.undoCreate(ctx, id)
			return nil, err
		}
	}
	s, err := provider.CreateSession(ctx, core.CreateSessionRequest{ID: id, Settings: in.Body.Settings})
	if err != nil {
		h.undoCreate(ctx, id)
		return nil, err
	}
	view := h.view(s)
	view.Webhooks = hooks
	return &sessionOutput{Location: Prefix + "/sessions/" + string(id), Body: view}, nil
}

// undoCreate removes what a failed creation left (registry row, webhook endpoints), so the id
// can be tried again.
func (h *Handlers) undoCreate(ctx context.Context, id core.SessionID) {
	ctx = context.WithoutCancel(ctx)
	if err := h.Store.DeleteSession(ctx, id); err != nil && !errors.Is(err, core.ErrNotFound) {
		h.Logger.Warn("remove registry row of failed session", slog.String(log.SessionKey, string(id)), log.ErrorAttr(err))
	}
	if h.Webhooks != nil {
		if err := h.Webhooks.DeleteSessionEndpoints(ctx, id); err != nil {
			h.Logger.Warn("remove webhooks of failed session", slog.String(log.SessionKey, string(id)), log.ErrorAttr(err))
		}
	}
}

func (h *Handlers) listSessions(ctx context.Context, _ *struct{}) (*sessionsOutput, error) {
	all, err := h.Channels.Sessions(ctx)
	if err != nil {
		return nil, err
	}
	out := &sessionsOutput{}
	out.Body.Sessions = make([]Session, 0, len(all))
	for _, s := range all {
		out.Body.Sessions = append(out.Body.Sessions, h.view(s))
	}
	return out, nil
}

func (h *Handlers) getSession(ctx context.Context, in *SessionPath) (*sessionOutput, error) {
	p, err := h.Channels.For(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	s, err := p.Session(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	return &sessionOutput{Body: h.view(s)}, nil
}

// deleteSessionInput is the session to delete.
type deleteSessionInput struct {
	SessionPath
	Force bool `query:"force" doc:"Delete although accepted messages were not sent yet: each is marked failed with error session_deleted and reported as a message_failed event. Without it such a delete answers 409."`
}

func (h *Handlers) deleteSession(ctx context.Context, in *deleteSessionInput) (*emptyOutput, error) {
	existed, previous, err := h.sessionState(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	if !existed {
		return nil, fmt.Errorf("session %s: %w", in.ID, core.ErrNotFound)
	}
	if !in.Force {
		queued, err := h.Store.CountQueued(ctx, in.ID)
		if err != nil {
			return nil, err
		}
		if queued > 0 {
			return nil, fmt.Errorf("session %s has %d accepted messages not sent yet: wait for them, or delete with force=true to fail them (each reported as message_failed): %w",
				in.ID, queued, core.ErrConflict)
		}
	}
	p, err := h.Channels.For(ctx, in.ID)
	if err != nil && !errors.Is(err, core.ErrNotFound) {
		return nil, err
	}
	if p != nil {
		if err := p.DeleteSession(ctx, in.ID); err != nil && !errors.Is(err, core.ErrNotFound) {
			return nil, err
		}
	}
	// Report before forgetting: the failures and the session's last events are durable before
	// the row (and with it the messages) goes, so a crash in between reports them again on retry.
	failed, err := h.Store.FailQueued(ctx, in.ID, core.ErrorSessionDeleted)
	if err != nil {
		return nil, err
	}
	if err := h.reportFailed(ctx, in.ID, failed); err != nil {
		return nil, err
	}
	if err := h.publish(ctx, in.ID, &core.DisconnectedEvent{Reason: "session deleted", IsReconnectable: false}); err != nil {
		return nil, err
	}
	// The session's last event: its own webhooks retire after it.
	if err := h.publish(ctx, in.ID, &core.SessionStatusEvent{Status: core.StatusDeleted, PreviousStatus: previous, Reason: "deleted through the API"}); err != nil {
		return nil, err
	}
	late, err := h.Store.RemoveSession(ctx, in.ID, core.ErrorSessionDeleted)
	if err != nil && !errors.Is(err, core.ErrNotFound) {
		return nil, err
	}
	h.Channels.Forget(in.ID)
	// Accepted between the two steps: reported too.
	late = slices.DeleteFunc(late, func(m store.Message) bool {
		return slices.ContainsFunc(failed, func(f store.Message) bool { return f.ID == m.ID })
	})
	if err := h.reportFailed(ctx, in.ID, late); err != nil {
		return nil, err
	}
	return &emptyOutput{}, nil
}

// sessionState tells whether a session exists (in its channel or the registry) and its status.
func (h *Handlers) sessionState(ctx context.Context, id core.SessionID) (bool, core.SessionStatus, error) {
	p, err := h.Channels.For(ctx, id)
	if err == nil {
		var s core.Session
		if s, err = p.Session(ctx, id); err == nil {
			return true, s.Status, nil
		}
	}
	if !errors.Is(err, core.ErrNotFound) {
		return false, "", err
	}
	row, err := h.Store.Session(ctx, id)
	if errors.Is(err, core.ErrNotFound) {
		return false, "", nil
	}
	if err != nil {
		return false, "", err
	}
	return true, row.Status, nil
}

// reportFailed publishes message_failed for messages failed by a session's deletion. Their
// event ids derive from the message, so reporting one twice is deduplicated downstream.
func (h *Handlers) reportFailed(ctx context.Context, session core.SessionID, msgs []store.Message) error {
	for _, m := range msgs {
		ev := core.NewEvent(session, &core.MessageFailedEvent{ID: m.ID, To: string(m.ChatID), Error: core.ErrorSessionDeleted, ErrorType: core.ProblemNotFound, Attempts: m.Attempts})
		ev.ID = core.DerivedEventID(session, core.EventMessageFailed, string(m.ID)+"\x00"+core.ErrorSessionDeleted)
		if err := h.Sink.Publish(ctx, ev); err != nil {
			return fmt.Errorf("report message %s failed: %w", m.ID, err)
		}
	}
	return nil
}

func (h *Handlers) publish(ctx context.Context, session core.SessionID, data core.EventData) error {
	if err := h.Sink.Publish(ctx, core.NewEvent(session, data)); err != nil {
		return fmt.Errorf("publish %s of %s: %w", data.EventType(), session, err)
	}
	return nil
}

func (h *Handlers) getQR(ctx context.Context, in *qrInput) (*qrOutput, error) {
	qrl, err := capability[core.QRLogin](ctx, h.Channels, in.ID, core.CapabilityQRLogin)
	if err != nil {
		return nil, err
	}
	qr, err := qrl.LoginQR(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	if in.Format == "image" {
		return &qrOutput{ContentType: "image/png", CacheControl: "no-store", Body: qr.PNG}, nil
	}
	body, err := json.Marshal(QRCode{
		QR: qr.Text, Image: "data:image/png;base64," + base64.StdEncoding.EncodeToString(qr.PNG), ExpiresAt: qr.ExpiresAt,
	})
	if err != nil {
		return nil, fmt.Errorf("encode qr: %w", err)
	}
	return &qrOutput{ContentType: "application/json", CacheControl: "no-store", Body: body}, nil
}

func (h *Handlers) pairingCode(ctx context.Context, in *pairingCodeInput) (*pairingCodeOutput, error) {
	pc, err := capability[core.PairingCodeLogin](ctx, h.Channels, in.ID, core.CapabilityPairingCode)
	if err != nil {
		return nil, err
	}
	code, err := pc.RequestPairingCode(ctx, in.ID, in.Body.Phone)
	if err != nil {
		return nil, err
	}
	out := &pairingCodeOutput{}
	out.Body.Code = code
	return out, nil
}
