package run

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/upnsync/upnsync/config"
	"github.com/upnsync/upnsync/internal/runlog"
	"github.com/upnsync/upnsync/mapping"
	upnsync "github.com/upnsync/upnsync/sync"
	"github.com/upnsync/upnsync/sync/octopus"
	"github.com/upnsync/upnsync/sync/planfile"
	"github.com/upnsync/upnsync/sync/report"
)

// Plan is `upnsync plan --out FILE`: a dry run whose plan is saved for
// `upnsync apply`, with the digest of everything it was made from. The
// guards run here: a plan they stop is not saved.
func Plan(ctx context.Context, env Env, s *config.Settings) Outcome {
	return inLog(env, s, func(l *runlog.Log, started time.Time) Outcome { return savePlan(ctx, env, s, l.Logger(), started) })
}

func savePlan(ctx context.Context, env Env, s *config.Settings, log *slog.Logger, started time.Time) Outcome {
	logWarnings(log, s)
	log.Info("upnsync plan starting", "version", env.Build.Version, "out", s.Out, slog.GroupAttrs("settings", logAttrs(s)...))
	storeURL, err := octopus.PortableURL(s.Store)
	if err != nil {
		return logFailed(log, err)
	}
	state := s.State
	if state != "" {
		if state, err = filepath.Abs(state); err != nil {
			return logFailed(log, fmt.Errorf("--state %s: %v", s.State, err))
		}
	}
	m, err := mapping.Load(s.ConfigFile)
	if err != nil {
		return logFailed(log, err)
	}
	ss, err := openStore(ctx, env, s, log, s.Store, StoreOptions(s, octopus.Options{State: s.State}), false, "upnsync plan")
	if err != nil {
		return logFailed(log, err)
	}
	defer ss.close()
	p, o := makePlan(ctx, ss, m, started, true, nil)
	if p == nil {
		return o
	}
	defer p.close()
	forced, o, stop := guard(ss, p)
	if stop {
		return o
	}
	me := whoAmI("upnsync plan")
	settings := settingsMap(s)
	settings["store"], settings["state"] = storeURL, state
	if s.OctopusExport != "" {
		// The export is part of the store (a DataImporter store's users):
		// `upnsync apply` must find it from any folder.
		if settings["octopus-export"], err = filepath.Abs(s.OctopusExport); err != nil {
			return logFailed(log, fmt.Errorf("--octopus-export %s: %v", s.OctopusExport, err))
		}
	}
	body := planfile.Plan{Created: time.Now().UTC(), CreatedBy: env.Build.Line, Host: me.Host, User: me.User,
		Store: storeURL, State: state, Directory: p.dir.Describe(), InputsSHA256: p.inputs.sum(),
		Settings: settings, Forced: forced}
	body.Changes, body.Departures, body.Summary, body.Read = planfile.FromPlan(&p.plan)
	digest, err := planfile.Write(s.Out, env.Stdout, &body)
	if err != nil {
		return logFailed(log, err)
	}
	log.Info("plan saved", "file", s.Out, "sha256", digest, "changes", len(body.Changes), "inputs_sha256", body.InputsSHA256)
	p.meta.Notes = append(p.meta.Notes, fmt.Sprintf("plan saved to %s (SHA-256 %s, inputs SHA-256 %s)", s.Out, digest, body.InputsSHA256))
	p.meta.ApplyHint = "run upnsync apply " + s.Out
	return ss.finish(&p.plan, p.meta, pending(p))
}

// ApplyPlan is `upnsync apply FILE`: the saved plan, exactly as saved, to
// the store it names; each write a compare-and-swap on the value the plan
// saw, so users changed since are left alone and reported (Tally).
func ApplyPlan(ctx context.Context, env Env, s *config.Settings, file string) Outcome {
	return inLog(env, s, func(l *runlog.Log, started time.Time) Outcome {
		return applySaved(ctx, env, s, file, l.Logger(), started)
	})
}

func applySaved(ctx context.Context, env Env, s *config.Settings, file string, log *slog.Logger, started time.Time) Outcome {
	logWarnings(log, s)
	log.Info("upnsync apply starting", "version", env.Build.Version, "plan", file)
	body, digest, err := planfile.Read(file, s.MaxPlanAge, started)
	if err != nil {
		return logFailed(log, err)
	}
	// The store kind is known only now: options given for another kind
	// of store are refused (command line) or dropped with a warning.
	warnings, err := s.CheckStore(body.Store)
	for _, w := range warnings {
		log.Warn(w)
	}
	if err != nil {
		return logFailed(log, err)
	}
	command := "upnsync apply " + filepath.Base(file)
	// The store as the plan names it (URL, state, table, columns, export);
	// only the password comes from this command's settings, since a plan
	// never holds one.
	opts := StoreOptions(s, octopus.Options{State: body.State})
	opts.Table, opts.Columns, opts.OctopusExport = body.Settings["store-table"], body.Settings["store-columns"], body.Settings["octopus-export"]
	ss, err := openStore(ctx, env, s, log, body.Store, opts, true, command)
	if err != nil {
		return logFailed(log, err)
	}
	defer ss.close()

	plan := body.EnginePlan()
	meta := report.Meta{Mode: report.ModeApply, Directory: body.Directory, Store: ss.store.Describe(), Started: started,
		RunID: newRunID(started), MappingFile: body.Settings["config-file-path"],
		Source: fmt.Sprintf("plan %s, made %s by %s on %s from %s (SHA-256 %s)", file,
			body.Created.UTC().Format("2006-01-02 15:04:05 UTC"), orUnknown(body.User), orUnknown(body.Host), body.Directory, digest)}
	if sm := body.Summary; sm.Conflicts+sm.Unmatched+sm.Skipped > 0 {
		meta.Notes = append(meta.Notes, fmt.Sprintf("when it was made the plan counted %d conflicts, %d unmatched and %d skipped people; the report of upnsync plan lists them",
			sm.Conflicts, sm.Unmatched, sm.Skipped))
	}
	if len(body.Forced) > 0 {
		meta.Notes = append(meta.Notes, "the plan was made with --force past: "+joinLines(body.Forced))
	}
	if j, ok := ss.store.(upnsync.Journal); ok {
		_ = j.Runs(ctx, func(r upnsync.RunInfo) error {
			if r.PlanSHA256 == digest {
				meta.Notes = append(meta.Notes, fmt.Sprintf("this plan was already applied by run %s (%s); it is applied again only to users that still hold the values it saw",
					r.ID, r.Started.UTC().Format("2006-01-02 15:04:05 UTC")))
			}
			return nil
		})
	}
	run := newRun(meta.RunID, started, upnsync.RunPlan, command)
	run.Directory, run.PlanSHA256, run.Forced = body.Directory, digest, body.Forced
	o := Outcome{Conflicts: body.Summary.Conflicts}
	applied, err := ss.apply(ctx, run, &plan, &meta, &o)
	if err != nil {
		return Failed(err)
	}
	o = ss.finish(&plan, meta, o)
	if o.Err == nil {
		log.Info("upnsync apply finished", "exit_code", ExitCode(o), "run", applied.RunID, "written", len(applied.Written), "stale", len(applied.Stale))
	}
	return o
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}
