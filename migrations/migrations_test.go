package migrations_test

import (
	"io/fs"
	"path"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/28web/hub/migrations"
)

// Every module has the same migrations for every dialect, each with its down file, so a schema
// never exists on one database only.
func TestSetsArePairedAcrossDialects(t *testing.T) {
	for _, set := range []migrations.Set{migrations.Core, migrations.Webhooks, migrations.Whatsapp, migrations.WhatsappCloud, migrations.HubRemote, migrations.Outbox} {
		t.Run(set.Name, func(t *testing.T) {
			names := map[string][]string{}
			for _, dialect := range []string{"postgres", "sqlite"} {
				entries, err := fs.ReadDir(set.FS, path.Join(set.Dir, dialect))
				require.NoError(t, err)
				for _, e := range entries {
					names[dialect] = append(names[dialect], e.Name())
				}
				require.NotEmpty(t, names[dialect])
				for _, n := range names[dialect] {
					if up, ok := strings.CutSuffix(n, ".up.sql"); ok {
						assert.Containsf(t, names[dialect], up+".down.sql", "%s/%s has a down file", dialect, n)
					}
				}
			}
			assert.Equal(t, names["postgres"], names["sqlite"])
		})
	}
}
