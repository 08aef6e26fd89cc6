package whatsappcloud

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/28web/hub/channels/core"
	"github.com/28web/hub/platform/log"
)

// WebhookPath is where Meta is told to send a session's notifications (the session id follows).
const WebhookPath = "/webhooks/whatsapp-cloud"

// maxNotificationBytes bounds a notification body; Meta's are a few KB.
const maxNotificationBytes = 3 << 20

var (
	// ErrBadSignature: X-Hub-Signature-256 is missing or does not match the body (HTTP 401).
	ErrBadSignature = errors.New("bad or missing X-Hub-Signature-256")
	// ErrVerification: the verification handshake's mode or token is wrong (HTTP 403).
	ErrVerification = errors.New("webhook verification refused")
)

// VerifyWebhook answers Meta's subscription handshake: it returns the challenge when mode is
// "subscribe" and token is the session's verify token, and marks the session connected (its
// notifications can reach the gateway from now on).
func (p *Provider) VerifyWebhook(ctx context.Context, id core.SessionID, mode, token, challenge string) (string, error) {
	s, err := p.session(id)
	if err != nil {
		return "", err
	}
	if mode != "subscribe" || subtle.ConstantTimeCompare([]byte(token), []byte(s.verifyToken)) != 1 || s.verifyToken == "" {
		p.logger.Warn("webhook verification refused", slog.String(log.SessionKey, string(id)), slog.String("mode", mode))
		return "", fmt.Errorf("session %s: %w", id, ErrVerification)
	}
	if challenge == "" {
		return "", fmt.Errorf("%w: hub.challenge is empty", core.ErrInvalid)
	}
	if st := s.snapshot().Status; st == core.StatusConnecting || st == core.StatusDisconnected {
		if err := p.setStatus(ctx, s, core.StatusConnected, ""); err != nil {
			return "", fmt.Errorf("%w: %w", core.ErrUnavailable, err)
		}
		p.logger.Info("cloud session connected: webhook verified", slog.String(log.SessionKey, string(id)))
	}
	return challenge, nil
}

// ReceiveWebhook checks a notification's signature against the raw body in constant time and
// stores it durably; it returns nil (answer 200) only once the notification is stored, so a crash
// afterwards loses nothing, and Meta retries whatever was not answered 200. Processing — events,
// windows, acks — happens afterwards, in order.
func (p *Provider) ReceiveWebhook(ctx context.Context, id core.SessionID, signature string, body []byte) error {
	s, err := p.session(id)
	if err != nil {
		return err
	}
	if !validSignature(s.appSecret, signature, body) {
		p.logger.Warn("webhook notification with a bad signature refused", slog.String(log.SessionKey, string(id)),
			slog.Bool("signed", signature != ""), slog.Int("bytes", len(body)))
		return fmt.Errorf("session %s: %w", id, ErrBadSignature)
	}
	sum := sha256.Sum256(body)
	stored, err := p.repo.storeNotification(ctx, notificationRow{SessionID: id, Digest: hex.EncodeToString(sum[:]), Body: body})
	if err != nil {
		return fmt.Errorf("%w: %w", core.ErrUnavailable, err)
	}
	if stored {
		p.poke()
	}
	return nil
}

// validSignature checks "sha256=<hex HMAC-SHA256(appSecret, body)>".
func validSignature(secret, header string, body []byte) bool {
	hexSum, ok := strings.CutPrefix(header, "sha256=")
	if !ok || secret == "" {
		return false
	}
	got, err := hex.DecodeString(hexSum)
	if err != nil {
		return false
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return hmac.Equal(got, mac.Sum(nil))
}

// WebhookHandler serves the webhook endpoints on plain net/http ({WebhookPath}/{sessionId}), for
// tests and for embedding without the API server; the gateway registers them as API operations
// instead (RegisterRoutes), with the same behaviour.
func (p *Provider) WebhookHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+WebhookPath+"/{session}", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		challenge, err := p.VerifyWebhook(r.Context(), core.SessionID(r.PathValue("session")), q.Get("hub.mode"), q.Get("hub.verify_token"), q.Get("hub.challenge"))
		if err != nil {
			http.Error(w, err.Error(), webhookStatus(err))
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, challenge)
	})
	mux.HandleFunc("POST "+WebhookPath+"/{session}", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxNotificationBytes))
		if err != nil {
			http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
			return
		}
		if err := p.ReceiveWebhook(r.Context(), core.SessionID(r.PathValue("session")), r.Header.Get("X-Hub-Signature-256"), body); err != nil {
			http.Error(w, err.Error(), webhookStatus(err))
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	return mux
}

func webhookStatus(err error) int {
	switch {
	case errors.Is(err, ErrBadSignature):
		return http.StatusUnauthorized
	case errors.Is(err, ErrVerification):
		return http.StatusForbidden
	case errors.Is(err, core.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, core.ErrInvalid):
		return http.StatusUnprocessableEntity
	}
	return http.StatusServiceUnavailable
}
