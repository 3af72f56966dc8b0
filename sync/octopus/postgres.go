package octopus

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	upnsync "github.com/upnsync/upnsync/sync"
)

// DefaultTable is the users table of a PostgreSQL store.
const DefaultTable = "users"

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

func (s *pgStore) checkWritable(what string) error {
	if s.pool == nil {
		return fmt.Errorf("store %s: %s: the store is closed", s.Describe(), what)
	}
	if s.readOnly {
		return fmt.Errorf("store %s: %s: the store was opened read-only (dry run); nothing was written", s.Describe(), what)
	}
	return nil
}

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
