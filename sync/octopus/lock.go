package octopus

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/upnsync/upnsync/internal/runlock"
)

// RunLock is held by the one run that writes to a store: a scheduled run
// and a manual one never write at the same time. Stores that live in files
// (sqlite:, and dataimporter: with its state database) are locked with an
// operating-system lock on a file beside their record
// (internal/runlock); a PostgreSQL store is locked in the database itself,
// so that runs on different machines exclude each other without sharing a
// folder (postgres_lock.go).
type RunLock struct {
	// Where names the lock for logs and messages: a file, or a table's
	// advisory lock in a database.
	Where string
	// Stale is the holder a previous run left on record when it ended
	// without releasing the lock (killed, crashed, machine stopped);
	// ReleasedBy says what released the lock then.
	Stale      *runlock.Holder
	ReleasedBy string

	release func() error
}

// Release lets the next run take the lock. It reports a lock that was
// lost before the run ended (a PostgreSQL session that broke).
func (l *RunLock) Release() error {
	if l == nil || l.release == nil {
		return nil
	}
	r := l.release
	l.release = nil
	return r()
}

// LockRun takes the run lock of the store a --store URL names, for me,
// waiting up to wait (0: not at all) while another run holds it. A lock
// held by another run is a *runlock.HeldError naming its holder and since
// when, whatever the kind of store.
func LockRun(ctx context.Context, url string, opts Options, me runlock.Holder, wait time.Duration) (*RunLock, error) {
	st, err := StateOf(url, opts.State)
	if err != nil {
		return nil, err
	}
	if st.InDatabase {
		_, loc, _ := ParseURL(url)
		return lockPostgres(ctx, loc, opts, me, wait)
	}
	return lockFile(ctx, url, st.Path, st.LockPath(), me, wait)
}

// lockFile takes the lock file at path, beside the store's record. When
// the run lets go and the record does not exist (a store import that
// failed before creating it, an apply to a DataImporter workbook that
// recorded nothing), the lock file goes too: it would lie beside nothing.
func lockFile(ctx context.Context, url, record, path string, me runlock.Holder, wait time.Duration) (*RunLock, error) {
	l, err := runlock.Acquire(ctx, path, me, wait)
	if err != nil {
		var held *runlock.HeldError
		if errors.As(err, &held) {
			return nil, err
		}
		return nil, fmt.Errorf("store %s: %w", url, err)
	}
	release := func() error {
		if _, err := os.Lstat(record); errors.Is(err, fs.ErrNotExist) {
			return l.Remove()
		}
		return l.Release()
	}
	return &RunLock{Where: path, Stale: l.Stale, ReleasedBy: "the operating system", release: release}, nil
}
