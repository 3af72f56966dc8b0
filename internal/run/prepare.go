package run

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/upnsync/upnsync/config"
	"github.com/upnsync/upnsync/internal/fileerr"
	"github.com/upnsync/upnsync/internal/memory"
	"github.com/upnsync/upnsync/internal/plural"
	"github.com/upnsync/upnsync/internal/progress"
	"github.com/upnsync/upnsync/mapping"
	upnsync "github.com/upnsync/upnsync/sync"
	"github.com/upnsync/upnsync/sync/directory"
	"github.com/upnsync/upnsync/sync/octopus"
	"github.com/upnsync/upnsync/sync/report"
)

// planned is one read of the directory against the store: what sync and
// plan share.
type planned struct {
	plan upnsync.Plan
	meta report.Meta
	dir  upnsync.Directory
	// inputs is the digest of what the plan was made from (plan --out).
	inputs *inputsHash
	// inc is set with --incremental or --dirsync.
	inc *incremental
	// netbios notes the NetBIOS domain names of the people read.
	netbios *netbiosNames
	// hist is the last complete read, for G7 and the scope check, and
	// this read's scope.
	hist *history
}

func (p *planned) close() {
	if p.dir != nil {
		p.dir.Close()
	}
}

// logFailed logs err as the error that ends the run.
func logFailed(log *slog.Logger, err error) Outcome {
	log.Error(err.Error())
	return Failed(err)
}

// makePlan reads the directory (with retries) against the store the
// session holds, and plans. A plan whose read failed or was not proven
// complete is not returned: the report and the log have said why, and the
// outcome is an error or the completeness guard's stop. rec, when not nil,
// learns how far the run got.
func makePlan(ctx context.Context, ss *session, m *mapping.Mapping, started time.Time, hashInputs bool, rec *runRecord) (*planned, Outcome) {
	s, log := ss.s, ss.log
	// dirFailed is for a directory error: the log (not the console, whose
	// error line stays the message alone) has the LDAP result code and the
	// server's own diagnostic too.
	dirFailed := func(err error) Outcome {
		if attrs := directory.LogAttrs(err); len(attrs) > 0 {
			log.Info("the directory answered with an LDAP error", attrs...)
		}
		return logFailed(log, err)
	}
	hist, err := loadHistory(ctx, s, ss.store, log)
	if err != nil {
		return nil, logFailed(log, err)
	}
	p := &planned{hist: hist}
	var mappingData []byte
	if hashInputs {
		if mappingData, err = os.ReadFile(s.ConfigFile); err != nil {
			return nil, logFailed(log, fmt.Errorf("cannot read %s: %v", s.ConfigFile, fileerr.Reason(err)))
		}
	}
	// Each attempt plans from scratch through fresh wrappers: the inputs
	// hash must cover the people of the read that succeeded, not of a
	// failed one.
	build := func(d upnsync.Directory) (upnsync.Plan, error) {
		hist.scope = scopeOf(s, d)
		opts := engineOptions(s)
		opts.HoldRemovals = hist.hold(s)
		d = p.inc.directory(d)
		p.netbios = &netbiosNames{}
		store, dir := upnsync.Store(ss.store), progress.Directory(p.netbios.directory(d), showProgress(ss.env, s), ss.env.Stderr)
		if hashInputs {
			p.inputs = newInputsHash(mappingData, settingsMap(s))
			store, dir = p.inputs.store(store), p.inputs.directory(dir)
		}
		plan, err := upnsync.BuildPlan(ctx, store, dir, opts)
		p.netbios.source = directory.NetBIOSSource(d)
		return plan, err
	}
	if s.Incremental || s.DirSync {
		if p.inc, err = newIncremental(ctx, s, ss.store); err != nil {
			return nil, logFailed(log, err)
		}
	}
	open := func() (upnsync.Directory, error) {
		d, err := OpenDirectory(ctx, s, m.Fields(), log)
		if err != nil || p.inc == nil {
			return d, err
		}
		if err := p.inc.prepare(ctx, d, log); err != nil {
			d.Close()
			return nil, err
		}
		return d, nil
	}
	dir, plan, err := planWithRetries(ctx, s, log, open, build)
	if dir == nil {
		return nil, dirFailed(err)
	}
	p.dir, p.plan = dir, plan
	memory.HoldPeak(os.Getenv)
	if rec != nil {
		rec.Directory = p.dir.Describe()
	}
	if v, ok := ss.store.(octopus.Vetter); ok && err == nil {
		p.plan.Withdraw(v.Vet(p.plan.Changes))
	}
	if p.inc != nil && err == nil && p.plan.Read.Complete {
		p.inc.carry(&p.plan)
	}
	if rec != nil {
		rec.plan(&p.plan)
	}
	lim := limits(s)
	p.meta = report.Meta{Mode: mode(s), Directory: p.dir.Describe(), Store: ss.store.Describe(), Started: started,
		DirectoryKind: directory.Kind(s.Directory), StoreKind: octopus.Kind(s.Store),
		RunID: newRunID(started), MappingFile: s.ConfigFile, NetBIOS: p.netbios.String(), Limits: &lim}
	p.netbios.report(&p.meta, &p.plan, log)
	if !s.Apply {
		p.meta.ApplyHint = "run the same command with --apply (or /Apply)"
	}
	if p.inc != nil {
		p.inc.read(p.dir)
		if !p.plan.Read.Complete || err != nil {
			p.inc.info.NotAdvanced = "the read was not complete"
		}
		p.meta.Read = &p.inc.info
		if rec != nil {
			rec.ReadMode = &p.inc.info
		}
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
			if err := ss.writeReport(&p.plan, p.meta); err != nil {
				p.close()
				return nil, Failed(err)
			}
		}
		p.close()
		return nil, dirFailed(readErr)
	case err != nil:
		p.close()
		return nil, logFailed(log, err)
	case !p.plan.Read.Complete:
		p.meta.Stopped = "the directory read was not proven complete (" + p.plan.Read.Why + "); nothing was written, and nothing is replaced or removed after such a read"
		log.Error("stopped by the completeness guard: nothing written", "why", p.plan.Read.Why)
		o := ss.finish(&p.plan, p.meta, Outcome{Stopped: p.meta.Stopped})
		p.close()
		return nil, o
	}
	logPlan(log, &p.plan)
	p.scopeNotes(s, log)
	return p, Outcome{}
}

