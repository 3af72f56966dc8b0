package octopus

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	upnsync "github.com/upnsync/upnsync/sync"
)

// The ledger is upnsync's own record in an SQLite database: which entries
// it added (upnsync_owned), the runs that wrote (upnsync_runs) and what
// each wrote (upnsync_journal). The embedded store keeps these tables in
// its own file, so that a write and its record are one transaction; stores
// without tables of their own keep them in a state database (state.go).

// ledgerVersion is the version of the upnsync_ tables; a database written
// by a newer upnsync is refused rather than half understood. Version 2
// added run kinds and the provenance changes of each journal entry, which
// undo needs.
const ledgerVersion = 2

// upnsync_owned.entry compares case-insensitively because UPNs do; it keeps
// the letter case it was written with. It is WITHOUT ROWID so that it is
// one b-tree in user order, read whole alongside the users.
var ledgerSchema = []string{
	`CREATE TABLE IF NOT EXISTS upnsync_owned (
		user_id  TEXT NOT NULL,
		entry    TEXT NOT NULL COLLATE NOCASE,
		guid     TEXT NOT NULL DEFAULT '',
		run_id   TEXT,
		added_at TEXT,
		PRIMARY KEY (user_id, entry)
	) WITHOUT ROWID`,
	`CREATE TABLE IF NOT EXISTS upnsync_runs (
		id          TEXT PRIMARY KEY,
		started     TEXT,
		finished    TEXT,
		directory   TEXT,
		written     INTEGER NOT NULL DEFAULT 0,
		stale       INTEGER NOT NULL DEFAULT 0,
		kind        TEXT NOT NULL DEFAULT 'sync',
		undoes      TEXT NOT NULL DEFAULT '',
		plan_sha256 TEXT NOT NULL DEFAULT '',
		forced      TEXT NOT NULL DEFAULT '',
		host        TEXT NOT NULL DEFAULT '',
		os_user     TEXT NOT NULL DEFAULT '',
		command     TEXT NOT NULL DEFAULT ''
	)`,
	`CREATE TABLE IF NOT EXISTS upnsync_journal (
		run_id   TEXT NOT NULL,
		seq      INTEGER NOT NULL,
		user_id  TEXT NOT NULL,
		"before" TEXT NOT NULL,
		"after"  TEXT NOT NULL,
		guid     TEXT NOT NULL DEFAULT '',
		added    TEXT NOT NULL DEFAULT '',
		replaced TEXT NOT NULL DEFAULT '',
		removed  TEXT NOT NULL DEFAULT '',
		PRIMARY KEY (run_id, seq)
	)`,
	`CREATE TABLE IF NOT EXISTS upnsync_meta (
		key   TEXT PRIMARY KEY,
		value TEXT
	)`,
}

// ledgerColumns are the columns version 2 added, for upgrading version 1.
var ledgerColumns = map[string][]string{
	"upnsync_runs": {"kind TEXT NOT NULL DEFAULT 'sync'", "undoes TEXT NOT NULL DEFAULT ''",
		"plan_sha256 TEXT NOT NULL DEFAULT ''", "forced TEXT NOT NULL DEFAULT ''", "host TEXT NOT NULL DEFAULT ''",
		"os_user TEXT NOT NULL DEFAULT ''", "command TEXT NOT NULL DEFAULT ''"},
	"upnsync_journal": {"guid TEXT NOT NULL DEFAULT ''", "added TEXT NOT NULL DEFAULT ''",
		"replaced TEXT NOT NULL DEFAULT ''", "removed TEXT NOT NULL DEFAULT ''"},
}

var ledgerTables = []string{"upnsync_owned", "upnsync_runs", "upnsync_journal", "upnsync_meta"}

type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// ledgerState is what inspecting a database found about its ledger.
type ledgerState struct {
	tables  map[string]bool
	version int
	// current is set when every table and column of this version exists.
	current bool
}

// inspectLedger reads the tables, columns and version of a database
// without writing to it.
func inspectLedger(ctx context.Context, q queryer) (ledgerState, error) {
	st := ledgerState{tables: map[string]bool{}}
	rows, err := q.QueryContext(ctx, `SELECT name FROM sqlite_master WHERE type = 'table'`)
	if err != nil {
		return st, err
	}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			rows.Close()
			return st, err
		}
		st.tables[name] = true
	}
	if err := rows.Err(); err != nil {
		rows.Close()
		return st, err
	}
	rows.Close()
	if st.tables["upnsync_meta"] {
		var v string
		err := q.QueryRowContext(ctx, `SELECT value FROM upnsync_meta WHERE key = 'schema_version'`).Scan(&v)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return st, err
		}
		st.version, _ = strconv.Atoi(v)
	}
	st.current = st.version == ledgerVersion
	for _, t := range ledgerTables {
		st.current = st.current && st.tables[t]
	}
	return st, nil
}

