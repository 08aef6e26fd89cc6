package config

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// APIKeyFile is where a generated API key is kept, inside the data directory.
const APIKeyFile = "api_key"

// ErrAPIKeyRequired: production refuses to start without an explicit API key.
var ErrAPIKeyRequired = errors.New("API_KEY is required in production (set API_KEY, API_KEY_FILE or http.api_key)")

// EnsureAPIKey makes sure c.HTTP.APIKey is set. Production requires it. Elsewhere a missing key is
// read from DataDir/api_key, or generated there (0600) on first start; generated reports the
// latter, so the caller prints the new key exactly once.
func (c *Config) EnsureAPIKey() (generated bool, err error) {
	if c.HTTP.APIKey != "" {
		return false, nil
	}
	if c.Env == Production {
		return false, ErrAPIKeyRequired
	}
	key, generated, err := secretFile(filepath.Join(c.DataDir(), APIKeyFile), func(raw []byte) string { return "gw_" + hex.EncodeToString(raw) })
	if err != nil {
		return false, fmt.Errorf("api key: %w", err)
	}
	c.HTTP.APIKey = key
	return generated, nil
}

// CloudKeyFile is where a generated Cloud API encryption key is kept, inside the data directory.
const CloudKeyFile = "whatsapp_cloud.key"

// EnsureCloudKey makes sure the Cloud API channel can seal credentials. Outside production a
// missing whatsapp_cloud.encryption_key is read from DataDir/whatsapp_cloud.key, or generated
// there (0600). Production never generates one: a key on a replica's disk would not open
// credentials another replica sealed; without it the channel refuses to create sessions.
func (c *Config) EnsureCloudKey() error {
	if c.WhatsAppCloud.EncryptionKey != "" || c.Env == Production {
		return nil
	}
	key, _, err := secretFile(filepath.Join(c.DataDir(), CloudKeyFile), base64.StdEncoding.EncodeToString)
	if err != nil {
		return fmt.Errorf("whatsapp_cloud encryption key: %w", err)
	}
	c.WhatsAppCloud.EncryptionKey = key
	return nil
}

// secretFile reads the secret kept at path, or generates one from 32 random bytes and writes it
// there (0600) on first use; generated reports the latter.
func secretFile(path string, encode func([]byte) string) (secret string, generated bool, err error) {
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		secret := strings.TrimSpace(string(b))
		if secret == "" {
			return "", false, fmt.Errorf("file %s is empty: delete it to generate a new one", path)
		}
		return secret, false, nil
	case !errors.Is(err, fs.ErrNotExist):
		return "", false, fmt.Errorf("read %s: %w", path, err)
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", false, fmt.Errorf("generate: %w", err)
	}
	secret = encode(raw)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", false, fmt.Errorf("create data directory: %w", err)
	}
	// O_EXCL: two gateways starting on one directory must not overwrite each other's secret.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", false, fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := f.WriteString(secret + "\n"); err != nil {
		_ = f.Close()
		return "", false, fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return "", false, fmt.Errorf("write %s: %w", path, err)
	}
	return secret, true, nil
}
