// Package simclient points whatsmeow clients at the WhatsApp network simulator (wasim): the
// client side only, so that a gateway in simulator mode does not link the fake server itself.
package simclient

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sync"

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

// ConfigureClient points cli at the remote simulator (see Configure).
func (r *Remote) ConfigureClient(cli *whatsmeow.Client) { Configure(cli, r.Addr, r.RootPublicKey) }

// Configure points a whatsmeow client at the simulator listening on addr: its pre-login,
// websocket and media HTTP clients dial the simulator, and whatsmeow.WACertPubKey is set to the
// simulator's root key. WACertPubKey is process-global: use this only in simulator mode (tests,
// demos), never in a process that also talks to the real WhatsApp. Every simulator in a process
// shares the default root key, so mixing simulators is safe. Call before Connect.
func Configure(cli *whatsmeow.Client, addr string, rootKey [32]byte) {
	setCertPubKey(rootKey)
	c := HTTPClientTo(addr)
	cli.SetPreLoginHTTPClient(c)
	cli.SetWebsocketHTTPClient(c)
	cli.SetMediaHTTPClient(c)
}

// certKeyMu serialises this process's writes to whatsmeow.WACertPubKey, itself process-global:
// concurrent first Configure calls (parallel tests) would race otherwise.
var certKeyMu sync.Mutex

// setCertPubKey writes whatsmeow.WACertPubKey only when it changes: every simulator shares the
// key, so later calls merely read it and never race with handshakes of running clients.
func setCertPubKey(key [32]byte) {
	certKeyMu.Lock()
	defer certKeyMu.Unlock()
	if whatsmeow.WACertPubKey != key {
		whatsmeow.WACertPubKey = key
	}
}

// HTTPClientTo returns an *http.Client whose every connection, whatever the URL's host and
// scheme, is a plain TCP connection to addr (no TLS needed).
func HTTPClientTo(addr string) *http.Client {
	dial := func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", addr)
	}
	return &http.Client{Transport: &http.Transport{
		DialContext:       dial,
		DialTLSContext:    dial,
		ForceAttemptHTTP2: false,
	}}
}
