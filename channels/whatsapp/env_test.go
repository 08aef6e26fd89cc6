package whatsapp_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/types"

	"github.com/28web/hub/channels/core"
	"github.com/28web/hub/channels/core/channeltest"
	"github.com/28web/hub/channels/core/media"
	"github.com/28web/hub/channels/whatsapp"
	"github.com/28web/hub/channels/whatsapp/wasim"
	"github.com/28web/hub/migrations"
	"github.com/28web/hub/platform/db"
	"github.com/28web/hub/platform/db/dbtest"
)

const waitLimit = 15 * time.Second

func testLogger() *slog.Logger {
	if os.Getenv("WA_DEBUG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// numbers hands out distinct phone numbers across the whole test binary.
var numbers atomic.Int64

func nextNumber() string { return fmt.Sprintf("55119%08d", 10000000+numbers.Add(1)) }

// simEnv is one test's world: a simulator, a database and whatsmeow's store on it. Providers it
// builds share both, so restarts can be tested. It implements channeltest.Env.
type simEnv struct {
	sim       *wasim.Simulator
	db        *db.DB
	container *whatsapp.DeviceStore
	cfg       whatsapp.Config
	opts      []whatsapp.Option
}

func newSimEnv(t *testing.T) *simEnv {
	t.Helper()
	return newSimEnvOn(t, dbtest.SQLite(t, migrations.Whatsapp))
}

// newSimEnvOn builds the world on a given database (migrated with migrations.Whatsapp).
func newSimEnvOn(t *testing.T, d *db.DB) *simEnv {
	t.Helper()
	sim, err := wasim.New(wasim.Options{Logger: testLogger()})
	require.NoError(t, err)
	require.NoError(t, sim.Start(t.Context()))
	t.Cleanup(func() { _ = sim.Close() })
	container, err := whatsapp.OpenDeviceStore(t.Context(), d, testLogger())
	require.NoError(t, err)
	cfg := whatsapp.Config{ReconnectMin: 50 * time.Millisecond, ReconnectMax: time.Second, RestoreRamp: 100 * time.Millisecond,
		HealthInterval: time.Hour}
	// Media URLs are served on loopback in these tests.
	opts := []whatsapp.Option{whatsapp.WithMediaFetcher(media.NewFetcher(media.Config{AllowPrivateNetworks: true}))}
	return &simEnv{sim: sim, db: d, container: container, cfg: cfg, opts: opts}
}

func (e *simEnv) configure(c *whatsmeow.Client) { wasim.ConfigureClient(c, e.sim) }

func (e *simEnv) build(t *testing.T, sink core.EventSink) *whatsapp.Provider {
	t.Helper()
	opts := append([]whatsapp.Option{whatsapp.WithClientConfigurer(e.configure)}, e.opts...)
	p, err := whatsapp.New(e.cfg, e.container, whatsapp.NewBunRepository(e.db.Bun()), sink, nil, testLogger(), opts...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.Stop(context.Background()) })
	return p
}

// NewProvider implements channeltest.Env.
func (e *simEnv) NewProvider(t *testing.T, sink core.EventSink) core.Provider {
	return e.build(t, sink)
}

// Pair implements channeltest.Env: a fresh phone scans the session's current QR.
func (e *simEnv) Pair(t *testing.T, p core.Provider, id core.SessionID) {
	t.Helper()
	e.pairPhone(t, p, id, e.newPhone(t))
}

func (e *simEnv) pairPhone(t *testing.T, p core.Provider, id core.SessionID, phone *wasim.Phone) types.JID {
	t.Helper()
	qrl, err := core.As[core.QRLogin](p, core.CapabilityQRLogin)
	require.NoError(t, err)
	var qr core.QRCode
	channeltest.Eventually(t, waitLimit, "QR available", func() bool {
		qr, err = qrl.LoginQR(t.Context(), id)
		return err == nil
	})
	ctx, cancel := context.WithTimeout(t.Context(), waitLimit)
	defer cancel()
	jid, err := phone.ScanQR(ctx, qr.Text)
	require.NoError(t, err)
	return jid
}

func (e *simEnv) newPhone(t *testing.T) *wasim.Phone {
	t.Helper()
	ph, err := e.sim.NewPhone(nextNumber())
	require.NoError(t, err)
	return ph
}

// NewPeer implements channeltest.Env.
func (e *simEnv) NewPeer(t *testing.T) channeltest.Peer { return &simPeer{phone: e.newPhone(t)} }

// UnknownRecipient implements channeltest.Env: a well-formed number with no account.
func (e *simEnv) UnknownRecipient() string { return "+49 1555 0000000" }

// simPeer is a simulated phone the suite talks to.
type simPeer struct{ phone *wasim.Phone }

func (p *simPeer) Address() string { return "+" + p.phone.Number() }

func (p *simPeer) Texts(*testing.T) []string {
	var out []string
	for _, m := range p.phone.Messages() {
		if !m.FromMe && m.Text != "" {
			out = append(out, m.Text)
		}
	}
	return out
}

func (p *simPeer) SendText(t *testing.T, to core.ChatID, text string) {
	t.Helper()
	j, err := types.ParseJID(string(to))
	require.NoError(t, err)
	_, err = p.phone.SendText(t.Context(), j, text)
	require.NoError(t, err)
}

func TestConformance(t *testing.T) {
	channeltest.Run(t, channeltest.Features{
		QRLogin: true, PairingCode: true, Edit: true, Revoke: true, MarkRead: true, Presence: true,
		MediaDownload: true, Contacts: true, Restore: true, Receipts: true, Timeout: waitLimit,
	}, func(t *testing.T) channeltest.Env { return newSimEnv(t) })
}

// TestConformancePostgres runs the suite with whatsmeow's store and the session table on
// PostgreSQL (skipped without TEST_DATABASE_URL).
func TestConformancePostgres(t *testing.T) {
	if os.Getenv(dbtest.EnvPostgresURL) == "" {
		t.Skipf("%s is not set", dbtest.EnvPostgresURL)
	}
	channeltest.Run(t, channeltest.Features{
		QRLogin: true, PairingCode: true, Edit: true, Revoke: true, MarkRead: true, Presence: true,
		MediaDownload: true, Contacts: true, Restore: true, Receipts: true, Timeout: waitLimit,
	}, func(t *testing.T) channeltest.Env { return newSimEnvOn(t, dbtest.Postgres(t, migrations.Whatsapp)) })
}
