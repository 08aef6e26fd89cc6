package db

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"go.uber.org/fx"
)

// Module provides *DB, opened at construction and closed when the app stops. It expects a Config
// and a *slog.Logger in the graph. Migrations are left to the caller's fx.Invoke (with the sets
// of the modules it wires), e.g. fx.Invoke(func(lc fx.Lifecycle, d *db.DB) { ... db.Migrate ... }).
var Module = fx.Module("db", fx.Provide(NewFx))

// openTimeout bounds opening (connect + ping) when no caller context exists, as under fx.
const openTimeout = 30 * time.Second

// NewFx opens the database for an fx app and registers its Close on stop.
func NewFx(lc fx.Lifecycle, cfg Config, logger *slog.Logger) (*DB, error) {
	ctx, cancel := context.WithTimeout(context.Background(), openTimeout)
	defer cancel()
	d, err := Open(ctx, cfg, logger)
	if err != nil {
		return nil, err
	}
	lc.Append(fx.StopHook(func() error {
		if err := d.Close(); err != nil {
			return fmt.Errorf("db module stop: %w", err)
		}
		return nil
	}))
	return d, nil
}
