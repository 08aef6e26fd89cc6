package health_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/28web/hub/platform/health"
)

// /health/detailed serves the background probe's latest result: requests do not probe again,
// and the result says how old it is; a failing component makes it degraded.
func TestDetailedServesTheBackgroundProbe(t *testing.T) {
	var probes atomic.Int64
	var failing atomic.Bool
	check := health.Check{Name: "db", Func: func(context.Context) error {
		probes.Add(1)
		if failing.Load() {
			return errors.New("down")
		}
		return nil
	}}
	r, err := health.NewRegistry("test", time.Second, t.TempDir(), check)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	r.Run(ctx, 50*time.Millisecond)
	require.EqualValues(t, 1, probes.Load(), "probed once before Run returned")

	first := r.Latest(t.Context())
	require.Equal(t, health.StatusOK, first.Status)
	failing.Store(true)
	require.Eventually(t, func() bool { return r.Latest(t.Context()).Status == health.StatusDegraded }, 10*time.Second, 10*time.Millisecond,
		"the next background probe finds the failure")
	cancel()
	n := probes.Load()
	d := r.Latest(t.Context())
	require.Equal(t, n, probes.Load(), "serving the result probes nothing")
	require.False(t, d.CheckedAt.IsZero())
	require.GreaterOrEqual(t, d.AgeSeconds, 0.0)
	require.Equal(t, "down", d.Components[0].Error)
}
