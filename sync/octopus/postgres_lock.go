package octopus

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"

	"github.com/upnsync/upnsync/internal/runlock"
)

// The run lock of a PostgreSQL store is a session-level advisory lock held
// on a connection of its own for the whole run, so that runs on different
// machines exclude each other with nothing shared but the database. The
// server releases it when the holder's session ends, however it ends (a
// killed process, a lost machine): a dead run never leaves a lock behind.
// Who holds it (pid, host, user, command, since) is in upnsync.locks, for
// the run that finds it taken; a row whose session no longer holds the
// lock was left by a run that died, and the next run reports it as stale,
// as the file lock does.

// pgLockKey is the advisory lock key of a users table, from its
// schema-qualified name: every upnsync (any version, any machine) derives
// the same key for the same table. FNV in Go rather than the server's
// hashtext, which PostgreSQL does not promise to keep stable.
func pgLockKey(qualified string) int64 {
	h := fnv.New64a()
	h.Write([]byte("upnsync run lock\x00" + qualified))
	return int64(h.Sum64())
}

// pgLock is a held run lock.
type pgLock struct {
	s     *pgStore
	conn  *pgx.Conn
	key   int64
	where string
}

func lockPostgres(ctx context.Context, raw string, opts Options, me runlock.Holder, wait time.Duration) (*RunLock, error) {
	s, cfg, err := newPgStore(raw, opts)
	if err != nil {
		return nil, err
	}
	cc := cfg.ConnConfig.Copy()
	// The DBA sees which process holds a lock in pg_stat_activity.
	cc.RuntimeParams["application_name"] = truncateUTF8(fmt.Sprintf("upnsync run lock, pid %d on %s", me.PID, me.Host), 63)
	// A cancelled wait (Ctrl+C, a scheduler stopping) must end the
	// server's wait too, not leave a session queued for the lock.
	cc.BuildContextWatcherHandler = func(pc *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.CancelRequestContextWatcherHandler{Conn: pc, DeadlineDelay: 5 * time.Second}
	}
	conn, err := pgx.ConnectConfig(ctx, cc)
	if err != nil {
		return nil, s.explain("cannot connect to take the run lock", err)
	}
	l := &pgLock{s: s, conn: conn}
	held := false
	defer func() {
		if !held {
			conn.Close(context.WithoutCancel(ctx))
		}
	}()

	// The session idles while the run works: a server-wide
	// idle_session_timeout (PostgreSQL 14 and later) or statement_timeout
	// must not end it, or cut the wait short, which would drop the lock.
	if _, err := conn.Exec(ctx, `SELECT set_config('statement_timeout', '0', false),
		(SELECT set_config('idle_session_timeout', '0', false) WHERE current_setting('server_version_num')::int >= 140000)`); err != nil {
		return nil, s.explain("cannot prepare the run lock's session", err)
	}
	var schema any
	if len(s.table) == 2 {
		schema = s.table[0]
	}
	var qualified string
	if err := conn.QueryRow(ctx, `SELECT COALESCE(
		(SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname) FROM pg_class c
			JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = to_regclass($1)),
		quote_ident(COALESCE($2::text, current_schema(), 'public')) || '.' || quote_ident($3))`,
		s.tableName, schema, s.table[len(s.table)-1]).Scan(&qualified); err != nil {
		return nil, s.explain("cannot take the run lock", err)
	}
	l.key = pgLockKey(qualified)
	l.where = fmt.Sprintf("on table %s of %s", qualified, s.url)

	// Who holds the lock is recorded in schema upnsync, which every write
	// needs anyway: create (or upgrade) it first.
	var hasLocks bool
	if err := conn.QueryRow(ctx, `SELECT to_regclass('upnsync.locks') IS NOT NULL`).Scan(&hasLocks); err != nil {
		return nil, s.explain("cannot take the run lock", err)
	}
	if !hasLocks {
		if err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error { return s.createSchema(ctx, tx) }); err != nil {
			return nil, fmt.Errorf("%w; the run lock needs it; nothing was written", err)
		}
	}

	var got bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, l.key).Scan(&got); err != nil {
		return nil, s.explain("cannot take the run lock", err)
	}
	if !got {
		holder, err := l.holder(ctx)
		if err != nil {
			return nil, err
		}
		if wait <= 0 {
			return nil, &runlock.HeldError{Path: l.where, Holder: holder}
		}
		if err := l.wait(ctx, wait, holder); err != nil {
			return nil, err
		}
	}

	rl := &RunLock{Where: "the advisory lock " + l.where, ReleasedBy: "the database server", release: l.release}
	var h runlock.Holder
	switch err := conn.QueryRow(ctx, `SELECT pid, host, os_user, command, since FROM upnsync.locks WHERE key = $1`, l.key).
		Scan(&h.PID, &h.Host, &h.User, &h.Command, &h.Since); {
	case err == nil:
		rl.Stale = &h
	case !errors.Is(err, pgx.ErrNoRows):
		l.unlock()
		return nil, s.explain("cannot read who held the run lock", err)
	}
	if me.Since.IsZero() {
		me.Since = time.Now()
	}
	if _, err := conn.Exec(ctx, `INSERT INTO upnsync.locks(key, tbl, pid, host, os_user, command, since, backend_pid)
		VALUES ($1, $2, $3, $4, $5, $6, $7, pg_backend_pid())
		ON CONFLICT (key) DO UPDATE SET tbl = excluded.tbl, pid = excluded.pid, host = excluded.host,
			os_user = excluded.os_user, command = excluded.command, since = excluded.since, backend_pid = excluded.backend_pid`,
		l.key, qualified, me.PID, me.Host, me.User, me.Command, me.Since); err != nil {
		l.unlock()
		return nil, s.explain("cannot record who holds the run lock; nothing was written", err)
	}
	held = true
	return rl, nil
}

