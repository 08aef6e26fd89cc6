package bus_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/28web/hub/platform/bus"
)

const envRedisURL = "TEST_REDIS_URL"

// wait bounds every wait on a condition; redelivery after a dead consumer needs
// MaxIdleTime + ClaimInterval (1.1s here), the rest is slack for a loaded machine.
const wait = 10 * time.Second

// transport builds buses for one backend.
type transport struct {
	// bus returns a bus consuming as consumer. In-process, consumers can only meet inside one
	// bus, so every call returns the same one.
	bus func(t *testing.T, consumer string) *bus.Bus
	// topic returns a topic name unique to the test, removed at cleanup.
	topic func(t *testing.T, name string) string
	// poison is the poison topic of the test's buses.
	poison string
}

func testConfig(poison string) bus.Config {
	return bus.Config{
		ClaimInterval: 100 * time.Millisecond,
		MaxIdleTime:   time.Second,
		PoisonTopic:   poison,
		CloseTimeout:  5 * time.Second,
		Retry: bus.RetryConfig{MaxRetries: 2, InitialInterval: 10 * time.Millisecond,
			MaxInterval: 50 * time.Millisecond, Multiplier: 2},
	}
}

func testLogger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func randomSuffix(t *testing.T) string {
	b := make([]byte, 6)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return hex.EncodeToString(b)
}

func newBus(t *testing.T, cfg bus.Config) *bus.Bus {
	t.Helper()
	b, err := bus.New(cfg, testLogger())
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, b.Close()) })
	require.NoError(t, b.Ping(t.Context()))
	return b
}

// eachTransport runs body on the in-process bus and on Redis Streams (TEST_REDIS_URL; skipped
// when empty, failing when unreachable).
func eachTransport(t *testing.T, body func(t *testing.T, tr transport)) {
	t.Run("inprocess", func(t *testing.T) {
		poison := "poison." + randomSuffix(t)
		var shared *bus.Bus
		body(t, transport{
			bus: func(t *testing.T, _ string) *bus.Bus {
				if shared == nil {
					shared = newBus(t, testConfig(poison))
				}
				return shared
			},
			topic:  func(t *testing.T, name string) string { return name + "." + randomSuffix(t) },
			poison: poison,
		})
	})
	t.Run("redis", func(t *testing.T) {
		url := os.Getenv(envRedisURL)
		if url == "" {
			t.Skipf("%s is not set", envRedisURL)
		}
		opts, err := redis.ParseURL(url)
		require.NoError(t, err)
		admin := redis.NewClient(opts)
		t.Cleanup(func() { _ = admin.Close() })
		require.NoError(t, admin.Ping(t.Context()).Err(), "redis at %s", envRedisURL)

		var mu sync.Mutex
		var keys []string
		track := func(k string) string {
			mu.Lock()
			defer mu.Unlock()
			keys = append(keys, k)
			return k
		}
		t.Cleanup(func() {
			mu.Lock()
			defer mu.Unlock()
			if len(keys) > 0 {
				assert.NoError(t, admin.Del(context.Background(), keys...).Err())
			}
		})
		poison := track("poison." + randomSuffix(t))
		body(t, transport{
			bus: func(t *testing.T, consumer string) *bus.Bus {
				cfg := testConfig(poison)
				cfg.RedisURL = url
				cfg.ConsumerName = consumer
				return newBus(t, cfg)
			},
			topic:  func(t *testing.T, name string) string { return track(name + "." + randomSuffix(t)) },
			poison: poison,
		})
	})
}

// runRouter starts r and stops it at cleanup.
func runRouter(t *testing.T, r *bus.Router) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- r.Run(context.Background()) }()
	select {
	case <-r.Running():
	case err := <-done:
		t.Fatalf("router stopped at start: %v", err)
	case <-time.After(wait):
		t.Fatal("router did not start")
	}
	t.Cleanup(func() {
		assert.NoError(t, r.Close())
		<-done
	})
}

func newRouter(t *testing.T, b *bus.Bus) *bus.Router {
	t.Helper()
	r, err := b.NewRouter()
	require.NoError(t, err)
	return r
}

