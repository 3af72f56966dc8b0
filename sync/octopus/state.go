package octopus

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/upnsync/upnsync/internal/plural"
	upnsync "github.com/upnsync/upnsync/sync"
)

// StateSuffix names the default state database of a file store:
// OUT.xlsx keeps its state in OUT.xlsx.upnsync-state.db beside it.
const StateSuffix = ".upnsync-state.db"

// LockSuffix names the run lock beside a state database (or beside the
// embedded store, which is its own state database).
const LockSuffix = ".lock"

// State says where a store keeps upnsync's record (what it added, the runs
// and their journal) and so where the run lock lives.
type State struct {
	// Path is the SQLite file holding the record: the store itself for
	// sqlite:, else the state database. Empty for a PostgreSQL store,
	// which keeps its record in its own schema.
	Path string
	// Own is set when the store keeps the record in its own tables.
	Own bool
	// InDatabase is set when the run lock is taken in the store's
	// database (PostgreSQL: an advisory lock) rather than on a file.
	InDatabase bool
}

// LockPath is the run lock's file, beside the record; "" when the lock is
// not a file (InDatabase).
func (s State) LockPath() string {
	if s.Path == "" || s.InDatabase {
		return ""
	}
	return s.Path + LockSuffix
}

// StateOf tells where the store a --store URL names keeps its record.
// statePath is --state: the state database for stores without tables of
// their own (default: beside the store); the stores with tables of their
// own (sqlite:, postgres://) refuse it.
func StateOf(url, statePath string) (State, error) {
	kind, loc, err := ParseURL(url)
	if err != nil {
		return State{}, err
	}
	abs := func(p string) (string, error) {
		a, err := filepath.Abs(p)
		if err != nil {
			return "", fmt.Errorf("--state %s: cannot resolve the path: %v", p, err)
		}
		return a, nil
	}
	switch kind {
	case KindSQLite:
		if statePath != "" {
			return State{}, fmt.Errorf("--state %s: the store %s keeps what upnsync added, its runs and its lock in and beside its own file; --state is for stores without tables of their own (dataimporter:); leave it out",
				statePath, url)
		}
		p, err := abs(loc)
		return State{Path: p, Own: true}, err
	case KindPostgres:
		if statePath != "" {
			return State{}, fmt.Errorf("--state %s: the store %s keeps what upnsync added and its runs in schema %s of its database, and takes its run lock there; --state is for stores without tables of their own (dataimporter:); leave it out",
				statePath, redactPostgres(url), pgSchema)
		}
		return State{Own: true, InDatabase: true}, nil
	}
	if statePath == "" {
		statePath = loc + StateSuffix
	}
	p, err := abs(statePath)
	return State{Path: p}, err
}

// StateDB is a state database: the ledger tables in an SQLite file of
// their own, for stores that have no tables to keep them in (a DataImporter
// workbook). Writing a store and recording it here are two steps, so a
// crash between them loses the record of that write: the entries then look
// typed by a person, and upnsync never replaces or removes them. That is
// the safe way to fail.
//
// Opening it writes nothing: the file is created, or its tables upgraded,
// by the first run that records something (BeginRun), so that a dry run or
// `upnsync doctor` leaves no file behind.
type StateDB struct {
	path     string
	readOnly bool
	db       *sql.DB // nil while the file does not exist
	ledger   ledgerState
}

// OpenState opens the state database at path (a missing file is an empty
// record until the first write creates it).
func OpenState(ctx context.Context, path string, readOnly bool) (*StateDB, error) {
	st := &StateDB{path: path, readOnly: readOnly}
	_, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if d, err := os.Stat(filepath.Dir(path)); !readOnly && (err != nil || !d.IsDir()) {
			return nil, fmt.Errorf("state database %s: the folder %s does not exist; create it or give --state another path", path, filepath.Dir(path))
		}
		return st, nil // nothing recorded yet: nothing owned, no runs
	case err != nil:
		return nil, fmt.Errorf("state database %s: %v", path, pathErr(err))
	}
	if err := st.open(ctx, false); err != nil {
		return nil, err
	}
	return st, nil
}

