package webhook

import (
	"context"
	"errors"
	"fmt"

	"github.com/uptrace/bun"
)

// maxBatch bounds the writes grouped into one transaction.
const maxBatch = 256

// writer funnels the hot-path writes (delivery inserts, attempt outcomes) through one goroutine
// that groups whatever is queued into one transaction: one commit (one fsync) for many writes,
// and no writers of ours queuing on SQLite's lock, whose busy handler sleeps in milliseconds.
type writer struct {
	db     *bun.DB
	ops    chan writeOp
	stop   chan struct{}
	exited chan struct{}
}

type writeOp struct {
	ctx  context.Context
	fn   func(ctx context.Context, tx bun.Tx) error
	done chan error
}

// startWriter starts a writer; close it with shutdown.
func startWriter(db *bun.DB) *writer {
	w := &writer{db: db, ops: make(chan writeOp, maxBatch), stop: make(chan struct{}), exited: make(chan struct{})}
	go func() {
		defer close(w.exited)
		w.run()
	}()
	return w
}

// shutdown writes what is queued and stops; later writes fail with errWriterStopped.
func (w *writer) shutdown() {
	close(w.stop)
	<-w.exited
}

// exec runs fn in a transaction shared with other queued writes, and returns once it is
// committed. fn may run twice (alone, after its batch failed), so it must not keep state
// between runs.
func (w *writer) exec(ctx context.Context, fn func(ctx context.Context, tx bun.Tx) error) error {
	op := writeOp{ctx: ctx, fn: fn, done: make(chan error, 1)}
	select {
	case <-w.stop:
		return errWriterStopped
	default:
	}
	select {
	case w.ops <- op:
	case <-w.exited:
		return errWriterStopped
	case <-ctx.Done():
		return fmt.Errorf("queue write: %w", ctx.Err())
	}
	select {
	case err := <-op.done:
		return err
	case <-w.exited:
		// Queued after the last drain: it was never run.
		select {
		case err := <-op.done:
			return err
		default:
			return errWriterStopped
		}
	case <-ctx.Done():
		// The write may still commit; callers treat this like any failed write (the bus
		// redelivers, and inserts are idempotent).
		return fmt.Errorf("wait for write: %w", ctx.Err())
	}
}

// run writes batches until stop is closed and the queue is empty.
func (w *writer) run() {
	batch := make([]writeOp, 0, maxBatch)
	for {
		select {
		case op := <-w.ops:
			batch = append(batch[:0], op)
		case <-w.stop:
			select {
			case op := <-w.ops:
				batch = append(batch[:0], op)
			default:
				return
			}
		}
	fill:
		for len(batch) < maxBatch {
			select {
			case op := <-w.ops:
				batch = append(batch, op)
			default:
				break fill
			}
		}
		w.write(batch)
	}
}

// write commits a batch in one transaction; if it fails, each write runs alone so that one bad
// write fails only its caller.
func (w *writer) write(batch []writeOp) {
	live := batch[:0:0]
	for _, op := range batch {
		if err := op.ctx.Err(); err != nil {
			op.done <- err
			continue
		}
		live = append(live, op)
	}
	if len(live) == 0 {
		return
	}
	ctx := context.WithoutCancel(live[0].ctx)
	err := w.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		for _, op := range live {
			if err := op.fn(ctx, tx); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		for _, op := range live {
			op.done <- nil
		}
		return
	}
	if len(live) == 1 {
		live[0].done <- err
		return
	}
	for _, op := range live {
		op.done <- w.db.RunInTx(context.WithoutCancel(op.ctx), nil, op.fn)
	}
}

// errWriterStopped: a write arrived after the service stopped.
var errWriterStopped = errors.New("webhook writer stopped")
