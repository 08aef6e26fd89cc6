package whatsappcloud_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/28web/hub/channels/core"
	"github.com/28web/hub/channels/core/channeltest"
	"github.com/28web/hub/channels/whatsappcloud"
	"github.com/28web/hub/channels/whatsappcloud/cloudsim"
	"github.com/28web/hub/migrations"
	"github.com/28web/hub/platform/db"
	"github.com/28web/hub/platform/db/dbtest"
)

const waitLimit = 15 * time.Second

func testLogger() *slog.Logger {
	if os.Getenv("CLOUD_DEBUG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// numbers hands out distinct phone numbers across the test binary.
var numbers atomic.Int64

func nextNumber() string { return fmt.Sprintf("55219%08d", 10000000+numbers.Add(1)) }

func newKey(t *testing.T) string {
	t.Helper()
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	return base64.StdEncoding.EncodeToString(k)
}

// business is one Cloud session's account on the simulator.
type business struct {
	cloudsim.Business
	VerifyToken string
}

// cloudEnv is one test's world: a Graph API simulator, a database and a webhook server in front
// of the current provider. It implements channeltest.Env and channeltest.SettingsEnv.
type cloudEnv struct {
	sim  *cloudsim.Server
	db   *db.DB
	cfg  whatsappcloud.Config
	opts []whatsappcloud.Option
	hook *httptest.Server

	mu         sync.Mutex
	provider   *whatsappcloud.Provider
	businesses map[core.SessionID]business
}

func newCloudEnv(t *testing.T, simCfg cloudsim.Config) *cloudEnv {
	t.Helper()
	return newCloudEnvOn(t, dbtest.SQLite(t, migrations.WhatsappCloud), simCfg)
}

func newCloudEnvOn(t *testing.T, d *db.DB, simCfg cloudsim.Config) *cloudEnv {
	t.Helper()
	simCfg.Logger = testLogger()
	sim := cloudsim.New(simCfg)
	require.NoError(t, sim.Start("127.0.0.1:0"))
	t.Cleanup(func() { _ = sim.Close() })
	e := &cloudEnv{sim: sim, db: d, businesses: map[core.SessionID]business{},
		cfg: whatsappcloud.Config{GraphURL: sim.URL(), EncryptionKey: newKey(t), RequestTimeout: 10 * time.Second}}
	// The webhook server outlives providers, as the gateway's address outlives its restarts.
	e.hook = httptest.NewServer(nil)
	e.hook.Config.Handler = e
	t.Cleanup(e.hook.Close)
	return e
}

// ServeHTTP hands a webhook call to the current provider (503 between providers, which the
// simulator retries).
func (e *cloudEnv) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	p := e.provider
	e.mu.Unlock()
	if p == nil {
		http.Error(w, "no provider", http.StatusServiceUnavailable)
		return
	}
	p.WebhookHandler().ServeHTTP(w, r)
}

func (e *cloudEnv) build(t *testing.T, sink core.EventSink, opts ...whatsappcloud.Option) *whatsappcloud.Provider {
	t.Helper()
	p, err := whatsappcloud.New(e.cfg, e.db.Bun(), sink, testLogger(), append(append([]whatsappcloud.Option{}, e.opts...), opts...)...)
	require.NoError(t, err)
	e.mu.Lock()
	e.provider = p
	e.mu.Unlock()
	t.Cleanup(func() { _ = p.Stop(context.Background()) })
	return p
}

func (e *cloudEnv) NewProvider(t *testing.T, sink core.EventSink) core.Provider {
	return e.build(t, sink)
}

// SessionSettings registers a business number on the simulator for the session.
func (e *cloudEnv) SessionSettings(t *testing.T, id core.SessionID) map[string]string {
	t.Helper()
	e.mu.Lock()
	b, ok := e.businesses[id]
	e.mu.Unlock()
	if !ok {
		n := numbers.Add(1)
		b = business{Business: cloudsim.Business{WABAID: fmt.Sprintf("%d", 900000+n), PhoneNumberID: fmt.Sprintf("%d", 100000+n),
			DisplayPhoneNumber: "+" + nextNumber(), VerifiedName: "Shop " + string(id),
			AccessToken: "EAAG" + strings.Repeat("x", 8) + fmt.Sprint(n), AppSecret: fmt.Sprintf("secret-%d", n)},
			VerifyToken: fmt.Sprintf("verify-%d", n)}
		require.NoError(t, e.sim.AddBusiness(b.Business))
		e.mu.Lock()
		e.businesses[id] = b
		e.mu.Unlock()
	}
	return map[string]string{whatsappcloud.SettingPhoneNumberID: b.PhoneNumberID, whatsappcloud.SettingWABAID: b.WABAID,
		whatsappcloud.SettingAccessToken: b.AccessToken, whatsappcloud.SettingAppSecret: b.AppSecret, whatsappcloud.SettingVerifyToken: b.VerifyToken}
}

func (e *cloudEnv) business(t *testing.T, id core.SessionID) business {
	t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	b, ok := e.businesses[id]
	require.True(t, ok, "no business for %s", id)
	return b
}

func (e *cloudEnv) callbackURL(id core.SessionID) string {
	return e.hook.URL + whatsappcloud.WebhookPath + "/" + string(id)
}

// Pair points the number's webhook at the gateway: the simulator runs Meta's verification
// handshake, after which the session is connected.
func (e *cloudEnv) Pair(t *testing.T, _ core.Provider, id core.SessionID) {
	t.Helper()
	b := e.business(t, id)
	require.NoError(t, e.sim.Subscribe(b.PhoneNumberID, e.callbackURL(id), b.VerifyToken))
}

// NewPeer registers a customer who writes to every session first, so that their 24 h window is
// open (the suite sends free-form messages), and waits until the provider knows it.
func (e *cloudEnv) NewPeer(t *testing.T) channeltest.Peer {
	t.Helper()
	peer := &cloudPeer{env: e, waID: nextNumber()}
	e.sim.AddCustomer(peer.waID, "Peer "+peer.waID)
	e.mu.Lock()
	ids := make([]core.SessionID, 0, len(e.businesses))
	for id := range e.businesses {
		ids = append(ids, id)
	}
	p := e.provider
	e.mu.Unlock()
	for _, id := range ids {
		if s, err := p.Session(t.Context(), id); err != nil || s.Status != core.StatusConnected {
			continue
		}
		_, err := e.sim.CustomerSendText(e.business(t, id).PhoneNumberID, peer.waID, "hi, it's "+peer.waID)
		require.NoError(t, err)
		channeltest.Eventually(t, waitLimit, "the peer's window to open", func() bool {
			return p.CheckSend(t.Context(), id, core.OutgoingMessage{To: peer.waID, Type: core.MessageText, Text: "x"}) == nil
		})
	}
	return peer
}

// UnknownRecipient is a well-formed number no customer of the simulator has.
func (e *cloudEnv) UnknownRecipient() string { return "+1 555 010 0199" }

type cloudPeer struct {
	env  *cloudEnv
	waID string
}

func (p *cloudPeer) Address() string { return "+" + p.waID }

func (p *cloudPeer) Texts(*testing.T) []string {
	var out []string
	for _, r := range p.env.sim.Received(p.waID) {
		if r.Type != "text" {
			continue
		}
		if text, ok := r.Body["text"].(map[string]any); ok {
			if body, ok := text["body"].(string); ok {
				out = append(out, body)
			}
		}
	}
	return out
}

// SendText writes to the session whose account is to.
func (p *cloudPeer) SendText(t *testing.T, to core.ChatID, text string) {
	t.Helper()
	p.env.mu.Lock()
	var phoneID string
	for _, b := range p.env.businesses {
		if strings.TrimPrefix(b.DisplayPhoneNumber, "+")+"@s.whatsapp.net" == string(to) {
			phoneID = b.PhoneNumberID
		}
	}
	p.env.mu.Unlock()
	require.NotEmpty(t, phoneID, "no business is %s", to)
	_, err := p.env.sim.CustomerSendText(phoneID, p.waID, text)
	require.NoError(t, err)
}

var cloudFeatures = channeltest.Features{MarkRead: true, Presence: true, MediaDownload: true, Templates: true, Restore: true,
	Receipts: true, Timeout: waitLimit}

func TestConformance(t *testing.T) {
	channeltest.Run(t, cloudFeatures, func(t *testing.T) channeltest.Env { return newCloudEnv(t, cloudsim.DefaultConfig()) })
}

func TestConformancePostgres(t *testing.T) {
	channeltest.Run(t, cloudFeatures, func(t *testing.T) channeltest.Env {
		return newCloudEnvOn(t, dbtest.Postgres(t, migrations.WhatsappCloud), cloudsim.DefaultConfig())
	})
}
