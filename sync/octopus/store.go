// Package octopus is the Octopus user store: where upnsync reads the users it
// matches and writes their merged Windows usernames. The embedded SQLite
// store is the default; it also serves as a staging copy that an
// administrator fills from, and exports to, the CSV columns of Octopus's
// DataImporter.
package octopus

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	upnsync "github.com/upnsync/upnsync/sync"
)

// DefaultURL is the store used when none is given.
const DefaultURL = "sqlite:octopus-users.db"

// Defaults for Options fields left at zero. A batch is one transaction:
// each commit of the embedded store waits for the disk twice, so at 500
// changes a batch a first run of 200k changes spent a third of its apply
// committing; 5000 keep a batch well under a second (docs/performance.md).
const (
	DefaultBatchSize   = 5000
	DefaultBusyTimeout = 5 * time.Second
)

// Options control how a store is opened.
type Options struct {
	// ReadOnly opens the store so that nothing can change it, not one byte
	// of the file: dry runs and exports use it.
	ReadOnly bool
	// Create allows a missing store (file and tables) to be created. Without
	// it a missing store is an error, so that a typo in a path does not
	// silently start an empty store. A store that can be written gets the
	// upnsync tables it lacks on its first write either way, since provenance
	// and journal are part of every write.
	Create bool
	// BatchSize is the number of changes written per transaction
	// (DefaultBatchSize when zero).
	BatchSize int
	// BusyTimeout is how long to wait for another process that holds the
	// store locked before giving up (DefaultBusyTimeout when zero).
	BusyTimeout time.Duration
	// State is --state: the state database of a store without tables of
	// its own (see StateOf and WithState). Such stores are opened wrapped
	// in WithState; the embedded store refuses it.
	State string

	// Table is the users table of a PostgreSQL store, optionally
	// schema-qualified (octopus.users); DefaultTable when empty.
	Table string
	// Columns renames the users table's columns of a PostgreSQL store:
	// id=...,windows_usernames=...,first_name=... (see ParseColumns).
	Columns string
	// Password is the PostgreSQL password when the URL has none (from
	// --store-password-file or UPNSYNC_STORE_PASSWORD). It never appears in
	// Describe, errors or String.
	Password string

	// OctopusExport is the file a DataImporter store reads the current
	// Octopus users from (.csv or .xlsx).
	OctopusExport string
}

// String describes the options without the password.
func (o Options) String() string {
	pw := ""
	if o.Password != "" {
		pw = "(set)"
	}
	return fmt.Sprintf("{ReadOnly:%t Create:%t BatchSize:%d BusyTimeout:%s Table:%q Columns:%q Password:%s OctopusExport:%q}",
		o.ReadOnly, o.Create, o.BatchSize, o.BusyTimeout, o.Table, o.Columns, pw, o.OctopusExport)
}

// GoString is used by %#v: it is as careful as String.
func (o Options) GoString() string { return "octopus.Options" + o.String() }

// ImportResult counts what an import did.
type ImportResult struct {
	// Read is the number of user rows in the file.
	Read int
	// Created users were not in the store; Updated ones were and had at
	// least one value changed; Unchanged ones already held the file's values.
	Created   int
	Updated   int
	Unchanged int
}

// Store is an Octopus user store: the engine's port plus the CSV import and
// export behind `upnsync store import|export`.
type Store interface {
	upnsync.Store
	// ImportCSV upserts the users of a CSV file (name is used in errors) by
	// ID, all or nothing.
	ImportCSV(ctx context.Context, r io.Reader, name string) (ImportResult, error)
	// ExportCSV writes every user as CSV to cw (made by
	// internal/csvfile.NewWriter, which decides the file's encoding, line
	// ends and separator) and returns how many it wrote.
	ExportCSV(ctx context.Context, cw *csv.Writer) (int, error)
}

// Store kinds, as ParseURL reports them.
const (
	KindSQLite       = "sqlite"
	KindPostgres     = "postgres"
	KindDataImporter = "dataimporter"
)

