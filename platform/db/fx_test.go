package db_test

import (
	"bytes"
	"context"
	"log/slog"
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

func TestWALogger(t *testing.T) {
	var buf bytes.Buffer
	l := db.NewWALogger(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo})))
	l.Sub("Client").Sub("Socket").Warnf("lost %d frames", 3)
	l.Debugf("hidden %s", "detail")
	l.Errorf("plain")
	out := buf.String()
	assert.Contains(t, out, `level=WARN msg="lost 3 frames" module=Client/Socket`)
	assert.Contains(t, out, `level=ERROR msg=plain`)
	assert.NotContains(t, out, "hidden")
}
