package whatsappcloud

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/28web/hub/channels/core"
)

// sealedPrefix versions the sealed format, so that a key rotation can add a second one.
const sealedPrefix = "v1:"

// sealer encrypts the sessions' secrets at rest with AES-256-GCM; the session id is the
// additional data, so a sealed token copied to another session's row does not open.
type sealer struct {
	aead cipher.AEAD
}

// newSealer returns nil for an empty key: the channel runs, but cannot create sessions.
func newSealer(key string) (*sealer, error) {
	if key == "" {
		return nil, nil
	}
	raw, err := base64.StdEncoding.DecodeString(key)
	if err != nil || len(raw) != 32 {
		return nil, fmt.Errorf("encryption key: want 32 bytes, base64-encoded")
	}
	block, err := aes.NewCipher(raw)
	if err != nil {
		return nil, fmt.Errorf("encryption key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("encryption key: %w", err)
	}
	return &sealer{aead: aead}, nil
}

func (s *sealer) seal(session core.SessionID, plaintext string) string {
	nonce := make([]byte, s.aead.NonceSize())
	_, _ = rand.Read(nonce) // crypto/rand never fails since Go 1.24
	out := s.aead.Seal(nonce, nonce, []byte(plaintext), []byte(session))
	return sealedPrefix + base64.StdEncoding.EncodeToString(out)
}

func (s *sealer) open(session core.SessionID, sealed string) (string, error) {
	rest, ok := strings.CutPrefix(sealed, sealedPrefix)
	if !ok {
		return "", fmt.Errorf("open secret of %s: unknown format", session)
	}
	raw, err := base64.StdEncoding.DecodeString(rest)
	if err != nil || len(raw) < s.aead.NonceSize() {
		return "", fmt.Errorf("open secret of %s: malformed", session)
	}
	n := s.aead.NonceSize()
	plain, err := s.aead.Open(nil, raw[:n], raw[n:], []byte(session))
	if err != nil {
		return "", fmt.Errorf("open secret of %s: wrong key or tampered", session)
	}
	return string(plain), nil
}
