// Package dbtest gives tests a fresh database: SQLite in a temp dir, or a throwaway PostgreSQL
// database created on TEST_DATABASE_URL and dropped afterwards.
package dbtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/28web/hub/migrations"
	"github.com/28web/hub/platform/db"
)

// EnvPostgresURL names the variable holding the PostgreSQL server tests may create databases on.
// Empty: PostgreSQL tests are skipped. Set but unreachable: they fail.
const EnvPostgresURL = "TEST_DATABASE_URL"

// SQLite opens a fresh SQLite database in a temp dir, applies sets, and closes it at cleanup.
func SQLite(t testing.TB, sets ...migrations.Set) *db.DB {
	t.Helper()
	return open(t, db.Config{DataDir: t.TempDir()}, sets)
}

// Postgres creates a database test_<random> on TEST_DATABASE_URL, opens it, applies sets, and
// drops it at cleanup. It skips the test when the variable is empty.
func Postgres(t testing.TB, sets ...migrations.Set) *db.DB {
	t.Helper()
	return open(t, db.Config{URL: PostgresURL(t)}, sets)
}

// PostgresURL creates an empty database test_<random> on TEST_DATABASE_URL and returns its URL,
// for code that opens the database itself (a whole gateway under test); the database is dropped
// at cleanup, after the cleanups registered later. It skips the test when the variable is empty.
func PostgresURL(t testing.TB) string {
	t.Helper()
	base := os.Getenv(EnvPostgresURL)
	if base == "" {
		t.Skipf("%s is not set", EnvPostgresURL)
	}
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parse %s: %v", EnvPostgresURL, err)
	}
	name := "test_" + randomHex(t, 8)

	admin := adminConn(t, base)
	if _, err := admin.Exec(t.Context(), "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("create database %s: %v", name, err)
	}
	// Registered before the users' own cleanups, so it runs after them (cleanups are LIFO).
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		defer admin.Close(ctx)
		if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	u.Path = "/" + name
	return u.String()
}

// Each runs body once per database kind, as subtests "sqlite" and "postgres", each on a fresh
// database with sets applied.
func Each(t *testing.T, body func(t *testing.T, d *db.DB), sets ...migrations.Set) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { body(t, SQLite(t, sets...)) })
	t.Run("postgres", func(t *testing.T) { body(t, Postgres(t, sets...)) })
}

func open(t testing.TB, cfg db.Config, sets []migrations.Set) *db.DB {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	d, err := db.Open(t.Context(), cfg, logger)
	if err != nil {
		t.Fatalf("open test database: %v", err)
	}
	t.Cleanup(func() {
		if err := d.Close(); err != nil {
			t.Errorf("close test database: %v", err)
		}
	})
	if len(sets) > 0 {
		if err := db.Migrate(t.Context(), d, sets...); err != nil {
			t.Fatalf("migrate test database: %v", err)
		}
	}
	return d
}

func adminConn(t testing.TB, url string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect to %s: %v", EnvPostgresURL, err)
	}
	return conn
}

func randomHex(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("random name: %v", err)
	}
	return hex.EncodeToString(b)
}
