package octopus

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	upnsync "github.com/upnsync/upnsync/sync"
)

// pgSchemaVersion is the version of the upnsync schema in PostgreSQL (its
// own numbering: the SQLite ledger's tables differ). Version 2 added what
// the SQLite ledger's version 2 has (run kinds and who ran them, the
// provenance changes of each journal entry, which undo needs) and the
// holders of the run lock (upnsync.locks).
const pgSchemaVersion = 2

// DefaultTable is the users table of a PostgreSQL store.
const DefaultTable = "users"

// pgSchema holds upnsync's own tables in a PostgreSQL database, apart from
// the users table, which may belong to someone else. Each row names the
// users table it is about, so that two stores in one database (two
// --store-table values) keep separate provenance and journals.
const pgSchema = "upnsync"

// pgSchemaDDL creates the tables of the current version; pgUpgradeDDL
// brings a version 1 schema to it (IF NOT EXISTS: both are safe to run
// again). Lists in the journal are jsonb arrays, as readable to a DBA as
// to upnsync.
var pgSchemaDDL = []string{
	`CREATE TABLE IF NOT EXISTS upnsync.owned (
		tbl      text NOT NULL,
		user_id  text NOT NULL,
		entry    text NOT NULL,
		guid     text NOT NULL DEFAULT '',
		run_id   text,
		added_at timestamptz
	)`,
	// UPNs compare case-insensitively; the entry keeps the case it was
	// written with, as in the SQLite store.
	`CREATE UNIQUE INDEX IF NOT EXISTS owned_key ON upnsync.owned (tbl, user_id, lower(entry))`,
	`CREATE TABLE IF NOT EXISTS upnsync.runs (
		id          text PRIMARY KEY,
		tbl         text NOT NULL,
		started     timestamptz,
		finished    timestamptz,
		directory   text,
		written     integer NOT NULL DEFAULT 0,
		stale       integer NOT NULL DEFAULT 0,
		kind        text NOT NULL DEFAULT 'sync',
		undoes      text NOT NULL DEFAULT '',
		plan_sha256 text NOT NULL DEFAULT '',
		forced      jsonb NOT NULL DEFAULT '[]',
		host        text NOT NULL DEFAULT '',
		os_user     text NOT NULL DEFAULT '',
		command     text NOT NULL DEFAULT ''
	)`,
	`CREATE TABLE IF NOT EXISTS upnsync.journal (
		run_id   text NOT NULL,
		seq      integer NOT NULL,
		tbl      text NOT NULL,
		user_id  text NOT NULL,
		"before" text NOT NULL,
		"after"  text NOT NULL,
		guid     text NOT NULL DEFAULT '',
		added    jsonb NOT NULL DEFAULT '[]',
		replaced jsonb NOT NULL DEFAULT '[]',
		removed  jsonb NOT NULL DEFAULT '[]',
		PRIMARY KEY (run_id, seq)
	)`,
	`CREATE TABLE IF NOT EXISTS upnsync.meta (
		key   text PRIMARY KEY,
		value text
	)`,
	// The run lock itself is a session-level advisory lock (postgres_lock.go);
	// this table only says who holds it, for the run that finds it taken.
	// backend_pid is the holder's server session: a row whose session no
	// longer holds the lock was left by a run that died.
	`CREATE TABLE IF NOT EXISTS upnsync.locks (
		key         bigint PRIMARY KEY,
		tbl         text NOT NULL,
		pid         integer NOT NULL,
		host        text NOT NULL DEFAULT '',
		os_user     text NOT NULL DEFAULT '',
		command     text NOT NULL DEFAULT '',
		since       timestamptz NOT NULL,
		backend_pid integer NOT NULL
	)`,
}

