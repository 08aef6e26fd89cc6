package webhook

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/28web/hub/channels/core"
)

// Standard Webhooks headers (https://www.standardwebhooks.com).
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
	// HeaderGatewayKey carries the gateway's API key to the global endpoint, as the original
	// gateway did.
	HeaderGatewayKey = "x-28web-gateway-key"
)

// secretPrefix marks a Standard Webhooks secret; the rest is base64 of the key bytes.
const secretPrefix = "whsec_"

// NewSecret returns a fresh secret: whsec_ and 32 random bytes in base64.
func NewSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails since Go 1.24
	return secretPrefix + base64.StdEncoding.EncodeToString(b)
}

// decodeSecret returns the HMAC key of a whsec_ secret.
func decodeSecret(secret string) ([]byte, error) {
	raw, ok := strings.CutPrefix(secret, secretPrefix)
	if !ok {
		return nil, fmt.Errorf("%w: secret must start with %s", core.ErrInvalid, secretPrefix)
	}
	key, err := base64.StdEncoding.DecodeString(raw)
	if err != nil || len(key) < 24 || len(key) > 64 {
		return nil, fmt.Errorf("%w: secret must be %s followed by base64 of 24 to 64 bytes", core.ErrInvalid, secretPrefix)
	}
	return key, nil
}

// Sign returns the webhook-signature header value for a message: "v1,<base64 HMAC-SHA256>" per
// secret, space-separated (several during a rotation).
func Sign(secrets []string, msgID string, ts time.Time, body []byte) (string, error) {
	sigs := make([]string, 0, len(secrets))
	prefix := msgID + "." + strconv.FormatInt(ts.Unix(), 10) + "."
	for _, s := range secrets {
		key, err := decodeSecret(s)
		if err != nil {
			return "", err
		}
		mac := hmac.New(sha256.New, key)
		mac.Write([]byte(prefix))
		mac.Write(body)
		sigs = append(sigs, "v1,"+base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	}
	return strings.Join(sigs, " "), nil
}

// maskSecret shows a secret's prefix only, for listings.
func maskSecret(s string) string {
	if len(s) <= len(secretPrefix)+4 {
		return secretPrefix + "…"
	}
	return s[:len(secretPrefix)+4] + "…"
}

// Verify checks a Standard Webhooks request against secret: the signature header must hold a
// v1 entry matching (constant time) and the timestamp must be within tolerance of now. Errors
// wrap core.ErrInvalid.
func Verify(secret, msgID, timestamp, signatures string, body []byte, now time.Time, tolerance time.Duration) error {
	if msgID == "" || timestamp == "" || signatures == "" {
		return fmt.Errorf("%w: missing %s, %s or %s", core.ErrInvalid, HeaderID, HeaderTimestamp, HeaderSignature)
	}
	sec, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: %s is not unix seconds", core.ErrInvalid, HeaderTimestamp)
	}
	ts := time.Unix(sec, 0)
	if d := now.Sub(ts); d > tolerance || d < -tolerance {
		return fmt.Errorf("%w: %s is %s away from now", core.ErrInvalid, HeaderTimestamp, d.Round(time.Second))
	}
	want, err := Sign([]string{secret}, msgID, ts, body)
	if err != nil {
		return err
	}
	for _, got := range strings.Fields(signatures) {
		if hmac.Equal([]byte(got), []byte(want)) {
			return nil
		}
	}
	return fmt.Errorf("%w: no signature matches", core.ErrInvalid)
}