// ParseURL tells which kind of store a --store value names and where it is:
// a file path for sqlite and dataimporter, the whole URL for postgres.
// Accepted: sqlite:PATH, sqlite:///ABSOLUTE/PATH, a bare path ending in .db,
// .sqlite or .sqlite3 (also C:\dir\file.db), postgres://..., postgresql://...,
// dataimporter:PATH.
func ParseURL(raw string) (kind, location string, err error) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return "", "", fmt.Errorf("no store given: use --store sqlite:PATH (for example %s)", DefaultURL)
	}
	lower := strings.ToLower(s)
	switch {
	case strings.HasPrefix(lower, "sqlite:"):
		p := s[len("sqlite:"):]
		// sqlite:///abs/path and sqlite://C:/dir/file.db are the URL forms
		// people copy from other tools; the part after // is the path.
		if strings.HasPrefix(p, "//") {
			p = p[2:]
		}
		if p == "" {
			return "", "", fmt.Errorf("store %q names no file: use sqlite:PATH, for example %s", raw, DefaultURL)
		}
		return KindSQLite, p, nil
	case strings.HasPrefix(lower, "postgres://"), strings.HasPrefix(lower, "postgresql://"):
		return KindPostgres, s, nil
	case strings.HasPrefix(lower, "dataimporter:"):
		p := s[len("dataimporter:"):]
		if p == "" {
			return "", "", fmt.Errorf("store %q names no workbook: use dataimporter:OUT.xlsx", raw)
		}
		return KindDataImporter, p, nil
	case hasSQLiteExt(lower):
		return KindSQLite, s, nil
	}
	if i := strings.Index(s, ":"); i > 1 && !strings.ContainsAny(s[:i], `/\`) {
		return "", "", fmt.Errorf("unknown store kind %q in %q: use sqlite:PATH, postgres://... or dataimporter:OUT.xlsx", s[:i], raw)
	}
	return "", "", fmt.Errorf("cannot tell what kind of store %q is: write sqlite:%s for an SQLite file (or use postgres://... or dataimporter:OUT.xlsx)", raw, s)
}

func hasSQLiteExt(lower string) bool {
	for _, ext := range []string{".db", ".sqlite", ".sqlite3"} {
		if strings.HasSuffix(lower, ext) {
			return true
		}
	}
	return false
}

// Open opens the store a --store value names.
func Open(ctx context.Context, url string, opts Options) (Store, error) {
	kind, loc, err := ParseURL(url)
	if err != nil {
		return nil, err
	}
	switch kind {
	case KindSQLite:
		return openSQLite(ctx, loc, opts)
	case KindPostgres:
		return openPostgres(ctx, loc, opts)
	default:
		return openWithState(ctx, url, opts, func() (Store, error) { return openDataImporter(ctx, loc, opts) })
	}
}

// openWithState opens a store that has no tables of its own together with
// its state database (--state, or beside the store), which keeps what
// upnsync added, the runs and their journal.
func openWithState(ctx context.Context, url string, opts Options, open func() (Store, error)) (Store, error) {
	st, err := StateOf(url, opts.State)
	if err != nil {
		return nil, err
	}
	inner, err := open()
	if err != nil {
		return nil, err
	}
	sdb, err := OpenState(ctx, st.Path, opts.ReadOnly)
	if err != nil {
		inner.Close()
		return nil, err
	}
	return WithState(inner, sdb), nil
}

// PortableURL is a --store URL as a saved plan records it: a file path
// made absolute, so that `upnsync apply` finds the store from any folder.
// A URL holding a password is refused: a plan file must not carry one.
func PortableURL(url string) (string, error) {
	kind, loc, err := ParseURL(url)
	if err != nil {
		return "", err
	}
	switch kind {
	case KindPostgres:
		if redactURL(url) != url {
			return "", fmt.Errorf("store %s: the URL holds a password, which a saved plan must not; give it with --store-password-file FILE, UPNSYNC_STORE_PASSWORD or a PGPASSFILE instead", redactURL(url))
		}
		return url, nil
	}
	abs, err := filepath.Abs(loc)
	if err != nil {
		return "", fmt.Errorf("store %s: cannot resolve the path: %v", url, err)
	}
	return kind + ":" + abs, nil
}

// Kind tells which kind of store a --store value names (sqlite, postgres
// or dataimporter), for reports; "" when it names none.
func Kind(url string) string {
	kind, _, err := ParseURL(url)
	if err != nil {
		return ""
	}
	return kind
}

// redactURL hides a password in a postgres URL so that errors can quote it.
func redactURL(u string) string {
	scheme := strings.Index(u, "://")
	if scheme < 0 {
		return u
	}
	rest := u[scheme+3:]
	at := strings.LastIndex(rest, "@")
	if slash := strings.Index(rest, "/"); slash >= 0 && at > slash {
		at = strings.LastIndex(rest[:slash], "@")
	}
	if at < 0 {
		return u
	}
	userinfo := rest[:at]
	if c := strings.Index(userinfo, ":"); c >= 0 {
		userinfo = userinfo[:c] + ":xxxxx"
	}
	return u[:scheme+3] + userinfo + rest[at:]
}

func writtenBefore(n int) string {
	switch n {
	case 0:
		return "nothing was written before it"
	case 1:
		return "1 user written before it stays written"
	}
	return strconv.Itoa(n) + " users written before it stay written"
}

func users(n int) string {
	if n == 1 {
		return "1 user"
	}
	return strconv.Itoa(n) + " users"
}