// wait waits for the lock in the server's own queue (pg_advisory_lock
// under lock_timeout), so that it is granted the moment it is released.
func (l *pgLock) wait(ctx context.Context, wait time.Duration, holder runlock.Holder) error {
	ms := min(max(wait.Milliseconds(), 1), math.MaxInt32)
	if _, err := l.conn.Exec(ctx, `SELECT set_config('lock_timeout', $1, false)`, strconv.FormatInt(ms, 10)+"ms"); err != nil {
		return l.s.explain("cannot wait for the run lock", err)
	}
	_, err := l.conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, l.key)
	var pe *pgconn.PgError
	switch {
	case err == nil:
	case ctx.Err() != nil:
		return fmt.Errorf("stopped while waiting for the lock %s (held by %s): %w", l.where, holder.Describe(time.Now()), ctx.Err())
	case errors.As(err, &pe) && pe.Code == "55P03": // lock_not_available: lock_timeout
		now, herr := l.holder(ctx)
		if herr != nil {
			now = holder
		}
		return &runlock.HeldError{Path: l.where, Holder: now, Waited: wait}
	default:
		return l.s.explain("cannot wait for the run lock", err)
	}
	if _, err := l.conn.Exec(ctx, `SELECT set_config('lock_timeout', '0', false)`); err != nil {
		l.unlock()
		return l.s.explain("cannot take the run lock", err)
	}
	return nil
}

// holder says who holds the lock: the row of upnsync.locks, when the
// session holding the lock is the one that wrote it. Between taking the
// lock and writing its row a holder has no details yet.
func (l *pgLock) holder(ctx context.Context) (runlock.Holder, error) {
	var h runlock.Holder
	err := l.conn.QueryRow(ctx, `SELECT h.pid, h.host, h.os_user, h.command, h.since
		FROM pg_locks k JOIN upnsync.locks h ON h.key = $1 AND h.backend_pid = k.pid
		WHERE k.locktype = 'advisory' AND k.granted AND k.objsubid = 1
			AND k.database = (SELECT oid FROM pg_database WHERE datname = current_database())
			AND k.classid::bigint = $2 AND k.objid::bigint = $3`,
		l.key, int64(uint64(l.key)>>32), int64(uint64(l.key)&0xffffffff)).Scan(&h.PID, &h.Host, &h.User, &h.Command, &h.Since)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return h, l.s.explain("cannot read who holds the run lock", err)
	}
	return h, nil
}

// unlock gives the lock back after a failure to record it.
func (l *pgLock) unlock() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	l.conn.Exec(ctx, `SELECT pg_advisory_unlock($1)`, l.key)
}

// release removes the holder's row and unlocks; closing the session would
// release the lock too, but a clean end also leaves no holder on record.
func (l *pgLock) release() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	defer l.conn.Close(ctx)
	lost := func(err error) error {
		return fmt.Errorf("store %s: the session holding the run lock %s ended before the run did (%s); the server released the lock then, so another run may have written meanwhile: check `upnsync runs`",
			l.s.Describe(), l.where, l.s.scrub(errText(err)))
	}
	if _, err := l.conn.Exec(ctx, `DELETE FROM upnsync.locks WHERE key = $1 AND backend_pid = pg_backend_pid()`, l.key); err != nil {
		return lost(err)
	}
	var had bool
	if err := l.conn.QueryRow(ctx, `SELECT pg_advisory_unlock($1)`, l.key).Scan(&had); err != nil {
		return lost(err)
	}
	if !had {
		return lost(errors.New("the session no longer held it"))
	}
	return nil
}

// truncateUTF8 cuts s to at most n bytes on a character boundary.
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
