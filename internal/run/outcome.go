package run

import (
	"errors"

	upnsync "github.com/upnsync/upnsync/sync"
)

// Exit codes, read by Task Scheduler and cron (docs/design.md). ExitCode
// decides which one a run ends with.
const (
	// ExitOK: in sync, or applied without conflicts.
	ExitOK = 0
	// ExitError: an error (usage errors included); nothing written.
	ExitError = 1
	// ExitPending: a dry run (or a saved plan) with changes pending.
	ExitPending = 2
	// ExitGuard: stopped by a safety guard; nothing written.
	ExitGuard = 3
	// ExitConflicts: finished with conflicts (or users changed since the
	// plan) and no changes pending.
	ExitConflicts = 4
)

// Outcome is what one command did, whichever path it took: a sync (dry run
// or --apply, on its own or scheduled), plan --out, apply PLAN, undo. The
// run has logged or printed everything about it by the time it returns;
// what is left is the exit code, which ExitCode decides from it alone.
type Outcome struct {
	// Err ended the run: bad settings or mapping file, a directory or
	// store that failed, a report that could not be written. The run has
	// said why.
	Err error
	// Stopped says why a safety guard (a threshold, or a directory read
	// not proven complete) stopped the run before it wrote anything.
	Stopped string
	// Pending counts the changes planned and not written: a dry run's, a
	// saved plan's, an undo's preview.
	Pending int
	// Conflicts counts the plan's conflicts: they need a person.
	Conflicts int
	// Changed counts the users left alone because they changed since the
	// plan (or are gone): see Tally.
	Changed int
	// Written and AlreadyApplied count what an apply did: see Tally.
	Written        int
	AlreadyApplied int
	// OutputErr is an output (the report) that could not be written after
	// an apply. It was printed and logged, and it does not change the exit
	// code, which says what was written to the store.
	OutputErr error
}

// ExitCode is the one place that decides how a run ends. When several
// codes apply, the first of 1, 3, 2, 4 wins.
func ExitCode(o Outcome) int {
	switch {
	case o.Err != nil:
		return ExitError
	case o.Stopped != "":
		return ExitGuard
	case o.Pending > 0:
		return ExitPending
	case o.Conflicts > 0 || o.Changed > 0:
		return ExitConflicts
	}
	return ExitOK
}

// Failed is the outcome of a run that failed with err.
func Failed(err error) Outcome { return Outcome{Err: err} }

// Tally counts an apply's users into o by the one rule that sync --apply,
// apply PLAN and undo --apply share (and undo's dry run, which previews
// the same compare-and-swap):
//   - written: the user held what the plan saw and now holds the planned
//     value;
//   - already applied: the user already holds the planned value (a plan
//     applied twice, an undo repeated, an edit that did the same). The store
//     is as planned: the user is counted and listed, never a conflict, and
//     an incremental run need not read it again;
//   - changed: the user holds something else than the plan saw, or is
//     gone. It is left as it is, reported, and ends the run with exit 4
//     (unless something worse applies); an incremental run reads it again.
func (o *Outcome) Tally(a upnsync.Applied) {
	o.Written += len(a.Written)
	o.tallyStale(a.Stale)
}

func (o *Outcome) tallyStale(stale []upnsync.Stale) {
	for _, st := range stale {
		if st.AlreadyApplied() {
			o.AlreadyApplied++
		} else {
			o.Changed++
		}
	}
}

// resultNames lists every result, for the metrics' state set.
var resultNames = []string{"ok", "changes-pending", "conflicts", "stopped-by-guard", "error"}

// Result names an exit code's result, as the summary's "result", the
// metrics' result label and the scheduler's log say it.
func Result(code int) string {
	switch code {
	case ExitOK:
		return "ok"
	case ExitPending:
		return "changes-pending"
	case ExitGuard:
		return "stopped-by-guard"
	case ExitConflicts:
		return "conflicts"
	}
	return "error"
}

// Meaning says what an exit code means, for people.
func Meaning(code int) string {
	switch code {
	case ExitOK:
		return "in sync"
	case ExitPending:
		return "dry run with changes pending"
	case ExitGuard:
		return "stopped by a safety guard"
	case ExitConflicts:
		return "finished with conflicts, no changes pending"
	}
	return "error"
}

// Succeeded says whether a run did its job: it read the whole directory
// and planned (and, with --apply, wrote) what it could. Pending changes and
// conflicts are answers, not failures; an error or a guard stop is not.
func Succeeded(code int) bool {
	return code == ExitOK || code == ExitPending || code == ExitConflicts
}

// reportError is a report that could not be written: its error went to
// standard error alone (the log may be what failed).
type reportError struct{ err error }

func (e *reportError) Error() string { return e.err.Error() }
func (e *reportError) Unwrap() error { return e.err }

func isReportError(err error) bool {
	var re *reportError
	return errors.As(err, &re)
}
