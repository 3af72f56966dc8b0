package octopus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	upnsync "github.com/upnsync/upnsync/sync"
)

// The PostgreSQL store keeps the same record as the SQLite ledger
// (ledger.go) in schema upnsync: `upnsync runs` and `upnsync undo` read it
// here.

var _ upnsync.Journal = (*pgStore)(nil)

// jsonArray is a list as a jsonb value: [] when empty, so that the column
// is never NULL.
func jsonArray[T any](list []T) string {
	if len(list) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(list)
	return string(b)
}

// fromJSONArray reads a jsonb list; an empty one is nil, as the SQLite
// ledger gives it, so that both stores hand undo the same values.
func fromJSONArray[T any](s, what string) ([]T, error) {
	var out []T
	if err := json.Unmarshal([]byte(s), &out); err != nil {
		return nil, fmt.Errorf("the journal's %s column holds %q, which is not a JSON list", what, s)
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// pgRunColumns reads a run row; version 1 of the schema had no kind and no
// record of who ran it, and is read as it is by a dry run (only a write
// upgrades it).
func (s *pgStore) pgRunColumns() string {
	undone := `COALESCE((SELECT string_agg(u.id, ' ' ORDER BY u.started, u.id) FROM upnsync.runs u
		WHERE u.tbl = r.tbl AND u.undoes = r.id AND u.id <> r.id), '')`
	if s.version < 2 {
		return `r.id, r.started, r.finished, COALESCE(r.directory, ''), r.written, r.stale,
			'sync', '', '', '[]', '', '', '', ''`
	}
	return `r.id, r.started, r.finished, COALESCE(r.directory, ''), r.written, r.stale,
		r.kind, r.undoes, r.plan_sha256, r.forced::text, r.host, r.os_user, r.command, ` + undone
}

func scanPgRun(row pgx.Row) (upnsync.RunInfo, error) {
	var r upnsync.RunInfo
	var started, finished *time.Time
	var forced, undoneBy string
	err := row.Scan(&r.ID, &started, &finished, &r.Directory, &r.Written, &r.Stale,
		&r.Kind, &r.Undoes, &r.PlanSHA256, &forced, &r.Host, &r.User, &r.Command, &undoneBy)
	if err != nil {
		return r, err
	}
	if started != nil {
		r.Started = *started
	}
	if finished != nil {
		r.Finished = *finished
	}
	if r.Forced, err = fromJSONArray[string](forced, "forced"); err != nil {
		return r, err
	}
	r.UndoneBy = strings.Fields(undoneBy)
	return r, nil
}

// Runs lists the runs recorded for this store's table, newest first. See
// upnsync.Journal.
func (s *pgStore) Runs(ctx context.Context, fn func(upnsync.RunInfo) error) error {
	if s.pool == nil {
		return fmt.Errorf("store %s: the store is closed", s.Describe())
	}
	if !s.hasRuns {
		return nil
	}
	rows, err := s.pool.Query(ctx, `SELECT `+s.pgRunColumns()+` FROM upnsync.runs r WHERE r.tbl = $1
		ORDER BY r.started DESC NULLS LAST, r.id DESC`, s.tableName)
	if err != nil {
		return s.explain("cannot read the recorded runs", err)
	}
	defer rows.Close()
	for rows.Next() {
		r, err := scanPgRun(rows)
		if err != nil {
			return s.explain("cannot read the recorded runs", err)
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return s.explain("cannot read the recorded runs", err)
	}
	return nil
}

// RunJournal returns a run of this store's table and streams what it
// wrote, in order. See upnsync.Journal.
func (s *pgStore) RunJournal(ctx context.Context, runID string, fn func(upnsync.JournalEntry) error) (upnsync.RunInfo, error) {
	if s.pool == nil {
		return upnsync.RunInfo{}, fmt.Errorf("store %s: the store is closed", s.Describe())
	}
	if !s.hasRuns {
		return upnsync.RunInfo{}, fmt.Errorf("store %s: run %s: %w (nothing was ever applied to this store)", s.Describe(), runID, errNoRun)
	}
	info, err := scanPgRun(s.pool.QueryRow(ctx, `SELECT `+s.pgRunColumns()+` FROM upnsync.runs r WHERE r.id = $1 AND r.tbl = $2`, runID, s.tableName))
	if errors.Is(err, pgx.ErrNoRows) {
		return info, fmt.Errorf("store %s: run %s: %w; `upnsync runs` lists the recorded runs", s.Describe(), runID, errNoRun)
	}
	if err != nil {
		return info, s.explain("cannot read run "+runID, err)
	}
	cols := `seq, user_id, "before", "after", guid, added::text, replaced::text, removed::text`
	if s.version < 2 {
		cols = `seq, user_id, "before", "after", '', '[]', '[]', '[]'`
	}
	rows, err := s.pool.Query(ctx, `SELECT `+cols+` FROM upnsync.journal WHERE run_id = $1 AND tbl = $2 ORDER BY seq`, runID, s.tableName)
	if err != nil {
		return info, s.explain("cannot read the journal of run "+runID, err)
	}
	defer rows.Close()
	for rows.Next() {
		var e upnsync.JournalEntry
		var added, replaced, removed string
		if err := rows.Scan(&e.Seq, &e.UserID, &e.Before, &e.After, &e.GUID, &added, &replaced, &removed); err != nil {
			return info, s.explain("cannot read the journal of run "+runID, err)
		}
		if e.Added, err = fromJSONArray[string](added, "added"); err == nil {
			if e.Replaced, err = fromJSONArray[upnsync.Replacement](replaced, "replaced"); err == nil {
				e.Removed, err = fromJSONArray[string](removed, "removed")
			}
		}
		if err != nil {
			return info, fmt.Errorf("store %s: run %s, entry %d: %v", s.Describe(), runID, e.Seq, err)
		}
		if err := fn(e); err != nil {
			return info, err
		}
	}
	if err := rows.Err(); err != nil {
		return info, s.explain("cannot read the journal of run "+runID, err)
	}
	return info, nil
}
