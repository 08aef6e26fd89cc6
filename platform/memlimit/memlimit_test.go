package memlimit_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/28web/hub/platform/memlimit"
)

func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func cgroup(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, content := range files {
		path := filepath.Join(root, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, []byte(content), 0o644))
	}
	return root
}

func TestDecide(t *testing.T) {
	cfg := memlimit.Config{}
	cfg.SetDefaults()
	require.NoError(t, cfg.Validate())
	v2 := cgroup(t, map[string]string{"memory.max": "1073741824\n"})

	cases := []struct {
		name   string
		cfg    memlimit.Config
		env    map[string]string
		root   string
		limit  int64
		source memlimit.Source
	}{
		{"GOMEMLIMIT wins", memlimit.Config{LimitBytes: 1 << 20, ContainerFraction: 0.9}, map[string]string{"GOMEMLIMIT": "512MiB"}, v2, 0, memlimit.SourceEnv},
		{"configured", memlimit.Config{LimitBytes: 1 << 20, ContainerFraction: 0.9}, nil, v2, 1 << 20, memlimit.SourceConfig},
		{"cgroup v2", cfg, nil, v2, 966367641, memlimit.SourceContainer},
		{"cgroup v2 unlimited", cfg, nil, cgroup(t, map[string]string{"memory.max": "max\n"}), 0, memlimit.SourceNone},
		{"cgroup v1", cfg, nil, cgroup(t, map[string]string{"memory/memory.limit_in_bytes": "2147483648\n"}), 1932735283, memlimit.SourceContainer},
		{"cgroup v1 unlimited", cfg, nil, cgroup(t, map[string]string{"memory/memory.limit_in_bytes": "9223372036854771712\n"}), 0, memlimit.SourceNone},
		{"no cgroup", cfg, nil, t.TempDir(), 0, memlimit.SourceNone},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			limit, source, err := memlimit.Decide(c.cfg, env(c.env), c.root)
			require.NoError(t, err)
			require.Equal(t, c.limit, limit)
			require.Equal(t, c.source, source)
		})
	}

	_, _, err := memlimit.Decide(cfg, env(nil), cgroup(t, map[string]string{"memory.max": "lots"}))
	require.ErrorContains(t, err, `container memory limit "lots"`)
	require.Error(t, memlimit.Config{ContainerFraction: 1.5}.Validate())
	require.Error(t, memlimit.Config{LimitBytes: -1, ContainerFraction: 0.5}.Validate())
}
