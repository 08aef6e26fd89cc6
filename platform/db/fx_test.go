package db_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"

	"github.com/28web/hub/migrations"
	"github.com/28web/hub/platform/db"
)

func TestModule(t *testing.T) {
	var d *db.DB
	app := fxtest.New(t,
		fx.Supply(db.Config{DataDir: t.TempDir()}, slogDiscard()),
		db.Module,
		fx.Invoke(func(x *db.DB) error {
			d = x
			return db.Migrate(context.Background(), x, migrations.Core)
		}),
	)
	app.RequireStart()
	require.NoError(t, d.Ping(t.Context()))
	app.RequireStop()
	assert.Error(t, d.Ping(t.Context()), "closed on stop")
}