var pgUpgradeDDL = []string{
	`ALTER TABLE upnsync.runs
		ADD COLUMN IF NOT EXISTS kind        text NOT NULL DEFAULT 'sync',
		ADD COLUMN IF NOT EXISTS undoes      text NOT NULL DEFAULT '',
		ADD COLUMN IF NOT EXISTS plan_sha256 text NOT NULL DEFAULT '',
		ADD COLUMN IF NOT EXISTS forced      jsonb NOT NULL DEFAULT '[]',
		ADD COLUMN IF NOT EXISTS host        text NOT NULL DEFAULT '',
		ADD COLUMN IF NOT EXISTS os_user     text NOT NULL DEFAULT '',
		ADD COLUMN IF NOT EXISTS command     text NOT NULL DEFAULT ''`,
	`ALTER TABLE upnsync.journal
		ADD COLUMN IF NOT EXISTS guid     text NOT NULL DEFAULT '',
		ADD COLUMN IF NOT EXISTS added    jsonb NOT NULL DEFAULT '[]',
		ADD COLUMN IF NOT EXISTS replaced jsonb NOT NULL DEFAULT '[]',
		ADD COLUMN IF NOT EXISTS removed  jsonb NOT NULL DEFAULT '[]'`,
	`INSERT INTO upnsync.meta(key, value) VALUES ('schema_version', '` + strconv.Itoa(pgSchemaVersion) + `')
		ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
}

// pgStore is a users table in a PostgreSQL database.
type pgStore struct {
	pool     *pgxpool.Pool
	url      string // redacted: safe for errors and reports
	password string // only to scrub it from server and driver messages
	database string

	table     pgx.Identifier
	tableName string // table.Sanitize(): the key of our rows in upnsync.*
	cols      [numColumns]string
	types     [numColumns]string // format_type of each column ("" when unknown)
	exists    bool               // the users table exists
	hasOwned  bool               // upnsync.owned exists
	hasRuns   bool               // upnsync.runs and upnsync.journal exist
	version   int                // upnsync's schema version (0: none yet)
	ready     bool               // every upnsync table of this version exists
	readOnly  bool
	batch     int
	busy      time.Duration // lock_timeout of the store's sessions
	customTbl bool
	tableText string // --store-table as written, for reports
}

var _ Store = (*pgStore)(nil)

// ParseColumns reads --store-columns: comma-separated key=column pairs whose
// keys are the users table's default column names (id, first_name,
// last_name, email, windows_usernames, external_id, active) or the CSV
// column names (ID, FirstName, ...), in any letter case. An empty column
// says the table has no such column (allowed for all but id and
// windows_usernames). It returns the column of each field.
func ParseColumns(spec string) ([numColumns]string, error) {
	cols := dbColumns
	if strings.TrimSpace(spec) == "" {
		return cols, nil
	}
	seen := map[int]bool{}
	for _, part := range strings.Split(spec, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			return cols, fmt.Errorf("--store-columns: %q is not key=column (for example windows_usernames=win_names)", part)
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		i := -1
		for c := range numColumns {
			if strings.EqualFold(k, dbColumns[c]) || strings.EqualFold(k, Columns[c]) {
				i = c
			}
		}
		if i < 0 {
			return cols, fmt.Errorf("--store-columns: unknown key %q; the keys are %s", k, strings.Join(dbColumns[:], ", "))
		}
		if seen[i] {
			return cols, fmt.Errorf("--store-columns: %s is given twice", dbColumns[i])
		}
		seen[i] = true
		if v == "" && (i == colID || i == colWindowsUsername) {
			return cols, fmt.Errorf("--store-columns: %s needs a column: the store cannot work without it", dbColumns[i])
		}
		if v != "" {
			if err := checkIdentifier(v); err != nil {
				return cols, fmt.Errorf("--store-columns: %s=%q: %v", dbColumns[i], v, err)
			}
		}
		cols[i] = v
	}
	for i := range numColumns {
		for j := i + 1; j < numColumns; j++ {
			if cols[i] != "" && cols[i] == cols[j] {
				return cols, fmt.Errorf("--store-columns: %s and %s are both the column %q", dbColumns[i], dbColumns[j], cols[i])
			}
		}
	}
	return cols, nil
}

// ParseTable reads --store-table: a table name, optionally qualified by its
// schema (octopus.users). Names are taken as written, letter case included,
// and quoted in every statement.
func ParseTable(s string) (pgx.Identifier, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		s = DefaultTable
	}
	parts := strings.Split(s, ".")
	if len(parts) > 2 {
		return nil, fmt.Errorf("--store-table %q: give TABLE or SCHEMA.TABLE", s)
	}
	for _, p := range parts {
		if err := checkIdentifier(p); err != nil {
			return nil, fmt.Errorf("--store-table %q: %v", s, err)
		}
	}
	return pgx.Identifier(parts), nil
}

// checkIdentifier accepts what PostgreSQL accepts as a quoted identifier.
// Quoting (pgx.Identifier) makes any such name safe in a statement; the
// checks are for clear errors instead of the server's.
func checkIdentifier(s string) error {
	switch {
	case s == "":
		return errors.New("empty name")
	case len(s) > 63:
		return errors.New("longer than PostgreSQL's 63 bytes")
	case !utf8.ValidString(s):
		return errors.New("not valid UTF-8")
	case strings.ContainsRune(s, 0):
		return errors.New("contains a NUL byte")
	case strings.TrimSpace(s) != s:
		return errors.New("starts or ends with a space")
	}
	return nil
}

// redactPostgres hides the password of a postgres URL (in the user
// information or a password= parameter), for errors and reports.
func redactPostgres(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return redactURL(raw)
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	q := u.Query()
	changed := false
	for k := range q {
		if strings.EqualFold(k, "password") || strings.EqualFold(k, "sslpassword") {
			q.Set(k, "xxxxx")
			changed = true
		}
	}
	if changed {
		u.RawQuery = q.Encode()
	}
	s := u.String()
	// url.String escapes the placeholder's neighbours differently in some
	// forms; what matters is that no password survives.
	return s
}

func openPostgres(ctx context.Context, raw string, opts Options) (*pgStore, error) {
	s, cfg, err := newPgStore(raw, opts)
	if err != nil {
		return nil, err
	}
	cfg.MaxConns = 4
	cfg.ConnConfig.RuntimeParams["application_name"] = "upnsync"
	// A row or the table locked by another session (an open transaction
	// in psql, a VACUUM FULL, an application's long transaction) would
	// otherwise hold a run, and a scheduled run after it, for as long as
	// that session likes: wait as long as for a locked SQLite store, then
	// stop with an error that says so. The run lock's own session waits
	// as --wait-lock says instead (postgres_lock.go).
	cfg.ConnConfig.RuntimeParams["lock_timeout"] = strconv.FormatInt(s.busy.Milliseconds(), 10)
	if opts.ReadOnly {
		// A dry run cannot write, whatever a bug might try: the server
		// refuses every write in these sessions.
		cfg.ConnConfig.RuntimeParams["default_transaction_read_only"] = "on"
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, s.explain("cannot connect", err)
	}
	s.pool = pool
	if err := s.inspect(ctx, opts); err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

// newPgStore reads what a store's URL and options say, without
// connecting: the store (to name it and explain its errors) and the
// connection settings. The run lock connects with them too.
func newPgStore(raw string, opts Options) (*pgStore, *pgxpool.Config, error) {
	s := &pgStore{url: redactPostgres(raw), readOnly: opts.ReadOnly, batch: opts.BatchSize, password: opts.Password, busy: opts.BusyTimeout}
	if s.batch <= 0 {
		s.batch = DefaultBatchSize
	}
	if s.busy <= 0 {
		s.busy = DefaultBusyTimeout
	}
	var err error
	if s.table, err = ParseTable(opts.Table); err != nil {
		return nil, nil, fmt.Errorf("store %s: %v", s.url, err)
	}
	s.tableName = s.table.Sanitize()
	s.tableText = strings.TrimSpace(opts.Table)
	s.customTbl = s.tableText != "" && s.tableText != DefaultTable
	if s.cols, err = ParseColumns(opts.Columns); err != nil {
		return nil, nil, fmt.Errorf("store %s: %v", s.url, err)
	}

	cfg, err := pgxpool.ParseConfig(raw)
	if err != nil {
		return nil, nil, fmt.Errorf("store %s: not a valid PostgreSQL URL: %s; the form is postgres://USER@HOST[:PORT]/DATABASE?sslmode=verify-full",
			s.url, s.scrub(unwrapParse(err)))
	}
	u, _ := url.Parse(raw)
	urlHasPassword := false
	if u != nil {
		_, urlHasPassword = u.User.Password()
		urlHasPassword = urlHasPassword || u.Query().Has("password")
	}
	if opts.Password != "" {
		if urlHasPassword {
			return nil, nil, fmt.Errorf("store %s: the URL holds a password and one was also given (--store-password-file or UPNSYNC_STORE_PASSWORD); give it once, preferably not in the URL", s.url)
		}
		cfg.ConnConfig.Password = opts.Password
	}
	if p := cfg.ConnConfig.Password; p != "" && s.password == "" {
		s.password = p
	}
	s.database = cfg.ConnConfig.Database
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = 30 * time.Second
	}
	return s, cfg, nil
}

// unwrapParse drops pgx's "cannot parse `URL`:" prefix (the URL is quoted by
// our own message, redacted).
func unwrapParse(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, "`: "); i >= 0 {
		return msg[i+3:]
	}
	return msg
}

