package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/28web/hub/channels/core/channeltest"
	"github.com/28web/hub/cmd/internal/config"
	"github.com/28web/hub/openapi/client"
	"github.com/28web/hub/platform/bus/bustest"
	"github.com/28web/hub/platform/db/dbtest"
)

// ownRedis is a redis-server of the test's own, never the machine's shared one, so that it can
// be killed and restarted.
type ownRedis struct {
	port string
	cmd  *exec.Cmd
}

// startOwnRedis starts a redis-server without persistence on a free loopback port. Without
// TEST_REDIS_URL the test is skipped; with it (CI) a missing redis-server binary fails it.
func startOwnRedis(t *testing.T) *ownRedis {
	t.Helper()
	if os.Getenv(bustest.EnvRedisURL) == "" {
		t.Skipf("%s is not set", bustest.EnvRedisURL)
	}
	_, err := exec.LookPath("redis-server")
	require.NoError(t, err, "redis-server must be installed to run Redis fault tests")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	require.NoError(t, ln.Close())
	r := &ownRedis{port: port}
	r.start(t)
	t.Cleanup(r.kill)
	return r
}

func (r *ownRedis) url() string { return "redis://127.0.0.1:" + r.port + "/0" }

func (r *ownRedis) start(t *testing.T) {
	t.Helper()
	r.cmd = exec.Command("redis-server", "--port", r.port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", t.TempDir(), "--logfile", "")
	r.cmd.Stdout, r.cmd.Stderr = io.Discard, io.Discard
	require.NoError(t, r.cmd.Start())
	opts, err := redis.ParseURL(r.url())
	require.NoError(t, err)
	c := redis.NewClient(opts)
	defer c.Close()
	channeltest.Eventually(t, 20*time.Second, "own redis-server answers", func() bool { return c.Ping(t.Context()).Err() == nil })
}

// kill ends the server as a crash would: whatever it held in memory is gone.
func (r *ownRedis) kill() {
	if r.cmd == nil || r.cmd.Process == nil {
		return
	}
	_ = r.cmd.Process.Kill()
	_ = r.cmd.Wait()
	r.cmd = nil
}

// webhookReceiver records the events POSTed to it.
type webhookReceiver struct {
	mu     sync.Mutex
	events map[string]map[string]bool // event type → message id (acks: id/ack) → seen
}

func (w *webhookReceiver) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	var ev struct {
		Event string `json:"event"`
		Data  struct {
			ID  string `json:"id"`
			Ack *int   `json:"ack"`
		} `json:"data"`
	}
	if err := json.NewDecoder(r.Body).Decode(&ev); err != nil {
		http.Error(rw, err.Error(), http.StatusBadRequest)
		return
	}
	key := ev.Data.ID
	if ev.Data.Ack != nil {
		key += "/" + strconv.Itoa(*ev.Data.Ack)
	}
	w.mu.Lock()
	if w.events[ev.Event] == nil {
		w.events[ev.Event] = map[string]bool{}
	}
	w.events[ev.Event][key] = true
	w.mu.Unlock()
	rw.WriteHeader(http.StatusNoContent)
}

func (w *webhookReceiver) missing(event string, keys []string) []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for _, k := range keys {
		if !w.events[event][k] {
			out = append(out, k)
		}
	}
	return out
}

// TestRedisRestartedEmptyLosesNothing sends under load while the gateway's Redis is killed and
// restarted without its data. The consumer groups are gone, and so are the events and commands
// no group had consumed; nothing accepted may be lost: every message reaches delivered, and the
// webhook receiver gets every message's message_create and its delivery ack.
func TestRedisRestartedEmptyLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("restarts a redis-server")
	}
	rds := startOwnRedis(t)
	hooks := &webhookReceiver{events: map[string]map[string]bool{}}
	receiver := httptest.NewServer(hooks)
	t.Cleanup(receiver.Close)

	sim := newSim(t)
	g := startE2E(t, sim, []string{"SESSIONS_PATH=" + t.TempDir(), "DATABASE_URL=" + dbtest.PostgresURL(t), "REDIS_URL=" + rds.url()},
		func(c *config.Config) {
			c.Bus.ClaimInterval, c.Bus.MaxIdleTime = 100*time.Millisecond, 2*time.Second
			c.Webhook.URL, c.Webhook.AllowPrivateTargets = receiver.URL, true
			c.Webhook.RetrySchedule = []time.Duration{100 * time.Millisecond, 500 * time.Millisecond, time.Second, 2 * time.Second, 5 * time.Second}
			c.Queue.ScanInterval = time.Second
		})
	agent, err := sim.NewPhone(e2eNumber())
	require.NoError(t, err)
	customer, err := sim.NewPhone(e2eNumber())
	require.NoError(t, err)
	g.pair(t, "support", agent)
	to := "+" + customer.Number()

	var ids []string
	send := func(n int, label string) {
		for i := range n {
			ids = append(ids, g.send(t, "support", client.SendMessageRequest{To: to, Type: client.SendMessageRequestTypeText,
				Text: ptr(fmt.Sprintf("%s %d", label, i))}))
		}
	}
	send(30, "before")
	// Redis dies under load: what it held in memory (unconsumed events and commands, the
	// consumer groups) is gone; accepts go on meanwhile (the database is their source of truth).
	rds.kill()
	send(20, "while down")
	rds.start(t)
	send(30, "after")

	for _, id := range ids {
		g.waitStatus(t, "support", id, client.MessageStatusDelivered)
	}
	acks := make([]string, len(ids))
	for i, id := range ids {
		acks[i] = id + "/1"
	}
	channeltest.Eventually(t, 30*time.Second, "every event at the webhook receiver", func() bool {
		return len(hooks.missing("message_create", ids)) == 0 && len(hooks.missing("message_ack", acks)) == 0
	})
}