// createLedger creates or upgrades the ledger tables inside tx.
func createLedger(ctx context.Context, tx *sql.Tx) error {
	for _, stmt := range ledgerSchema {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return err
		}
	}
	for table, cols := range ledgerColumns {
		have := map[string]bool{}
		rows, err := tx.QueryContext(ctx, `SELECT name FROM pragma_table_info(?)`, table)
		if err != nil {
			return err
		}
		for rows.Next() {
			var name string
			if err := rows.Scan(&name); err != nil {
				rows.Close()
				return err
			}
			have[name] = true
		}
		rows.Close()
		for _, col := range cols {
			name, _, _ := strings.Cut(col, " ")
			if have[name] {
				continue
			}
			if _, err := tx.ExecContext(ctx, `ALTER TABLE `+table+` ADD COLUMN `+col); err != nil {
				return err
			}
		}
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO upnsync_meta(key, value) VALUES ('schema_version', ?)
		ON CONFLICT(key) DO UPDATE SET value = excluded.value`, strconv.Itoa(ledgerVersion))
	return err
}

// beginRun records a run before anything is written.
func beginRun(ctx context.Context, q queryer, run upnsync.Run) error {
	kind := run.Kind
	if kind == "" {
		kind = upnsync.RunSync
	}
	_, err := q.ExecContext(ctx, `INSERT INTO upnsync_runs(id, started, directory, written, stale, kind, undoes,
		plan_sha256, forced, host, os_user, command) VALUES (?, ?, ?, 0, 0, ?, ?, ?, ?, ?, ?, ?)`,
		run.ID, stamp(run.Started), run.Directory, kind, run.Undoes, run.PlanSHA256,
		strings.Join(run.Forced, "\n"), run.Host, run.User, run.Command)
	return err
}

// finishRun records what a run wrote; it runs even when ctx is done, so
// that the summary says what the committed batches wrote.
func finishRun(ctx context.Context, q queryer, runID string, a *upnsync.Applied) error {
	_, err := q.ExecContext(context.WithoutCancel(ctx),
		`UPDATE upnsync_runs SET finished = ?, written = ?, stale = ? WHERE id = ?`,
		stamp(time.Now()), len(a.Written), len(a.Stale), runID)
	return err
}

// ledgerWriter records the provenance and the journal entry of each change
// written, inside the caller's transaction. Added entries and journal
// entries are sent ledgerRows rows a statement: at a first run's hundreds
// of thousands of changes, what database/sql and the driver spend on each
// statement was most of an apply's time. flush sends the rows left, and
// must be called before the transaction commits; a removed entry flushes
// the added ones first, so that the rows reach the tables in the order of
// the changes.
type ledgerWriter struct {
	tx                *sql.Tx
	own, journal      *sql.Stmt // ledgerRows rows each
	disown            *sql.Stmt
	ownRows, jrnlRows []any // arguments of the rows not sent yet
	runID, now        string
	seq               int
}

// ledgerRows is how many rows one statement of a ledgerWriter sends.
const ledgerRows = 64

const (
	ownInsert = `INSERT INTO upnsync_owned(user_id, entry, guid, run_id, added_at) VALUES `
	ownUpsert = `
		ON CONFLICT(user_id, entry) DO UPDATE SET entry = excluded.entry, guid = excluded.guid,
			run_id = excluded.run_id, added_at = excluded.added_at`
	ownArgs       = 5
	journalInsert = `INSERT INTO upnsync_journal(run_id, seq, user_id, "before", "after", guid, added, replaced, removed) VALUES `
	journalArgs   = 9
)

// manyRows is a statement's VALUES list of rows rows of args arguments.
func manyRows(rows, args int) string {
	row := "(" + strings.Repeat("?, ", args-1) + "?)"
	return strings.Repeat(row+", ", rows-1) + row
}

func newLedgerWriter(ctx context.Context, tx *sql.Tx, runID string, seq int) (*ledgerWriter, error) {
	w := &ledgerWriter{tx: tx, runID: runID, seq: seq, now: stamp(time.Now())}
	var err error
	prep := func(q string) *sql.Stmt {
		if err != nil {
			return nil
		}
		var st *sql.Stmt
		st, err = tx.PrepareContext(ctx, q)
		return st
	}
	w.own = prep(ownInsert + manyRows(ledgerRows, ownArgs) + ownUpsert)
	w.disown = prep(`DELETE FROM upnsync_owned WHERE user_id = ? AND entry = ?`)
	w.journal = prep(journalInsert + manyRows(ledgerRows, journalArgs))
	if err != nil {
		w.close()
		return nil, err
	}
	return w, nil
}

func (w *ledgerWriter) close() {
	for _, st := range []*sql.Stmt{w.own, w.disown, w.journal} {
		if st != nil {
			st.Close()
		}
	}
}

// record writes, or queues, the provenance and journal of one change that
// was written. It returns what failed, for the error message.
func (w *ledgerWriter) record(ctx context.Context, c *upnsync.Change) (string, error) {
	guid := c.Person.GUID
	for _, e := range c.Removed {
		if err := w.removeOwned(ctx, c.UserID, e); err != nil {
			return "cannot record the removal of " + e, err
		}
	}
	for _, r := range c.Replaced {
		if err := w.removeOwned(ctx, c.UserID, r.Old); err != nil {
			return "cannot record the provenance of " + r.New, err
		}
		if err := w.queue(ctx, &w.ownRows, w.own, ownArgs, c.UserID, r.New, guid, w.runID, w.now); err != nil {
			return "cannot record the provenance of " + r.New, err
		}
	}
	for _, e := range c.Added {
		if err := w.queue(ctx, &w.ownRows, w.own, ownArgs, c.UserID, e, guid, w.runID, w.now); err != nil {
			return "cannot record the provenance of " + e, err
		}
	}
	w.seq++
	err := w.queue(ctx, &w.jrnlRows, w.journal, journalArgs, w.runID, w.seq, c.UserID, c.Before, c.After, guid,
		jsonList(c.Added), jsonList(c.Replaced), jsonList(c.Removed))
	if err != nil {
		return "cannot journal the change", err
	}
	return "", nil
}

// removeOwned deletes an owned entry, after the entries queued to be
// added (one of them may be the same).
func (w *ledgerWriter) removeOwned(ctx context.Context, userID, entry string) error {
	if err := w.send(ctx, &w.ownRows, ownInsert, ownArgs, ownUpsert); err != nil {
		return err
	}
	_, err := w.disown.ExecContext(ctx, userID, entry)
	return err
}

// queue adds one row's arguments to rows, and sends ledgerRows rows with
// full when they are that many.
func (w *ledgerWriter) queue(ctx context.Context, rows *[]any, full *sql.Stmt, n int, args ...any) error {
	*rows = append(*rows, args...)
	if len(*rows) < ledgerRows*n {
		return nil
	}
	_, err := full.ExecContext(ctx, *rows...)
	*rows = (*rows)[:0]
	return err
}

// send sends the rows queued in rows, of n arguments each, in one
// statement.
func (w *ledgerWriter) send(ctx context.Context, rows *[]any, insert string, n int, tail string) error {
	if len(*rows) == 0 {
		return nil
	}
	_, err := w.tx.ExecContext(ctx, insert+manyRows(len(*rows)/n, n)+tail, *rows...)
	*rows = (*rows)[:0]
	return err
}

// flush sends the rows queued; call it before the transaction commits.
func (w *ledgerWriter) flush(ctx context.Context) (string, error) {
	if err := w.send(ctx, &w.ownRows, ownInsert, ownArgs, ownUpsert); err != nil {
		return "cannot record the provenance of the changes", err
	}
	if err := w.send(ctx, &w.jrnlRows, journalInsert, journalArgs, ""); err != nil {
		return "cannot journal the changes", err
	}
	return "", nil
}

func jsonList[T any](list []T) string {
	if len(list) == 0 {
		return ""
	}
	if ss, ok := any(list).([]string); ok && plainJSON(ss) {
		// What json.Marshal writes, without it: a UPN added, once per change.
		return `["` + strings.Join(ss, `","`) + `"]`
	}
	b, _ := json.Marshal(list)
	return string(b)
}

// plainJSON reports whether json.Marshal writes each string as it is
// between quotes: printable ASCII but ", \ and the <, > and & it escapes.
func plainJSON(list []string) bool {
	for _, s := range list {
		for i := 0; i < len(s); i++ {
			if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
				return false
			}
		}
	}
	return true
}

func fromJSONList[T any](s string, what string) ([]T, error) {
	if s == "" {
		return nil, nil
	}
	var out []T
	if err := json.Unmarshal([]byte(s), &out); err != nil {
		return nil, fmt.Errorf("the journal's %s column holds %q, which is not a JSON list", what, s)
	}
	return out, nil
}

const runColumns = `id, COALESCE(started, ''), COALESCE(finished, ''), COALESCE(directory, ''), written, stale,
	kind, undoes, plan_sha256, forced, host, os_user, command,
	COALESCE((SELECT group_concat(u.id, ' ') FROM upnsync_runs u WHERE u.undoes = r.id AND u.id <> r.id), '')`

// runColumnsV1 reads a version 1 ledger (opened read-only, not upgraded).
const runColumnsV1 = `id, COALESCE(started, ''), COALESCE(finished, ''), COALESCE(directory, ''), written, stale,
	'sync', '', '', '', '', '', '', ''`

func scanRun(rows interface{ Scan(...any) error }) (upnsync.RunInfo, error) {
	var r upnsync.RunInfo
	var started, finished, forced, undoneBy string
	err := rows.Scan(&r.ID, &started, &finished, &r.Directory, &r.Written, &r.Stale,
		&r.Kind, &r.Undoes, &r.PlanSHA256, &forced, &r.Host, &r.User, &r.Command, &undoneBy)
	if err != nil {
		return r, err
	}
	r.Started, _ = time.Parse(time.RFC3339Nano, started)
	r.Finished, _ = time.Parse(time.RFC3339Nano, finished)
	if forced != "" {
		r.Forced = strings.Split(forced, "\n")
	}
	r.UndoneBy = strings.Fields(undoneBy)
	return r, nil
}

// listRuns streams the runs, newest first.
func listRuns(ctx context.Context, q queryer, st ledgerState, fn func(upnsync.RunInfo) error) error {
	if !st.tables["upnsync_runs"] {
		return nil
	}
	cols := runColumns
	if st.version < 2 {
		cols = runColumnsV1
	}
	rows, err := q.QueryContext(ctx, `SELECT `+cols+` FROM upnsync_runs r ORDER BY started DESC, id DESC`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return err
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	return rows.Err()
}

// errNoRun is wrapped when a run id is not recorded.
var errNoRun = errors.New("no such run")

// runJournal returns a run and streams its journal in order.
func runJournal(ctx context.Context, q queryer, st ledgerState, runID string, fn func(upnsync.JournalEntry) error) (upnsync.RunInfo, error) {
	if !st.tables["upnsync_runs"] {
		return upnsync.RunInfo{}, fmt.Errorf("run %s: %w (nothing was ever applied to this store)", runID, errNoRun)
	}
	cols := runColumns
	if st.version < 2 {
		cols = runColumnsV1
	}
	info, err := scanRun(q.QueryRowContext(ctx, `SELECT `+cols+` FROM upnsync_runs r WHERE id = ?`, runID))
	if errors.Is(err, sql.ErrNoRows) {
		return info, fmt.Errorf("run %s: %w; `upnsync runs` lists the recorded runs", runID, errNoRun)
	}
	if err != nil {
		return info, err
	}
	jcols := `seq, user_id, "before", "after", guid, added, replaced, removed`
	if st.version < 2 {
		jcols = `seq, user_id, "before", "after", '', '', '', ''`
	}
	rows, err := q.QueryContext(ctx, `SELECT `+jcols+` FROM upnsync_journal WHERE run_id = ? ORDER BY seq`, runID)
	if err != nil {
		return info, err
	}
	defer rows.Close()
	for rows.Next() {
		var e upnsync.JournalEntry
		var added, replaced, removed string
		if err := rows.Scan(&e.Seq, &e.UserID, &e.Before, &e.After, &e.GUID, &added, &replaced, &removed); err != nil {
			return info, err
		}
		if e.Added, err = fromJSONList[string](added, "added"); err != nil {
			return info, err
		}
		if e.Replaced, err = fromJSONList[upnsync.Replacement](replaced, "replaced"); err != nil {
			return info, err
		}
		if e.Removed, err = fromJSONList[string](removed, "removed"); err != nil {
			return info, err
		}
		if err := fn(e); err != nil {
			return info, err
		}
	}
	return info, rows.Err()
}

// stampLayout is RFC 3339 with a fixed nine-digit fraction: RFC3339Nano
// drops trailing zeros, and then text order is not time order.
const stampLayout = "2006-01-02T15:04:05.000000000Z07:00"

// stamp formats times in the ledger: UTC, sortable as text.
func stamp(t time.Time) string { return t.UTC().Format(stampLayout) }
