package octopus

import (
	"context"
	"fmt"
	"time"

	upnsync "github.com/upnsync/upnsync/sync"
)

// batchWriter is a store that writes a plan's changes in batches of
// compare-and-swap updates, one transaction per batch (SQLite,
// PostgreSQL). applyInBatches is the loop they share: the batches, an
// interruption between two of them, a failed one, and the run's summary.
type batchWriter interface {
	Describe() string
	// applyBatch writes batch number batchNo (from 1) in one transaction:
	// all of it or none of it. It returns the ids written, the stale
	// changes, the next journal sequence number and, on failure, the user
	// being written.
	applyBatch(ctx context.Context, runID string, batchNo, seq int, batch []upnsync.Change) (written []string, stale []upnsync.Stale, next int, failed string, err error)
	// batchOutcome says what became of a batch that failed with err: by
	// default it was rolled back. It may add to applied what the store
	// proves was written after all.
	batchOutcome(ctx context.Context, runID string, seq int, err error, applied *upnsync.Applied) string
	// finishRun records the outcome of a run even when ctx is done.
	finishRun(ctx context.Context, runID string, a *upnsync.Applied) error
}

// testAfterBatch lets tests act (cancel a context) between two batches.
var testAfterBatch func(batch int)

// runDefaults gives a run without an id or a start time its own.
func runDefaults(run *upnsync.Run) {
	if run.ID == "" {
		run.ID = time.Now().UTC().Format("20060102T150405.000000000Z")
	}
	if run.Started.IsZero() {
		run.Started = time.Now()
	}
}

// applyInBatches writes changes batch by batch, size to a batch, once the
// run is recorded, and records its end.
func applyInBatches(ctx context.Context, w batchWriter, size int, runID string, changes upnsync.Changes, applied *upnsync.Applied) error {
	batches := (changes.Len() + size - 1) / size
	seq := 0
	for b := 0; b < batches; b++ {
		lo, hi := b*size, min((b+1)*size, changes.Len())
		if err := ctx.Err(); err != nil {
			w.finishRun(ctx, runID, applied)
			return fmt.Errorf("store %s: apply interrupted before batch %d of %d (%v); %s (run %s); run upnsync again to finish the job",
				w.Describe(), b+1, batches, err, writtenBefore(len(applied.Written)), runID)
		}
		written, stale, next, failed, err := w.applyBatch(ctx, runID, b+1, seq, changes.Batch(lo, hi))
		if err != nil {
			at := ""
			if failed != "" {
				at = fmt.Sprintf(" at user %q", failed)
			}
			outcome := w.batchOutcome(ctx, runID, seq, err, applied)
			w.finishRun(ctx, runID, applied)
			return fmt.Errorf("%w; apply stopped in batch %d of %d (changes %d to %d)%s; %s; %s (run %s); run upnsync again to finish the job",
				err, b+1, batches, lo+1, hi, at, outcome, writtenBefore(len(applied.Written)), runID)
		}
		seq = next
		applied.Written = append(applied.Written, written...)
		applied.Stale = append(applied.Stale, stale...)
		if testAfterBatch != nil {
			testAfterBatch(b + 1)
		}
	}
	if err := w.finishRun(ctx, runID, applied); err != nil {
		return fmt.Errorf("%w; %s written, but the run summary was not recorded", err, users(len(applied.Written)))
	}
	return nil
}