// scrub removes the password from a message, whatever produced it.
func (s *pgStore) scrub(msg string) string {
	if s.password != "" {
		msg = strings.ReplaceAll(msg, s.password, "xxxxx")
	}
	return oneLineMsg(msg)
}

func oneLineMsg(s string) string {
	if !strings.ContainsAny(s, "\r\n\t") {
		return s
	}
	return strings.Join(strings.Fields(s), " ")
}

// inspect connects and learns the table: its columns and their types, and
// which of upnsync's tables exist.
func (s *pgStore) inspect(ctx context.Context, opts Options) error {
	var exists bool
	if err := s.pool.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, s.tableName).Scan(&exists); err != nil {
		return s.explain("cannot connect", err)
	}
	s.exists = exists
	if !exists && !opts.Create {
		return fmt.Errorf("store %s: table %s does not exist in database %s; create and fill it with `upnsync store import --store URL FILE.csv`%s",
			s.Describe(), s.tableName, s.database, s.tableHint())
	}
	if exists {
		found := map[string]string{}
		rows, err := s.pool.Query(ctx, `SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute
			WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped ORDER BY attnum`, s.tableName)
		if err != nil {
			return s.explain("cannot read the columns of table "+s.tableName, err)
		}
		var names []string
		for rows.Next() {
			var n, t string
			if err := rows.Scan(&n, &t); err != nil {
				rows.Close()
				return s.explain("cannot read the columns of table "+s.tableName, err)
			}
			found[n] = t
			names = append(names, n)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return s.explain("cannot read the columns of table "+s.tableName, err)
		}
		for i, c := range s.cols {
			if c == "" {
				continue
			}
			t, ok := found[c]
			if !ok {
				return fmt.Errorf("store %s: table %s has no column %q for %s (its columns: %s); name the right one with --store-columns %s=COLUMN, or %s= if it has none",
					s.Describe(), s.tableName, c, dbColumns[i], strings.Join(names, ", "), dbColumns[i], dbColumns[i])
			}
			s.types[i] = t
		}
	}
	var hasMeta, hasLocks bool
	if err := s.pool.QueryRow(ctx, `SELECT to_regclass('upnsync.owned') IS NOT NULL,
		to_regclass('upnsync.runs') IS NOT NULL AND to_regclass('upnsync.journal') IS NOT NULL,
		to_regclass('upnsync.meta') IS NOT NULL, to_regclass('upnsync.locks') IS NOT NULL`).Scan(&s.hasOwned, &s.hasRuns, &hasMeta, &hasLocks); err != nil {
		return s.explain("cannot look for upnsync's tables", err)
	}
	if hasMeta {
		var v string
		err := s.pool.QueryRow(ctx, `SELECT value FROM upnsync.meta WHERE key = 'schema_version'`).Scan(&v)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return s.explain("cannot read upnsync's schema version", err)
		}
		if s.version, _ = strconv.Atoi(v); s.version > pgSchemaVersion {
			return fmt.Errorf("store %s: schema %s was written by a newer upnsync (schema version %s, this one knows %d); use that version or newer",
				s.Describe(), pgSchema, v, pgSchemaVersion)
		}
	}
	s.ready = s.hasOwned && s.hasRuns && hasMeta && hasLocks && s.version == pgSchemaVersion
	return nil
}

