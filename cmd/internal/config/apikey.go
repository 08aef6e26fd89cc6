package config

import (
	"crypto/rand"
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
	path := filepath.Join(c.DataDir(), APIKeyFile)
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		key := strings.TrimSpace(string(b))
		if key == "" {
			return false, fmt.Errorf("api key file %s is empty: delete it to generate a new key", path)
		}
		c.HTTP.APIKey = key
		return false, nil
	case !errors.Is(err, fs.ErrNotExist):
		return false, fmt.Errorf("read api key file: %w", err)
	}

	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return false, fmt.Errorf("generate api key: %w", err)
	}
	key := "gw_" + hex.EncodeToString(raw)
	if err := os.MkdirAll(c.DataDir(), 0o700); err != nil {
		return false, fmt.Errorf("create data directory: %w", err)
	}
	// O_EXCL: two gateways starting on one directory must not overwrite each other's key.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return false, fmt.Errorf("write api key file: %w", err)
	}
	if _, err := f.WriteString(key + "\n"); err != nil {
		_ = f.Close()
		return false, fmt.Errorf("write api key file: %w", err)
	}
	if err := f.Close(); err != nil {
		return false, fmt.Errorf("write api key file: %w", err)
	}
	c.HTTP.APIKey = key
	return true, nil
}
