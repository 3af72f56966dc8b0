package run

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/upnsync/upnsync/config"
	"github.com/upnsync/upnsync/internal/plural"
	"github.com/upnsync/upnsync/internal/runlog"
	upnsync "github.com/upnsync/upnsync/sync"
	"github.com/upnsync/upnsync/sync/octopus"
	"github.com/upnsync/upnsync/sync/report"
)

// Undo is `upnsync undo RUN_ID`: restore the before value of each user
// the run wrote, where the field still holds what the run wrote (a
// compare-and-swap); users changed since are reported and left alone, and
// users that already hold their value from before the run are already
// applied (Tally). Like a sync it writes only with --apply, and then it is
// itself a journaled run that can be undone.
func Undo(ctx context.Context, env Env, s *config.Settings, runID string) Outcome {
	return inLog(env, s, func(l *runlog.Log, started time.Time) Outcome {
		return undoRun(ctx, env, s, runID, l.Logger(), started)
	})
}

func undoRun(ctx context.Context, env Env, s *config.Settings, runID string, log *slog.Logger, started time.Time) Outcome {
	logWarnings(log, s)
	command := "upnsync undo " + runID
	if s.Apply {
		command += " --apply"
	}
	ss, err := openStore(ctx, env, s, log, s.Store, StoreOptions(s, octopus.Options{State: s.State}), s.Apply, command)
	if err != nil {
		return logFailed(log, err)
	}
	defer ss.close()
	j, err := ss.journal()
	if err != nil {
		return logFailed(log, err)
	}
	var inverse []upnsync.Change
	info, err := j.RunJournal(ctx, runID, func(e upnsync.JournalEntry) error {
		inverse = append(inverse, e.Inverse())
		return nil
	})
	if err != nil {
		return logFailed(log, err)
	}
	if by, err := standingUndo(ctx, j, info); err != nil || by != "" {
		if err == nil {
			err = fmt.Errorf("run %s was already undone by run %s: undoing it again would write nothing (upnsync runs lists both); to write run %s's values back, undo run %s",
				info.ID, by, info.ID, by)
		}
		return logFailed(log, err)
	}
	meta := report.Meta{Mode: mode(s), Store: ss.store.Describe(), Started: started, RunID: newRunID(started),
		Source: fmt.Sprintf("undo of run %s (%s, %s, %s written)", info.ID, orKind(info.Kind),
			info.Started.UTC().Format("2006-01-02 15:04:05 UTC"), plural.Count(info.Written, "user"))}
	if !s.Apply {
		meta.ApplyHint = "run the same command with --apply (or /Apply)"
	}
	if len(info.UndoneBy) > 0 {
		meta.Notes = append(meta.Notes, fmt.Sprintf("run %s was undone by run %s, itself undone since: this undoes it again", info.ID, strings.Join(info.UndoneBy, ", ")))
	}
	if info.Kind == upnsync.RunUndo {
		meta.Notes = append(meta.Notes, fmt.Sprintf("run %s is itself an undo (of run %s): undoing it writes that run's values again", info.ID, info.Undoes))
	}
	current, users, err := currentValues(ctx, ss.store, inverse)
	if err != nil {
		return logFailed(log, err)
	}

	plan := upnsync.Plan{Read: upnsync.ReadResult{Complete: true}, Stats: upnsync.Stats{StoreUsers: users}, Changes: upnsync.ChangesOf(inverse...)}
	// A store that cannot write some of the reversals (a DataImporter
	// workbook only adds) says so now, as for a sync: those users become
	// conflicts and the rest is restored.
	if v, ok := ss.store.(octopus.Vetter); ok {
		plan.Withdraw(v.Vet(plan.Changes))
	}
	o := Outcome{Conflicts: len(plan.Conflicts)}
	if !s.Apply {
		// The dry run previews the compare-and-swap the apply would do,
		// and counts its users by the same rule.
		var stale []upnsync.Stale
		var pending []upnsync.Change
		pending, stale = undoPreview(plan.Changes.Slice(), current)
		plan.Changes = upnsync.ChangesOf(pending...)
		for _, st := range stale {
			meta.Notes = append(meta.Notes, previewNote(st))
		}
		o.Pending = plan.Changes.Len()
		o.tallyStale(stale)
	} else {
		run := newRun(meta.RunID, started, upnsync.RunUndo, command)
		run.Undoes, run.Directory = info.ID, "undo of run "+info.ID
		if _, err := ss.apply(ctx, run, &plan, &meta, &o); err != nil {
			return Failed(err)
		}
	}
	plan.Stats.Changes = plan.Changes.Len()
	plan.Stats.Conflicts = len(plan.Conflicts)
	o = ss.finish(&plan, meta, o)
	if o.Err == nil {
		log.Info("upnsync undo finished", "run", runID, "exit_code", ExitCode(o))
	}
	return o
}

