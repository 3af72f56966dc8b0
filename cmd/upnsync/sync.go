package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/upnsync/upnsync/config"
	"github.com/upnsync/upnsync/mapping"
	upnsync "github.com/upnsync/upnsync/sync"
	"github.com/upnsync/upnsync/sync/directory"
	"github.com/upnsync/upnsync/sync/octopus"
	"github.com/upnsync/upnsync/sync/report"
)

// runSync is one run: read the mapping, open the store and the directory,
// plan, report and, with --apply, write.
func runSync(ctx context.Context, s *config.Settings, stdout, stderr io.Writer) int {
	log, closeLog, err := newLogger(s, stderr)
	if err != nil {
		return fail(stderr, "%v", err)
	}
	defer closeLog()
	code := syncOnce(ctx, s, log, stdout, stderr)
	return code
}

func syncOnce(ctx context.Context, s *config.Settings, log *slog.Logger, stdout, stderr io.Writer) int {
	started := time.Now()
	for _, w := range s.Warnings {
		log.Warn(w)
	}
	log.Info("upnsync starting", "version", version, "mode", mode(s), slog.GroupAttrs("settings", s.LogAttrs()...))

	failed := func(format string, a ...any) int {
		log.Error(fmt.Sprintf(format, a...))
		return exitError
	}

	m, err := mapping.Load(s.ConfigFile)
	if err != nil {
		return failed("%v", err)
	}
	store, err := octopus.Open(ctx, s.Store, octopus.Options{ReadOnly: !s.Apply})
	if err != nil {
		return failed("%v", err)
	}
	defer store.Close()
	dirOpts := directory.Options{
		URL: s.Directory, Bases: s.Domains, Login: s.Login, Password: s.Password.Reveal(),
		Anonymous: s.Anonymous, CAFile: s.CAFile, StartTLS: s.StartTLS,
		AllowPlaintextBind: s.AllowPlaintextBind, PageSize: s.PageSize, UserFilter: s.UserFilter,
		NetBIOSDomain: s.NetBIOSDomain, Timeout: s.Timeout, Fields: m.Fields(), Logger: log,
	}
	dir, plan, err := planWithRetries(ctx, s, log, store,
		func() (upnsync.Directory, error) { return directory.Open(dirOpts) },
		upnsync.Options{MaxLength: s.MaxLength, ImplicitUPN: s.ImplicitUPN, SkipDisabled: s.SkipDisabled})
	if dir == nil {
		return failed("%v", err)
	}
	defer dir.Close()

	meta := report.Meta{Mode: mode(s), Directory: dir.Describe(), Store: store.Describe(), Started: started,
		ApplyHint: "run the same command with --apply (or /Apply)"}
	var readErr *upnsync.ReadError
	switch {
	case errors.As(err, &readErr):
		meta.Stopped = "the directory read failed, so nothing was written: " + readErr.Error()
		meta.Finished = time.Now()
		// A text report of a read that got nowhere would only repeat the
		// error; programs still get their JSON or CSV with complete=false.
		if plan.Read.Entries > 0 || s.Report != "text" || s.ReportFile != "" {
			if code := writeReport(s, &plan, meta, stdout, stderr); code != exitOK {
				return code
			}
		}
		return failed("%s", readErr.Error())
	case err != nil:
		return failed("%v", err)
	case !plan.Read.Complete:
		meta.Stopped = "the directory read was not proven complete (" + plan.Read.Why + "); nothing was written"
		meta.Finished = time.Now()
		log.Warn("stopped by the completeness guard", "why", plan.Read.Why)
		if code := writeReport(s, &plan, meta, stdout, stderr); code != exitOK {
			return code
		}
		return exitGuard
	}
	logPlan(log, &plan)

	code := exitOK
	if !s.Apply {
		switch {
		case len(plan.Changes) > 0:
			code = exitPending
		case len(plan.Conflicts) > 0:
			code = exitConflicts
		}
	} else {
		var applied upnsync.Applied
		if len(plan.Changes) > 0 {
			run := upnsync.Run{ID: newRunID(started), Started: started, Directory: dir.Describe()}
			applied, err = store.Apply(ctx, run, plan.Changes)
			meta.Applied = &applied
			logApplied(log, &applied)
			if err != nil {
				meta.Stopped = err.Error()
				meta.Finished = time.Now()
				_ = writeReport(s, &plan, meta, stdout, stderr)
				return failed("%v", err)
			}
		} else {
			meta.Applied = &upnsync.Applied{}
		}
		if len(plan.Conflicts) > 0 || len(applied.Stale) > 0 {
			code = exitConflicts
		}
	}
	meta.Finished = time.Now()
	if c := writeReport(s, &plan, meta, stdout, stderr); c != exitOK {
		return c
	}
	st := plan.Stats
	log.Info("upnsync finished", "exit_code", code, "elapsed", time.Since(started).Round(time.Millisecond).String(),
		"read", st.Read, "pages", plan.Read.Pages, "changes", st.Changes, "conflicts", st.Conflicts,
		"unmatched", st.Unmatched, "skipped", st.Skipped)
	return code
}

func mode(s *config.Settings) string {
	if s.Apply {
		return report.ModeApply
	}
	return report.ModeDryRun
}

// writeReport renders the report to --report-file (atomically) or stdout.
func writeReport(s *config.Settings, plan *upnsync.Plan, meta report.Meta, stdout, stderr io.Writer) int {
	if s.ReportFile == "" {
		if err := report.Write(stdout, s.Report, plan, meta); err != nil {
			return fail(stderr, "writing the report: %v", err)
		}
		return exitOK
	}
	err := writeFileAtomic(s.ReportFile, func(w io.Writer) error { return report.Write(w, s.Report, plan, meta) })
	if err != nil {
		return fail(stderr, "writing the report to %s: %v", s.ReportFile, err)
	}
	return exitOK
}

// writeFileAtomic writes through a temporary file in the same folder and
// renames it into place, so a reader never sees half a file.
func writeFileAtomic(path string, write func(io.Writer) error) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := write(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func logPlan(log *slog.Logger, plan *upnsync.Plan) {
	for _, c := range plan.Changes {
		log.Info("change", "user", c.UserID, "name", c.UserName, "match", string(c.Match),
			"dn", c.Person.DN, "before", c.Before, "after", c.After)
	}
	for _, c := range plan.Conflicts {
		log.Info("conflict", "reason", c.Reason, "upn", c.UPN, "users", c.Users, "people", c.People, "detail", c.Detail)
	}
}

func logApplied(log *slog.Logger, a *upnsync.Applied) {
	log.Info("applied", "run", a.RunID, "written", len(a.Written), "stale", len(a.Stale))
	for _, st := range a.Stale {
		log.Warn("user changed since the plan; left as it is", "user", st.UserID, "expected", st.Expected,
			"found", st.Found, "missing", st.Missing)
	}
}

// newRunID is sortable by time and unique enough for one store.
func newRunID(t time.Time) string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return t.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}
