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
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/upnsync/upnsync/internal/atomicfile"
	upnsync "github.com/upnsync/upnsync/sync"
)

// The users table has the columns of Octopus's user import; upnsync's own
// tables are the ledger (ledger.go). users is WITHOUT ROWID so that it is
// one b-tree in id order: every run reads it whole in that order, and the
// read of 100k users took 1.6 times as long through the separate index of a
// rowid table.
const usersSchema = `CREATE TABLE IF NOT EXISTS users (
		id                TEXT PRIMARY KEY,
		first_name        TEXT,
		last_name         TEXT,
		email             TEXT,
		windows_usernames TEXT NOT NULL DEFAULT '',
		external_id       TEXT,
		active            INTEGER NOT NULL DEFAULT 1
	) WITHOUT ROWID`

// sqliteStore is the embedded store: one SQLite file in the default
// rollback-journal mode, so that a read-only open leaves every byte of it as
// it was (WAL would need the -shm file written even to read).
type sqliteStore struct {
	db   *sql.DB
	path string // as the administrator wrote it: errors and reports quote it
	abs  string

	readOnly bool
	// fileReadOnly is set when SQLite could only open the file for reading
	// (file permissions): writes are refused up front with a clear message.
	fileReadOnly bool
	// pending is set while a store opened with Create has no file yet: it is
	// created by the first write, so that an import that fails validation
	// leaves nothing behind.
	pending bool
	// ledger is what the file holds of upnsync's tables (a store from
	// elsewhere, opened read-only, may lack them).
	ledger ledgerState
	// schemaReady is set once every table of this version is known to exist.
	schemaReady bool

	batch int
	busy  time.Duration
}

var _ Store = (*sqliteStore)(nil)

func openSQLite(ctx context.Context, path string, opts Options) (*sqliteStore, error) {
	if path == ":memory:" || strings.HasPrefix(path, "file:") {
		return nil, fmt.Errorf("store sqlite:%s: give the path of a database file (sqlite:PATH)", path)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("store sqlite:%s: cannot resolve the path: %v", path, err)
	}
	s := &sqliteStore{
		path:     path,
		abs:      abs,
		readOnly: opts.ReadOnly,
		batch:    opts.BatchSize,
		busy:     opts.BusyTimeout,
	}
	if s.batch <= 0 {
		s.batch = DefaultBatchSize
	}
	if s.busy <= 0 {
		s.busy = DefaultBusyTimeout
	}

	mode := "rw"
	switch st, err := os.Stat(abs); {
	case err == nil && st.IsDir():
		return nil, fmt.Errorf("store %s: %s is a folder, not a database file", s.Describe(), s.where())
	case err == nil:
	case errors.Is(err, fs.ErrNotExist):
		if opts.ReadOnly || !opts.Create {
			return nil, fmt.Errorf("store %s: the database file %s does not exist; create it with `upnsync store import --store sqlite:%s FILE.csv`",
				s.Describe(), s.where(), path)
		}
		dir := filepath.Dir(abs)
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			return nil, fmt.Errorf("store %s: the folder %s does not exist; create it first", s.Describe(), dir)
		}
		s.pending = true
		mode = "rwc"
	default:
		return nil, fmt.Errorf("store %s: cannot read %s: %v", s.Describe(), s.where(), err)
	}
	if opts.ReadOnly {
		mode = "ro"
	}

	// A file: URI because only then does SQLite honour mode=ro (a plain name
	// would open read-write and could create the file). busy_timeout makes a
	// concurrent writer a wait, not an immediate failure; _txlock=immediate
	// takes the write lock when a write transaction begins, where the busy
	// timeout applies, instead of failing on the upgrade mid-transaction.
	dsn := fileURI(abs) + "?mode=" + mode +
		"&_pragma=busy_timeout(" + strconv.FormatInt(s.busy.Milliseconds(), 10) + ")"
	if !opts.ReadOnly {
		dsn += "&_txlock=immediate"
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("store %s: %v", s.Describe(), err)
	}
	// One connection: SQLite serialises writers anyway, and a single
	// connection keeps read and write transactions of this process from
	// locking each other out.
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	s.db = db

	if s.pending {
		return s, nil
	}
	if err := s.inspect(ctx, opts); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// inspect checks an existing file without writing to it: it is a database,
