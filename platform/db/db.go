// Package db opens the gateway's database: PostgreSQL (pgx) or an embedded SQLite file
// (modernc, no cgo), wrapped in bun, with per-module SQL migrations and whatsmeow's device
// store living in the same database.
package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/dialect/sqlitedialect"

	// The pure-Go SQLite driver, registered as "sqlite".
	_ "modernc.org/sqlite"
)

// Dialect names the database engine behind a DB.
type Dialect string

const (
	Postgres Dialect = "postgres"
	SQLite   Dialect = "sqlite"
)

// sqlitePragmas are applied on every new SQLite connection. foreign_keys is required by
// whatsmeow's store (its upgrade refuses to run without it); busy_timeout and WAL let concurrent
// writers wait instead of failing with SQLITE_BUSY; _txlock=immediate takes the write lock at
// BEGIN, so a read-then-write transaction cannot fail halfway on a lock upgrade that
// busy_timeout does not cover.
const sqlitePragmas = "_pragma=foreign_keys(1)&_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_txlock=immediate"

// DB is an open database. It is safe for concurrent use; bun and whatsmeow share its pool.
type DB struct {
	bun     *bun.DB
	dialect Dialect
	logger  *slog.Logger
}

// Open connects to the database cfg describes and checks that it answers. For SQLite it creates
// cfg.DataDir when missing. cfg must have passed Validate (SetDefaults is applied here).
func Open(ctx context.Context, cfg Config, logger *slog.Logger) (*DB, error) {
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("open db: %w", err)
	}
	dialect, err := cfg.dialect()
	if err != nil {
		return nil, fmt.Errorf("open db: %w", err)
	}

	var bdb *bun.DB
	switch dialect {
	case Postgres:
		pcfg, err := pgx.ParseConfig(cfg.URL)
		if err != nil {
			return nil, fmt.Errorf("open db: parse postgres url: %w", err)
		}
		// bun writes every value into the SQL text, so no two statements are alike: pgx's default
		// (prepare and cache each distinct statement) costs a round trip and a server-side
		// prepared statement per query. Exec mode sends parse, bind and execute in one round trip
		// with an unnamed statement, for bun's queries and whatsmeow's parameterised ones alike.
		pcfg.DefaultQueryExecMode = pgx.QueryExecModeExec
		bdb = bun.NewDB(stdlib.OpenDB(*pcfg), pgdialect.New())
	case SQLite:
		if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
			return nil, fmt.Errorf("open db: create data dir: %w", err)
		}
		path := filepath.Join(cfg.DataDir, SQLiteFileName)
		sqldb, err := sql.Open("sqlite", "file:"+path+"?"+sqlitePragmas)
		if err != nil {
			return nil, fmt.Errorf("open db: sqlite %s: %w", path, err)
		}
		bdb = bun.NewDB(sqldb, sqlitedialect.New())
	}
	bdb.SetMaxOpenConns(cfg.MaxOpenConns)
	bdb.SetMaxIdleConns(cfg.MaxIdleConns)
	bdb.SetConnMaxIdleTime(cfg.ConnMaxIdleTime)

	d := &DB{bun: bdb, dialect: dialect, logger: logger}
	if err := d.Ping(ctx); err != nil {
		return nil, errors.Join(fmt.Errorf("open db: %w", err), bdb.Close())
	}
	logger.Info("database opened", "dialect", string(dialect))
	return d, nil
}

// Bun is the bun handle for queries and models.
func (d *DB) Bun() *bun.DB { return d.bun }

// SQL is the underlying pool, shared with whatsmeow's store.
func (d *DB) SQL() *sql.DB { return d.bun.DB }

// Dialect says which engine this is.
func (d *DB) Dialect() Dialect { return d.dialect }

// Ping checks that the database answers; the health endpoints call it.
func (d *DB) Ping(ctx context.Context) error {
	if err := d.bun.PingContext(ctx); err != nil {
		return fmt.Errorf("ping %s: %w", d.dialect, err)
	}
	return nil
}

// Close closes the pool. Nothing else (in particular not whatsmeow's container) may close it.
func (d *DB) Close() error {
	if err := d.bun.Close(); err != nil {
		return fmt.Errorf("close db: %w", err)
	}
	return nil
}
