package run

import (
	"context"
	"strings"
	"testing"
)

// Jane Doe's Windows usernames before upnsync and as it plans them.
const (
	janeBefore  = `jdoe;CORP\jdoe`
	janePlanned = `jdoe;CORP\jdoe;jane.doe@corp.example.com`
)

// The one rule for a user that already holds the planned value, on each
// path that writes (sync --apply is in applied_unix_test.go): it is
// counted as already applied, never written again and never a conflict.

func TestApplyPlanCountsAUserAlreadyHoldingThePlannedValue(t *testing.T) {
	d := newDemo(t)
	d.onlyJane(t)
	mustPlan(t, d)
	d.setField(t, "1001", janePlanned) // someone made the change by hand
	o := applyPlan(t, d)
	if ExitCode(o) != ExitOK || o.AlreadyApplied != 1 || o.Written != 0 || o.Changed != 0 {
		t.Fatalf("exit %d, %+v\n%s", ExitCode(o), o, d.stderr)
	}
	if got := d.field(t, "1001"); got != janePlanned {
		t.Fatalf("1001 = %q", got)
	}
}

func TestUndoCountsAUserAlreadyRestored(t *testing.T) {
	for _, apply := range []bool{false, true} {
		name := "dry run"
		if apply {
			name = "--apply"
		}
		t.Run(name, func(t *testing.T) {
			d := newDemo(t)
			d.onlyJane(t)
			mustSync(t, d, ExitOK, "--apply")
			id := lastRun(t, d)
			d.setField(t, "1001", janeBefore) // restored by hand
			args := []string{"undo", id, "--store", d.store, "--report", "json"}
			if apply {
				args = append(args, "--apply")
			}
			d.stdout.Reset()
			o := Undo(context.Background(), d.env(), d.settings(t, args...), id)
			if ExitCode(o) != ExitOK || o.AlreadyApplied != 1 || o.Pending != 0 || o.Written != 0 || o.Changed != 0 {
				t.Fatalf("exit %d, %+v\n%s", ExitCode(o), o, d.stderr)
			}
			want := `"already_applied": true`
			if !apply {
				want = "user 1001 already holds its value from before the run"
			}
			if !strings.Contains(d.stdout.String(), want) {
				t.Errorf("the report does not say %q:\n%s", want, d.stdout)
			}
			if got := d.field(t, "1001"); got != janeBefore {
				t.Fatalf("1001 = %q", got)
			}
		})
	}
}