// it holds users, its schema is one we understand.
func (s *sqliteStore) inspect(ctx context.Context, opts Options) error {
	ledger, err := inspectLedger(ctx, s.db)
	if err != nil {
		return s.explain("cannot read its tables", err)
	}
	tables := ledger.tables
	if !tables["users"] && (opts.ReadOnly || !opts.Create) {
		return fmt.Errorf("store %s: %s has no users table, so it is not an upnsync store; create one with `upnsync store import --store sqlite:%s FILE.csv`",
			s.Describe(), s.where(), s.path)
	}
	if ledger.version > ledgerVersion {
		return fmt.Errorf("store %s: %s was written by a newer upnsync (schema version %d, this one knows %d); use that version or newer",
			s.Describe(), s.where(), ledger.version, ledgerVersion)
	}
	s.ledger = ledger
	s.schemaReady = tables["users"] && ledger.current

	if !opts.ReadOnly {
		ro, err := s.connReadOnly(ctx)
		if err != nil {
			return s.explain("cannot open it", err)
		}
		s.fileReadOnly = ro
		if opts.Create && !ro {
			if err := s.ensureSchema(ctx); err != nil {
				return err
			}
		}
	}
	return nil
}

// connReadOnly asks SQLite whether it had to fall back to opening the file
// read-only, which it does silently when the file is write-protected.
func (s *sqliteStore) connReadOnly(ctx context.Context) (bool, error) {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return false, err
	}
	defer conn.Close()
	var ro bool
	err = conn.Raw(func(dc any) error {
		c, ok := dc.(interface{ IsReadOnly(string) (bool, error) })
		if !ok {
			return nil
		}
		var err error
		ro, err = c.IsReadOnly("main")
		return err
	})
	return ro, err
}