// scopeNotes tells the log and the report what the read says beyond the
// plan's lists: a scope change that holds removals back, or its
// confirmation by --force, and the people the directory could not find
// (kept: rule D2).
func (p *planned) scopeNotes(s *config.Settings, log *slog.Logger) {
	if hold := p.hist.hold(s); hold != "" && len(p.plan.Departures) > 0 {
		log.Warn("no removal planned: " + hold)
		p.meta.Notes = append(p.meta.Notes, "No removal planned: "+hold+".")
	}
	if ok := p.hist.confirmed(s); ok != "" {
		log.Warn(ok)
		p.meta.Notes = append(p.meta.Notes, ok+".")
	}
	if n := p.plan.Stats.NotFound; n > 0 {
		msg := fmt.Sprintf("%s upnsync added entries for %s not found in the directory (not visible to the account upnsync binds as, or deleted and purged); their entries are kept: %s",
			plural.Count(n, "person"), werewas(n), upnsync.NotFoundCheck)
		log.Warn(msg)
		p.meta.Notes = append(p.meta.Notes, msg+".")
	}
}

func werewas(n int) string {
	if n == 1 {
		return "was"
	}
	return "were"
}

func logPlan(log *slog.Logger, plan *upnsync.Plan) {
	// Without a log file nothing takes info lines: the changes are not
	// made for nothing (a first run plans hundreds of thousands).
	if !log.Enabled(context.Background(), slog.LevelInfo) {
		return
	}
	for _, c := range plan.Changes.All() {
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
