// Package store keeps the gateway's channel-agnostic state in the database through bun: the
// session registry, messages (the send pipeline's durable queue and the projection of message
// events) and contacts. Every method is safe for concurrent use and works on PostgreSQL and
// SQLite alike.
package store

import (
	"context"
	"errors"
	"time"

	"github.com/uptrace/bun"
)

// Store is the bun repository of the core tables (migrations.Core).
type Store struct {
	db    bun.IDB
	batch *batchers
}

// New returns a Store on db, whose schema must be migrated.
func New(db *bun.DB) *Store {
	s := &Store{db: db, batch: &batchers{}}
	s.initBatchers()
	return s
}

// InTx runs fn with a Store whose every statement is part of one transaction, committed when fn
// returns nil. Writes that batch across callers (the send path's accept, attempt and sent
// marks) must not be used on it: they run outside the transaction.
func (s *Store) InTx(ctx context.Context, fn func(ctx context.Context, tx *Store) error) error {
	return s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		return fn(ctx, &Store{db: tx, batch: s.batch})
	})
}

// now is the storage clock: UTC at microsecond precision, the finest PostgreSQL keeps, so a
// value read back compares equal to the one written (cursors rely on it).
func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// normalize brings a caller's time to the storage precision.
func normalize(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// isUniqueViolation recognises a unique-constraint error of either driver without importing
// their error types into every caller.
func isUniqueViolation(err error) bool {
	if err == nil {
		return false
	}
	var coded interface{ SQLState() string }
	if errors.As(err, &coded) && coded.SQLState() == "23505" {
		return true
	}
	var sqliteErr interface{ Code() int }
	// SQLITE_CONSTRAINT_PRIMARYKEY (1555) and SQLITE_CONSTRAINT_UNIQUE (2067).
	if errors.As(err, &sqliteErr) && (sqliteErr.Code() == 1555 || sqliteErr.Code() == 2067) {
		return true
	}
	return false
}

// isForeignKeyViolation recognises a reference to a missing row (a session deleted meanwhile).
func isForeignKeyViolation(err error) bool {
	if err == nil {
		return false
	}
	var coded interface{ SQLState() string }
	if errors.As(err, &coded) && coded.SQLState() == "23503" {
		return true
	}
	var sqliteErr interface{ Code() int }
	// SQLITE_CONSTRAINT_FOREIGNKEY (787).
	return errors.As(err, &sqliteErr) && sqliteErr.Code() == 787
}
