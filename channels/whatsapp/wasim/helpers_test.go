package wasim_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/store/sqlstore"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
	waLog "go.mau.fi/whatsmeow/util/log"
	_ "modernc.org/sqlite"

	"github.com/28web/hub/channels/whatsapp/wasim"
)

const waitLimit = 20 * time.Second

func debug() bool { return os.Getenv("WASIM_DEBUG") != "" }

func newSim(t testing.TB) *wasim.Simulator {
	t.Helper()
	opts := wasim.Options{}
	if debug() {
		opts.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	sim, err := wasim.New(opts)
	require.NoError(t, err)
	require.NoError(t, sim.Start(t.Context()))
	t.Cleanup(func() { _ = sim.Close() })
	return sim
}

func newPhone(t testing.TB, sim *wasim.Simulator, number string) *wasim.Phone {
	t.Helper()
	p, err := sim.NewPhone(number)
	require.NoError(t, err)
	return p
}

// testClient is an unmodified whatsmeow client with an event recorder.
type testClient struct {
	t      testing.TB
	name   string
	dbPath string
	cli    *whatsmeow.Client
	mu     sync.Mutex
	events []any
	notify chan struct{}
}

func waLogger(name string) waLog.Logger {
	if debug() {
		return waLog.Stdout(name, "DEBUG", false)
	}
	return waLog.Noop
}

// newClient opens (or reopens) the SQLite store at dbPath and builds a client on its first device.
func newClient(t testing.TB, sim *wasim.Simulator, name, dbPath string) *testClient {
	t.Helper()
	ctx := t.Context()
	dsn := fmt.Sprintf("file:%s?_pragma=foreign_keys(1)&_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)", dbPath)
	container, err := sqlstore.New(ctx, "sqlite", dsn, waLogger(name+"/db"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = container.Close() })
	dev, err := container.GetFirstDevice(ctx)
	require.NoError(t, err)
	tc := &testClient{t: t, name: name, dbPath: dbPath, notify: make(chan struct{})}
	tc.cli = whatsmeow.NewClient(dev, waLogger(name))
	wasim.ConfigureClient(tc.cli, sim)
	tc.cli.AddEventHandler(tc.record)
	t.Cleanup(tc.cli.Disconnect)
	return tc
}

func (tc *testClient) record(evt any) {
	tc.mu.Lock()
	tc.events = append(tc.events, evt)
	close(tc.notify)
	tc.notify = make(chan struct{})
	tc.mu.Unlock()
}

// waitFor returns the first recorded event (since the start) matching pred.
func waitFor[T any](tc *testClient, pred func(T) bool) T {
	tc.t.Helper()
	ctx, cancel := context.WithTimeout(tc.t.Context(), waitLimit)
	defer cancel()
	for {
		tc.mu.Lock()
		for _, e := range tc.events {
			if v, ok := e.(T); ok && (pred == nil || pred(v)) {
				tc.mu.Unlock()
				return v
			}
		}
		ch := tc.notify
		tc.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			var zero T
			tc.t.Fatalf("%s: timed out waiting for %T", tc.name, zero)
			return zero
		}
	}
}

// count returns how many recorded events match.
func count[T any](tc *testClient, pred func(T) bool) int {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	n := 0
	for _, e := range tc.events {
		if v, ok := e.(T); ok && (pred == nil || pred(v)) {
			n++
		}
	}
	return n
}

// pairQR connects an unpaired client, lets phone scan its first QR and waits until the
// client logged in (Connected).
func pairQR(t testing.TB, tc *testClient, phone *wasim.Phone) types.JID {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), waitLimit)
	defer cancel()
	qrCh, err := tc.cli.GetQRChannel(ctx)
	require.NoError(t, err)
	require.NoError(t, tc.cli.Connect())
	var code string
	for item := range qrCh {
		if item.Event == whatsmeow.QRChannelEventCode {
			code = item.Code
			break
		}
		t.Fatalf("unexpected QR channel event %q: %v", item.Event, item.Error)
	}
	jid, err := phone.ScanQR(ctx, code)
	require.NoError(t, err)
	waitFor[*events.PairSuccess](tc, nil)
	waitFor[*events.Connected](tc, nil)
	require.Equal(t, jid, *tc.cli.Store.ID)
	return jid
}

func newPairedClient(t testing.TB, sim *wasim.Simulator, phone *wasim.Phone, name string) *testClient {
	t.Helper()
	tc := newClient(t, sim, name, filepath.Join(t.TempDir(), name+".db"))
	pairQR(t, tc, phone)
	return tc
}
