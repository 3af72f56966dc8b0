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
	"time"

	"github.com/upnsync/upnsync/config"
	"github.com/upnsync/upnsync/internal/atomicfile"
	"github.com/upnsync/upnsync/mapping"
	upnsync "github.com/upnsync/upnsync/sync"
	"github.com/upnsync/upnsync/sync/directory"
	"github.com/upnsync/upnsync/sync/octopus"
	"github.com/upnsync/upnsync/sync/report"
)

// runSync is one run: read the mapping, open the store and the directory,
// plan, report and, with --apply, write. With --schedule it is the
// scheduler, which does the same run at each scheduled time.
func runSync(ctx context.Context, s *config.Settings, stdout, stderr io.Writer) int {
	if s.Schedule != "" {
		return runScheduled(ctx, s, stdout, stderr)
	}
	l, err := openRunLog(s, stderr, time.Now())
	if err != nil {
		return fail(stderr, "%v", err)
	}
	defer l.close()
	return runOnce(ctx, s, l, stdout, stderr)
}

// planned is one read of the directory against the store: what sync and
// plan share.
type planned struct {
	plan    upnsync.Plan
	meta    report.Meta
	store   octopus.Store
	dir     upnsync.Directory
	mapping []byte
	inputs  *inputsHash // nil unless asked for
	// inc is set with --incremental or --dirsync.
	inc *incremental
}

func (p *planned) close() {
	if p.dir != nil {
		p.dir.Close()
	}
	if p.store != nil {
		p.store.Close()
	}
}

// makePlan opens everything and plans. On failure it returns the exit code
// (the report and the log have said why) and a nil plan.
func makePlan(ctx context.Context, s *config.Settings, log *slog.Logger, writable, hashInputs bool, stdout, stderr io.Writer, rec *runRecord) (*planned, int) {
	if rec == nil {
		rec = &runRecord{Started: time.Now()}
	}
	started := rec.Started
	failed := func(format string, a ...any) (*planned, int) {
		rec.Err = fmt.Sprintf(format, a...)
		log.Error(rec.Err)
		return nil, exitError
	}
	// dirFailed is failed for a directory error: the log (not the console,
	// whose error line stays the message alone) has the LDAP result code
	// and the server's own diagnostic too.
	dirFailed := func(err error) (*planned, int) {
		if attrs := directory.LogAttrs(err); len(attrs) > 0 {
			log.Info("the directory answered with an LDAP error", attrs...)
		}
		return failed("%s", err.Error())
	}
	m, err := mapping.Load(s.ConfigFile)
	if err != nil {
		return failed("%v", err)
	}
	if _, err := octopus.StateOf(s.Store, s.State); err != nil {
		return failed("%v", err)
	}
	p := &planned{}
	// Local variables first: a failed Open returns a typed nil that would
	// not compare equal to nil in the struct.
	store0, err := octopus.Open(ctx, s.Store, storeOptions(s, octopus.Options{ReadOnly: !writable, State: s.State}))
	if err != nil {
		return failed("%v", err)
	}
	p.store = store0
	rec.Store = p.store.Describe()
	dirOpts := directoryOptions(s, m.Fields())
	dirOpts.Logger = log
	var mappingData []byte
	if hashInputs {
		if mappingData, err = os.ReadFile(s.ConfigFile); err != nil {
			p.close()
			return failed("cannot read %s: %v", s.ConfigFile, unwrapPathErr(err))
		}
	}
	// Each attempt plans from scratch through fresh wrappers: the inputs
	// hash must cover the people of the read that succeeded, not of a
	// failed one.
	build := func(d upnsync.Directory) (upnsync.Plan, error) {
		store, dir := upnsync.Store(p.store), withProgress(d, s, stderr)
		if hashInputs {
			p.inputs = newInputsHash(mappingData, settingsMap(s))
			store, dir = p.inputs.store(store), p.inputs.directory(dir)
		}
		return upnsync.BuildPlan(ctx, store, dir, upnsync.Options{
			MaxLength: s.MaxLength, ImplicitUPN: s.ImplicitUPN, SkipDisabled: s.SkipDisabled,
			RemoveDeparted: s.RemoveDeparted,
		})
	}
	if s.Incremental || s.DirSync {
		if p.inc, err = newIncremental(ctx, s, p.store); err != nil {
			p.close()
			return failed("%v", err)
		}
	}
	open := func() (upnsync.Directory, error) {
		d, err := directory.Open(dirOpts)
		if err != nil || p.inc == nil {
			return d, err
		}
		if err := p.inc.prepare(ctx, d, log); err != nil {
			d.Close()
			return nil, err
		}
		return d, nil
	}
	dir0, plan, err := planWithRetries(ctx, s, log, open, build)
	if dir0 == nil {
		p.close()
		return dirFailed(err)
	}
	p.dir, p.plan = dir0, plan
	rec.Directory = p.dir.Describe()
	if v, ok := p.store.(octopus.Vetter); ok && err == nil {
		p.plan.Withdraw(v.Vet(p.plan.Changes))
	}
	rec.plan(&p.plan)
	p.meta = report.Meta{Mode: mode(s), Directory: p.dir.Describe(), Store: p.store.Describe(), Started: started,
		ApplyHint:     "run the same command with --apply (or /Apply)",
		DirectoryKind: directory.Kind(s.Directory), StoreKind: octopus.Kind(s.Store)}
	if p.inc != nil {
		p.inc.read(p.dir)
		if !p.plan.Read.Complete || err != nil {
			p.inc.info.NotAdvanced = "the read was not complete"
		}
		p.meta.Read = &p.inc.info
		rec.ReadMode = &p.inc.info
	}
	var readErr *upnsync.ReadError
	switch {
	case errors.As(err, &readErr):
		// Exit 1, not 3: the read failed (an error, of which "not proven
		// complete" is a consequence); 1 wins over 3 anyway.
		p.meta.Stopped = "the directory read failed, so nothing was written: " + readErr.Error()
		p.meta.Finished = time.Now()
		// A text report of a read that got nowhere would only repeat the
		// error; programs still get their JSON or CSV with complete=false.
		if p.plan.Read.Entries > 0 || s.Report != "text" || s.ReportFile != "" {
			if code := writeReport(s, &p.plan, p.meta, stdout, stderr); code != exitOK {
				p.close()
				return nil, code
			}
		}
		p.close()
		return dirFailed(readErr)
	case err != nil:
		p.close()
		return failed("%v", err)
	case !p.plan.Read.Complete:
		p.meta.Stopped = "the directory read was not proven complete (" + p.plan.Read.Why + "); nothing was written, and nothing is replaced or removed after such a read"
		p.meta.Finished = time.Now()
		log.Error("stopped by the completeness guard: nothing written", "why", p.plan.Read.Why)
		code := writeReport(s, &p.plan, p.meta, stdout, stderr)
		p.close()
		if code != exitOK {
			return nil, code
		}
		return nil, exitGuard
	}
	logPlan(log, &p.plan)
	return p, exitOK
}

