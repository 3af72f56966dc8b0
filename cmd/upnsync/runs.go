package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/upnsync/upnsync/config"
	upnsync "github.com/upnsync/upnsync/sync"
	"github.com/upnsync/upnsync/sync/octopus"
	"github.com/upnsync/upnsync/sync/report"
)

// openJournal opens a store for runs and undo and checks that it keeps a
// journal.
func openJournal(ctx context.Context, s *config.Settings, writable bool) (octopus.Store, upnsync.Journal, error) {
	if _, err := octopus.StateOf(s.Store, s.State); err != nil {
		return nil, nil, err
	}
	store, err := octopus.Open(ctx, s.Store, storeOptions(s, octopus.Options{ReadOnly: !writable, State: s.State}))
	if err != nil {
		return nil, nil, err
	}
	j, ok := store.(upnsync.Journal)
	if !ok {
		store.Close()
		return nil, nil, fmt.Errorf("store %s keeps no journal of runs", store.Describe())
	}
	return store, j, nil
}

type jsonRun struct {
	ID         string   `json:"id"`
	Kind       string   `json:"kind"`
	Started    string   `json:"started"`
	Finished   string   `json:"finished"`
	Written    int      `json:"written"`
	Stale      int      `json:"stale"`
	Directory  string   `json:"directory"`
	Undoes     string   `json:"undoes,omitempty"`
	UndoneBy   []string `json:"undone_by"`
	PlanSHA256 string   `json:"plan_sha256,omitempty"`
	Forced     []string `json:"forced"`
	Host       string   `json:"host"`
	User       string   `json:"user"`
	Command    string   `json:"command"`
}

