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
	store  *store
	ops    chan writeOp
	stop   chan struct{}
	exited chan struct{}
}

// writeOp is a function to run in the batch's transaction, or an attempt outcome: outcomes of
// a batch are written together in two statements.
type writeOp struct {
	ctx     context.Context
	fn      func(ctx context.Context, tx bun.Tx) error
	outcome *outcome
	done    chan error
}

// outcome is an attempt and the state it leaves its delivery in.
type outcome struct {
	seq int64
	row *deliveryRow
	att Attempt
}

// startWriter starts a writer; close it with shutdown.
func startWriter(st *store) *writer {
	w := &writer{db: st.db, store: st, ops: make(chan writeOp, maxBatch), stop: make(chan struct{}), exited: make(chan struct{})}
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
	return w.submit(writeOp{ctx: ctx, fn: fn, done: make(chan error, 1)})
}

// record writes an attempt outcome with the other queued writes.
func (w *writer) record(ctx context.Context, o outcome) error {
	return w.submit(writeOp{ctx: ctx, outcome: &o, done: make(chan error, 1)})
}

func (w *writer) submit(op writeOp) error {
	ctx := op.ctx
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
	err := w.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error { return w.apply(ctx, tx, live) })
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
		op.done <- w.db.RunInTx(context.WithoutCancel(op.ctx), nil, func(ctx context.Context, tx bun.Tx) error {
			return w.apply(ctx, tx, []writeOp{op})
		})
	}
}

// apply runs a batch's writes in tx.
func (w *writer) apply(ctx context.Context, tx bun.Tx, ops []writeOp) error {
	var outs []outcome
	for _, op := range ops {
		if op.outcome != nil {
			outs = append(outs, *op.outcome)
			continue
		}
		if err := op.fn(ctx, tx); err != nil {
			return err
		}
	}
	return w.store.recordOutcomes(ctx, tx, outs)
}

// errWriterStopped: a write arrived after the service stopped.
var errWriterStopped = errors.New("webhook writer stopped")