// limits are the threshold guards the settings ask for.
func limits(s *config.Settings) upnsync.Limits {
	return upnsync.Limits{MaxChanges: s.MaxChanges, MaxChangePercent: s.MaxChangePercent,
		MaxRemovals: s.MaxRemovals, MaxRemovalPercent: s.MaxRemovalPercent}
}

// guard checks the thresholds before anything is written. It returns
// exitGuard when a guard stops the run (the report says why), else exitOK
// and, with --force, the messages of the guards let through.
func guard(s *config.Settings, log *slog.Logger, p *planned, stdout, stderr io.Writer) (int, []string) {
	stops := limits(s).Check(&p.plan)
	if len(stops) == 0 {
		return exitOK, nil
	}
	p.meta.Guards = stops
	var msgs []string
	for _, st := range stops {
		msgs = append(msgs, st.Message)
	}
	if s.Force {
		p.meta.Forced = true
		for _, st := range stops {
			log.Warn("--force lets this run through a safety guard", "guard", st.Guard, "count", st.Count,
				"threshold", st.Threshold, "message", st.Message)
		}
		return exitOK, msgs
	}
	for _, st := range stops {
		log.Error("stopped by a safety guard: nothing written: "+st.Message, "guard", st.Guard)
	}
	p.meta.Stopped = "a safety guard stopped the run: " + joinLines(msgs)
	if p.inc != nil {
		p.inc.info.NotAdvanced = "a safety guard stopped the run: the next run reads these changes again"
	}
	p.meta.Finished = time.Now()
	if code := writeReport(s, &p.plan, p.meta, stdout, stderr); code != exitOK {
		return code, nil
	}
	return exitGuard, nil
}