func (s *pgStore) tableHint() string {
	if s.customTbl {
		return ""
	}
	return ", or name another table with --store-table"
}

// Describe names the store for reports: the URL without its password, and
// the table when it is not the default.
func (s *pgStore) Describe() string {
	if s.customTbl {
		return s.url + " (table " + s.tableText + ")"
	}
	return s.url
}

// Close ends the connections.
func (s *pgStore) Close() error {
	if s.pool != nil {
		s.pool.Close()
		s.pool = nil
	}
	return nil
}

// explain turns a PostgreSQL or connection failure into what an
// administrator can act on, without the password.
func (s *pgStore) explain(what string, err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		msg := pe.Message
		if pe.Detail != "" {
			msg += " (" + pe.Detail + ")"
		}
		msg = s.scrub(msg)
		hint := ""
		switch {
		case pe.Code == "28P01" || pe.Code == "28000":
			hint = "; give the password with --store-password-file FILE, the UPNSYNC_STORE_PASSWORD environment variable or a PGPASSFILE, and check the user name"
		case pe.Code == "3D000":
			hint = "; create the database first (createdb " + s.database + ") or correct the URL"
		case pe.Code == "42501":
			hint = "; grant this account the rights it needs on " + s.tableName + " and schema " + pgSchema + " (or ask a DBA to create schema " + pgSchema + " for it)"
		case pe.Code == "25006" && s.readOnly:
			hint = "; the store was opened read-only (dry run); nothing was written"
		case pe.Code == "25006":
			hint = "; the database refuses writes (default_transaction_read_only is on for this database or account, or the server is a standby): point --store at the primary, or ask a DBA to allow writes"
		case pe.Code == "42P01":
			hint = "; create the table with `upnsync store import` or name it with --store-table"
		case pe.Code == "42703":
			hint = "; name the columns with --store-columns"
		case pe.Code == "22001":
			hint = "; the column is too small for the value"
		case pe.Code == "42P10":
			hint = "; the id column of " + s.tableName + " needs a unique constraint (ALTER TABLE " + s.tableName + " ADD PRIMARY KEY (...))"
		case pe.Code == "55P03":
			hint = fmt.Sprintf("; another session holds a lock on %s or its rows (waited %s); retry when it has finished (pg_locks and pg_stat_activity say which session)", s.tableName, s.busy)
		case pe.Code == "57014" && strings.Contains(pe.Message, "statement timeout"):
			hint = "; the server's statement_timeout (set for this account or database) is shorter than the statement needed: raise it for upnsync's account (ALTER ROLE ... SET statement_timeout = '5min') and run upnsync again"
		case pe.Code == "57014":
			hint = "; the statement was cancelled (upnsync was stopped, or an administrator cancelled it); run upnsync again"
		case pe.Code == "40001" || pe.Code == "40P01":
			hint = "; another session held the same rows; run upnsync again"
		case strings.HasPrefix(pe.Code, "57P"):
			hint = "; the server ended the session (shut down or terminated by an administrator); run upnsync again when it is back"
		case strings.HasPrefix(pe.Code, "53"):
			hint = "; the server is out of resources (connections, memory or disk)"
		}
		return &pgError{msg: fmt.Sprintf("store %s: %s: %s (SQLSTATE %s)%s", s.Describe(), what, msg, pe.Code, hint), lost: sessionLost(err), err: err}
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("store %s: %s: %w", s.Describe(), what, err)
	}
	if connLost(err) {
		return &pgError{msg: fmt.Sprintf("store %s: %s: lost the connection to the server (%s); check that PostgreSQL is running and reachable, then run upnsync again",
			s.Describe(), what, s.scrub(errText(err))), lost: true, err: err}
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return fmt.Errorf("store %s: %s: %s; check the host, port and TLS settings (sslmode, sslrootcert) and that PostgreSQL is running",
			s.Describe(), what, s.scrub(errText(err)))
	}
	return fmt.Errorf("store %s: %s: %s", s.Describe(), what, s.scrub(errText(err)))
}

