package octopus

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/jackc/pgx/v5"
)

// WriteChecker is a store that can tell whether an apply could write to
// it, without writing: `upnsync doctor` asks.
type WriteChecker interface {
	CheckWritable(ctx context.Context) error
}

var _ WriteChecker = (*sqliteStore)(nil)

// CheckWritable proves an apply could write without changing a byte of the
// database: the file opened read-write, its folder takes new files (SQLite
// writes its journal there), and the write lock can be taken. The lock is
// taken by a write transaction that is rolled back at once, empty.
func (s *sqliteStore) CheckWritable(ctx context.Context) error {
	if err := s.checkWritable("it cannot be written"); err != nil {
		return err
	}
	dir := filepath.Dir(s.abs)
	f, err := os.CreateTemp(dir, ".upnsync-check-*.tmp")
	if err != nil {
		return fmt.Errorf("store %s: its folder %s does not take new files (%v); SQLite writes its journal there, so make the folder writable for this account",
			s.Describe(), dir, pathErr(err))
	}
	name := f.Name()
	f.Close()
	if err := os.Remove(name); err != nil {
		return fmt.Errorf("store %s: cannot remove the test file %s from its folder: %v", s.Describe(), name, pathErr(err))
	}
	// The store's connections begin with BEGIN IMMEDIATE (_txlock), which
	// takes the write lock: another process holding it shows here.
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return s.explain("cannot take its write lock", err)
	}
	if err := tx.Rollback(); err != nil {
		return s.explain("cannot release its write lock", err)
	}
	return nil
}

var _ WriteChecker = (*pgStore)(nil)

// pgNeeds are the rights an apply uses on upnsync's own tables (the run
// lock, provenance, runs and journal), by table.
var pgNeeds = []struct{ table, privs string }{
	{"upnsync.owned", "SELECT, INSERT, UPDATE, DELETE"},
	{"upnsync.runs", "SELECT, INSERT, UPDATE"},
	{"upnsync.journal", "SELECT, INSERT"},
	{"upnsync.meta", "SELECT"},
	{"upnsync.locks", "SELECT, INSERT, UPDATE, DELETE"},
}

// CheckWritable proves an apply could write without writing: the server
// is not a read-only standby, this account's sessions are not read-only,
// and it holds every right an apply uses (asked of the server with
// has_*_privilege, which answers without touching a row). What is missing
// is named with the GRANT that gives it.
func (s *pgStore) CheckWritable(ctx context.Context) error {
	if err := s.checkWritable("it cannot be written"); err != nil {
		return err
	}
	var recovery bool
	var readOnly, role string
	if err := s.pool.QueryRow(ctx, `SELECT pg_is_in_recovery(), current_setting('default_transaction_read_only'), current_user`).
		Scan(&recovery, &readOnly, &role); err != nil {
		return s.explain("cannot check the right to write", err)
	}
	if recovery {
		return fmt.Errorf("store %s: the server is a read-only standby (in recovery); point --store at the primary server", s.Describe())
	}
	if readOnly == "on" {
		return fmt.Errorf("store %s: sessions of %s are read-only (default_transaction_read_only is on for this role or database); ask a DBA to turn it off for it", s.Describe(), role)
	}
	if !s.exists {
		return fmt.Errorf("store %s: table %s does not exist in database %s; create and fill it with `upnsync store import --store URL FILE.csv`",
			s.Describe(), s.tableName, s.database)
	}
	who := pgx.Identifier{role}.Sanitize()
	var missing, grants []string
	lack := func(what, grant string) {
		missing = append(missing, what)
		grants = append(grants, grant+" TO "+who)
	}
	has := func(q string, args ...any) (bool, error) {
		var ok bool
		err := s.pool.QueryRow(ctx, q, args...).Scan(&ok)
		return ok, err
	}
	// The users table: every mapped column is read, and only the Windows
	// usernames are written (a column grant is enough).
	for i, c := range s.cols {
		if c == "" {
			continue
		}
		for _, priv := range []string{"SELECT", "UPDATE"} {
			if priv == "UPDATE" && i != colWindowsUsername {
				continue
			}
			ok, err := has(`SELECT has_column_privilege($1, $2, $3)`, s.tableName, c, priv)
			if err != nil {
				return s.explain("cannot check the right to write", err)
			}
			if !ok {
				lack(fmt.Sprintf("%s on column %s of %s", priv, s.col(i), s.tableName),
					fmt.Sprintf("GRANT %s (%s) ON %s", priv, s.col(i), s.tableName))
			}
		}
	}
	if !s.ready {
		// The first write creates (or upgrades) schema upnsync.
		var schemaExists bool
		if err := s.pool.QueryRow(ctx, `SELECT to_regnamespace($1) IS NOT NULL`, pgSchema).Scan(&schemaExists); err != nil {
			return s.explain("cannot check the right to write", err)
		}
		if !schemaExists {
			ok, err := has(`SELECT has_database_privilege(current_database(), 'CREATE')`)
			if err != nil {
				return s.explain("cannot check the right to write", err)
			}
			if !ok {
				lack("CREATE on database "+s.database+" (the first write creates schema "+pgSchema+")",
					"GRANT CREATE ON DATABASE "+pgx.Identifier{s.database}.Sanitize())
			}
		} else {
			ok, err := has(`SELECT has_schema_privilege($1, 'CREATE')`, pgSchema)
			if err != nil {
				return s.explain("cannot check the right to write", err)
			}
			if !ok {
				lack("CREATE on schema "+pgSchema+" (the first write adds or upgrades its tables)", "GRANT CREATE ON SCHEMA "+pgSchema)
			}
			// Upgrading a table (ALTER TABLE) takes its owner.
			rows, err := s.pool.Query(ctx, `SELECT c.relname, pg_get_userbyid(c.relowner) FROM pg_class c
				JOIN pg_namespace n ON n.oid = c.relnamespace
				WHERE n.nspname = $1 AND c.relkind = 'r' AND c.relname IN ('runs', 'journal') AND NOT pg_has_role(c.relowner, 'USAGE')
				ORDER BY c.relname`, pgSchema)
			if err != nil {
				return s.explain("cannot check the right to write", err)
			}
			owners, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (string, error) {
				var t, o string
				err := r.Scan(&t, &o)
				return pgSchema + "." + t + " (owned by " + o + ")", err
			})
			if err != nil {
				return s.explain("cannot check the right to write", err)
			}
			if len(owners) > 0 && s.version < pgSchemaVersion {
				return fmt.Errorf("store %s: schema %s is at version %d and the first write upgrades it, which takes the owner of %s; run one write as that owner, or ask a DBA to",
					s.Describe(), pgSchema, s.version, strings.Join(owners, ", "))
			}
		}
	} else {
		ok, err := has(`SELECT has_schema_privilege($1, 'USAGE')`, pgSchema)
		if err != nil {
			return s.explain("cannot check the right to write", err)
		}
		if !ok {
			lack("USAGE on schema "+pgSchema, "GRANT USAGE ON SCHEMA "+pgSchema)
		} else {
			for _, n := range pgNeeds {
				for _, priv := range strings.Split(n.privs, ", ") {
					ok, err := has(`SELECT has_table_privilege($1, $2)`, n.table, priv)
					if err != nil {
						return s.explain("cannot check the right to write", err)
					}
					if !ok {
						lack(priv+" on "+n.table, "GRANT "+priv+" ON "+n.table)
					}
				}
			}
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("store %s: %s lacks %s; a DBA can grant them: %s",
			s.Describe(), role, strings.Join(missing, ", "), strings.Join(grants, "; "))
	}
	return nil
}
