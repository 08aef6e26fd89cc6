package db

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"

	"github.com/uptrace/bun/migrate"

	"github.com/28web/hub/migrations"
)

var moduleNameRE = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// Migrate applies every pending migration of each set, in order, for this database's dialect.
// Each module is tracked in its own tables (bun_migrations_<module>, bun_migration_locks_<module>),
// so modules evolve independently. It is idempotent: applied migrations are skipped.
//
// A migration is recorded only after it succeeded, and ".tx" files run in one transaction, so a
// failed migration leaves nothing behind and is retried on the next start. On PostgreSQL a
// session advisory lock serialises replicas starting together; it dies with its connection, so
// a crashed migrator cannot leave a stale lock. SQLite is single-process (embedded mode) and
// needs none.
func Migrate(ctx context.Context, d *DB, sets ...migrations.Set) error {
	for _, set := range sets {
		if err := migrateSet(ctx, d, set); err != nil {
			return fmt.Errorf("migrate %s: %w", set.Name, err)
		}
	}
	return nil
}

func migrateSet(ctx context.Context, d *DB, set migrations.Set) error {
	if !moduleNameRE.MatchString(set.Name) {
		return fmt.Errorf("invalid module name %q (want lower-case letters, digits, underscores)", set.Name)
	}
	if set.FS == nil {
		return errors.New("no files")
	}
	dir, err := fs.Sub(set.FS, path.Join(set.Dir, string(d.dialect)))
	if err != nil {
		return fmt.Errorf("open %s migrations: %w", d.dialect, err)
	}
	ms := migrate.NewMigrations()
	err = ms.Discover(dir)
	if errors.Is(err, fs.ErrNotExist) || err == nil && len(ms.Sorted()) == 0 {
		return fmt.Errorf("no %s migrations in %s", d.dialect, path.Join(set.Dir, string(d.dialect)))
	}
	if err != nil {
		return fmt.Errorf("discover %s migrations: %w", d.dialect, err)
	}

	migrator := migrate.NewMigrator(d.bun, ms,
		migrate.WithTableName("bun_migrations_"+set.Name),
		migrate.WithLocksTableName("bun_migration_locks_"+set.Name),
		migrate.WithMarkAppliedOnSuccess(true),
	)

	unlock, err := d.lockMigrations(ctx, set.Name)
	if err != nil {
		return err
	}
	defer unlock()

	if err := migrator.Init(ctx); err != nil {
		return fmt.Errorf("init tracking tables: %w", err)
	}
	group, err := migrator.Migrate(ctx)
	if err != nil {
		return fmt.Errorf("apply: %w", err)
	}
	if group.IsZero() {
		d.logger.Debug("migrations up to date", "module", set.Name)
		return nil
	}
	d.logger.Info("migrations applied", "module", set.Name, "group", group.ID, "migrations", group.Migrations.String())
	return nil
}

// lockMigrations serialises migrators of one module across processes on PostgreSQL.
func (d *DB) lockMigrations(ctx context.Context, module string) (unlock func(), err error) {
	return d.Lock(ctx, "bun_migrations_"+module)
}

// Lock takes a database-wide lock named key (on PostgreSQL a session advisory lock, held by one
// connection; SQLite is single-process and needs none), waiting for other processes that hold
// it. Replicas starting together use it to run a schema upgrade one at a time. The lock dies
// with its connection, so a crashed holder cannot leave it behind.
func (d *DB) Lock(ctx context.Context, key string) (unlock func(), err error) {
	if d.dialect != Postgres {
		return func() {}, nil
	}
	conn, err := d.bun.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("lock: get connection: %w", err)
	}
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock(hashtext(?))", key); err != nil {
		return nil, errors.Join(fmt.Errorf("lock: %w", err), conn.Close())
	}
	return func() {
		// A fresh context: the unlock must run even when ctx was cancelled mid-migration.
		// Closing the connection would release the lock too; unlocking first returns a clean
		// connection to the pool.
		if _, err := conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock(hashtext(?))", key); err != nil {
			d.logger.Warn("release database lock", "key", key, "error", err)
		}
		if err := conn.Close(); err != nil {
			d.logger.Warn("release database lock connection", "key", key, "error", err)
		}
	}, nil
}