// errConnLost marks errors where the connection went away, so that the
// outcome of a commit in flight is unknown until the journal is read.
var errConnLost = errors.New("connection lost")

// pgError is a store error whose message is safe to show (no password);
// the driver's error stays reachable through Unwrap for programs.
type pgError struct {
	msg  string
	lost bool
	err  error
}

func (e *pgError) Error() string        { return e.msg }
func (e *pgError) Unwrap() error        { return e.err }
func (e *pgError) Is(target error) bool { return e.lost && target == errConnLost }

// errText is an error's message without the bare "EOF"s network errors end
// with.
func errText(err error) string {
	msg := err.Error()
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		msg = strings.TrimSuffix(strings.TrimSuffix(msg, "unexpected EOF"), "EOF")
		msg = strings.TrimRight(msg, ": ")
		if msg == "" {
			msg = "the server closed the connection"
		} else {
			msg += ": the server closed the connection"
		}
	}
	return msg
}

// sessionLost tells whether err ended the session: the connection broke,
// or the server ended it (57P01 administrator command, a shutdown, a
// FATAL error).
func sessionLost(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return strings.HasPrefix(pe.Code, "57P") || pe.Severity == "FATAL" || pe.Severity == "PANIC"
	}
	return connLost(err)
}

// connLost tells whether err means the connection broke (as opposed to the
// server refusing a statement).
func connLost(err error) bool {
	var ne net.Error
	var ce *pgconn.ConnectError
	switch {
	case errors.As(err, &ce):
		return false
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed),
		errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE), errors.As(err, &ne):
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, "conn closed") || strings.Contains(msg, "conn busy")
}

