package db

import (
	"context"
	"fmt"
	"log/slog"

	"go.mau.fi/whatsmeow/store/sqlstore"
)

// WhatsmeowStore returns whatsmeow's device store on this database's pool, its whatsmeow_*
// tables upgraded to the current schema (idempotent). The container shares the pool: never call
// its Close, which would close the pool under bun; DB.Close is the only closer.
func (d *DB) WhatsmeowStore(ctx context.Context, logger *slog.Logger) (*sqlstore.Container, error) {
	// whatsmeow parses the dialect by prefix: "postgres"/"pgx" and "sqlite" are accepted, and an
	// unknown name ("pg") makes NewWithDB panic, so only ever pass our own two values.
	var dialect string
	switch d.dialect {
	case Postgres:
		dialect = "pgx"
	case SQLite:
		dialect = "sqlite"
	default:
		return nil, fmt.Errorf("whatsmeow store: unsupported dialect %q", d.dialect)
	}
	container := sqlstore.NewWithDB(d.SQL(), dialect, NewWALogger(logger.With("component", "whatsmeow-store")))
	if err := container.Upgrade(ctx); err != nil {
		return nil, fmt.Errorf("whatsmeow store: upgrade: %w", err)
	}
	return container, nil
}