func syncOnce(ctx context.Context, s *config.Settings, log *slog.Logger, stdout, stderr io.Writer, rec *runRecord) int {
	started := rec.Started
	for _, w := range s.Warnings {
		log.Warn(w)
	}
	log.Info("upnsync starting", "version", version, "mode", mode(s), slog.GroupAttrs("settings", s.LogAttrs()...))

	if s.Apply {
		// Before the store is read: a run waiting for the lock then plans
		// from what the run before it wrote.
		lock, err := lockStore(ctx, s.Store, storeOptions(s, octopus.Options{State: s.State}), s.WaitLock, "upnsync sync --apply", log)
		if err != nil {
			rec.Err = err.Error()
			log.Error(rec.Err)
			return exitError
		}
		defer releaseLock(lock, log)
	}
	p, code := makePlan(ctx, s, log, s.Apply, false, stdout, stderr, rec)
	if p == nil {
		return code
	}
	defer p.close()
	plan := &p.plan
	code, forced := guard(s, log, p, stdout, stderr)
	if code != exitOK {
		return code
	}
	guide, _ := p.store.(octopus.Guide)

	if !s.Apply {
		if guide != nil {
			p.meta.NextSteps = guide.NextSteps(nil)
		}
		switch {
		case len(plan.Changes) > 0:
			code = exitPending
		case len(plan.Conflicts) > 0:
			code = exitConflicts
		}
	} else {
		var applied upnsync.Applied
		if len(plan.Changes) > 0 {
			run := runOf(newRunID(started), started, upnsync.RunSync, "upnsync sync --apply")
			run.Directory, run.Forced = p.dir.Describe(), forced
			var err error
			applied, err = applyWithProgress(ctx, p.store, run, plan.Changes, s, stderr)
			p.meta.Applied = &applied
			rec.Applied = &applied
			logApplied(log, &applied)
			if guide != nil && err == nil {
				p.meta.NextSteps = guide.NextSteps(&applied)
			}
			if err != nil {
				p.meta.Stopped = err.Error()
				p.meta.Finished = time.Now()
				_ = writeReport(s, plan, p.meta, stdout, stderr)
				rec.Err = err.Error()
				log.Error(rec.Err)
				return exitError
			}
		} else {
			p.meta.Applied = &upnsync.Applied{}
			rec.Applied = p.meta.Applied
		}
		if len(plan.Conflicts) > 0 || len(applied.Stale) > 0 {
			code = exitConflicts
		}
	}
	if p.inc != nil {
		var applied *upnsync.Applied
		if s.Apply {
			applied = p.meta.Applied
		}
		if err := p.inc.advance(ctx, s, plan.Read, applied); err != nil {
			p.meta.Stopped = err.Error()
			rec.Err = err.Error()
			log.Error(rec.Err)
			code = exitError
		} else if p.inc.info.Advanced {
			log.Info("watermark advanced", "mode", p.inc.mode, "to", p.inc.info.To)
		} else {
			log.Info("watermark not advanced: "+p.inc.info.NotAdvanced, "mode", p.inc.mode)
		}
	}
	p.meta.Finished = time.Now()
	if c := writeReport(s, plan, p.meta, stdout, stderr); c != exitOK {
		return c
	}
	return code
}

func joinLines(msgs []string) string {
	out := ""
	for i, m := range msgs {
		if i > 0 {
			out += "; and "
		}
		out += m
	}
	return out
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
	err := atomicfile.Write(s.ReportFile, 0o644, func(w io.Writer) error { return report.Write(w, s.Report, plan, meta) })
	if err != nil {
		return fail(stderr, "writing the report to %s: %v", s.ReportFile, err)
	}
	return exitOK
}

func logPlan(log *slog.Logger, plan *upnsync.Plan) {
	for _, c := range plan.Changes {
		log.Info("change", "user", c.UserID, "name", c.UserName, "match", string(c.Match),
			"dn", c.Person.DN, "before", c.Before, "after", c.After)
	}
	for _, c := range plan.Conflicts {
		log.Info("conflict", "reason", c.Reason, "upn", c.UPN, "users", c.Users, "people", c.People, "detail", c.Detail)
	}
	for _, d := range plan.Departures {
		log.Info("departed", "guid", d.GUID, "reason", string(d.Reason), "dn", d.DN, "detail", d.Detail,
			"removed", d.Removed, "kept", d.Kept)
	}
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

// newRunID is sortable by time and unique enough for one store.
func newRunID(t time.Time) string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return t.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}