func (s *pgStore) checkWritable(what string) error {
	if s.pool == nil {
		return fmt.Errorf("store %s: %s: the store is closed", s.Describe(), what)
	}
	if s.readOnly {
		return fmt.Errorf("store %s: %s: the store was opened read-only (dry run); nothing was written", s.Describe(), what)
	}
	return nil
}

// col is the quoted column of field i.
func (s *pgStore) col(i int) string { return pgx.Identifier{s.cols[i]}.Sanitize() }

// read is the select expression of field i: text, ” when absent or NULL.
func (s *pgStore) read(i int) string {
	if s.cols[i] == "" {
		return "''"
	}
	return "COALESCE(u." + s.col(i) + "::text, '')"
}

// param is parameter n as a value of field i's column: sent as text and
// converted by the server, so that a table whose id is an integer or whose
// external id is a uuid works as well as one of text columns.
func (s *pgStore) param(n, i int) string {
	p := "$" + strconv.Itoa(n) + "::text"
	switch t := s.types[i]; {
	case t == "" || t == "text":
	case strings.HasPrefix(t, "character"):
		p = "CAST(" + p + " AS " + t + ")"
	default:
		// An empty CSV value is no value for a number or a uuid.
		p = "CAST(NULLIF(" + p + ", '') AS " + t + ")"
	}
	return p
}

// activeText is how Active is written to the column's type.
func (s *pgStore) activeText(active bool) string {
	switch t := s.types[colActive]; {
	case strings.Contains(t, "int") || strings.HasPrefix(t, "numeric"):
		if active {
			return "1"
		}
		return "0"
	}
	return strconv.FormatBool(active)
}

// parseActiveText reads the active column as text: empty (NULL or no
// column) is active, as in the SQLite store.
func parseActiveText(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "false", "f", "0", "no", "n", "off":
		return false
	}
	return true
}

// userSelect is the select list of a user row.
func (s *pgStore) userSelect() string {
	parts := make([]string, 0, numColumns)
	parts = append(parts, "u."+s.col(colID)+"::text")
	for i := colFirstName; i < numColumns; i++ {
		parts = append(parts, s.read(i))
	}
	return strings.Join(parts, ", ")
}

