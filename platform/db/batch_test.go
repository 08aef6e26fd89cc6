package db_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/28web/hub/platform/db"
)

func TestBatcherCoalescesCallsMadeWhileBusy(t *testing.T) {
	release := make(chan struct{})
	var mu sync.Mutex
	var sizes []int
	b := &db.Batcher[int]{Workers: 1, Exec: func(_ context.Context, items []int) error {
		mu.Lock()
		sizes = append(sizes, len(items))
		first := len(sizes) == 1
		mu.Unlock()
		if first {
			<-release // hold the only worker so the next calls queue up
		}
		return nil
	}}
	var wg sync.WaitGroup
	wg.Go(func() { assert.NoError(t, b.Do(t.Context(), 0)) })
	require.Eventually(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(sizes) == 1 }, 5*time.Second, time.Millisecond)
	for i := 1; i <= 10; i++ {
		wg.Go(func() { assert.NoError(t, b.Do(t.Context(), i)) })
	}
	// The ten wait behind the first batch; released, they go as one.
	require.Eventually(t, func() bool { return b.Queued() == 10 }, 5*time.Second, time.Millisecond)
	close(release)
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	total := 0
	for _, n := range sizes {
		total += n
	}
	assert.Equal(t, 11, total, "every call executed once")
	assert.Equal(t, []int{1, 10}, sizes, "calls queued while busy share one batch")
}

func TestBatcherFailsEveryCallOfAFailedBatch(t *testing.T) {
	boom := errors.New("boom")
	b := &db.Batcher[int]{Exec: func(context.Context, []int) error { return boom }}
	require.ErrorIs(t, b.Do(t.Context(), 1), boom)
}

func TestBatcherReturnsWhenTheCallerGivesUp(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	b := &db.Batcher[int]{Exec: func(context.Context, []int) error { <-release; return nil }}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, b.Do(ctx, 1), context.DeadlineExceeded)
}
