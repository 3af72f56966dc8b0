package run

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"os/user"
	"time"

	"github.com/upnsync/upnsync/config"
	"github.com/upnsync/upnsync/internal/progress"
	"github.com/upnsync/upnsync/internal/runlock"
	upnsync "github.com/upnsync/upnsync/sync"
	"github.com/upnsync/upnsync/sync/octopus"
	"github.com/upnsync/upnsync/sync/report"
)

// session is one command's hold on the store, shared by every command
// that may write (sync --apply, apply PLAN, undo --apply) and those that
// only read: the run lock while it may write, the store, the log, and the
// report it ends with.
type session struct {
	env   Env
	s     *config.Settings
	log   *slog.Logger
	lock  *octopus.RunLock
	store octopus.Store
}

// openStore opens the store storeURL names. With write it first takes the
// store's run lock, so that only one run writes to it at a time, and
// before the store is read, so that a run that waited for the lock plans
// from what the run before it wrote. A run that only reads takes no lock:
// it reads one snapshot of the store. command names the run in the lock
// (never the command line, which may hold a password).
func openStore(ctx context.Context, env Env, s *config.Settings, log *slog.Logger, storeURL string, opts octopus.Options, write bool, command string) (*session, error) {
	ss := &session{env: env, s: s, log: log}
	if write {
		lock, err := lockStore(ctx, storeURL, opts, s.WaitLock, command, log)
		if err != nil {
			return nil, err
		}
		ss.lock = lock
	}
	if _, err := octopus.StateOf(storeURL, opts.State); err != nil {
		ss.close()
		return nil, err
	}
	opts.ReadOnly = !write
	store, err := octopus.Open(ctx, storeURL, opts)
	if err != nil {
		ss.close()
		return nil, err
	}
	ss.store = store
	return ss, nil
}

// journal is the store's journal of runs, or an error naming a store
// that keeps none.
func (ss *session) journal() (upnsync.Journal, error) {
	j, ok := ss.store.(upnsync.Journal)
	if !ok {
		return nil, fmt.Errorf("store %s keeps no journal of runs", ss.store.Describe())
	}
	return j, nil
}

func (ss *session) close() {
	if ss.store != nil {
		ss.store.Close()
	}
	if ss.lock != nil {
		releaseLock(ss.lock, ss.log)
	}
}

// apply writes the plan's changes as one journaled run (the store records
// the run and each user's values before and after, for runs and undo),
// puts what it did in meta and counts its users into o (Tally). When the
// store fails, the report says where the run stopped and the error is
// returned.
func (ss *session) apply(ctx context.Context, run upnsync.Run, plan *upnsync.Plan, meta *report.Meta, o *Outcome) (upnsync.Applied, error) {
	var applied upnsync.Applied
	if plan.Changes.Len() > 0 {
		var err error
		applied, err = progress.Apply(ctx, ss.store, run, plan.Changes, showProgress(ss.env, ss.s), ss.env.Stderr)
		logApplied(ss.log, &applied)
		if err != nil {
			meta.Applied = &applied
			meta.Stopped = err.Error()
			ss.log.Error(err.Error())
			o.Tally(applied)
			// What the batches before the failure wrote is reported; the
			// run ends with the store's error.
			ss.finish(plan, *meta, Outcome{Err: err, Written: o.Written, Changed: o.Changed, AlreadyApplied: o.AlreadyApplied})
			return applied, err
		}
	}
	meta.Applied = &applied
	o.Tally(applied)
	return applied, nil
}

func logApplied(log *slog.Logger, a *upnsync.Applied) {
	log.Info("applied", "run", a.RunID, "written", len(a.Written), "stale", len(a.Stale))
	for _, st := range a.Stale {
		if st.AlreadyApplied() {
			log.Warn("user already holds the planned value; left as it is", "user", st.UserID, "value", st.Found)
			continue
		}
		log.Warn("user changed since the plan; left as it is", "user", st.UserID, "expected", st.Expected,
			"found", st.Found, "missing", st.Missing)
	}
}

// whoAmI says who runs this command, for the lock file and the run record.
// command is the subcommand and mode, never the command line, which may
// hold a password.
func whoAmI(command string) runlock.Holder {
	h := runlock.Holder{PID: os.Getpid(), Command: command, Since: time.Now()}
	h.Host, _ = os.Hostname()
	if u, err := user.Current(); err == nil {
		h.User = u.Username
	} else if name := os.Getenv("USER"); name != "" {
		h.User = name
	} else {
		h.User = os.Getenv("USERNAME")
	}
	return h
}

// newRun is the journal's record of a run that starts writing: its id
// (the one its report shows; newRunID), and who ran it.
func newRun(id string, started time.Time, kind, command string) upnsync.Run {
	me := whoAmI(command)
	return upnsync.Run{ID: id, Started: started, Kind: kind, Host: me.Host, User: me.User, Command: command}
}

// newRunID is a run's id, made when it starts: sortable by time and unique
// enough for one store. Every run has one, dry runs included, and its
// report shows it; a run that writes is journaled under it (upnsync runs,
// undo RUN_ID).
func newRunID(t time.Time) string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return t.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}

// lockStore takes the run lock of the store a --store URL names (beside
// its record, or in its database).
func lockStore(ctx context.Context, storeURL string, opts octopus.Options, wait time.Duration, command string, log *slog.Logger) (*octopus.RunLock, error) {
	if wait > 0 {
		log.Info("taking the store's lock", "wait", wait.String())
	}
	l, err := octopus.LockRun(ctx, storeURL, opts, whoAmI(command), wait)
	if err != nil {
		return nil, err
	}
	if l.Stale != nil {
		log.Warn("a previous run ended without releasing the store's lock (killed or crashed); "+l.ReleasedBy+" released it",
			"lock", l.Where, "previous", l.Stale.Describe(time.Now()))
	}
	log.Info("holding the store's lock", "lock", l.Where)
	return l, nil
}

// releaseLock lets the next run in, and says so when the lock was lost
// before the run ended (the run's writes are done by then).
func releaseLock(l *octopus.RunLock, log *slog.Logger) {
	if err := l.Release(); err != nil {
		log.Warn(err.Error())
	}
}
