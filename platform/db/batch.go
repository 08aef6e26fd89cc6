package db

import (
	"context"
	"sync"
	"time"
)

// Batcher coalesces concurrent calls of one statement into one round trip and one commit (group
// commit). A call made while Workers batches are executing waits for the next batch, which takes
// every call queued by then, up to Max. A call alone runs at once: nothing waits for a batch to
// fill, so batching costs no latency when idle and saves commits under load.
type Batcher[T any] struct {
	// Exec runs one batch. Items may carry per-item results that Exec fills in; an error fails
	// every item of the batch.
	Exec func(ctx context.Context, items []T) error
	// Max bounds a batch. Optional, default 128.
	Max int
	// Workers bounds the batches executing at once (connections used). Optional, default 4.
	Workers int
	// Timeout bounds one batch. Optional, default 30s.
	Timeout time.Duration

	mu    sync.Mutex
	queue []*batchCall[T]
	busy  int
}

type batchCall[T any] struct {
	item T
	err  error
	done chan struct{}
}

// Do queues item and waits until its batch ran. When ctx ends first Do returns ctx's error, and
// the item may still be executed.
func (b *Batcher[T]) Do(ctx context.Context, item T) error {
	c := &batchCall[T]{item: item, done: make(chan struct{})}
	b.mu.Lock()
	b.queue = append(b.queue, c)
	start := b.busy < orDefault(b.Workers, 4)
	if start {
		b.busy++
	}
	b.mu.Unlock()
	if start {
		go b.work()
	}
	select {
	case <-c.done:
		return c.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Queued is how many calls wait for a batch.
func (b *Batcher[T]) Queued() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.queue)
}

func (b *Batcher[T]) work() {
	limit, timeout := orDefault(b.Max, 128), orDefault(b.Timeout, 30*time.Second)
	for {
		b.mu.Lock()
		if len(b.queue) == 0 {
			b.busy--
			b.mu.Unlock()
			return
		}
		n := min(len(b.queue), limit)
		calls := make([]*batchCall[T], n)
		copy(calls, b.queue)
		b.queue = b.queue[n:]
		b.mu.Unlock()

		items := make([]T, n)
		for i, c := range calls {
			items[i] = c.item
		}
		// The batch serves several callers: none of their contexts may cancel it.
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		err := b.Exec(ctx, items)
		cancel()
		for _, c := range calls {
			c.err = err
			close(c.done)
		}
	}
}

func orDefault[T int | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}