// orderByID sorts by the id's bytes, as the SQLite store does, whatever the
// database's collation: both stores then hand the engine users in the same
// order, and reports come out identical.
func (s *pgStore) orderByID() string { return `u.` + s.col(colID) + `::text COLLATE "C"` }

// Users streams every user in id order with the entries upnsync owns, in
// one query: users joined to their owned entries, grouped as rows go by.
func (s *pgStore) Users(ctx context.Context, fn func(upnsync.User) error) error {
	if s.pool == nil {
		return fmt.Errorf("store %s: the store is closed", s.Describe())
	}
	if !s.exists {
		return nil
	}
	q := `SELECT ` + s.userSelect()
	var args []any
	if s.hasOwned {
		q += `, o.entry, o.guid FROM ` + s.tableName + ` u LEFT JOIN upnsync.owned o ON o.tbl = $1 AND o.user_id = u.` + s.col(colID) + `::text
			WHERE u.` + s.col(colID) + ` IS NOT NULL ORDER BY ` + s.orderByID() + `, lower(o.entry) COLLATE "C"`
		args = append(args, s.tableName)
	} else {
		q += `, NULL::text, NULL::text FROM ` + s.tableName + ` u WHERE u.` + s.col(colID) + ` IS NOT NULL ORDER BY ` + s.orderByID()
	}
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return s.explain("cannot read users", err)
	}
	defer rows.Close()
	var (
		cur, u      upnsync.User
		have        bool
		active      string
		entry, guid *string
	)
	dest := []any{&u.ID, &u.FirstName, &u.LastName, &u.Email, &u.WindowsUsernames, &u.ExternalID, &active, &entry, &guid}
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return s.explain("cannot read users", err)
		}
		if !have || u.ID != cur.ID {
			if have {
				if err := fn(cur); err != nil {
					return err
				}
			}
			cur, have = u, true
			cur.Active = parseActiveText(active)
			cur.Owned = nil
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("store %s: stopped reading users: %w", s.Describe(), err)
		}
		if entry != nil {
			g := ""
			if guid != nil {
				g = *guid
			}
			cur.Owned = append(cur.Owned, upnsync.Owned{Entry: *entry, GUID: g})
		}
	}
	if err := rows.Err(); err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return fmt.Errorf("store %s: stopped reading users: %w", s.Describe(), ctxErr)
		}
		return s.explain("cannot read users", err)
	}
	if have {
		if err := fn(cur); err != nil {
			return err
		}
	}
	return nil
}

// ensureSchema creates upnsync's schema and tables when missing, or
// upgrades them from an earlier version, in one transaction under an
// advisory lock, so two first runs do not race.
func (s *pgStore) ensureSchema(ctx context.Context, tx pgx.Tx) error {
	if s.ready {
		return nil
	}
	return s.createSchema(ctx, tx)
}

