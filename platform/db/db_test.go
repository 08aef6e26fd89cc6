package db_test

import (
	"context"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/28web/hub/migrations"
	"github.com/28web/hub/platform/db"
	"github.com/28web/hub/platform/db/dbtest"
)

func tableExists(t *testing.T, d *db.DB, name string) bool {
	t.Helper()
	q := "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = ?"
	if d.Dialect() == db.SQLite {
		q = "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?"
	}
	var n int
	require.NoError(t, d.Bun().NewRaw(q, name).Scan(t.Context(), &n))
	return n == 1
}

func TestCoreSchema(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := t.Context()
		b := d.Bun()
		now := time.Now().UTC()
		_, err := b.NewRaw(`INSERT INTO sessions (id, channel, status, created_at, updated_at) VALUES (?, ?, ?, ?, ?)`,
			"s1", "whatsapp", "connecting", now, now).Exec(ctx)
		require.NoError(t, err)
		insertMsg := func(id, key string) error {
			_, err := b.NewRaw(`INSERT INTO messages (id, session_id, chat_id, direction, status, type, body, idempotency_key)
				VALUES (?, 's1', 'c1', 'out', 'queued', 'text', 'hi', ?)`, id, key).Exec(ctx)
			return err
		}
		require.NoError(t, insertMsg("m1", "k1"))
		require.Error(t, insertMsg("m2", "k1"), "idempotency key is unique per session")
		require.NoError(t, insertMsg("m3", ""), "an empty key is a key like any other")
		_, err = b.NewRaw(`INSERT INTO messages (id, session_id, chat_id, direction, status, type)
			VALUES ('m4', 's1', 'c1', 'out', 'queued', 'text')`).Exec(ctx)
		require.NoError(t, err)
		_, err = b.NewRaw(`INSERT INTO messages (id, session_id, chat_id, direction, status, type)
			VALUES ('m5', 's1', 'c1', 'out', 'queued', 'text')`).Exec(ctx)
		require.NoError(t, err, "several messages without a key")
		_, err = b.NewRaw(`INSERT INTO messages (id, session_id, chat_id, direction, status, type)
			VALUES ('m6', 's1', 'c1', 'sideways', 'queued', 'text')`).Exec(ctx)
		require.Error(t, err, "direction is in or out")
		_, err = b.NewRaw(`INSERT INTO messages (id, session_id, chat_id, direction, status, type)
			VALUES ('m7', 'nope', 'c1', 'in', 'delivered', 'text')`).Exec(ctx)
		require.Error(t, err, "session must exist (foreign keys on)")
		_, err = b.NewRaw(`INSERT INTO contacts (session_id, jid, push_name, on_whatsapp) VALUES ('s1', 'j1', 'Ann', ?)`, true).Exec(ctx)
		require.NoError(t, err)

		var created time.Time
		require.NoError(t, b.NewRaw("SELECT created_at FROM sessions WHERE id = 's1'").Scan(ctx, &created))
		assert.WithinDuration(t, now, created, time.Second)

		_, err = b.NewRaw("DELETE FROM sessions WHERE id = 's1'").Exec(ctx)
		require.NoError(t, err)
		for _, table := range []string{"messages", "contacts"} {
			var n int
			require.NoError(t, b.NewRaw("SELECT count(*) FROM ?", bunIdent(table)).Scan(ctx, &n))
			assert.Zerof(t, n, "%s rows cascade-deleted with their session", table)
		}
	}, migrations.Core)
}

// A failed migration is rolled back and not recorded, so fixing it and running again applies it.
func TestMigrateFailureIsRetried(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := t.Context()
		dialect := string(d.Dialect())
		files := fstest.MapFS{
			"m/" + dialect + "/20260101000001_one.tx.up.sql": {Data: []byte("CREATE TABLE one_t (id integer)")},
			"m/" + dialect + "/20260101000002_two.tx.up.sql": {Data: []byte(
				"CREATE TABLE two_t (id integer)\n--bun:split\nTHIS IS NOT SQL")},
		}
		set := migrations.Set{Name: "broken", FS: files, Dir: "m"}
		err := db.Migrate(ctx, d, set)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "migrate broken")
		assert.True(t, tableExists(t, d, "one_t"))
		assert.False(t, tableExists(t, d, "two_t"), "the failed file's transaction was rolled back")

		files["m/"+dialect+"/20260101000002_two.tx.up.sql"] = &fstest.MapFile{Data: []byte("CREATE TABLE two_t (id integer)")}
		require.NoError(t, db.Migrate(ctx, d, set))
		assert.True(t, tableExists(t, d, "two_t"))
		var names []string
		require.NoError(t, d.Bun().NewRaw("SELECT name FROM bun_migrations_broken ORDER BY name").Scan(ctx, &names))
		assert.Equal(t, []string{"20260101000001", "20260101000002"}, names)
	})
}

func TestMigrateRejectsBadSets(t *testing.T) {
	d := dbtest.SQLite(t)
	ctx := context.Background()
	require.ErrorContains(t, db.Migrate(ctx, d, migrations.Set{Name: "Bad-Name", FS: fstest.MapFS{}}), "invalid module name")
	require.ErrorContains(t, db.Migrate(ctx, d, migrations.Set{Name: "empty", FS: fstest.MapFS{}}), "no sqlite migrations")
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  db.Config
		errs []string
	}{
		{name: "sqlite", cfg: db.Config{DataDir: "/data"}},
		{name: "postgres", cfg: db.Config{URL: "postgres://u:p@h/db"}},
		{name: "postgresql", cfg: db.Config{URL: "postgresql://h/db"}},
		{name: "nothing", cfg: db.Config{}, errs: []string{"data_dir is required"}},
		{name: "mysql", cfg: db.Config{URL: "mysql://h/db"}, errs: []string{`scheme "mysql" is not supported`}},
		{name: "every problem", cfg: db.Config{URL: "::", MaxOpenConns: -1, MaxIdleConns: -2},
			errs: []string{"does not parse", "max_open_conns", "max_idle_conns"}},
		{name: "no password in errors", cfg: db.Config{URL: "postgres://u:s3cret@h:bad/db"}, errs: []string{"does not parse"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.SetDefaults()
			err := tt.cfg.Validate()
			if len(tt.errs) == 0 {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			for _, want := range tt.errs {
				assert.Contains(t, err.Error(), want)
			}
			assert.False(t, strings.Contains(err.Error(), "s3cret"), "error leaks the password: %v", err)
		})
	}
}

// Replicas starting together migrate one after the other: every call succeeds, each migration
// is applied once.
func TestMigrateConcurrently(t *testing.T) {
	d := dbtest.Postgres(t)
	errs := make(chan error, 4)
	for range cap(errs) {
		go func() { errs <- db.Migrate(t.Context(), d, migrations.Core) }()
	}
	for range cap(errs) {
		require.NoError(t, <-errs)
	}
	var applied int
	require.NoError(t, d.Bun().NewRaw("SELECT count(*) FROM bun_migrations_core").Scan(t.Context(), &applied))
	assert.Equal(t, coreMigrations(t), applied)
}

// coreMigrations counts the core module's migrations.
func coreMigrations(t *testing.T) int {
	t.Helper()
	ups, err := fs.Glob(migrations.Core.FS, migrations.Core.Dir+"/postgres/*.up.sql")
	require.NoError(t, err)
	require.NotEmpty(t, ups)
	return len(ups)
}
