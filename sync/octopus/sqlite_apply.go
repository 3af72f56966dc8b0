package octopus

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	upnsync "github.com/upnsync/upnsync/sync"
)

// Apply writes changes in batches of compare-and-swap updates, one
// transaction per batch. See upnsync.Store.
func (s *sqliteStore) Apply(ctx context.Context, run upnsync.Run, changes upnsync.Changes) (upnsync.Applied, error) {
	runDefaults(&run)
	applied := upnsync.Applied{RunID: run.ID}
	if err := s.checkWritable("cannot apply changes"); err != nil {
		return applied, err
	}
	if err := s.ensureSchema(ctx); err != nil {
		return applied, err
	}
	if err := beginRun(ctx, s.db, run); err != nil {
		var se *sqlite.Error
		if errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_CONSTRAINT {
			return applied, fmt.Errorf("store %s: run %s is already recorded; each apply needs a new run id; nothing was written", s.Describe(), run.ID)
		}
		return applied, s.explain("cannot record the run; nothing was written", err)
	}

	err := applyInBatches(ctx, s, s.batch, run.ID, changes, &applied)
	return applied, err
}

// batchOutcome: a failed batch was rolled back (one transaction, on a
// local file).
func (s *sqliteStore) batchOutcome(context.Context, string, int, error, *upnsync.Applied) string {
	return "that batch was rolled back"
}

// finishRun records the outcome of a run even when ctx is already done:
// the summary must say what the committed batches wrote.
func (s *sqliteStore) finishRun(ctx context.Context, runID string, a *upnsync.Applied) error {
	if err := finishRun(ctx, s.db, runID, a); err != nil {
		return s.explain("cannot record the end of run "+runID, err)
	}
	return nil
}

// applyBatch writes one batch in one transaction (batchWriter).
func (s *sqliteStore) applyBatch(ctx context.Context, runID string, _, seq int, batch []upnsync.Change) (written []string, stale []upnsync.Stale, next int, failed string, err error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, nil, seq, "", s.explain("cannot start a transaction", err)
	}
	defer tx.Rollback()
	// The transaction ends (rolled back) when ctx does; its statements run
	// without a context that can end: for each statement that can, the
	// SQLite driver starts a goroutine to watch it, three per change.
	ctx = context.WithoutCancel(ctx)

	update, err := tx.PrepareContext(ctx, `UPDATE users SET windows_usernames = ? WHERE id = ? AND COALESCE(windows_usernames, '') = ?`)
	if err != nil {
		return nil, nil, seq, "", s.explain("cannot prepare the updates", err)
	}
	defer update.Close()
	current, err := tx.PrepareContext(ctx, `SELECT COALESCE(windows_usernames, '') FROM users WHERE id = ?`)
	if err != nil {
		return nil, nil, seq, "", s.explain("cannot prepare the updates", err)
	}
	defer current.Close()
	lw, err := newLedgerWriter(ctx, tx, runID, seq)
	if err != nil {
		return nil, nil, seq, "", s.explain("cannot prepare the updates", err)
	}
	defer lw.close()

	for i := range batch {
		c := &batch[i]
		fail := func(what string, err error) ([]string, []upnsync.Stale, int, string, error) {
			return nil, nil, seq, c.UserID, s.explain(fmt.Sprintf("user %q: %s", c.UserID, what), err)
		}
		res, err := update.ExecContext(ctx, c.After, c.UserID, c.Before)
		if err != nil {
			return fail("cannot update the Windows usernames", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return fail("cannot update the Windows usernames", err)
		}
		if n == 0 {
			st := upnsync.Stale{UserID: c.UserID, Expected: c.Before, Planned: c.After}
			switch err := current.QueryRowContext(ctx, c.UserID).Scan(&st.Found); {
			case errors.Is(err, sql.ErrNoRows):
				st.Missing = true
			case err != nil:
				return fail("cannot read the current Windows usernames", err)
			}
			stale = append(stale, st)
			continue
		}
		if what, err := lw.record(ctx, c); err != nil {
			return fail(what, err)
		}
		written = append(written, c.UserID)
	}
	if what, err := lw.flush(ctx); err != nil {
		return nil, nil, seq, "", s.explain(what, err)
	}
	seq = lw.seq
	if err := tx.Commit(); err != nil {
		return nil, nil, seq, "", s.explain("cannot commit", err)
	}
	return written, stale, seq, "", nil
}
