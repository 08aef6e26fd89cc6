package whatsapp_test

import (
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"

	"github.com/28web/hub/channels/core"
	"github.com/28web/hub/channels/core/channeltest"
	"github.com/28web/hub/channels/whatsapp"
	"github.com/28web/hub/migrations"
	"github.com/28web/hub/platform/db"
	"github.com/28web/hub/platform/db/dbtest"
)

func TestModuleWiring(t *testing.T) {
	d := dbtest.SQLite(t, migrations.Whatsapp)
	var channels []core.Provider
	app := fxtest.New(t,
		fx.Supply(whatsapp.Config{}, d, slog.New(slog.DiscardHandler)),
		fx.Provide(func() core.EventSink { return channeltest.NewRecorder() }),
		whatsapp.Module,
		fx.Invoke(fx.Annotate(func(ps []core.Provider) { channels = ps }, fx.ParamTags(core.ChannelsGroup))),
		fx.NopLogger,
	)
	app.RequireStart()
	require.Len(t, channels, 1)
	require.Equal(t, whatsapp.Channel, channels[0].Info().Channel)
	all, err := channels[0].Sessions(t.Context())
	require.NoError(t, err)
	require.Empty(t, all)
	app.RequireStop()
	require.NoError(t, fx.ValidateApp(fx.Supply(whatsapp.Config{}, &db.DB{}, slog.Default()),
		fx.Provide(func() core.EventSink { return channeltest.NewRecorder() }), whatsapp.Module, fx.Invoke(func(*whatsapp.Provider) {}), fx.NopLogger))
}
