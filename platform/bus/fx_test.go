package bus_test

import (
	"testing"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"

	"github.com/28web/hub/platform/bus"
)

func TestModule(t *testing.T) {
	var b *bus.Bus
	var pub message.Publisher
	app := fxtest.New(t,
		fx.Supply(bus.Config{}, testLogger()),
		bus.Module,
		fx.Populate(&b, &pub),
	)
	app.RequireStart()
	require.NoError(t, pub.Publish("t", message.NewMessage("1", nil)))
	require.NoError(t, pub.Close(), "the shared publisher's Close is a no-op")
	require.NoError(t, pub.Publish("t", message.NewMessage("2", nil)))
	app.RequireStop()
	assert.Error(t, pub.Publish("t", message.NewMessage("3", nil)), "closed with the app")
	_, err := b.Subscriber("g")
	assert.Error(t, err)
}