// open opens the file: read-only or read-write as the StateDB was opened,
// and creating it when create is set.
func (st *StateDB) open(ctx context.Context, create bool) error {
	mode := "rw"
	switch {
	case st.readOnly:
		mode = "ro"
	case create:
		mode = "rwc"
	}
	abs, err := filepath.Abs(st.path)
	if err != nil {
		return fmt.Errorf("state database %s: %v", st.path, err)
	}
	if create {
		if _, err := createDatabaseFile(abs); err != nil {
			return fmt.Errorf("state database %s: cannot create it: %v", st.path, pathErr(err))
		}
	}
	db, err := sql.Open("sqlite", fileURI(abs)+"?mode="+mode+"&_pragma=busy_timeout("+
		strconv.FormatInt(DefaultBusyTimeout.Milliseconds(), 10)+")&_txlock=immediate")
	if err != nil {
		return fmt.Errorf("state database %s: %v", st.path, err)
	}
	db.SetMaxOpenConns(1)
	if st.ledger, err = inspectLedger(ctx, db); err != nil {
		db.Close()
		return fmt.Errorf("state database %s: cannot read it: %v; is it an SQLite file?", st.path, err)
	}
	if st.ledger.version > ledgerVersion {
		db.Close()
		return fmt.Errorf("state database %s was written by a newer upnsync (schema version %d, this one knows %d); use that version or newer",
			st.path, st.ledger.version, ledgerVersion)
	}
	st.db = db
	return nil
}

// opened opens the file if another run created it since: a missing file
// is an empty record only until it exists.
func (st *StateDB) opened(ctx context.Context) error {
	if st.db != nil {
		return nil
	}
	if _, err := os.Stat(st.path); err != nil {
		return nil
	}
	return st.open(ctx, false)
}

// ensure creates the file or upgrades its tables, before a first record.
func (st *StateDB) ensure(ctx context.Context) error {
	if st.db == nil {
		if err := st.open(ctx, true); err != nil {
			return err
		}
	}
	if st.ledger.current {
		return nil
	}
	tx, err := st.db.BeginTx(ctx, nil)
	if err == nil {
		if err = createLedger(ctx, tx); err == nil {
			err = tx.Commit()
		} else {
			tx.Rollback()
		}
	}
	if err != nil {
		return fmt.Errorf("state database %s: cannot create its tables: %v", st.path, err)
	}
	if st.ledger, err = inspectLedger(ctx, st.db); err != nil {
		return fmt.Errorf("state database %s: %v", st.path, err)
	}
	return nil
}

// Path is the state database's file.
func (st *StateDB) Path() string { return st.path }

// Close closes the file.
func (st *StateDB) Close() error {
	if st.db == nil {
		return nil
	}
	err := st.db.Close()
	st.db = nil
	return err
}

func (st *StateDB) fail(what string, err error) error {
	if hint, ok := sqliteHint(err, st.path, DefaultBusyTimeout); ok {
		return fmt.Errorf("state database %s: %s: %s: %w", st.path, what, hint, err)
	}
	return fmt.Errorf("state database %s: %s: %w", st.path, what, err)
}