// standingUndo is the run that undid info and still stands (it was not
// undone itself, nor its undo in turn undone...), or "" when there is
// none: a run undone, then "redone" by undoing its undo, may be undone
// again.
func standingUndo(ctx context.Context, j upnsync.Journal, info upnsync.RunInfo) (string, error) {
	if len(info.UndoneBy) == 0 {
		return "", nil
	}
	undoneBy := map[string][]string{}
	err := j.Runs(ctx, func(r upnsync.RunInfo) error {
		if len(r.UndoneBy) > 0 {
			undoneBy[r.ID] = r.UndoneBy
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	var stands func(id string, depth int) bool
	stands = func(id string, depth int) bool {
		if depth > len(undoneBy) {
			return true // a cycle the journal cannot hold; stop
		}
		for _, u := range undoneBy[id] {
			if stands(u, depth+1) {
				return false
			}
		}
		return true
	}
	for _, u := range info.UndoneBy {
		if stands(u, 0) {
			return u, nil
		}
	}
	return "", nil
}

func orKind(k string) string {
	if k == "" {
		return upnsync.RunSync
	}
	return k
}

// currentValues reads the store once: the Windows usernames of the users
// the undo restores, with their names filled in for the report, and the
// number of users.
func currentValues(ctx context.Context, store upnsync.Store, changes []upnsync.Change) (map[string]string, int, error) {
	idx := make(map[string]int, len(changes))
	for i, c := range changes {
		idx[c.UserID] = i
	}
	current := make(map[string]string, len(changes))
	n := 0
	err := store.Users(ctx, func(u upnsync.User) error {
		n++
		if i, ok := idx[u.ID]; ok {
			changes[i].UserName = u.Name()
			current[u.ID] = u.WindowsUsernames
		}
		return nil
	})
	return current, n, err
}

// undoPreview is the compare-and-swap an undo --apply would do, without
// writing: the changes whose user still holds what the run wrote, and the
// others as the store would report them.
func undoPreview(inverse []upnsync.Change, current map[string]string) ([]upnsync.Change, []upnsync.Stale) {
	var pending []upnsync.Change
	var stale []upnsync.Stale
	for _, c := range inverse {
		v, ok := current[c.UserID]
		switch {
		case !ok:
			stale = append(stale, upnsync.Stale{UserID: c.UserID, Expected: c.Before, Missing: true, Planned: c.After})
		case v == c.Before:
			pending = append(pending, c)
		default:
			stale = append(stale, upnsync.Stale{UserID: c.UserID, Expected: c.Before, Found: v, Planned: c.After})
		}
	}
	return pending, stale
}

// previewNote says why undo would leave a user as it is.
func previewNote(st upnsync.Stale) string {
	switch {
	case st.Missing:
		return fmt.Sprintf("user %s no longer exists; nothing to restore", st.UserID)
	case st.AlreadyApplied():
		return fmt.Sprintf("user %s already holds its value from before the run", st.UserID)
	}
	return fmt.Sprintf("user %s changed since the run (now %q, the run wrote %q); it will be left as it is", st.UserID, st.Found, st.Expected)
}
