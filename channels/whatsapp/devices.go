package whatsapp

import (
	"context"
	"fmt"
	"log/slog"

	"go.mau.fi/util/dbutil"
	"go.mau.fi/whatsmeow/store/sqlstore"
	"go.mau.fi/whatsmeow/store/sqlstore/upgrades"

	"github.com/28web/hub/platform/db"
)

// DeviceStore is whatsmeow's device store on the gateway's database: the container its clients
// use, and the handle its queries run on. Code that adds queries beside whatsmeow's own (the
// store cache) uses DB, so that whatsmeow's transactions carried in a context apply.
type DeviceStore struct {
	*sqlstore.Container
	DB *dbutil.Database
}

// OpenDeviceStore returns whatsmeow's device store on d's pool, its whatsmeow_* tables upgraded
// to the current schema (idempotent; replicas starting together upgrade one at a time). The
// container shares the pool: never call its Close, which would close the pool under bun;
// d.Close is the only closer.
func OpenDeviceStore(ctx context.Context, d *db.DB, logger *slog.Logger) (*DeviceStore, error) {
	// whatsmeow parses the dialect by prefix: "postgres"/"pgx" and "sqlite" are accepted.
	var dialect string
	switch d.Dialect() {
	case db.Postgres:
		dialect = "pgx"
	case db.SQLite:
		dialect = "sqlite"
	default:
		return nil, fmt.Errorf("whatsmeow store: unsupported dialect %q", d.Dialect())
	}
	// What sqlstore.NewWithDB does, keeping the wrapped handle (and an error instead of its panic).
	wrapped, err := dbutil.NewWithDB(d.SQL(), dialect)
	if err != nil {
		return nil, fmt.Errorf("whatsmeow store: %w", err)
	}
	wrapped.UpgradeTable = upgrades.Table
	wrapped.VersionTable = "whatsmeow_version"
	container := sqlstore.NewWithWrappedDB(wrapped, newWALogger(logger.With("component", "whatsmeow-store"), ""))
	// whatsmeow's upgrade takes no lock of its own: two replicas upgrading one fresh database
	// at once fail on each other's DDL.
	unlock, err := d.Lock(ctx, "whatsmeow_upgrade")
	if err != nil {
		return nil, fmt.Errorf("whatsmeow store: %w", err)
	}
	defer unlock()
	if err := container.Upgrade(ctx); err != nil {
		return nil, fmt.Errorf("whatsmeow store: upgrade: %w", err)
	}
	return &DeviceStore{Container: container, DB: wrapped}, nil
}
