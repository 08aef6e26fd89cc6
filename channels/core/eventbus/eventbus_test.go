package eventbus_test

import (
	"context"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/stretchr/testify/require"

	"github.com/28web/hub/channels/core"
	"github.com/28web/hub/channels/core/eventbus"
	"github.com/28web/hub/platform/bus"
	"github.com/28web/hub/platform/log"
)

func TestSinkPublishesDecodableEvents(t *testing.T) {
	b, err := bus.New(bus.Config{}, log.Discard())
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })

	sub, err := b.Subscriber("test")
	require.NoError(t, err)
	msgs, err := sub.Subscribe(t.Context(), core.TopicEvents)
	require.NoError(t, err)

	ev := core.NewEvent("s1", &core.MessageAckEvent{ID: "M1", ChatID: "c", Ack: core.AckRead})
	require.NoError(t, eventbus.NewSink(b.Publisher()).Publish(context.Background(), ev))

	select {
	case m := <-msgs:
		require.Equal(t, string(ev.ID), m.UUID)
		require.Equal(t, "message_ack", m.Metadata.Get(eventbus.MetaEventType))
		require.Equal(t, "s1", m.Metadata.Get(eventbus.MetaSessionID))
		got, err := eventbus.DecodeEvent(m)
		require.NoError(t, err)
		require.Equal(t, ev.ID, got.ID)
		require.Equal(t, ev.Data, got.Data)
		m.Ack()
	case <-time.After(5 * time.Second):
		t.Fatal("event not delivered")
	}
}

func TestCommandRoundTrip(t *testing.T) {
	cmd := core.SendMessageCommand{SessionID: "s1", MessageID: "M1"}
	msg, err := eventbus.EncodeCommand("M1", cmd)
	require.NoError(t, err)
	require.Equal(t, "s1", msg.Metadata.Get(eventbus.MetaSessionID))
	back, err := eventbus.DecodeCommand[core.SendMessageCommand](message.NewMessage(msg.UUID, msg.Payload))
	require.NoError(t, err)
	require.Equal(t, cmd, back)
}
