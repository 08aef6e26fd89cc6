package whatsapp_test

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.mau.fi/whatsmeow"

	"github.com/28web/hub/channels/core"
	"github.com/28web/hub/channels/core/channeltest"
	"github.com/28web/hub/channels/whatsapp"
	"github.com/28web/hub/channels/whatsapp/wasim"
	"github.com/28web/hub/migrations"
	"github.com/28web/hub/platform/db"
	"github.com/28web/hub/platform/db/dbtest"
)

// BenchmarkProviderSend is the channel's own ceiling: Provider.SendMessage called directly (no
// API, no queue, no bus) by one sender per session, as the send pipeline does, across 100
// sessions connected to the in-process simulator, each to its own simulated phone. It runs on
// PostgreSQL when TEST_DATABASE_URL is set, else SQLite. Every send returns after the simulator
// acknowledged it.
func BenchmarkProviderSend(b *testing.B) {
	const sessions = 100
	var d *db.DB
	if os.Getenv(dbtest.EnvPostgresURL) != "" {
		d = dbtest.Postgres(b, migrations.Whatsapp)
	} else {
		d = dbtest.SQLite(b, migrations.Whatsapp)
	}
	sim, err := wasim.New(wasim.Options{Logger: testLogger()})
	require.NoError(b, err)
	require.NoError(b, sim.Start(b.Context()))
	b.Cleanup(func() { _ = sim.Close() })
	container, err := whatsapp.OpenDeviceStore(b.Context(), d, testLogger())
	require.NoError(b, err)
	var sink countingSink
	p, err := whatsapp.New(whatsapp.Config{HealthInterval: time.Hour}, container, whatsapp.NewBunRepository(d.Bun()), &sink, nil, testLogger(),
		whatsapp.WithClientConfigurer(func(c *whatsmeow.Client) { wasim.ConfigureClient(c, sim) }))
	require.NoError(b, err)
	require.NoError(b, p.Start(b.Context()))
	b.Cleanup(func() { _ = p.Stop(context.Background()) })

	qrl, err := core.As[core.QRLogin](p, core.CapabilityQRLogin)
	require.NoError(b, err)
	recipients := make([]string, sessions)
	for i := range sessions {
		id := core.SessionID(fmt.Sprintf("bench-%03d", i))
		_, err := p.CreateSession(b.Context(), core.CreateSessionRequest{ID: id})
		require.NoError(b, err)
		var qr core.QRCode
		channeltest.Eventually(b, waitLimit, "QR available", func() bool {
			qr, err = qrl.LoginQR(b.Context(), id)
			return err == nil
		})
		agent, err := sim.NewPhone(fmt.Sprintf("55319%08d", i))
		require.NoError(b, err)
		_, err = agent.ScanQR(b.Context(), qr.Text)
		require.NoError(b, err)
		customer, err := sim.NewPhone(fmt.Sprintf("55419%08d", i))
		require.NoError(b, err)
		recipients[i] = customer.Number() + "@s.whatsapp.net"
		channeltest.Eventually(b, waitLimit, "session connected", func() bool {
			s, err := p.Session(b.Context(), id)
			return err == nil && s.Status == core.StatusConnected
		})
	}

	var failed atomic.Int64
	total := int64(0)
	jobs := make(chan struct{}, sessions)
	var wg sync.WaitGroup
	for i := range sessions {
		id := core.SessionID(fmt.Sprintf("bench-%03d", i))
		wg.Go(func() {
			for range jobs {
				msg := core.OutgoingMessage{ID: p.NewMessageID(), To: recipients[i], Type: core.MessageText, Text: "benchmark message"}
				if _, err := p.SendMessage(b.Context(), id, msg); err != nil {
					failed.Add(1)
				}
			}
		})
	}
	start := time.Now()
	for b.Loop() {
		jobs <- struct{}{}
		total++
	}
	close(jobs)
	wg.Wait()
	elapsed := time.Since(start)
	require.Zero(b, failed.Load(), "every send acknowledged")
	b.ReportMetric(float64(total)/elapsed.Seconds(), "sent/s")
	b.ReportMetric(float64(sink.n.Load())/float64(total), "events/msg")
}

// countingSink counts the events a provider publishes and drops them.
type countingSink struct{ n atomic.Int64 }

func (s *countingSink) Publish(context.Context, core.Event) error {
	s.n.Add(1)
	return nil
}