func publish(t *testing.T, b *bus.Bus, topic, payload, correlationID string) *message.Message {
	t.Helper()
	msg := message.NewMessage(watermill.NewUUID(), []byte(payload))
	if correlationID != "" {
		middleware.SetCorrelationID(correlationID, msg)
	}
	require.NoError(t, b.Publisher().Publish(topic, msg))
	return msg
}

// receive takes the next value from ch or fails after wait.
func receive[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(wait):
		t.Fatalf("timed out waiting for %s", what)
		var zero T
		return zero
	}
}

// collect forwards each handled message to a channel.
func collect(ch chan<- *message.Message) message.NoPublishHandlerFunc {
	return func(msg *message.Message) error {
		ch <- msg
		return nil
	}
}

func TestPublishConsumeInOrder(t *testing.T) {
	eachTransport(t, func(t *testing.T, tr transport) {
		b := tr.bus(t, "c1")
		topic := tr.topic(t, "orders")
		got := make(chan *message.Message, 10)
		r := newRouter(t, b)
		require.NoError(t, r.Handle(topic, "g", collect(got)))
		runRouter(t, r)

		for i := range 5 {
			publish(t, b, topic, fmt.Sprint(i), "corr-"+fmt.Sprint(i))
		}
		for i := range 5 {
			msg := receive(t, got, "message")
			assert.Equal(t, fmt.Sprint(i), string(msg.Payload), "delivered in publish order")
			assert.Equal(t, "corr-"+fmt.Sprint(i), middleware.MessageCorrelationID(msg))
		}
	})
}

func TestCorrelationIDPropagatesToProducedMessages(t *testing.T) {
	eachTransport(t, func(t *testing.T, tr transport) {
		b := tr.bus(t, "c1")
		in, out := tr.topic(t, "in"), tr.topic(t, "out")
		got := make(chan *message.Message, 1)
		r := newRouter(t, b)
		require.NoError(t, r.HandleAndPublish(in, "g", out, func(msg *message.Message) ([]*message.Message, error) {
			return []*message.Message{message.NewMessage(watermill.NewUUID(), []byte("echo "+string(msg.Payload)))}, nil
		}))
		require.NoError(t, r.Handle(out, "g", collect(got)))
		runRouter(t, r)

		publish(t, b, in, "hi", "corr-42")
		msg := receive(t, got, "produced message")
		assert.Equal(t, "echo hi", string(msg.Payload))
		assert.Equal(t, "corr-42", middleware.MessageCorrelationID(msg))
	})
}

// Every consumer group sees every message; inside a group each message is handled once.
func TestConsumerGroups(t *testing.T) {
	eachTransport(t, func(t *testing.T, tr transport) {
		topic := tr.topic(t, "events")
		const n = 20
		type delivery struct{ consumer, payload string }
		groupA := make(chan delivery, 2*n)
		groupB := make(chan delivery, 2*n)
		for _, consumer := range []string{"c1", "c2"} {
			b := tr.bus(t, consumer)
			r := newRouter(t, b)
			// Two consumers share group A, in two routers as two replicas would.
			require.NoError(t, r.Handle(topic, "a", func(msg *message.Message) error {
				groupA <- delivery{consumer, string(msg.Payload)}
				return nil
			}))
			runRouter(t, r)
		}
		b := tr.bus(t, "c1")
		rb := newRouter(t, b)
		require.NoError(t, rb.Handle(topic, "b", func(msg *message.Message) error {
			groupB <- delivery{"c1", string(msg.Payload)}
			return nil
		}))
		runRouter(t, rb)

		for i := range n {
			publish(t, b, topic, fmt.Sprint(i), "")
		}
		for name, ch := range map[string]chan delivery{"a": groupA, "b": groupB} {
			seen := map[string]int{}
			for range n {
				d := receive(t, ch, "group "+name+" delivery")
				seen[d.payload]++
			}
			assert.Lenf(t, seen, n, "group %s got every message", name)
			for p, count := range seen {
				assert.Equalf(t, 1, count, "group %s handled %s once", name, p)
			}
		}
	})
}

