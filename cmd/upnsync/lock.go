package main

import (
	"context"
	"log/slog"
	"os"
	"os/user"
	"time"

	"github.com/upnsync/upnsync/internal/runlock"
	upnsync "github.com/upnsync/upnsync/sync"
	"github.com/upnsync/upnsync/sync/octopus"
)

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

// runOf fills a run's record of who ran it.
func runOf(id string, started time.Time, kind, command string) upnsync.Run {
	me := whoAmI(command)
	return upnsync.Run{ID: id, Started: started, Kind: kind, Host: me.Host, User: me.User, Command: command}
}

// lockStore takes the run lock of the store a --store URL names (beside
// its record, or in its database) so that only one run writes to it at a
// time. A dry run does not call it: it only reads, from one snapshot of
// the store.
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
