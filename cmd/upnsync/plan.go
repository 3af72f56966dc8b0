package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/upnsync/upnsync/config"
	upnsync "github.com/upnsync/upnsync/sync"
	"github.com/upnsync/upnsync/sync/octopus"
	"github.com/upnsync/upnsync/sync/planfile"
	"github.com/upnsync/upnsync/sync/report"
)

// runPlan is `upnsync plan --out FILE`: a dry run whose plan is saved for
// `upnsync apply`. The guards run here: a plan they stop is not saved.
func runPlan(ctx context.Context, s *config.Settings, stdout, stderr io.Writer) int {
	log, closeLog, err := newLogger(s, stderr)
	if err != nil {
		return fail(stderr, "%v", err)
	}
	defer closeLog()
	for _, w := range s.Warnings {
		log.Warn(w)
	}
	log.Info("upnsync plan starting", "version", version, "out", s.Out, slog.GroupAttrs("settings", s.LogAttrs()...))
	storeURL, err := octopus.PortableURL(s.Store)
	if err != nil {
		log.Error(err.Error())
		return exitError
	}
	state := s.State
	if state != "" {
		if state, err = filepath.Abs(state); err != nil {
			log.Error(fmt.Sprintf("--state %s: %v", s.State, err))
			return exitError
		}
	}
	p, code := makePlan(ctx, s, log, false, true, stdout, stderr, nil)
	if p == nil {
		return code
	}
	defer p.close()
	code, forced := guard(s, log, p, stdout, stderr)
	if code != exitOK {
		return code
	}
	me := whoAmI("upnsync plan")
	settings := settingsMap(s)
	settings["store"], settings["state"] = storeURL, state
	if s.OctopusExport != "" {
		// The export is part of the store (a DataImporter store's users):
		// `upnsync apply` must find it from any folder.
		if settings["octopus-export"], err = filepath.Abs(s.OctopusExport); err != nil {
			log.Error(fmt.Sprintf("--octopus-export %s: %v", s.OctopusExport, err))
			return exitError
		}
	}
	body := planfile.Plan{Created: time.Now().UTC(), CreatedBy: versionLine(), Host: me.Host, User: me.User,
		Store: storeURL, State: state, Directory: p.dir.Describe(), InputsSHA256: p.inputs.sum(),
		Settings: settings, Forced: forced}
	body.Changes, body.Departures, body.Summary, body.Read = planfile.FromPlan(&p.plan)
	digest, err := planfile.Write(s.Out, &body)
	if err != nil {
		log.Error(err.Error())
		return exitError
	}
	log.Info("plan saved", "file", s.Out, "sha256", digest, "changes", len(body.Changes), "inputs_sha256", body.InputsSHA256)
	p.meta.Notes = append(p.meta.Notes, fmt.Sprintf("plan saved to %s (SHA-256 %s, inputs SHA-256 %s)", s.Out, digest, body.InputsSHA256))
	p.meta.ApplyHint = "run upnsync apply " + s.Out
	p.meta.Finished = time.Now()
	if c := writeReport(s, &p.plan, p.meta, stdout, stderr); c != exitOK {
		return c
	}
	switch {
	case len(p.plan.Changes) > 0:
		return exitPending
	case len(p.plan.Conflicts) > 0:
		return exitConflicts
	}
	return exitOK
}

// runApply is `upnsync apply FILE`: the saved plan, exactly as saved, to
// the store it names; each write a compare-and-swap on the value the plan
// saw, so users changed since are skipped and reported (exit 4).
func runApply(ctx context.Context, s *config.Settings, stdout, stderr io.Writer) int {
	started := time.Now()
	log, closeLog, err := newLogger(s, stderr)
	if err != nil {
		return fail(stderr, "%v", err)
	}
	defer closeLog()
	file := s.Args[0]
	log.Info("upnsync apply starting", "version", version, "plan", file)
	body, digest, err := planfile.Read(file, s.MaxPlanAge, started)
	if err != nil {
		log.Error(err.Error())
		return exitError
	}
	command := "upnsync apply " + filepath.Base(file)
	// The store as the plan names it (URL, state, table, columns, export);
	// only the password comes from this command's settings, since a plan
	// never holds one.
	opts := storeOptions(s, octopus.Options{State: body.State})
	opts.Table, opts.Columns, opts.OctopusExport = body.Settings["store-table"], body.Settings["store-columns"], body.Settings["octopus-export"]
	lock, err := lockStore(ctx, body.Store, opts, s.WaitLock, command, log)
	if err != nil {
		log.Error(err.Error())
		return exitError
	}
	defer releaseLock(lock, log)
	store, err := octopus.Open(ctx, body.Store, opts)
	if err != nil {
		log.Error(err.Error())
		return exitError
	}
	defer store.Close()

	plan := body.EnginePlan()
	meta := report.Meta{Mode: report.ModeApply, Directory: body.Directory, Store: store.Describe(), Started: started,
		Source: fmt.Sprintf("plan %s, made %s by %s on %s from %s (SHA-256 %s)", file,
			body.Created.UTC().Format("2006-01-02 15:04:05 UTC"), orUnknown(body.User), orUnknown(body.Host), body.Directory, digest)}
	if len(body.Forced) > 0 {
		meta.Notes = append(meta.Notes, "the plan was made with --force past: "+joinLines(body.Forced))
	}
	if j, ok := store.(upnsync.Journal); ok {
		_ = j.Runs(ctx, func(r upnsync.RunInfo) error {
			if r.PlanSHA256 == digest {
				meta.Notes = append(meta.Notes, fmt.Sprintf("this plan was already applied by run %s (%s); it is applied again only to users that still hold the values it saw",
					r.ID, r.Started.UTC().Format("2006-01-02 15:04:05 UTC")))
			}
			return nil
		})
	}
	run := runOf(newRunID(started), started, upnsync.RunPlan, command)
	run.Directory, run.PlanSHA256, run.Forced = body.Directory, digest, body.Forced
	applied := upnsync.Applied{RunID: run.ID}
	if len(plan.Changes) > 0 {
		applied, err = store.Apply(ctx, run, plan.Changes)
		logApplied(log, &applied)
	}
	meta.Applied = &applied
	meta.Finished = time.Now()
	if err != nil {
		meta.Stopped = err.Error()
		_ = writeReport(s, &plan, meta, stdout, stderr)
		log.Error(err.Error())
		return exitError
	}
	if c := writeReport(s, &plan, meta, stdout, stderr); c != exitOK {
		return c
	}
	code := exitOK
	for _, st := range applied.Stale {
		if !st.AlreadyApplied() {
			code = exitConflicts
		}
	}
	if body.Summary.Conflicts > 0 {
		code = exitConflicts
	}
	log.Info("upnsync apply finished", "exit_code", code, "run", applied.RunID, "written", len(applied.Written), "stale", len(applied.Stale))
	return code
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}