// A handler that keeps failing is retried, then its message lands on the poison topic with
// the reason; a handler that recovers within the retries is not poisoned.
func TestRetryThenPoison(t *testing.T) {
	eachTransport(t, func(t *testing.T, tr transport) {
		b := tr.bus(t, "c1")
		topic := tr.topic(t, "commands")
		var mu sync.Mutex
		attempts := map[string]int{}
		poisoned := make(chan *message.Message, 4)
		r := newRouter(t, b)
		require.NoError(t, r.Handle(topic, "g", func(msg *message.Message) error {
			mu.Lock()
			attempts[string(msg.Payload)]++
			n := attempts[string(msg.Payload)]
			mu.Unlock()
			if string(msg.Payload) == "flaky" && n == 3 {
				return nil
			}
			return fmt.Errorf("boom %d", n)
		}))
		require.NoError(t, r.Handle(tr.poison, "poison-watch", collect(poisoned)))
		runRouter(t, r)

		publish(t, b, topic, "flaky", "corr-flaky")
		bad := publish(t, b, topic, "bad", "corr-bad")

		// Messages are handled in order, so a poisoned "flaky" would arrive first.
		msg := receive(t, poisoned, "poisoned message")
		assert.Equal(t, "bad", string(msg.Payload))
		assert.Equal(t, bad.UUID, msg.UUID)
		assert.Equal(t, "boom 3", msg.Metadata.Get(middleware.ReasonForPoisonedKey))
		assert.Equal(t, topic, msg.Metadata.Get(middleware.PoisonedTopicKey))
		assert.Equal(t, bus.HandlerName(topic, "g"), msg.Metadata.Get(middleware.PoisonedHandlerKey))
		assert.Equal(t, "corr-bad", middleware.MessageCorrelationID(msg))
		mu.Lock()
		assert.Equal(t, map[string]int{"flaky": 3, "bad": 3}, attempts, "first attempt + MaxRetries")
		mu.Unlock()
	})
}

func TestPanicGoesToPoison(t *testing.T) {
	eachTransport(t, func(t *testing.T, tr transport) {
		b := tr.bus(t, "c1")
		topic := tr.topic(t, "panics")
		poisoned := make(chan *message.Message, 1)
		after := make(chan *message.Message, 1)
		r := newRouter(t, b)
		require.NoError(t, r.Handle(topic, "g", func(msg *message.Message) error {
			if string(msg.Payload) == "panic" {
				panic("handler exploded")
			}
			after <- msg
			return nil
		}))
		require.NoError(t, r.Handle(tr.poison, "poison-watch", collect(poisoned)))
		runRouter(t, r)

		publish(t, b, topic, "panic", "")
		publish(t, b, topic, "next", "")
		msg := receive(t, poisoned, "poisoned message")
		assert.Equal(t, "panic", string(msg.Payload))
		assert.Contains(t, msg.Metadata.Get(middleware.ReasonForPoisonedKey), "handler exploded")
		assert.Equal(t, "next", string(receive(t, after, "message after the panic").Payload),
			"the handler keeps consuming")
	})
}

// A consumer that dies holding a message (no ack) loses it to another consumer of its group:
// a replica, or the same consumer name after a restart.
func TestRedeliveryAfterConsumerDies(t *testing.T) {
	for _, second := range []string{"c2", "c1"} {
		t.Run("then "+second, func(t *testing.T) {
			eachTransport(t, func(t *testing.T, tr transport) {
				topic := tr.topic(t, "work")
				first := tr.bus(t, "c1")
				sub1, err := first.Subscriber("g")
				require.NoError(t, err)
				ch1, err := sub1.Subscribe(t.Context(), topic)
				require.NoError(t, err)

				sent := publish(t, first, topic, "job", "corr-job")
				held := receive(t, ch1, "first delivery")
				require.Equal(t, sent.UUID, held.UUID)
				// The crash: the subscriber goes away without acking.
				require.NoError(t, sub1.Close())

				start := time.Now()
				sub2, err := tr.bus(t, second).Subscriber("g")
				require.NoError(t, err)
				t.Cleanup(func() { assert.NoError(t, sub2.Close()) })
				ch2, err := sub2.Subscribe(t.Context(), topic)
				require.NoError(t, err)
				again := receive(t, ch2, "redelivery")
				assert.Equal(t, sent.UUID, again.UUID)
				assert.Equal(t, "job", string(again.Payload))
				assert.Equal(t, "corr-job", middleware.MessageCorrelationID(again))
				again.Ack()
				t.Logf("redelivered after %s", time.Since(start).Round(time.Millisecond))
			})
		})
	}
}

