package octopus

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	upnsync "github.com/upnsync/upnsync/sync"
)

// Apply writes changes in batches of compare-and-swap updates, one
// transaction per batch. See upnsync.Store.
func (s *pgStore) Apply(ctx context.Context, run upnsync.Run, changes upnsync.Changes) (upnsync.Applied, error) {
	runDefaults(&run)
	applied := upnsync.Applied{RunID: run.ID}
	if err := s.checkWritable("cannot apply changes"); err != nil {
		return applied, err
	}
	if !s.exists {
		return applied, fmt.Errorf("store %s: cannot apply changes: table %s does not exist; nothing was written", s.Describe(), s.tableName)
	}
	if !s.ready {
		err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error { return s.ensureSchema(ctx, tx) })
		if err != nil {
			return applied, fmt.Errorf("%w; nothing was written", err)
		}
		s.schemaCreated()
	}
	kind := run.Kind
	if kind == "" {
		kind = upnsync.RunSync
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO upnsync.runs(id, tbl, started, directory, kind, undoes, plan_sha256, forced, host, os_user, command)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		run.ID, s.tableName, run.Started, run.Directory, kind, run.Undoes, run.PlanSHA256, jsonArray(run.Forced),
		run.Host, run.User, run.Command)
	if err != nil {
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "23505" {
			return applied, fmt.Errorf("store %s: run %s is already recorded; each apply needs a new run id; nothing was written", s.Describe(), run.ID)
		}
		return applied, s.explain("cannot record the run; nothing was written", err)
	}

	err = applyInBatches(ctx, s, s.batch, run.ID, changes, &applied)
	return applied, err
}

// batchOutcome says what became of a failed batch. When the connection
// broke, the commit may have reached the server before the break: the
// journal, read on a new connection, tells whether the batch was written,
// so that Applied.Written is exactly what the database holds.
func (s *pgStore) batchOutcome(ctx context.Context, runID string, seq int, err error, applied *upnsync.Applied) string {
	if !errors.Is(err, errConnLost) {
		return "that batch was rolled back"
	}
	ids, qerr := s.journaled(context.WithoutCancel(ctx), runID, seq)
	switch {
	case qerr != nil:
		return fmt.Sprintf("whether that batch was committed could not be checked (%v); upnsync.journal rows of run %s tell what was written", qerr, runID)
	case len(ids) > 0:
		applied.Written = append(applied.Written, ids...)
		return fmt.Sprintf("that batch was committed before the connection broke (%s, per the journal)", users(len(ids)))
	}
	return "that batch was not committed (the journal has none of it)"
}

// journaled lists the users journaled in run after sequence number seq.
func (s *pgStore) journaled(ctx context.Context, runID string, seq int) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	rows, err := s.pool.Query(ctx, `SELECT user_id FROM upnsync.journal WHERE run_id = $1 AND seq > $2 ORDER BY seq`, runID, seq)
	if err != nil {
		return nil, errors.New(s.scrub(errText(err)))
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, errors.New(s.scrub(errText(err)))
	}
	return ids, nil
}

// finishRun records the outcome of a run even when ctx is done.
func (s *pgStore) finishRun(ctx context.Context, runID string, a *upnsync.Applied) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	_, err := s.pool.Exec(ctx, `UPDATE upnsync.runs SET finished = now(), written = $2, stale = $3 WHERE id = $1`,
		runID, len(a.Written), len(a.Stale))
	if err != nil {
		return s.explain("cannot record the end of run "+runID, err)
	}
	return nil
}

// testBeforeCommit lets tests act (break the connection) when a batch is
// written but not yet committed; pid is the server process of the batch.
var testBeforeCommit func(batch int, pid uint32)

