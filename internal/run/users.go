package run

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/upnsync/upnsync/config"
	"github.com/upnsync/upnsync/internal/atomicfile"
	"github.com/upnsync/upnsync/internal/csvfile"
	"github.com/upnsync/upnsync/internal/fileerr"
	upnsync "github.com/upnsync/upnsync/sync"
	"github.com/upnsync/upnsync/sync/octopus"
)

// The store commands: what they return, cmd/upnsync prints; an error is
// returned, not logged.

// ImportUsers is `upnsync store import FILE.csv`: the users of a CSV file
// into the store (created if missing), under the store's run lock, since
// an import writes the store too. It returns what the import did and the
// store's description.
func ImportUsers(ctx context.Context, env Env, s *config.Settings, path string) (octopus.ImportResult, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return octopus.ImportResult{}, "", fmt.Errorf("cannot read %s: %v", path, fileerr.Reason(err))
	}
	defer f.Close()
	l, err := openLog(s, env.Stderr, time.Now())
	if err != nil {
		return octopus.ImportResult{}, "", err
	}
	defer l.Close()
	logWarnings(l.Logger(), s)
	ss, err := openStore(ctx, env, s, l.Logger(), s.Store, StoreOptions(s, octopus.Options{Create: true, State: s.State}), true, "upnsync store import")
	if err != nil {
		return octopus.ImportResult{}, "", err
	}
	defer ss.close()
	if err := checkImportLosses(ctx, s, ss.store, f, path, l.Logger()); err != nil {
		return octopus.ImportResult{}, ss.store.Describe(), err
	}
	res, err := ss.store.ImportCSV(ctx, f, path)
	return res, ss.store.Describe(), err
}

// checkImportLosses refuses, without --force, an import that would take
// away entries upnsync added: re-importing an Octopus export taken before
// an apply would silently revert what the apply wrote. Refused rather than
// kept: the import makes each user's list the file's, which is what the
// command says, and a UPN someone removed in Octopus on purpose must not
// come back through it; the administrator knows which it is. f is read
// and rewound for the import.
func checkImportLosses(ctx context.Context, s *config.Settings, store octopus.Store, f *os.File, path string, log *slog.Logger) error {
	loss, err := octopus.ImportLosses(ctx, store, f, path)
	if err != nil {
		return err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("cannot read %s again: %v", path, fileerr.Reason(err))
	}
	if loss.Entries == 0 {
		return nil
	}
	what := fmt.Sprintf("importing %s would take away %d entries upnsync added to the Windows usernames of %d users (%s)",
		path, loss.Entries, loss.Users, strings.Join(loss.Examples, ", "))
	if !s.Force {
		return fmt.Errorf("%s: the file is probably an export taken before those UPNs reached Octopus; export the users from Octopus again once they are there, or give --force to import the file as it is (the next run then plans to add them again); nothing was imported", what)
	}
	log.Warn(what + " (--force)")
	return nil
}

// ExportUsers is `upnsync store export [FILE.csv]`: the store's users as
// CSV to w (without a path, or "-"), or to that file (written whole or not
// at all, owner-only: it holds every user). It returns how many users it
// wrote and the store's description.
func ExportUsers(ctx context.Context, s *config.Settings, w io.Writer, path string) (int, string, error) {
	if path != "" {
		if err := atomicfile.Check(path); err != nil {
			return 0, "", fmt.Errorf("cannot export to %s: %v", path, err)
		}
	}
	store, err := octopus.Open(ctx, s.Store, StoreOptions(s, octopus.Options{ReadOnly: true, State: s.State}))
	if err != nil {
		return 0, "", err
	}
	defer store.Close()
	export := func(w io.Writer) (int, error) {
		cw, err := csvfile.NewWriter(w, s.CSVSeparator)
		if err != nil {
			return 0, err
		}
		return store.ExportCSV(ctx, cw)
	}
	if path == "" || path == atomicfile.Stdout {
		n, err := export(w)
		return n, store.Describe(), err
	}
	var n int
	err = atomicfile.Write(path, atomicfile.Private, func(w io.Writer) error {
		var err error
		n, err = export(w)
		return err
	})
	if err != nil {
		return 0, store.Describe(), fmt.Errorf("exporting to %s: %v", path, err)
	}
	return n, store.Describe(), nil
}

// Runs is `upnsync runs`: the runs the store's journal records, newest
// first, and the store's description.
func Runs(ctx context.Context, env Env, s *config.Settings) ([]upnsync.RunInfo, string, error) {
	ss, err := openStore(ctx, env, s, slog.New(slog.DiscardHandler), s.Store, StoreOptions(s, octopus.Options{State: s.State}), false, "upnsync runs")
	if err != nil {
		return nil, "", err
	}
	defer ss.close()
	j, err := ss.journal()
	if err != nil {
		return nil, "", err
	}
	var runs []upnsync.RunInfo
	err = j.Runs(ctx, func(r upnsync.RunInfo) error { runs = append(runs, r); return nil })
	return runs, ss.store.Describe(), err
}