func TestNackRedelivers(t *testing.T) {
	eachTransport(t, func(t *testing.T, tr transport) {
		b := tr.bus(t, "c1")
		topic := tr.topic(t, "nack")
		sub, err := b.Subscriber("g")
		require.NoError(t, err)
		ch, err := sub.Subscribe(t.Context(), topic)
		require.NoError(t, err)
		sent := publish(t, b, topic, "x", "")
		first := receive(t, ch, "delivery")
		first.Nack()
		second := receive(t, ch, "redelivery")
		assert.Equal(t, sent.UUID, second.UUID)
		second.Ack()
	})
}

func TestHandleRejectsDuplicates(t *testing.T) {
	b := newBus(t, testConfig("poison"))
	r := newRouter(t, b)
	noop := func(*message.Message) error { return nil }
	require.NoError(t, r.Handle("t", "g", noop))
	require.ErrorContains(t, r.Handle("t", "g", noop), "already registered")
	require.NoError(t, r.Handle("t", "other", noop))
	require.Error(t, r.Handle("", "g", noop))
	require.Error(t, r.Handle("t2", "", noop))
}

func TestPingUnreachableRedis(t *testing.T) {
	cfg := testConfig("poison")
	cfg.RedisURL = "redis://127.0.0.1:1/0"
	b, err := bus.New(cfg, testLogger())
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	require.Error(t, b.Ping(ctx))
}

func TestClosedBus(t *testing.T) {
	b, err := bus.New(testConfig("poison"), testLogger())
	require.NoError(t, err)
	require.NoError(t, b.Close())
	require.NoError(t, b.Close(), "idempotent")
	_, err = b.Subscriber("g")
	require.Error(t, err)
	require.Error(t, b.Publisher().Publish("t", message.NewMessage("1", nil)))
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*bus.Config)
		errs   []string
	}{
		{name: "defaults in-process", mutate: func(*bus.Config) {}},
		{name: "defaults redis", mutate: func(c *bus.Config) { c.RedisURL = "redis://:pw@localhost:6379/0" }},
		{name: "bad scheme", mutate: func(c *bus.Config) { c.RedisURL = "http://localhost" }, errs: []string{"redis_url"}},
		{name: "no password in errors", mutate: func(c *bus.Config) { c.RedisURL = "redis://u:s3cret@h:bad/0" },
			errs: []string{"redis_url does not parse"}},
		{name: "every problem", mutate: func(c *bus.Config) {
			c.ClaimInterval = -1
			c.MaxIdleTime = -1
			c.Retry.Multiplier = 0.5
			c.Retry.MaxRetries = -2
		}, errs: []string{"claim_interval", "max_idle_time", "multiplier", "max_retries"}},
		{name: "retries outlast max idle time", mutate: func(c *bus.Config) {
			c.RedisURL = "redis://localhost:6379"
			c.MaxIdleTime = time.Second
			c.Retry = bus.RetryConfig{MaxRetries: 5, InitialInterval: 500 * time.Millisecond, MaxInterval: time.Second, Multiplier: 2}
		}, errs: []string{"not less than max_idle_time"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var cfg bus.Config
			tt.mutate(&cfg)
			cfg.SetDefaults()
			err := cfg.Validate()
			if len(tt.errs) == 0 {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			for _, want := range tt.errs {
				assert.Contains(t, err.Error(), want)
			}
			assert.False(t, strings.Contains(err.Error(), "s3cret"), "error leaks the password: %v", err)
		})
	}
}