func timeOrEmpty(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// runRuns is `upnsync runs`: the runs that wrote, newest first, one per
// line beginning with its id and no header, so that `head -1 | cut -d' '
// -f1` is the last run; --report json for programs.
func runRuns(ctx context.Context, s *config.Settings, stdout, stderr io.Writer) int {
	store, j, err := openJournal(ctx, s, false)
	if err != nil {
		return fail(stderr, "%v", err)
	}
	defer store.Close()
	var runs []upnsync.RunInfo
	if err := j.Runs(ctx, func(r upnsync.RunInfo) error { runs = append(runs, r); return nil }); err != nil {
		return fail(stderr, "%v", err)
	}
	switch s.Report {
	case "json":
		out := struct {
			Version int       `json:"version"`
			Store   string    `json:"store"`
			Runs    []jsonRun `json:"runs"`
		}{Version: 1, Store: store.Describe(), Runs: []jsonRun{}}
		for _, r := range runs {
			kind := r.Kind
			if kind == "" {
				kind = upnsync.RunSync
			}
			out.Runs = append(out.Runs, jsonRun{ID: r.ID, Kind: kind, Started: timeOrEmpty(r.Started),
				Finished: timeOrEmpty(r.Finished), Written: r.Written, Stale: r.Stale, Directory: r.Directory,
				Undoes: r.Undoes, UndoneBy: nonNilStrings(r.UndoneBy), PlanSHA256: r.PlanSHA256,
				Forced: nonNilStrings(r.Forced), Host: r.Host, User: r.User, Command: r.Command})
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		if err := enc.Encode(out); err != nil {
			return fail(stderr, "writing the list of runs: %v", err)
		}
	case "text":
		for _, r := range runs {
			fmt.Fprintln(stdout, runLine(r))
		}
		if len(runs) == 0 {
			fmt.Fprintf(stderr, "upnsync: no runs are recorded in %s yet\n", store.Describe())
		}
	default:
		return fail(stderr, "upnsync runs writes text or json (--report json), not %s", s.Report)
	}
	return exitOK
}

func runLine(r upnsync.RunInfo) string {
	kind := r.Kind
	if kind == "" {
		kind = upnsync.RunSync
	}
	parts := []string{r.ID, r.Started.UTC().Format("2006-01-02 15:04:05Z"), kind,
		fmt.Sprintf("written %d", r.Written), fmt.Sprintf("stale %d", r.Stale)}
	if r.Finished.IsZero() {
		parts = append(parts, "unfinished")
	}
	if r.Undoes != "" {
		parts = append(parts, "undoes "+r.Undoes)
	}
	if len(r.UndoneBy) > 0 {
		parts = append(parts, "undone by "+strings.Join(r.UndoneBy, ","))
	}
	if len(r.Forced) > 0 {
		parts = append(parts, "forced")
	}
	if r.User != "" || r.Host != "" {
		parts = append(parts, "by "+r.User+"@"+r.Host)
	}
	if r.Directory != "" {
		parts = append(parts, r.Directory)
	}
	return strings.Join(parts, "  ")
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// runUndo is `upnsync undo RUN_ID`: restore the before value of each user
// the run wrote, where the field still holds what the run wrote (a
// compare-and-swap); users changed since are reported and left alone. Like
// a sync it writes only with --apply, and then it is itself a journaled
// run that can be undone.
func runUndo(ctx context.Context, s *config.Settings, stdout, stderr io.Writer) int {
	started := time.Now()
	log, closeLog, err := newLogger(s, stderr)
	if err != nil {
		return fail(stderr, "%v", err)
	}
	defer closeLog()
	runID := s.Args[0]
	command := "upnsync undo " + runID
	if s.Apply {
		command += " --apply"
		lock, err := lockStore(ctx, s.Store, storeOptions(s, octopus.Options{State: s.State}), s.WaitLock, command, log)
		if err != nil {
			log.Error(err.Error())
			return exitError
		}
		defer releaseLock(lock, log)
	}
	store, j, err := openJournal(ctx, s, s.Apply)
	if err != nil {
		log.Error(err.Error())
		return exitError
	}
	defer store.Close()
	var inverse []upnsync.Change
	info, err := j.RunJournal(ctx, runID, func(e upnsync.JournalEntry) error {
		inverse = append(inverse, e.Inverse())
		return nil
	})
	if err != nil {
		log.Error(err.Error())
		return exitError
	}
	meta := report.Meta{Mode: mode(s), Store: store.Describe(), Started: started,
		Source: fmt.Sprintf("undo of run %s (%s, %s, %d users written)", info.ID, orKind(info.Kind),
			info.Started.UTC().Format("2006-01-02 15:04:05 UTC"), info.Written),
		ApplyHint: "run the same command with --apply (or /Apply)"}
	if len(info.UndoneBy) > 0 {
		meta.Notes = append(meta.Notes, fmt.Sprintf("run %s was already undone by run %s; users already restored are skipped", info.ID, strings.Join(info.UndoneBy, ", ")))
	}
	if info.Kind == upnsync.RunUndo {
		meta.Notes = append(meta.Notes, fmt.Sprintf("run %s is itself an undo (of run %s): undoing it writes that run's values again", info.ID, info.Undoes))
	}
	users, err := names(ctx, store, inverse)
	if err != nil {
		log.Error(err.Error())
		return exitError
	}

	plan := upnsync.Plan{Read: upnsync.ReadResult{Complete: true}, Stats: upnsync.Stats{StoreUsers: users}}
	// A store that cannot write some of the reversals (a DataImporter
	// workbook only adds) says so now, as for a sync: those users become
	// conflicts and the rest is restored.
	if v, ok := store.(octopus.Vetter); ok {
		plan.Changes = inverse
		plan.Withdraw(v.Vet(inverse))
		inverse = plan.Changes
	}
	code := exitOK
	if !s.Apply {
		pending, skipped, err := undoPreview(ctx, store, inverse)
		if err != nil {
			log.Error(err.Error())
			return exitError
		}
		plan.Changes = pending
		meta.Notes = append(meta.Notes, skipped...)
		switch {
		case len(pending) > 0:
			code = exitPending
		case len(skipped) > 0:
			code = exitConflicts
		}
	} else {
		plan.Changes = inverse
		run := runOf(newRunID(started), started, upnsync.RunUndo, command)
		run.Undoes, run.Directory = info.ID, "undo of run "+info.ID
		applied := upnsync.Applied{RunID: run.ID}
		if len(inverse) > 0 {
			applied, err = store.Apply(ctx, run, inverse)
			logApplied(log, &applied)
		}
		meta.Applied = &applied
		if err != nil {
			meta.Stopped = err.Error()
			meta.Finished = time.Now()
			_ = writeReport(s, &plan, meta, stdout, stderr)
			log.Error(err.Error())
			return exitError
		}
		for _, st := range applied.Stale {
			if !st.AlreadyApplied() {
				code = exitConflicts
			}
		}
	}
	plan.Stats.Changes = len(plan.Changes)
	plan.Stats.Conflicts = len(plan.Conflicts)
	if len(plan.Conflicts) > 0 && code == exitOK {
		code = exitConflicts
	}
	meta.Finished = time.Now()
	if c := writeReport(s, &plan, meta, stdout, stderr); c != exitOK {
		return c
	}
	log.Info("upnsync undo finished", "run", runID, "exit_code", code)
	return code
}

func orKind(k string) string {
	if k == "" {
		return upnsync.RunSync
	}
	return k
}

// names fills in the users' names for the report, reading the store once
// (only the users of the run are kept), and counts the users.
func names(ctx context.Context, store upnsync.Store, changes []upnsync.Change) (int, error) {
	idx := make(map[string]int, len(changes))
	for i, c := range changes {
		idx[c.UserID] = i
	}
	n := 0
	err := store.Users(ctx, func(u upnsync.User) error {
		n++
		if i, ok := idx[u.ID]; ok {
			changes[i].UserName = u.Name()
		}
		return nil
	})
	return n, err
}

// undoPreview tells, without writing, which users an undo would restore
// and why the others would be left alone.
func undoPreview(ctx context.Context, store upnsync.Store, inverse []upnsync.Change) ([]upnsync.Change, []string, error) {
	current := make(map[string]string, len(inverse))
	want := make(map[string]bool, len(inverse))
	for _, c := range inverse {
		want[c.UserID] = true
	}
	err := store.Users(ctx, func(u upnsync.User) error {
		if want[u.ID] {
			current[u.ID] = u.WindowsUsernames
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	var pending []upnsync.Change
	var skipped []string
	for _, c := range inverse {
		v, ok := current[c.UserID]
		switch {
		case !ok:
			skipped = append(skipped, fmt.Sprintf("user %s no longer exists; nothing to restore", c.UserID))
		case v == c.Before:
			pending = append(pending, c)
		case v == c.After:
			skipped = append(skipped, fmt.Sprintf("user %s already holds its value from before the run", c.UserID))
		default:
			skipped = append(skipped, fmt.Sprintf("user %s changed since the run (now %q, the run wrote %q); it will be left as it is", c.UserID, v, c.Before))
		}
	}
	return pending, skipped, nil
}
