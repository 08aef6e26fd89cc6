package webhook

import (
	"context"
	"fmt"

	"github.com/uptrace/bun"

	"github.com/28web/hub/platform/db"
)

// maxBatch bounds the writes grouped into one transaction.
const maxBatch = 256

// writeOp is a function to run in a shared transaction, or an attempt outcome: outcomes of a
// batch are written together in two statements. err is its own result.
type writeOp struct {
	fn      func(ctx context.Context, tx bun.Tx) error
	outcome *outcome
	err     error
}

// outcome is an attempt and the state it leaves its delivery in.
type outcome struct {
	seq int64
	row *deliveryRow
	att Attempt
}

// newWriter groups the hot-path writes (delivery inserts, attempt outcomes) into one transaction
// at a time through db.Batcher: one commit (one fsync) for many writes, and no writers of ours
// queuing on SQLite's lock, whose busy handler sleeps in milliseconds.
func newWriter(st *store) *db.Batcher[*writeOp] {
	return &db.Batcher[*writeOp]{Workers: 1, Max: maxBatch, Exec: func(ctx context.Context, ops []*writeOp) error {
		err := st.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error { return apply(ctx, st, tx, ops) })
		if err == nil || len(ops) == 1 {
			for _, op := range ops {
				op.err = err
			}
			return nil
		}
		// One bad write fails only its caller: each runs alone.
		for _, op := range ops {
			op.err = st.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error { return apply(ctx, st, tx, []*writeOp{op}) })
		}
		return nil
	}}
}

// submit runs op with the other queued writes and returns once it is committed. A fn may run
// twice (alone, after its batch failed), so it must not keep state between runs. When ctx ends
// first the write may still commit; callers treat that like any failed write (the bus
// redelivers, and inserts are idempotent).
func submit(ctx context.Context, w *db.Batcher[*writeOp], op *writeOp) error {
	if err := w.Do(ctx, op); err != nil {
		return fmt.Errorf("webhook write: %w", err)
	}
	return op.err
}

// apply runs a batch's writes in tx.
func apply(ctx context.Context, st *store, tx bun.Tx, ops []*writeOp) error {
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
	return st.recordOutcomes(ctx, tx, outs)
}