// Owned returns what upnsync added, by user id. It holds one row per
// entry added, so it grows with the Octopus users, never the directory.
func (st *StateDB) Owned(ctx context.Context) (map[string][]upnsync.Owned, error) {
	out := map[string][]upnsync.Owned{}
	if err := st.opened(ctx); err != nil {
		return nil, err
	}
	if st.db == nil || !st.ledger.tables["upnsync_owned"] {
		return out, nil
	}
	rows, err := st.db.QueryContext(ctx, `SELECT user_id, entry, guid FROM upnsync_owned ORDER BY user_id, entry`)
	if err != nil {
		return nil, st.fail("cannot read what upnsync added", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var o upnsync.Owned
		if err := rows.Scan(&id, &o.Entry, &o.GUID); err != nil {
			return nil, st.fail("cannot read what upnsync added", err)
		}
		out[id] = append(out[id], o)
	}
	if err := rows.Err(); err != nil {
		return nil, st.fail("cannot read what upnsync added", err)
	}
	return out, nil
}

func (st *StateDB) writable(what string) error {
	if st.readOnly {
		return fmt.Errorf("state database %s: %s: it was opened read-only (dry run); nothing was written", st.path, what)
	}
	if st.db == nil || !st.ledger.current {
		return fmt.Errorf("state database %s: %s: no run was begun", st.path, what)
	}
	return nil
}

// BeginRun records a run before its store writes anything; the first one
// creates the file.
func (st *StateDB) BeginRun(ctx context.Context, run upnsync.Run) error {
	if st.readOnly {
		return st.writable("cannot record run " + run.ID)
	}
	if err := st.ensure(ctx); err != nil {
		return err
	}
	if err := beginRun(ctx, st.db, run); err != nil {
		var se *sqlite.Error
		if errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_CONSTRAINT {
			return fmt.Errorf("state database %s: run %s is already recorded; each apply needs a new run id; nothing was written", st.path, run.ID)
		}
		return st.fail("cannot record run "+run.ID+"; nothing was written", err)
	}
	return nil
}

// Record writes the provenance and journal of the changes a store wrote,
// in one transaction.
func (st *StateDB) Record(ctx context.Context, runID string, written []upnsync.Change) error {
	if err := st.writable("cannot record run " + runID); err != nil {
		return err
	}
	if len(written) == 0 {
		return nil
	}
	// The store has written already: record even if ctx was cancelled.
	ctx = context.WithoutCancel(ctx)
	tx, err := st.db.BeginTx(ctx, nil)
	if err != nil {
		return st.fail("cannot record run "+runID, err)
	}
	defer tx.Rollback()
	var seq int
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), 0) FROM upnsync_journal WHERE run_id = ?`, runID).Scan(&seq); err != nil {
		return st.fail("cannot record run "+runID, err)
	}
	lw, err := newLedgerWriter(ctx, tx, runID, seq)
	if err != nil {
		return st.fail("cannot record run "+runID, err)
	}
	defer lw.close()
	for i := range written {
		if what, err := lw.record(ctx, &written[i]); err != nil {
			return st.fail(fmt.Sprintf("user %q: %s", written[i].UserID, what), err)
		}
	}
	if what, err := lw.flush(ctx); err != nil {
		return st.fail(what, err)
	}
	if err := tx.Commit(); err != nil {
		return st.fail("cannot record run "+runID, err)
	}
	return nil
}

// FinishRun records what a run wrote.
func (st *StateDB) FinishRun(ctx context.Context, runID string, a *upnsync.Applied) error {
	if err := st.writable("cannot record run " + runID); err != nil {
		return err
	}
	if err := finishRun(ctx, st.db, runID, a); err != nil {
		return st.fail("cannot record the end of run "+runID, err)
	}
	return nil
}

// Runs lists the recorded runs, newest first.
func (st *StateDB) Runs(ctx context.Context, fn func(upnsync.RunInfo) error) error {
	if err := st.opened(ctx); err != nil {
		return err
	}
	if st.db == nil {
		return nil
	}
	if err := listRuns(ctx, st.db, st.ledger, fn); err != nil {
		return st.fail("cannot read the recorded runs", err)
	}
	return nil
}

// RunJournal returns a run and streams its journal.
func (st *StateDB) RunJournal(ctx context.Context, runID string, fn func(upnsync.JournalEntry) error) (upnsync.RunInfo, error) {
	if err := st.opened(ctx); err != nil {
		return upnsync.RunInfo{}, err
	}
	if st.db == nil {
		return upnsync.RunInfo{}, fmt.Errorf("state database %s: run %s: %w (nothing was ever applied with this state database)", st.path, runID, errNoRun)
	}
	info, err := runJournal(ctx, st.db, st.ledger, runID, fn)
	if errors.Is(err, errNoRun) {
		return info, fmt.Errorf("state database %s: %w", st.path, err)
	}
	if err != nil {
		return info, st.fail("cannot read the journal of run "+runID, err)
	}
	return info, nil
}

// WithState gives a store that has no tables of its own (its Users report
// no Owned entries and its Apply only writes, compare-and-swap) upnsync's
// record in a state database: Users carry what upnsync added, Apply
// records provenance and journal of what was written, and the result is a
// upnsync.Journal for `upnsync runs` and `upnsync undo`.
func WithState(inner Store, st *StateDB) Store {
	return &stateStore{Store: inner, st: st}
}

type stateStore struct {
	Store
	st *StateDB
}

var _ upnsync.Journal = (*stateStore)(nil)

func (w *stateStore) Users(ctx context.Context, fn func(upnsync.User) error) error {
	owned, err := w.st.Owned(ctx)
	if err != nil {
		return err
	}
	return w.Store.Users(ctx, func(u upnsync.User) error {
		u.Owned = owned[u.ID]
		return fn(u)
	})
}

func (w *stateStore) Apply(ctx context.Context, run upnsync.Run, changes upnsync.Changes) (upnsync.Applied, error) {
	// As every store says it: a dry run's store refuses before anything.
	if w.st.readOnly {
		return upnsync.Applied{RunID: run.ID}, fmt.Errorf("store %s: cannot apply changes: the store was opened read-only (dry run); nothing was written", w.Describe())
	}
	if err := w.st.BeginRun(ctx, run); err != nil {
		return upnsync.Applied{RunID: run.ID}, err
	}
	a, err := w.Store.Apply(ctx, run, changes)
	a.RunID = run.ID
	written := make(map[string]bool, len(a.Written))
	for _, id := range a.Written {
		written[id] = true
	}
	done := make([]upnsync.Change, 0, len(a.Written))
	for _, c := range changes.All() {
		if written[c.UserID] {
			done = append(done, c)
		}
	}
	recErr := w.st.Record(ctx, run.ID, done)
	finErr := w.st.FinishRun(ctx, run.ID, &a)
	switch {
	case err != nil:
		return a, err
	case recErr != nil:
		return a, fmt.Errorf("%w; %s written to %s, but what upnsync added to %s is not recorded, so it will treat those entries as typed by a person", recErr,
			map[bool]string{true: "1 user was", false: plural.Count(len(done), "user") + " were"}[len(done) == 1], w.Store.Describe(),
			map[bool]string{true: "it", false: "them"}[len(done) == 1])
	case finErr != nil:
		return a, finErr
	}
	return a, nil
}

func (w *stateStore) Runs(ctx context.Context, fn func(upnsync.RunInfo) error) error {
	return w.st.Runs(ctx, fn)
}

func (w *stateStore) RunJournal(ctx context.Context, runID string, fn func(upnsync.JournalEntry) error) (upnsync.RunInfo, error) {
	return w.st.RunJournal(ctx, runID, fn)
}

// Vet and NextSteps pass on what the wrapped store says, so that wrapping
// it in its state database hides none of its own rules.
func (w *stateStore) Vet(changes upnsync.Changes) map[int]upnsync.Conflict {
	if v, ok := w.Store.(Vetter); ok {
		return v.Vet(changes)
	}
	return nil
}

func (w *stateStore) NextSteps(applied *upnsync.Applied) []string {
	if g, ok := w.Store.(Guide); ok {
		return g.NextSteps(applied)
	}
	return nil
}

// CheckWritable proves an apply could write both the store (when it can
// tell) and its state database, without writing either: the state
// database's folder takes new files (SQLite writes its journal there) and
// the file, when it exists, opens read-write.
func (w *stateStore) CheckWritable(ctx context.Context) error {
	if w.st.readOnly {
		return fmt.Errorf("store %s: it cannot be written: the store was opened read-only (dry run)", w.Describe())
	}
	if wc, ok := w.Store.(WriteChecker); ok {
		if err := wc.CheckWritable(ctx); err != nil {
			return err
		}
	}
	dir := filepath.Dir(w.st.path)
	f, err := os.CreateTemp(dir, ".upnsync-check-*.tmp")
	if err != nil {
		return fmt.Errorf("state database %s: its folder %s does not take new files (%v); make it writable for this account, or give --state another path",
			w.st.path, dir, pathErr(err))
	}
	name := f.Name()
	f.Close()
	if err := os.Remove(name); err != nil {
		return fmt.Errorf("state database %s: cannot remove the test file %s: %v", w.st.path, name, pathErr(err))
	}
	if w.st.db != nil {
		f, err := os.OpenFile(w.st.path, os.O_RDWR, 0)
		if err != nil {
			return fmt.Errorf("state database %s: cannot be written (%v); make it writable for this account", w.st.path, pathErr(err))
		}
		f.Close()
	}
	return nil
}

func (w *stateStore) Describe() string {
	return w.Store.Describe() + " (state " + w.st.path + ")"
}

func (w *stateStore) Close() error {
	err := w.Store.Close()
	if e := w.st.Close(); err == nil {
		err = e
	}
	return err
}

func pathErr(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return strings.TrimSpace(err.Error())
}
