package wasim

import (
	"context"
	"fmt"
	"net/http"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"

	"github.com/28web/hub/channels/whatsapp/wasim/simclient"
)

// HTTPClient returns an *http.Client whose every connection, whatever the URL's host and
// scheme, is a plain TCP connection to the simulator (no TLS needed).
func (s *Simulator) HTTPClient() *http.Client { return simclient.HTTPClientTo(s.Addr()) }

// ConfigureClient points a whatsmeow client at this simulator (simclient.Configure, with its
// process-global caveat). Call before Connect.
func ConfigureClient(cli *whatsmeow.Client, s *Simulator) {
	simclient.Configure(cli, s.Addr(), s.RootPublicKey())
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
