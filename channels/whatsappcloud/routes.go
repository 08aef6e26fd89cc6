package whatsappcloud

import (
	"context"
	"errors"
	"net/http"
	"reflect"

	"github.com/danielgtaylor/huma/v2"

	"github.com/28web/hub/channels/core"
	"github.com/28web/hub/platform/httpserver"
)

const tagWebhook = "WhatsApp Cloud API webhook"

type verifyInput struct {
	Session     core.SessionID `path:"sessionId" maxLength:"64" pattern:"^[A-Za-z0-9_-]{1,64}$" doc:"The Cloud session the callback URL was configured for."`
	Mode        string         `query:"hub.mode" maxLength:"32" doc:"Always subscribe." example:"subscribe"`
	VerifyToken string         `query:"hub.verify_token" maxLength:"1024" doc:"The session's verifyToken."`
	Challenge   string         `query:"hub.challenge" maxLength:"1024" doc:"Echoed back when the token matches." example:"1158201444"`
}

type verifyOutput struct {
	ContentType string `header:"Content-Type"`
	Body        []byte
}

type notificationInput struct {
	Session   core.SessionID `path:"sessionId" maxLength:"64" pattern:"^[A-Za-z0-9_-]{1,64}$" doc:"The Cloud session the callback URL was configured for."`
	Signature string         `header:"X-Hub-Signature-256" maxLength:"128" doc:"sha256=<hex HMAC-SHA256 of the raw body with the app secret>."`
	RawBody   []byte         `contentType:"application/json"`
}

type notificationOutput struct{}

// RegisterRoutes adds the Cloud API webhook operations to api: public (Meta calls them without
// the gateway's key), authenticated by the verify token and the body's signature. p nil only
// documents them.
func RegisterRoutes(api huma.API, p *Provider, errs *httpserver.ErrorMapper) {
	path := WebhookPath + "/{sessionId}"
	verify := huma.Operation{
		OperationID: "verifyCloudWebhook", Method: http.MethodGet, Path: path, Tags: []string{tagWebhook},
		Summary: "Cloud API webhook verification",
		Description: "Meta's subscription handshake for a whatsapp-cloud session's callback URL (" + WebhookPath + "/{sessionId}): " +
			"answers hub.challenge as text when hub.mode is subscribe and hub.verify_token is the session's verifyToken, and the session " +
			"becomes connected. 403 otherwise. Public: no API key.",
		Errors: []int{http.StatusForbidden, http.StatusNotFound, http.StatusServiceUnavailable},
	}
	httpserver.Public(&verify)
	verify.Responses = map[string]*huma.Response{"200": {
		Description: "The challenge, echoed.",
		Content:     map[string]*huma.MediaType{"text/plain": {Schema: &huma.Schema{Type: huma.TypeString}}},
	}}
	huma.Register(api, verify, func(ctx context.Context, in *verifyInput) (*verifyOutput, error) {
		challenge, err := p.VerifyWebhook(ctx, in.Session, in.Mode, in.VerifyToken, in.Challenge)
		if err != nil {
			return nil, webhookProblem(errs, err)
		}
		return &verifyOutput{ContentType: "text/plain; charset=utf-8", Body: []byte(challenge)}, nil
	})

	receive := huma.Operation{
		OperationID: "receiveCloudNotification", Method: http.MethodPost, Path: path, Tags: []string{tagWebhook},
		Summary: "Cloud API webhook notification",
		Description: "Messages and statuses Meta sends for a whatsapp-cloud session. The X-Hub-Signature-256 HMAC of the raw body " +
			"is checked against the session's app secret in constant time (401 otherwise, nothing stored); the notification is stored " +
			"durably before the 200, then mapped to message, message_create, message_ack and message_failed events. A replay of the same " +
			"body is stored once. Public: no API key.",
		MaxBodyBytes: maxNotificationBytes,
		// The signature is checked on the raw bytes; the schema below documents the shape only
		// (Meta adds fields, and an unsigned body must get 401, not 422).
		SkipValidateBody: true,
		Errors:           []int{http.StatusUnauthorized, http.StatusNotFound, http.StatusRequestEntityTooLarge, http.StatusServiceUnavailable},
	}
	httpserver.Public(&receive)
	receive.Responses = map[string]*huma.Response{"200": {Description: "Stored; it will be processed."}}
	huma.Register(api, receive, func(ctx context.Context, in *notificationInput) (*notificationOutput, error) {
		if err := p.ReceiveWebhook(ctx, in.Session, in.Signature, in.RawBody); err != nil {
			return nil, webhookProblem(errs, err)
		}
		return &notificationOutput{}, nil
	})
	// Document the notification's shape (huma documents a raw body as binary).
	if item := api.OpenAPI().Paths[path]; item != nil && item.Post != nil && item.Post.RequestBody != nil {
		schema := api.OpenAPI().Components.Schemas.Schema(reflect.TypeFor[Notification](), true, "CloudNotification")
		item.Post.RequestBody.Content = map[string]*huma.MediaType{"application/json": {Schema: schema}}
	}
}

func webhookProblem(errs *httpserver.ErrorMapper, err error) error {
	switch {
	case errors.Is(err, ErrBadSignature):
		return huma.Error401Unauthorized("the X-Hub-Signature-256 signature is missing or does not match the body")
	case errors.Is(err, ErrVerification):
		return huma.Error403Forbidden("hub.mode or hub.verify_token does not match this session")
	}
	return errs.Problem(err)
}
