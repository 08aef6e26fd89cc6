package whatsapp_test

import (
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.mau.fi/whatsmeow/proto/waAdv"
	"go.mau.fi/whatsmeow/types"

	"github.com/28web/hub/channels/whatsapp"
	"github.com/28web/hub/migrations"
	"github.com/28web/hub/platform/db"
	"github.com/28web/hub/platform/db/dbtest"
)

// whatsmeow's device store lives in the gateway's database beside the migrated tables, and
// opening it again changes nothing.
func TestDeviceStoreBesideTheGatewayTables(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := t.Context()
		logger := slog.New(slog.DiscardHandler)
		for range 2 {
			require.NoError(t, db.Migrate(ctx, d, migrations.Core, migrations.Webhooks, migrations.Whatsapp))
			_, err := whatsapp.OpenDeviceStore(ctx, d, logger)
			require.NoError(t, err)
		}
		container, err := whatsapp.OpenDeviceStore(ctx, d, logger)
		require.NoError(t, err)
		dev := container.NewDevice()
		jid := types.NewADJID("15550001234", 0, 7)
		dev.ID = &jid
		dev.PushName = "Test"
		// A paired device has its signed account identity; PutDevice requires it.
		dev.Account = &waAdv.ADVSignedDeviceIdentity{Details: []byte{1}, AccountSignature: make([]byte, 64),
			AccountSignatureKey: make([]byte, 32), DeviceSignature: make([]byte, 64)}
		require.NoError(t, dev.Save(ctx))
		got, err := container.GetDevice(ctx, jid)
		require.NoError(t, err)
		require.NotNil(t, got)
		assert.Equal(t, "Test", got.PushName)
		assert.Equal(t, dev.RegistrationID, got.RegistrationID)
		// The device store did not take the pool down with it.
		require.NoError(t, d.Ping(ctx))
	})
}

// Replicas starting together on a fresh database upgrade whatsmeow's tables one at a time
// (whatsmeow's upgrade takes no lock: concurrent ones failed on each other's DDL).
func TestDeviceStoreUpgradesOneAtATime(t *testing.T) {
	url := dbtest.PostgresURL(t)
	const replicas = 4
	errs := make(chan error, replicas)
	for range replicas {
		go func() {
			d, err := db.Open(t.Context(), db.Config{URL: url}, slog.New(slog.DiscardHandler))
			if err != nil {
				errs <- err
				return
			}
			defer d.Close()
			_, err = whatsapp.OpenDeviceStore(t.Context(), d, slog.New(slog.DiscardHandler))
			errs <- err
		}()
	}
	for range replicas {
		require.NoError(t, <-errs)
	}
}
