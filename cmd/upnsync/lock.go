package main

import (
	"context"
	"errors"
	"fmt"
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

// lockStore takes the lock of the store a --store URL names (beside its
// record) so that only one run writes to it at a time. A dry run does not
// call it: it only reads, from one snapshot of the store.
func lockStore(ctx context.Context, storeURL, statePath string, wait time.Duration, command string, log *slog.Logger) (*runlock.Lock, error) {
	st, err := octopus.StateOf(storeURL, statePath)
	if err != nil {
		return nil, err
	}
	path := st.LockPath()
	if path == "" {
		return nil, fmt.Errorf("store %s keeps no file beside it to lock; give --state FILE (/State:FILE) to place the lock file, so that two runs never write at the same time", storeURL)
	}
	if wait > 0 {
		log.Info("taking the store's lock", "lock", path, "wait", wait.String())
	}
	l, err := runlock.Acquire(ctx, path, whoAmI(command), wait)
	if err != nil {
		var held *runlock.HeldError
		if errors.As(err, &held) {
			return nil, err
		}
		return nil, fmt.Errorf("store %s: %w", storeURL, err)
	}
	if l.Stale != nil {
		log.Warn("a previous run ended without releasing the store's lock (killed or crashed); the operating system released it",
			"lock", path, "previous", l.Stale.Describe(time.Now()))
	}
	log.Info("holding the store's lock", "lock", path)
	return l, nil
}
