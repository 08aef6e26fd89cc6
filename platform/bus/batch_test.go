package bus_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/28web/hub/platform/bus"
)

// consumeBatches runs ConsumeBatches until cleanup.
func consumeBatches(t *testing.T, b *bus.Bus, topic, group string, max int, h bus.BatchHandler) {
	t.Helper()
	stop, err := b.ConsumeBatches(topic, group, max, h)
	require.NoError(t, err)
	t.Cleanup(stop)
}

func TestConsumeBatchesInOrder(t *testing.T) {
	eachTransport(t, func(t *testing.T, tr transport) {
		b := tr.bus(t, "c1")
		topic := tr.topic(t, "events")
		const n = 300
		// Published before the consumer starts, so that Redis hands them out in batches.
		for i := range n {
			publish(t, b, topic, fmt.Sprint(i), "")
		}
		var mu sync.Mutex
		var got []string
		var sizes []int
		consumeBatches(t, b, topic, "g", 100, func(_ context.Context, msgs []*message.Message) error {
			mu.Lock()
			defer mu.Unlock()
			sizes = append(sizes, len(msgs))
			for _, m := range msgs {
				got = append(got, string(m.Payload))
			}
			return nil
		})
		require.Eventually(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(got) >= n }, wait, 10*time.Millisecond)
		mu.Lock()
		defer mu.Unlock()
		want := make([]string, n)
		for i := range want {
			want[i] = fmt.Sprint(i)
		}
		assert.Equal(t, want, got, "every message once, in order")
		assert.LessOrEqual(t, slices.Max(sizes), 100)
		if b.InProcess() {
			assert.Equal(t, 1, slices.Max(sizes), "in-process hands over one at a time")
		} else {
			assert.Greater(t, slices.Max(sizes), 1, "Redis hands over batches")
		}
	})
}

func TestConsumeBatchesIsolatesThePoison(t *testing.T) {
	eachTransport(t, func(t *testing.T, tr transport) {
		b := tr.bus(t, "c1")
		topic := tr.topic(t, "events")
		poisoned := make(chan *message.Message, 4)
		r := newRouter(t, b)
		require.NoError(t, r.Handle(tr.poison, "poison-watch", collect(poisoned)))
		runRouter(t, r)
		for _, p := range []string{"a", "bad", "b", "panic", "c"} {
			publish(t, b, topic, p, "")
		}
		var mu sync.Mutex
		handled := map[string]int{}
		consumeBatches(t, b, topic, "g", 10, func(_ context.Context, msgs []*message.Message) error {
			for _, m := range msgs {
				switch string(m.Payload) {
				case "bad":
					return errors.New("bad message")
				case "panic":
					panic("handler exploded")
				}
			}
			mu.Lock()
			defer mu.Unlock()
			for _, m := range msgs {
				handled[string(m.Payload)]++
			}
			return nil
		})
		first := receive(t, poisoned, "first poisoned message")
		second := receive(t, poisoned, "second poisoned message")
		assert.Equal(t, "bad", string(first.Payload))
		assert.Equal(t, "bad message", first.Metadata.Get(middleware.ReasonForPoisonedKey))
		assert.Equal(t, "panic", string(second.Payload))
		assert.Contains(t, second.Metadata.Get(middleware.ReasonForPoisonedKey), "handler exploded")
		require.Eventually(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(handled) == 3 }, wait, 10*time.Millisecond)
		mu.Lock()
		defer mu.Unlock()
		assert.Equal(t, map[string]int{"a": 1, "b": 1, "c": 1}, handled, "the good ones once each, around the poison")
	})
}

// A consumer that stops holding a batch (not acknowledged) gets it again when it comes back
// under the same name.
func TestConsumeBatchesResumesWhatWasNotAcknowledged(t *testing.T) {
	eachTransport(t, func(t *testing.T, tr transport) {
		b := tr.bus(t, "c1")
		topic := tr.topic(t, "events")
		for i := range 5 {
			publish(t, b, topic, fmt.Sprint(i), "")
		}
		held := make(chan struct{})
		stop, err := b.ConsumeBatches(topic, "g", 10, func(ctx context.Context, _ []*message.Message) error {
			close(held)
			<-ctx.Done() // the crash: stopped in the middle of the batch
			return ctx.Err()
		})
		require.NoError(t, err)
		receive(t, held, "the batch in hand")
		stop()

		var mu sync.Mutex
		var got []string
		consumeBatches(t, tr.bus(t, "c1"), topic, "g", 10, func(_ context.Context, msgs []*message.Message) error {
			mu.Lock()
			defer mu.Unlock()
			for _, m := range msgs {
				got = append(got, string(m.Payload))
			}
			return nil
		})
		require.Eventually(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(got) == 5 }, wait, 10*time.Millisecond)
		mu.Lock()
		defer mu.Unlock()
		assert.Equal(t, []string{"0", "1", "2", "3", "4"}, got)
	})
}
