package bus_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/stretchr/testify/require"

	"github.com/28web/hub/platform/bus"
	"github.com/28web/hub/platform/bus/bustest"
	"github.com/28web/hub/platform/log"
)

func receiveTail(t *testing.T, ch <-chan bus.Tailed, n int) []bus.Tailed {
	t.Helper()
	var got []bus.Tailed
	deadline := time.After(10 * time.Second)
	for len(got) < n {
		select {
		case m, ok := <-ch:
			require.True(t, ok, "tail ended after %d of %d", len(got), n)
			got = append(got, m)
		case <-deadline:
			t.Fatalf("received %d of %d", len(got), n)
		}
	}
	return got
}

func TestTailFollowsAndResumes(t *testing.T) {
	bustest.Each(t, func(t *testing.T, cfg bus.Config) {
		b, err := bus.New(cfg, log.Discard())
		require.NoError(t, err)
		t.Cleanup(func() { _ = b.Close() })
		topic := fmt.Sprintf("tail-%d", time.Now().UnixNano())
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		live, wait, err := b.Tail(ctx, topic, "")
		require.NoError(t, err)
		// Redis's XREAD from $ starts when it is first sent: publish once the tail is reading.
		require.Eventually(t, func() bool {
			require.NoError(t, b.Publisher().Publish(topic, message.NewMessage("probe", []byte("probe"))))
			select {
			case m := <-live:
				return string(m.Msg.Payload) == "probe"
			case <-time.After(100 * time.Millisecond):
				return false
			}
		}, 10*time.Second, 10*time.Millisecond)
		for len(live) > 0 {
			<-live // later probes
		}
		for i := range 3 {
			require.NoError(t, b.Publisher().Publish(topic, message.NewMessage(fmt.Sprint(i), []byte(fmt.Sprint("m", i)))))
		}
		got := receiveTail(t, live, 3)
		for i, m := range got {
			require.Equal(t, fmt.Sprint("m", i), string(m.Msg.Payload))
			_, err := bus.ParseStreamID(m.ID)
			require.NoError(t, err)
		}

		resumed, _, err := b.Tail(ctx, topic, got[0].ID)
		require.NoError(t, err)
		again := receiveTail(t, resumed, 2)
		require.Equal(t, "m1", string(again[0].Msg.Payload))
		require.Equal(t, got[2].ID, again[1].ID)

		cancel()
		require.NoError(t, wait(), "a tail ended by its context reports no error")
	})
}

func TestTailOfASlowReaderIsCutOffInProcess(t *testing.T) {
	b, err := bus.New(bustest.Config(), log.Discard())
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	live, wait, err := b.Tail(t.Context(), "slow", "")
	require.NoError(t, err)
	for i := range 3000 {
		require.NoError(t, b.Publisher().Publish("slow", message.NewMessage(fmt.Sprint(i), []byte("x"))))
	}
	for range live { // drain what it holds; then it ends
	}
	require.ErrorIs(t, wait(), bus.ErrTailBehind, "publishers never wait for a tail: a reader too far behind is cut off")
}
