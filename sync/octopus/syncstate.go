package octopus

import (
	"context"
	"database/sql"
	"errors"

	"github.com/jackc/pgx/v5"
)

// SyncStater is implemented by every store that keeps upnsync's record
// (the embedded SQLite store, PostgreSQL's schema upnsync, and a state
// database beside a DataImporter workbook): it keeps the state of
// incremental reads (--incremental, --dirsync) next to the provenance,
// under a key per directory. The value is opaque text (JSON) to the store.
type SyncStater interface {
	// SyncState returns the value saved under key, or "" when none is.
	SyncState(ctx context.Context, key string) (string, error)
	// SaveSyncState saves value under key (the store must be writable).
	SaveSyncState(ctx context.Context, key, value string) error
}

var (
	_ SyncStater = (*sqliteStore)(nil)
	_ SyncStater = (*pgStore)(nil)
	_ SyncStater = (*stateStore)(nil)
)

// syncStateKey is the key of a directory's state in the meta tables.
func syncStateKey(key string) string { return "sync-state:" + key }

func readMeta(ctx context.Context, q queryer, key string) (string, error) {
	var v sql.NullString
	err := q.QueryRowContext(ctx, `SELECT value FROM upnsync_meta WHERE key = ?`, syncStateKey(key)).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return v.String, err
}

func writeMeta(ctx context.Context, q queryer, key, value string) error {
	_, err := q.ExecContext(ctx, `INSERT INTO upnsync_meta(key, value) VALUES (?, ?)
		ON CONFLICT(key) DO UPDATE SET value = excluded.value`, syncStateKey(key), value)
	return err
}

func (s *sqliteStore) SyncState(ctx context.Context, key string) (string, error) {
	if s.db == nil || !s.ledger.tables["upnsync_meta"] {
		return "", nil
	}
	v, err := readMeta(ctx, s.db, key)
	if err != nil {
		return "", s.explain("cannot read the incremental-read state", err)
	}
	return v, nil
}

func (s *sqliteStore) SaveSyncState(ctx context.Context, key, value string) error {
	if err := s.checkWritable("cannot save the incremental-read state"); err != nil {
		return err
	}
	if err := s.ensureSchema(ctx); err != nil {
		return err
	}
	if err := writeMeta(ctx, s.db, key, value); err != nil {
		return s.explain("cannot save the incremental-read state", err)
	}
	return nil
}

func (st *StateDB) SyncState(ctx context.Context, key string) (string, error) {
	if err := st.opened(ctx); err != nil {
		return "", err
	}
	if st.db == nil || !st.ledger.tables["upnsync_meta"] {
		return "", nil
	}
	v, err := readMeta(ctx, st.db, key)
	if err != nil {
		return "", st.fail("cannot read the incremental-read state", err)
	}
	return v, nil
}

func (st *StateDB) SaveSyncState(ctx context.Context, key, value string) error {
	if st.readOnly {
		return st.writable("cannot save the incremental-read state")
	}
	if err := st.ensure(ctx); err != nil {
		return err
	}
	if err := writeMeta(ctx, st.db, key, value); err != nil {
		return st.fail("cannot save the incremental-read state", err)
	}
	return nil
}

func (w *stateStore) SyncState(ctx context.Context, key string) (string, error) {
	return w.st.SyncState(ctx, key)
}

func (w *stateStore) SaveSyncState(ctx context.Context, key, value string) error {
	return w.st.SaveSyncState(ctx, key, value)
}

// pgSyncStateKey keeps two stores in one database (two --store-table
// values) apart, as every row of schema upnsync does.
func (s *pgStore) pgSyncStateKey(key string) string { return syncStateKey(s.tableName + ":" + key) }

func (s *pgStore) SyncState(ctx context.Context, key string) (string, error) {
	if s.pool == nil {
		return "", nil
	}
	var has bool
	if err := s.pool.QueryRow(ctx, `SELECT to_regclass('upnsync.meta') IS NOT NULL`).Scan(&has); err != nil {
		return "", s.explain("cannot read the incremental-read state", err)
	}
	if !has {
		return "", nil
	}
	var v *string
	err := s.pool.QueryRow(ctx, `SELECT value FROM upnsync.meta WHERE key = $1`, s.pgSyncStateKey(key)).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && v == nil) {
		return "", nil
	}
	if err != nil {
		return "", s.explain("cannot read the incremental-read state", err)
	}
	return *v, nil
}

func (s *pgStore) SaveSyncState(ctx context.Context, key, value string) error {
	if err := s.checkWritable("cannot save the incremental-read state"); err != nil {
		return err
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if !s.ready {
			if err := s.ensureSchema(ctx, tx); err != nil {
				return err
			}
		}
		_, err := tx.Exec(ctx, `INSERT INTO upnsync.meta(key, value) VALUES ($1, $2)
			ON CONFLICT (key) DO UPDATE SET value = excluded.value`, s.pgSyncStateKey(key), value)
		return err
	})
	if err != nil {
		return s.explain("cannot save the incremental-read state", err)
	}
	if !s.ready {
		s.schemaCreated()
	}
	return nil
}
