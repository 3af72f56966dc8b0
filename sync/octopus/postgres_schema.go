package octopus

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5"
)

// pgSchemaVersion is the version of the upnsync schema in PostgreSQL (its
// own numbering: the SQLite ledger's tables differ). Version 2 added what
// the SQLite ledger's version 2 has (run kinds and who ran them, the
// provenance changes of each journal entry, which undo needs) and the
// holders of the run lock (upnsync.locks).
const pgSchemaVersion = 2

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
