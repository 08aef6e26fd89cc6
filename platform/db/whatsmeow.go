package db

import (
	"context"
	"fmt"
	"log/slog"

	"go.mau.fi/util/dbutil"
	"go.mau.fi/whatsmeow/store/sqlstore"
	"go.mau.fi/whatsmeow/store/sqlstore/upgrades"
)

// Whatsmeow is whatsmeow's device store on this database: the container its clients use, and
// the handle its queries run on. Code that adds queries beside whatsmeow's own (the WhatsApp
// channel's store cache) uses DB, so that whatsmeow's transactions carried in a context apply.
type Whatsmeow struct {
	*sqlstore.Container
	DB *dbutil.Database
}

// WhatsmeowStore returns whatsmeow's device store on this database's pool, its whatsmeow_*
// tables upgraded to the current schema (idempotent). The container shares the pool: never call
// its Close, which would close the pool under bun; DB.Close is the only closer.
func (d *DB) WhatsmeowStore(ctx context.Context, logger *slog.Logger) (*Whatsmeow, error) {
	// whatsmeow parses the dialect by prefix: "postgres"/"pgx" and "sqlite" are accepted.
	var dialect string
	switch d.dialect {
	case Postgres:
		dialect = "pgx"
	case SQLite:
		dialect = "sqlite"
	default:
		return nil, fmt.Errorf("whatsmeow store: unsupported dialect %q", d.dialect)
	}
	// What sqlstore.NewWithDB does, keeping the wrapped handle (and an error instead of its panic).
	wrapped, err := dbutil.NewWithDB(d.SQL(), dialect)
	if err != nil {
		return nil, fmt.Errorf("whatsmeow store: %w", err)
	}
	wrapped.UpgradeTable = upgrades.Table
	wrapped.VersionTable = "whatsmeow_version"
	container := sqlstore.NewWithWrappedDB(wrapped, NewWALogger(logger.With("component", "whatsmeow-store")))
	if err := container.Upgrade(ctx); err != nil {
		return nil, fmt.Errorf("whatsmeow store: upgrade: %w", err)
	}
	return &Whatsmeow{Container: container, DB: wrapped}, nil
}
