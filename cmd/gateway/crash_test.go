package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.mau.fi/whatsmeow/types"

	"github.com/28web/hub/channels/core/channeltest"
	"github.com/28web/hub/channels/whatsapp/wasim"
	"github.com/28web/hub/openapi/client"
	"github.com/28web/hub/platform/bus/bustest"
	"github.com/28web/hub/platform/db/dbtest"
	"github.com/28web/hub/platform/log"
)

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
)

// gatewayBinary builds the gateway once per test binary.
func gatewayBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "gateway-bin-")
		if err != nil {
			buildErr = err
			return
		}
		builtBin = filepath.Join(dir, "gateway")
		cmd := exec.Command("go", "build", "-o", builtBin, ".")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v: %s", err, out)
		}
	})
	require.NoError(t, buildErr)
	return builtBin
}

func TestMain(m *testing.M) {
	code := m.Run()
	if builtBin != "" {
		_ = os.RemoveAll(filepath.Dir(builtBin))
	}
	os.Exit(code)
}

// gatewayProcess is the gateway binary running as a child process.
type gatewayProcess struct {
	cmd  *exec.Cmd
	addr string
	done chan struct{}
}

// listeningRE finds the address in the JSON log line the gateway writes once it listens.
var listeningRE = regexp.MustCompile(`listening".*"url":"http://([^"]+)"`)

// runGateway starts the binary with env and waits until it listens.
func runGateway(t *testing.T, bin string, env []string) *gatewayProcess {
	t.Helper()
	cmd := exec.Command(bin)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "HOST=127.0.0.1", "PORT=0"}, env...)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = cmd.Stdout
	require.NoError(t, cmd.Start())
	p := &gatewayProcess{cmd: cmd, done: make(chan struct{})}
	addr := make(chan string, 1)
	go func() {
		defer close(p.done)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			if m := listeningRE.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	t.Cleanup(func() { p.kill() })
	select {
	case p.addr = <-addr:
	case <-p.done:
		t.Fatal("gateway exited before listening")
	case <-time.After(60 * time.Second):
		t.Fatal("gateway did not listen within 60s")
	}
	return p
}

// kill ends the process at once, as a crash would: no graceful shutdown.
func (p *gatewayProcess) kill() {
	if p.cmd.ProcessState != nil {
		return
	}
	_ = p.cmd.Process.Kill()
	_ = p.cmd.Wait()
	<-p.done
}

func (p *gatewayProcess) client(t *testing.T) *e2eGateway {
	c, err := client.NewWithKey("http://"+p.addr, e2eKey)
	require.NoError(t, err)
	return &e2eGateway{api: c, base: "http://" + p.addr}
}

// countReceived counts how often the phone received message id.
func countReceived(p *wasim.Phone, id string) int {
	n := 0
	for _, m := range p.Messages() {
		if m.ID == id {
			n++
		}
	}
	return n
}

// TestAcceptedSendSurvivesKill accepts a send, kills the gateway process with SIGKILL (before
// the send, and while WhatsApp has not acknowledged it yet), restarts it on the same storage,
// and checks that the phone receives the message exactly once.
func TestAcceptedSendSurvivesKill(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the gateway binary")
	}
	bin := gatewayBinary(t)
	modes := map[string]func(t *testing.T) []string{
		"sqlite+inprocess": func(t *testing.T) []string { return nil },
		"postgres+redis": func(t *testing.T) []string {
			bc := bustest.Redis(t)
			cfgFile := filepath.Join(t.TempDir(), "gateway.yaml")
			require.NoError(t, os.WriteFile(cfgFile, []byte(fmt.Sprintf("bus:\n  namespace: %q\n  claim_interval: 100ms\n  max_idle_time: 2s\n", bc.Namespace)), 0o600))
			return []string{"DATABASE_URL=" + dbtest.PostgresURL(t), "REDIS_URL=" + bc.RedisURL, "CONFIG_FILE=" + cfgFile}
		},
	}
	for name, extra := range modes {
		t.Run(name, func(t *testing.T) {
			sim, err := wasim.New(wasim.Options{Logger: log.Discard(), Config: wasim.Config{ControlAPI: true}})
			require.NoError(t, err)
			require.NoError(t, sim.Start(t.Context()))
			t.Cleanup(func() { _ = sim.Close() })

			env := append([]string{"API_KEY=" + e2eKey, "SESSIONS_PATH=" + t.TempDir(), "WASIM_URL=http://" + sim.Addr()}, extra(t)...)
			proc := runGateway(t, bin, env)
			g := proc.client(t)
			agent, err := sim.NewPhone(e2eNumber())
			require.NoError(t, err)
			customer, err := sim.NewPhone(e2eNumber())
			require.NoError(t, err)
			g.pair(t, "support", agent)
			device := deviceOf(t, sim, agent)
			to := "+" + customer.Number()

			// Before the send: the session is offline and cannot log back in.
			require.NoError(t, sim.Faults.RefuseLogins(types.EmptyJID, 503, -1, nil))
			require.NoError(t, sim.Faults.DropConnection(device))
			beforeSend := g.send(t, "support", client.SendMessageRequest{To: to, Type: client.SendMessageRequestTypeText, Text: ptr("accepted, then the gateway died")})
			proc.kill()
			sim.Faults.ClearRefusal()

			proc = runGateway(t, bin, env)
			g = proc.client(t)
			g.waitStatus(t, "support", beforeSend, client.MessageStatusSent)
			_, err = customer.WaitMessage(t.Context(), func(m wasim.Message) bool { return m.ID == beforeSend })
			require.NoError(t, err)

			// During the send: WhatsApp routed it but its ack is held back when the gateway dies.
			require.NoError(t, sim.Faults.DelayAcks(device, time.Minute))
			midSend := g.send(t, "support", client.SendMessageRequest{To: to, Type: client.SendMessageRequestTypeText, Text: ptr("routed, unacknowledged, then the gateway died")})
			_, err = customer.WaitMessage(t.Context(), func(m wasim.Message) bool { return m.ID == midSend })
			require.NoError(t, err)
			proc.kill()
			require.NoError(t, sim.Faults.DelayAcks(device, 0))

			proc = runGateway(t, bin, env)
			g = proc.client(t)
			g.waitStatus(t, "support", midSend, client.MessageStatusSent)

			// Messages arrive in order, so once a later one is in, a duplicate would be too.
			marker := g.send(t, "support", client.SendMessageRequest{To: to, Type: client.SendMessageRequestTypeText, Text: ptr("marker")})
			_, err = customer.WaitMessage(t.Context(), func(m wasim.Message) bool { return m.ID == marker })
			require.NoError(t, err)
			require.Equal(t, 1, countReceived(customer, beforeSend), "sent once after the crash before sending")
			require.Equal(t, 1, countReceived(customer, midSend), "delivered once despite the resend after the crash mid-send")
		})
	}
}

// deviceOf returns the device JID the simulator gave the phone's linked companion.
func deviceOf(t *testing.T, sim *wasim.Simulator, phone *wasim.Phone) types.JID {
	t.Helper()
	var dev types.JID
	channeltest.Eventually(t, 10*time.Second, "linked device known", func() bool {
		for _, d := range sim.Devices() {
			if d.JID.User == phone.JID().User && d.JID.Device != 0 {
				dev = d.JID
				return true
			}
		}
		return false
	})
	return dev
}
