package run

import (
	"errors"
	"testing"

	upnsync "github.com/upnsync/upnsync/sync"
)

// Each exit code from the outcome alone, and when several apply the first
// of 1, 3, 2, 4 wins.
func TestExitCode(t *testing.T) {
	failed := errors.New("boom")
	for _, tt := range []struct {
		name string
		o    Outcome
		want int
	}{
		{"nothing to do", Outcome{}, ExitOK},
		{"written, nothing else", Outcome{Written: 9}, ExitOK},
		{"already applied only", Outcome{AlreadyApplied: 3}, ExitOK},
		{"error", Outcome{Err: failed}, ExitError},
		{"guard", Outcome{Stopped: "a safety guard stopped the run"}, ExitGuard},
		{"pending", Outcome{Pending: 1}, ExitPending},
		{"conflicts", Outcome{Conflicts: 1}, ExitConflicts},
		{"changed since the plan", Outcome{Changed: 1}, ExitConflicts},
		{"written with conflicts", Outcome{Written: 9, Conflicts: 5}, ExitConflicts},
		{"1 over 3", Outcome{Err: failed, Stopped: "guard"}, ExitError},
		{"1 over 2", Outcome{Err: failed, Pending: 3}, ExitError},
		{"1 over 4", Outcome{Err: failed, Conflicts: 3, Changed: 1}, ExitError},
		{"3 over 2", Outcome{Stopped: "guard", Pending: 3}, ExitGuard},
		{"3 over 4", Outcome{Stopped: "guard", Conflicts: 3}, ExitGuard},
		{"2 over 4", Outcome{Pending: 3, Conflicts: 3, Changed: 1}, ExitPending},
	} {
		if got := ExitCode(tt.o); got != tt.want {
			t.Errorf("%s: exit %d, want %d", tt.name, got, tt.want)
		}
	}
}

// The one rule for users an apply did not write: already holding the
// planned value is already applied, anything else (another value, gone) is
// changed.
func TestTally(t *testing.T) {
	var o Outcome
	o.Tally(upnsync.Applied{Written: []string{"1", "2"}, Stale: []upnsync.Stale{
		{UserID: "3", Expected: "a", Found: "a;b", Planned: "a;b"},
		{UserID: "4", Expected: "a", Found: "c", Planned: "a;b"},
		{UserID: "5", Expected: "a", Missing: true, Planned: "a;b"},
		// Gone users hold nothing, even when nothing was planned.
		{UserID: "6", Missing: true},
	}})
	if o.Written != 2 || o.AlreadyApplied != 1 || o.Changed != 3 || ExitCode(o) != ExitConflicts {
		t.Fatalf("%+v", o)
	}
	o = Outcome{}
	o.Tally(upnsync.Applied{Stale: []upnsync.Stale{{UserID: "3", Expected: "a", Found: "a;b", Planned: "a;b"}}})
	if o.AlreadyApplied != 1 || ExitCode(o) != ExitOK {
		t.Fatalf("a user already holding the planned value is not a conflict: %+v", o)
	}
}

func TestResultAndMeaningNameEveryCode(t *testing.T) {
	seen := map[string]bool{}
	for _, code := range []int{ExitOK, ExitError, ExitPending, ExitGuard, ExitConflicts} {
		r := Result(code)
		if seen[r] || Meaning(code) == "" {
			t.Errorf("exit %d: result %q, meaning %q", code, r, Meaning(code))
		}
		seen[r] = true
	}
	if len(seen) != len(resultNames) {
		t.Errorf("results %v, metrics list %v", seen, resultNames)
	}
	for _, r := range resultNames {
		if !seen[r] {
			t.Errorf("the metrics list %q, which no exit code has", r)
		}
	}
}