// applyBatch writes one batch in one transaction: all of it or none of it.
// Statements are pipelined (pgx.Batch): one round trip for the updates, one
// for the values of stale users, one for provenance and journal.
func (s *pgStore) applyBatch(ctx context.Context, runID string, batchNo, seq int, batch []upnsync.Change) (written []string, stale []upnsync.Stale, next int, failed string, err error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return nil, nil, seq, "", s.explain("cannot start a transaction", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))

	update := `UPDATE ` + s.tableName + ` u SET ` + s.col(colWindowsUsername) + ` = ` + s.param(3, colWindowsUsername) +
		` WHERE u.` + s.col(colID) + ` = ` + s.param(1, colID) + ` AND COALESCE(u.` + s.col(colWindowsUsername) + `::text, '') = $2`
	var b pgx.Batch
	for i := range batch {
		c := &batch[i]
		b.Queue(update, c.UserID, c.Before, c.After)
	}
	res := tx.SendBatch(ctx, &b)
	var isStale []bool
	for i := range batch {
		tag, err := res.Exec()
		if err != nil {
			res.Close()
			if sessionLost(err) {
				// The batch went out in one pipeline: the first result that
				// did not come back says nothing about which user the
				// server was at.
				return nil, nil, seq, "", s.explain("cannot update the Windows usernames", err)
			}
			return nil, nil, seq, batch[i].UserID, s.explain(fmt.Sprintf("user %q: cannot update the Windows usernames", batch[i].UserID), err)
		}
		isStale = append(isStale, tag.RowsAffected() == 0)
	}
	if err := res.Close(); err != nil {
		return nil, nil, seq, "", s.explain("cannot update the Windows usernames", err)
	}

	var cur pgx.Batch
	for i, st := range isStale {
		if st {
			cur.Queue(`SELECT COALESCE(u.`+s.col(colWindowsUsername)+`::text, '') FROM `+s.tableName+` u WHERE u.`+s.col(colID)+` = `+s.param(1, colID), batch[i].UserID)
		}
	}
	if cur.Len() > 0 {
		res := tx.SendBatch(ctx, &cur)
		for i, st := range isStale {
			if !st {
				continue
			}
			sv := upnsync.Stale{UserID: batch[i].UserID, Expected: batch[i].Before, Planned: batch[i].After}
			switch err := res.QueryRow().Scan(&sv.Found); {
			case errors.Is(err, pgx.ErrNoRows):
				sv.Missing = true
			case err != nil:
				res.Close()
				return nil, nil, seq, batch[i].UserID, s.explain(fmt.Sprintf("user %q: cannot read the current Windows usernames", batch[i].UserID), err)
			}
			stale = append(stale, sv)
		}
		if err := res.Close(); err != nil {
			return nil, nil, seq, "", s.explain("cannot read the current Windows usernames", err)
		}
	}

	const own = `INSERT INTO upnsync.owned(tbl, user_id, entry, guid, run_id, added_at) VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (tbl, user_id, lower(entry)) DO UPDATE SET entry = excluded.entry, guid = excluded.guid,
			run_id = excluded.run_id, added_at = excluded.added_at`
	const disown = `DELETE FROM upnsync.owned WHERE tbl = $1 AND user_id = $2 AND lower(entry) = lower($3)`
	const journal = `INSERT INTO upnsync.journal(run_id, seq, tbl, user_id, "before", "after", guid, added, replaced, removed)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`
	now := time.Now()
	var w pgx.Batch
	var who []string // the user of each queued statement, for errors
	for i, st := range isStale {
		if st {
			continue
		}
		// In the order of the SQLite ledger (ledgerWriter.record): removals,
		// then replacements, then additions.
		c := &batch[i]
		for _, e := range c.Removed {
			w.Queue(disown, s.tableName, c.UserID, e)
			who = append(who, c.UserID)
		}
		for _, r := range c.Replaced {
			w.Queue(disown, s.tableName, c.UserID, r.Old)
			w.Queue(own, s.tableName, c.UserID, r.New, c.Person.GUID, runID, now)
			who = append(who, c.UserID, c.UserID)
		}
		for _, e := range c.Added {
			w.Queue(own, s.tableName, c.UserID, e, c.Person.GUID, runID, now)
			who = append(who, c.UserID)
		}
		seq++
		w.Queue(journal, runID, seq, s.tableName, c.UserID, c.Before, c.After, c.Person.GUID,
			jsonArray(c.Added), jsonArray(c.Replaced), jsonArray(c.Removed))
		who = append(who, c.UserID)
		written = append(written, c.UserID)
	}
	if w.Len() > 0 {
		res := tx.SendBatch(ctx, &w)
		for i := range w.Len() {
			if _, err := res.Exec(); err != nil {
				res.Close()
				return nil, nil, seq, who[i], s.explain(fmt.Sprintf("user %q: cannot record the provenance and journal", who[i]), err)
			}
		}
		if err := res.Close(); err != nil {
			return nil, nil, seq, "", s.explain("cannot record the provenance and journal", err)
		}
	}
	if testBeforeCommit != nil {
		testBeforeCommit(batchNo, tx.Conn().PgConn().PID())
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, nil, seq, "", s.explain("cannot commit", err)
	}
	return written, stale, seq, "", nil
}
