package bus_test

import (
	"sync"
	"testing"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/pubsub/tests"
	"github.com/stretchr/testify/require"

	"github.com/28web/hub/platform/bus"
)

// Watermill's own Pub/Sub conformance suite, run against the in-process bus. The suite builds
// several "instances" per test and expects them to share the broker, as Redis clients would: all
// of a test's instances are subscribers of one bus.
func TestInProcessConformance(t *testing.T) {
	var mu sync.Mutex
	buses := map[*testing.T]*bus.Bus{}
	constructor := func(t *testing.T, group string) (message.Publisher, message.Subscriber) {
		mu.Lock()
		b := buses[t]
		if b == nil {
			var err error
			b, err = bus.New(testConfig("poison"), testLogger())
			require.NoError(t, err)
			buses[t] = b
			t.Cleanup(func() { require.NoError(t, b.Close()) })
		}
		mu.Unlock()
		sub, err := b.Subscriber(group)
		require.NoError(t, err)
		return b.Publisher(), sub
	}
	tests.TestPubSub(t,
		tests.Features{
			ConsumerGroups:        true,
			ExactlyOnceDelivery:   false,
			GuaranteedOrder:       true,
			Persistent:            true,
			RequireSingleInstance: true,
		},
		func(t *testing.T) (message.Publisher, message.Subscriber) { return constructor(t, "test") },
		constructor,
	)
}
