package wasim

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sync"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
)

// certKeyMu serialises this package's access to whatsmeow.WACertPubKey, itself process-global:
// concurrent first ConfigureClient calls (parallel tests) would race otherwise.
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

// HTTPClient returns an *http.Client whose every connection, whatever the URL's host and
// scheme, is a plain TCP connection to the simulator (no TLS needed).
func (s *Simulator) HTTPClient() *http.Client { return httpClientTo(s.Addr()) }

// httpClientTo returns an *http.Client whose every connection goes to addr over plain TCP.
func httpClientTo(addr string) *http.Client {
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

// ConfigureClient points a whatsmeow client at the simulator: the pre-login, websocket and
// media HTTP clients dial the simulator, and whatsmeow.WACertPubKey is set to the simulator's
// root key. WACertPubKey is process-global: use this only in simulator mode (tests, demos),
// never in a process that also talks to the real WhatsApp. Every simulator in a process shares
// the default root key, so mixing simulators is safe. Call before Connect.
func ConfigureClient(cli *whatsmeow.Client, s *Simulator) {
	setCertPubKey(s.RootPublicKey())
	cli.SetPreLoginHTTPClient(s.HTTPClient())
	cli.SetWebsocketHTTPClient(s.HTTPClient())
	cli.SetMediaHTTPClient(s.HTTPClient())
}

// PairClient pairs an unpaired, disconnected whatsmeow client with this phone by QR, the whole
// way a user would: it connects the client, scans its first QR code and waits until the client
// has logged in again and is Connected. The client must have been configured with
// ConfigureClient.
func (p *Phone) PairClient(ctx context.Context, cli *whatsmeow.Client) (types.JID, error) {
	connected := make(chan struct{}, 1)
	handlerID := cli.AddEventHandler(func(evt any) {
		if _, ok := evt.(*events.Connected); ok {
			select {
			case connected <- struct{}{}:
			default:
			}
		}
	})
	defer cli.RemoveEventHandler(handlerID)
	qrCh, err := cli.GetQRChannel(ctx)
	if err != nil {
		return types.EmptyJID, fmt.Errorf("qr channel: %w", err)
	}
	if err := cli.Connect(); err != nil {
		return types.EmptyJID, fmt.Errorf("connect: %w", err)
	}
	// The first item is the first code, or why there is none.
	item, ok := <-qrCh
	if !ok {
		return types.EmptyJID, fmt.Errorf("qr channel closed before a code")
	}
	if item.Event != whatsmeow.QRChannelEventCode {
		return types.EmptyJID, fmt.Errorf("qr channel: %s: %w", item.Event, item.Error)
	}
	code := item.Code
	jid, err := p.ScanQR(ctx, code)
	if err != nil {
		return types.EmptyJID, err
	}
	select {
	case <-connected:
		return jid, nil
	case <-ctx.Done():
		return types.EmptyJID, fmt.Errorf("wait for %s to log in: %w", jid, ctx.Err())
	}
}
