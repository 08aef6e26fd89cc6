package wasim

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"

	"go.mau.fi/whatsmeow"
)

// Remote is a simulator running in another process (cmd/wasim), reached through its control
// API. A gateway in simulator mode uses it to point its whatsmeow clients there.
type Remote struct {
	// Addr is the simulator's host:port (websocket, media and control API share it).
	Addr string
	// RootPublicKey is the key its certificate chain is rooted in.
	RootPublicKey [32]byte
}

// DialRemote asks the simulator at controlURL (http://host:port) for its address and root key.
func DialRemote(ctx context.Context, controlURL string) (*Remote, error) {
	u, err := url.Parse(controlURL)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return nil, fmt.Errorf("simulator URL %q: want http://host:port", controlURL)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.JoinPath("/_sim/info").String(), nil)
	if err != nil {
		return nil, fmt.Errorf("simulator info request: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("reach simulator at %s: %w", controlURL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("simulator info: status %d", resp.StatusCode)
	}
	var info struct {
		Addr string `json:"addr"`
		Root string `json:"root_public_key"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&info); err != nil {
		return nil, fmt.Errorf("decode simulator info: %w", err)
	}
	key, err := base64.StdEncoding.DecodeString(info.Root)
	if err != nil || len(key) != 32 {
		return nil, fmt.Errorf("simulator root key: want 32 bytes of base64")
	}
	r := &Remote{Addr: u.Host}
	copy(r.RootPublicKey[:], key)
	return r, nil
}

// ConfigureClient points cli at the remote simulator, as ConfigureClient does for one in this
// process; the same process-global caveat about whatsmeow.WACertPubKey applies.
func (r *Remote) ConfigureClient(cli *whatsmeow.Client) {
	setCertPubKey(r.RootPublicKey)
	c := httpClientTo(r.Addr)
	cli.SetPreLoginHTTPClient(c)
	cli.SetWebsocketHTTPClient(c)
	cli.SetMediaHTTPClient(c)
}