// createSchema does the work of ensureSchema whatever s knows; the run
// lock calls it on its own connection.
func (s *pgStore) createSchema(ctx context.Context, tx pgx.Tx) error {
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('upnsync schema'))`); err != nil {
		return s.explain("cannot create schema "+pgSchema, err)
	}
	var has bool
	if err := tx.QueryRow(ctx, `SELECT to_regnamespace($1) IS NOT NULL`, pgSchema).Scan(&has); err != nil {
		return s.explain("cannot create schema "+pgSchema, err)
	}
	if !has {
		if _, err := tx.Exec(ctx, `CREATE SCHEMA `+pgSchema); err != nil {
			return s.explain("cannot create schema "+pgSchema, err)
		}
	}
	// Two statements: a statement naming upnsync.meta fails to parse
	// while the table does not exist.
	var hasMeta bool
	if err := tx.QueryRow(ctx, `SELECT to_regclass('upnsync.meta') IS NOT NULL`).Scan(&hasMeta); err != nil {
		return s.explain("cannot read upnsync's schema version", err)
	}
	var v string
	if hasMeta {
		if err := tx.QueryRow(ctx, `SELECT value FROM upnsync.meta WHERE key = 'schema_version'`).Scan(&v); err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return s.explain("cannot read upnsync's schema version", err)
		}
	}
	if n, _ := strconv.Atoi(v); n > pgSchemaVersion {
		return fmt.Errorf("store %s: schema %s was written by a newer upnsync (schema version %s, this one knows %d) meanwhile; use that version or newer",
			s.Describe(), pgSchema, v, pgSchemaVersion)
	}
	for _, stmt := range append(pgSchemaDDL[:len(pgSchemaDDL):len(pgSchemaDDL)], pgUpgradeDDL...) {
		if _, err := tx.Exec(ctx, stmt); err != nil {
			return s.explain("cannot create or upgrade upnsync's tables in schema "+pgSchema, err)
		}
	}
	return nil
}

// schemaCreated records that ensureSchema's transaction committed.
func (s *pgStore) schemaCreated() {
	s.ready, s.hasOwned, s.hasRuns, s.version = true, true, true, pgSchemaVersion
}

// Apply writes changes in batches of compare-and-swap updates, one
// transaction per batch. See upnsync.Store.
func (s *pgStore) Apply(ctx context.Context, run upnsync.Run, changes []upnsync.Change) (upnsync.Applied, error) {
	if run.ID == "" {
		run.ID = time.Now().UTC().Format("20060102T150405.000000000Z")
	}
	if run.Started.IsZero() {
		run.Started = time.Now()
	}
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

	batches := (len(changes) + s.batch - 1) / s.batch
	seq := 0
	for b := 0; b < batches; b++ {
		lo, hi := b*s.batch, min((b+1)*s.batch, len(changes))
		if err := ctx.Err(); err != nil {
			s.finishRun(ctx, run.ID, &applied)
			return applied, fmt.Errorf("store %s: apply interrupted before batch %d of %d (%v); %s (run %s); run upnsync again to finish the job",
				s.Describe(), b+1, batches, err, writtenBefore(len(applied.Written)), run.ID)
		}
		written, stale, next, failed, err := s.applyBatch(ctx, run.ID, b+1, seq, changes[lo:hi])
		if err != nil {
			return s.batchFailed(ctx, run.ID, &applied, err, b+1, batches, lo, hi, seq, failed)
		}
		seq = next
		applied.Written = append(applied.Written, written...)
		applied.Stale = append(applied.Stale, stale...)
		if testAfterBatch != nil {
			testAfterBatch(b + 1)
		}
	}
	if err := s.finishRun(ctx, run.ID, &applied); err != nil {
		return applied, fmt.Errorf("%w; %s written, but the run summary was not recorded", err, users(len(applied.Written)))
	}
	return applied, nil
}

// batchFailed reports a failed batch. When the connection broke, the
// commit may have reached the server before the break: the journal, read
// on a new connection, tells whether the batch was written, so that
// Applied.Written is exactly what the database holds.
func (s *pgStore) batchFailed(ctx context.Context, runID string, applied *upnsync.Applied, err error, b, batches, lo, hi, seq int, failed string) (upnsync.Applied, error) {
	at := ""
	if failed != "" {
		at = fmt.Sprintf(" at user %q", failed)
	}
	outcome := "that batch was rolled back"
	if errors.Is(err, errConnLost) {
		ids, qerr := s.journaled(context.WithoutCancel(ctx), runID, seq)
		switch {
		case qerr != nil:
			outcome = fmt.Sprintf("whether that batch was committed could not be checked (%v); upnsync.journal rows of run %s tell what was written", qerr, runID)
		case len(ids) > 0:
			outcome = fmt.Sprintf("that batch was committed before the connection broke (%s, per the journal)", users(len(ids)))
			applied.Written = append(applied.Written, ids...)
		default:
			outcome = "that batch was not committed (the journal has none of it)"
		}
	}
	s.finishRun(ctx, runID, applied)
	return *applied, fmt.Errorf("%w; apply stopped in batch %d of %d (changes %d to %d)%s; %s; %s (run %s); run upnsync again to finish the job",
		err, b, batches, lo+1, hi, at, outcome, writtenBefore(len(applied.Written)), runID)
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