// ensureSchema creates whatever tables are missing; it is the only place
// the store's file is created.
func (s *sqliteStore) ensureSchema(ctx context.Context) error {
	if s.schemaReady {
		return nil
	}
	if s.pending {
		created, err := createDatabaseFile(s.abs)
		if err != nil {
			return s.explain("cannot create its file", err)
		}
		if created {
			defer func() {
				if s.pending { // the tables were not made: leave nothing
					removeDatabaseFile(s.abs)
				}
			}()
		}
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return s.explain("cannot create its tables", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, usersSchema); err != nil {
		return s.explain("cannot create its tables", err)
	}
	if err := createLedger(ctx, tx); err != nil {
		return s.explain("cannot create or upgrade upnsync's tables", err)
	}
	if err := tx.Commit(); err != nil {
		return s.explain("cannot create its tables", err)
	}
	s.pending, s.schemaReady = false, true
	s.ledger, err = inspectLedger(ctx, s.db)
	if err != nil {
		return s.explain("cannot read its tables", err)
	}
	return nil
}

// createDatabaseFile creates an empty SQLite database file at path,
// readable by its owner only whatever the umask (atomicfile.Private): it
// holds every user's name, e-mail and usernames. SQLite takes an empty
// file for a new database, and gives its journal (-journal, or -wal and
// -shm) the mode of the database file. created is false when the file
// exists already.
func createDatabaseFile(path string) (created bool, err error) {
	f, err := atomicfile.CreateNew(path, atomicfile.Private)
	if errors.Is(err, fs.ErrExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return true, f.Close()
}

// removeDatabaseFile removes a database file this process created and
// could not make into a store, with its journal.
func removeDatabaseFile(path string) {
	for _, suffix := range []string{"", "-journal", "-wal", "-shm"} {
		os.Remove(path + suffix)
	}
}

// fileURI turns an absolute path into an SQLite URI filename.
func fileURI(abs string) string { return slashURI(filepath.ToSlash(abs)) }

// slashURI builds the URI from a path with forward slashes. '?', '#' and
// '%' would end or alter the path, so they are escaped; Windows paths become
// file:///C:/dir/file.db and \\server\share paths file:////server/share.
func slashURI(p string) string {
	var b strings.Builder
	b.WriteString("file://")
	if !strings.HasPrefix(p, "/") {
		b.WriteByte('/')
	}
	for i := 0; i < len(p); i++ {
		switch c := p[i]; c {
		case '?', '#', '%':
			fmt.Fprintf(&b, "%%%02X", c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// Describe names the store for reports.
func (s *sqliteStore) Describe() string { return "sqlite:" + s.path }

// where names the file in errors: as written, plus the absolute path when
// that differs, because a scheduled task's working folder is rarely the one
// the administrator had in mind.
func (s *sqliteStore) where() string {
	if s.abs == s.path || s.abs == "" {
		return s.path
	}
	return s.path + " (" + s.abs + ")"
}

// Close releases the file.
func (s *sqliteStore) Close() error {
	if s.db == nil {
		return nil
	}
	err := s.db.Close()
	s.db = nil
	if err != nil {
		return s.explain("cannot close it", err)
	}
	return nil
}

// explain turns an SQLite failure into what an administrator can act on.
func (s *sqliteStore) explain(what string, err error) error {
	if hint, ok := sqliteHint(err, s.where(), s.busy); ok {
		return fmt.Errorf("store %s: %s: %s: %w", s.Describe(), what, hint, err)
	}
	return fmt.Errorf("store %s: %s: %w", s.Describe(), what, err)
}

// sqliteHint says what an SQLite failure means for the file where, and
// what to do; ok is false for errors SQLite did not give. The store and
// the state database of stores without tables share it.
func sqliteHint(err error, where string, busy time.Duration) (hint string, ok bool) {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return "", false
	}
	switch se.Code() & 0xff {
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
		return fmt.Sprintf("the database is locked by another process (waited %s); retry when it has finished", busy), true
	case sqlite3.SQLITE_READONLY:
		if se.Code() == sqlite3.SQLITE_READONLY|3<<8 { // SQLITE_READONLY_ROLLBACK
			return "a writer stopped in the middle of a transaction and its journal must be rolled back first; run a write (upnsync --apply or store import) once to recover it", true
		}
		return fmt.Sprintf("%s is read-only; make the file and its folder writable (SQLite writes a journal beside it)", where), true
	case sqlite3.SQLITE_NOTADB:
		return fmt.Sprintf("%s is not an SQLite database", where), true
	case sqlite3.SQLITE_CORRUPT:
		return fmt.Sprintf("%s is damaged; restore it from a backup", where), true
	case sqlite3.SQLITE_FULL:
		return "the disk is full; free some space and retry", true
	case sqlite3.SQLITE_IOERR:
		// A write the operating system refused: a full disk (SQLite says
		// SQLITE_FULL only for ENOSPC), a file size limit, a failing disk
		// or a network share gone.
		return fmt.Sprintf("the system could not write %s (disk full, a file size limit, or a disk or network share failing); free some space or check the disk, then retry", where), true
	case sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PERM, sqlite3.SQLITE_AUTH:
		return fmt.Sprintf("cannot open %s; check that it exists and that this account may read and write it and its folder", where), true
	}
	return "", false
}

func (s *sqliteStore) checkWritable(what string) error {
	if s.db == nil {
		return fmt.Errorf("store %s: %s: the store is closed", s.Describe(), what)
	}
	if s.readOnly {
		return fmt.Errorf("store %s: %s: the store was opened read-only (dry run); nothing was written", s.Describe(), what)
	}
	if s.fileReadOnly {
		return fmt.Errorf("store %s: %s: %s is read-only; make the file and its folder writable for this account; nothing was written",
			s.Describe(), what, s.where())
	}
	return nil
}

// userColumns is the select list shared by Users and ExportCSV; COALESCE
// because a store filled by other tools may hold NULLs.
const userColumns = `id, COALESCE(first_name, ''), COALESCE(last_name, ''), COALESCE(email, ''),
	COALESCE(windows_usernames, ''), COALESCE(external_id, ''), COALESCE(active, 1) <> 0`

// scanUsers streams users in id order to fn, reusing one set of scan
// destinations for all rows.
func (s *sqliteStore) scanUsers(ctx context.Context, tx *sql.Tx, fn func(*upnsync.User) error) error {
	rows, err := tx.QueryContext(ctx, `SELECT `+userColumns+` FROM users ORDER BY id`)
	if err != nil {
		return s.explain("cannot read users", err)
	}
	defer rows.Close()
	var u upnsync.User
	dest := []any{&u.ID, &u.FirstName, &u.LastName, &u.Email, &u.WindowsUsernames, &u.ExternalID, &u.Active}
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return s.explain("cannot read users", err)
		}
		if err := fn(&u); err != nil {
			return err
		}
		// database/sql ends the rows quietly when ctx is done: ask.
		if err := ctx.Err(); err != nil {
			return s.explain("stopped reading users", err)
		}
	}
	if err := rows.Err(); err != nil {
		return s.explain("cannot read users", err)
	}
	if err := ctx.Err(); err != nil {
		return s.explain("stopped reading users", err)
	}
	return nil
}

// Users streams every user in id order with the entries upnsync owns in its
// list. Owned entries come from a second cursor over upnsync_owned in the
// same order, merged as the users go by: after a full run that table has a
// row per synchronised user, so loading it into a map first would double
// the memory of a million-user read for nothing.
func (s *sqliteStore) Users(ctx context.Context, fn func(upnsync.User) error) error {
	if s.db == nil {
		return fmt.Errorf("store %s: the store is closed", s.Describe())
	}
	if s.pending {
		return nil
	}
	// One read transaction, so that users and provenance are one snapshot.
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return s.explain("cannot read users", err)
	}
	defer tx.Rollback()

	var own *ownedCursor
	if s.ledger.tables["upnsync_owned"] {
		rows, err := tx.QueryContext(ctx, `SELECT user_id, entry, guid FROM upnsync_owned ORDER BY user_id, entry`)
		if err != nil {
			return s.explain("cannot read what upnsync owns", err)
		}
		defer rows.Close()
		own = &ownedCursor{rows: rows}
		own.dest = []any{&own.userID, &own.entry, &own.guid}
		if err := own.next(); err != nil {
			return s.explain("cannot read what upnsync owns", err)
		}
	}
	err = s.scanUsers(ctx, tx, func(u *upnsync.User) error {
		u.Owned = nil
		if own != nil {
			var err error
			if u.Owned, err = own.take(u.ID); err != nil {
				return s.explain("cannot read what upnsync owns", err)
			}
		}
		return fn(*u)
	})
	if err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return s.explain("cannot read users", err)
	}
	return nil
}

// ownedCursor walks upnsync_owned ordered by user_id alongside the users.
type ownedCursor struct {
	rows                *sql.Rows
	dest                []any
	userID, entry, guid string
	done                bool
}

func (c *ownedCursor) next() error {
	if !c.rows.Next() {
		c.done = true
		return c.rows.Err()
	}
	return c.rows.Scan(c.dest...)
}

// take returns the owned entries of user id, skipping rows of users that no
// longer exist.
func (c *ownedCursor) take(id string) ([]upnsync.Owned, error) {
	for !c.done && c.userID < id {
		if err := c.next(); err != nil {
			return nil, err
		}
	}
	var out []upnsync.Owned
	for !c.done && c.userID == id {
		out = append(out, upnsync.Owned{Entry: c.entry, GUID: c.guid})
		if err := c.next(); err != nil {
			return nil, err
		}
	}
	return out, nil
}
