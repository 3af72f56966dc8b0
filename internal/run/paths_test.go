package run

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/upnsync/upnsync/config"
	"github.com/upnsync/upnsync/internal/runlog"
)

// lastRun is the id of the newest run in the demo store's journal.
func lastRun(t *testing.T, d *demo) string {
	t.Helper()
	runs, _, err := Runs(context.Background(), d.env(), d.settings(t, "runs", "--store", d.store))
	if err != nil || len(runs) == 0 {
		t.Fatalf("runs: %v %v", runs, err)
	}
	return runs[0].ID
}

// mustSync runs a sync that must end with want, to set a test up.
func mustSync(t *testing.T, d *demo, want int, extra ...string) {
	t.Helper()
	if o := Sync(context.Background(), d.env(), d.sync(t, extra...)); ExitCode(o) != want {
		t.Fatalf("setting up: sync %q: %+v (exit %d, want %d)\n%s", extra, o, ExitCode(o), want, d.stderr)
	}
}

// Every path a command can take ends in an Outcome whose exit code is the
// documented one: each case runs the library on the demo data (a real
// SQLite store, a real LDIF export) and checks the code and the counts
// that decided it.
func TestExitCodeOfEveryPath(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name  string
		setup func(t *testing.T, d *demo)
		run   func(t *testing.T, d *demo) Outcome
		want  int
		check func(t *testing.T, d *demo, o Outcome)
	}{
		{name: "sync dry run with changes", want: ExitPending,
			run: func(t *testing.T, d *demo) Outcome { return Sync(ctx, d.env(), d.sync(t)) },
			check: func(t *testing.T, d *demo, o Outcome) {
				if o.Pending != 9 || o.Conflicts != 5 || o.Written != 0 {
					t.Errorf("%+v", o)
				}
			}},
		{name: "sync --apply with conflicts", want: ExitConflicts,
			run: func(t *testing.T, d *demo) Outcome { return Sync(ctx, d.env(), d.sync(t, "--apply")) },
			check: func(t *testing.T, d *demo, o Outcome) {
				if o.Written != 9 || o.Conflicts != 5 || o.Pending != 0 || d.field(t, "1001") != `jdoe;CORP\jdoe;jane.doe@corp.example.com` {
					t.Errorf("%+v, 1001 = %q", o, d.field(t, "1001"))
				}
			}},
		{name: "sync --apply without conflicts", want: ExitOK, setup: func(t *testing.T, d *demo) { d.onlyJane(t) },
			run: func(t *testing.T, d *demo) Outcome { return Sync(ctx, d.env(), d.sync(t, "--apply")) },
			check: func(t *testing.T, d *demo, o Outcome) {
				if o.Written != 1 {
					t.Errorf("%+v", o)
				}
			}},
		{name: "sync dry run in sync", want: ExitOK,
			setup: func(t *testing.T, d *demo) { d.onlyJane(t); mustSync(t, d, ExitOK, "--apply") },
			run:   func(t *testing.T, d *demo) Outcome { return Sync(ctx, d.env(), d.sync(t)) }},
		{name: "sync dry run with conflicts only", want: ExitConflicts,
			setup: func(t *testing.T, d *demo) { mustSync(t, d, ExitConflicts, "--apply") },
			run:   func(t *testing.T, d *demo) Outcome { return Sync(ctx, d.env(), d.sync(t)) }},
		{name: "sync stopped by a threshold guard", want: ExitGuard,
			run: func(t *testing.T, d *demo) Outcome {
				return Sync(ctx, d.env(), d.sync(t, "--apply", "--max-changes", "1"))
			},
			check: func(t *testing.T, d *demo, o Outcome) {
				if !strings.Contains(o.Stopped, "safety guard") || o.Written != 0 || !strings.Contains(d.field(t, "1001"), `jdoe;CORP\jdoe`) || strings.Contains(d.field(t, "1001"), "@") {
					t.Errorf("%+v, 1001 = %q", o, d.field(t, "1001"))
				}
			}},
		{name: "sync through a guard with --force", want: ExitConflicts,
			run: func(t *testing.T, d *demo) Outcome {
				return Sync(ctx, d.env(), d.sync(t, "--apply", "--max-changes", "1", "--force"))
			}},
		// An incomplete read is an error of the read (1 wins over the
		// completeness guard's 3): nothing is written, and the report says
		// the read is incomplete.
		{name: "sync of an incomplete read", want: ExitError,
			setup: func(t *testing.T, d *demo) {
				appendFile(t, d.ldif, "\n# search result\nsearch: 2\nresult: 4 Size limit exceeded\n")
			},
			run: func(t *testing.T, d *demo) Outcome { return Sync(ctx, d.env(), d.sync(t, "--apply")) },
			check: func(t *testing.T, d *demo, o Outcome) {
				if !strings.Contains(o.Err.Error(), "Size limit exceeded") || !strings.Contains(d.stdout.String(), "INCOMPLETE") ||
					d.field(t, "1001") != `jdoe;CORP\jdoe` {
					t.Errorf("%+v\n%s", o, d.stdout)
				}
			}},
		{name: "sync of a directory that cannot be read", want: ExitError,
			setup: func(t *testing.T, d *demo) { os.Remove(d.ldif) },
			run:   func(t *testing.T, d *demo) Outcome { return Sync(ctx, d.env(), d.sync(t, "--apply")) }},
		{name: "sync with a store that cannot be opened", want: ExitError,
			run: func(t *testing.T, d *demo) Outcome {
				return Sync(ctx, d.env(), d.settings(t, "--config-file-path", d.mapping, "--directory", "ldif:"+d.ldif,
					"--store", "sqlite:"+filepath.Join(d.dir, "missing", "octopus.db")))
			}},
		// An output that cannot be written is found before anything is:
		// no log, no summary, the store as it was.
		{name: "sync --apply whose report folder is missing", want: ExitError,
			run: func(t *testing.T, d *demo) Outcome {
				return Sync(ctx, d.env(), d.sync(t, "--apply", "--report-file", filepath.Join(d.dir, "missing", "report.txt"),
					"--log-file-path", filepath.Join(d.dir, "logs")+"/", "--summary-file", filepath.Join(d.dir, "summary.json")))
			},
			check: func(t *testing.T, d *demo, o Outcome) {
				if o.Pending != 0 || o.Written != 0 || !strings.Contains(d.stderr.String(), "--report-file "+filepath.Join(d.dir, "missing", "report.txt")+": the folder") ||
					d.field(t, "1001") != `jdoe;CORP\jdoe` {
					t.Errorf("%+v\n%s", o, d.stderr)
				}
				for _, p := range []string{"logs", "summary.json"} {
					if _, err := os.Stat(filepath.Join(d.dir, p)); err == nil {
						t.Errorf("%s was written although the report cannot be", p)
					}
				}
			}},
		{name: "guard stop whose report folder is missing", want: ExitError,
			run: func(t *testing.T, d *demo) Outcome {
				return Sync(ctx, d.env(), d.sync(t, "--max-changes", "1", "--report-file", filepath.Join(d.dir, "missing", "report.txt")))
			},
			check: func(t *testing.T, d *demo, o Outcome) {
				if o.Stopped != "" || o.Err == nil {
					t.Errorf("%+v", o)
				}
			}},
		{name: "plan --out", want: ExitPending,
			run: func(t *testing.T, d *demo) Outcome {
				return Plan(ctx, d.env(), d.sync(t, "plan", "--out", filepath.Join(d.dir, "plan.json")))
			},
			check: func(t *testing.T, d *demo, o Outcome) {
				if _, err := os.Stat(filepath.Join(d.dir, "plan.json")); err != nil || o.Pending != 9 {
					t.Errorf("%+v %v", o, err)
				}
			}},
		{name: "plan --out stopped by a guard", want: ExitGuard,
			run: func(t *testing.T, d *demo) Outcome {
				return Plan(ctx, d.env(), d.sync(t, "plan", "--out", filepath.Join(d.dir, "plan.json"), "--max-changes", "1"))
			},
			check: func(t *testing.T, d *demo, o Outcome) {
				if _, err := os.Stat(filepath.Join(d.dir, "plan.json")); err == nil {
					t.Error("a plan a guard stopped was saved")
				}
			}},
		{name: "apply PLAN with the plan's conflicts", want: ExitConflicts,
			setup: func(t *testing.T, d *demo) { mustPlan(t, d) },
			run:   func(t *testing.T, d *demo) Outcome { return applyPlan(t, d) },
			check: func(t *testing.T, d *demo, o Outcome) {
				if o.Written != 9 || o.Conflicts != 5 {
					t.Errorf("%+v", o)
				}
			}},
		{name: "apply PLAN without conflicts", want: ExitOK,
			setup: func(t *testing.T, d *demo) { d.onlyJane(t); mustPlan(t, d) },
			run:   func(t *testing.T, d *demo) Outcome { return applyPlan(t, d) }},
		{name: "apply PLAN of a user edited since", want: ExitConflicts,
			setup: func(t *testing.T, d *demo) { d.onlyJane(t); mustPlan(t, d); d.setField(t, "1001", "jdoe;typed") },
			run:   func(t *testing.T, d *demo) Outcome { return applyPlan(t, d) },
			check: func(t *testing.T, d *demo, o Outcome) {
				if o.Changed != 1 || o.Written != 0 || d.field(t, "1001") != "jdoe;typed" {
					t.Errorf("%+v", o)
				}
			}},
		{name: "apply PLAN of a changed file", want: ExitError,
			setup: func(t *testing.T, d *demo) {
				mustPlan(t, d)
				file := filepath.Join(d.dir, "plan.json")
				data, _ := os.ReadFile(file)
				os.WriteFile(file, []byte(strings.Replace(string(data), "jane.doe@corp.example.com", "admin@corp.example.com", 1)), 0o600)
			},
			run: func(t *testing.T, d *demo) Outcome { return applyPlan(t, d) }},
		{name: "undo dry run", want: ExitPending,
			setup: func(t *testing.T, d *demo) { d.onlyJane(t); mustSync(t, d, ExitOK, "--apply") },
			run: func(t *testing.T, d *demo) Outcome {
				return Undo(ctx, d.env(), d.settings(t, "undo", lastRun(t, d), "--store", d.store), lastRun(t, d))
			},
			check: func(t *testing.T, d *demo, o Outcome) {
				if o.Pending != 1 || d.field(t, "1001") != `jdoe;CORP\jdoe;jane.doe@corp.example.com` {
					t.Errorf("%+v", o)
				}
			}},
		{name: "undo --apply", want: ExitOK,
			setup: func(t *testing.T, d *demo) { d.onlyJane(t); mustSync(t, d, ExitOK, "--apply") },
			run: func(t *testing.T, d *demo) Outcome {
				id := lastRun(t, d)
				return Undo(ctx, d.env(), d.settings(t, "undo", id, "--store", d.store, "--apply"), id)
			},
			check: func(t *testing.T, d *demo, o Outcome) {
				if o.Written != 1 || d.field(t, "1001") != `jdoe;CORP\jdoe` {
					t.Errorf("%+v, 1001 = %q", o, d.field(t, "1001"))
				}
			}},
		{name: "undo --apply of a user edited since", want: ExitConflicts,
			setup: func(t *testing.T, d *demo) {
				d.onlyJane(t)
				mustSync(t, d, ExitOK, "--apply")
				d.setField(t, "1001", "jdoe;typed")
			},
			run: func(t *testing.T, d *demo) Outcome {
				id := lastRun(t, d)
				return Undo(ctx, d.env(), d.settings(t, "undo", id, "--store", d.store, "--apply"), id)
			},
			check: func(t *testing.T, d *demo, o Outcome) {
				if o.Changed != 1 || d.field(t, "1001") != "jdoe;typed" {
					t.Errorf("%+v", o)
				}
			}},
		{name: "undo of a run never recorded", want: ExitError,
			run: func(t *testing.T, d *demo) Outcome {
				return Undo(ctx, d.env(), d.settings(t, "undo", "20260101T000000Z-000000", "--store", d.store), "20260101T000000Z-000000")
			}},
		{name: "scheduled run", want: ExitPending,
			run: func(t *testing.T, d *demo) Outcome {
				return scheduled(t, d, d.sync(t))
			}},
		{name: "scheduled run whose settings no longer read", want: ExitError,
			run: func(t *testing.T, d *demo) Outcome {
				file := filepath.Join(d.dir, "upnsync.conf")
				if err := os.WriteFile(file, nil, 0o600); err != nil {
					t.Fatal(err)
				}
				s := d.sync(t, "--settings", file, "--summary-file", filepath.Join(d.dir, "summary.json"))
				os.Remove(file)
				return scheduled(t, d, s)
			},
			check: func(t *testing.T, d *demo, o Outcome) {
				data, err := os.ReadFile(filepath.Join(d.dir, "summary.json"))
				if err != nil || !strings.Contains(string(data), `"exit_code": 1`) || !strings.Contains(string(data), "the settings no longer read") {
					t.Errorf("summary of a run that could not start: %v\n%s", err, data)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newDemo(t)
			if tt.setup != nil {
				tt.setup(t, d)
			}
			d.stdout.Reset()
			d.stderr.Reset()
			o := tt.run(t, d)
			if got := ExitCode(o); got != tt.want {
				t.Fatalf("exit %d, want %d: %+v\nstderr:\n%s", got, tt.want, o, d.stderr)
			}
			if tt.check != nil {
				tt.check(t, d, o)
			}
		})
	}
}

// scheduled is one run as the scheduler starts it; begin and end must be
// called around it, with the run's log.
func scheduled(t *testing.T, d *demo, s *config.Settings) Outcome {
	t.Helper()
	var began, ended bool
	o := Scheduled(context.Background(), d.env(), s, 1, time.Now(),
		func(*runlog.Log) { began = true }, func(Outcome) { ended = true })
	if began != ended || began != (o.Err == nil || !strings.Contains(o.Err.Error(), "run 1:")) {
		t.Errorf("begin called %v, end called %v, for %+v", began, ended, o)
	}
	return o
}

func mustPlan(t *testing.T, d *demo) {
	t.Helper()
	o := Plan(context.Background(), d.env(), d.sync(t, "plan", "--out", filepath.Join(d.dir, "plan.json")))
	if ExitCode(o) != ExitPending {
		t.Fatalf("setting up: plan: %+v\n%s", o, d.stderr)
	}
}

func applyPlan(t *testing.T, d *demo) Outcome {
	t.Helper()
	file := filepath.Join(d.dir, "plan.json")
	return ApplyPlan(context.Background(), d.env(), d.settings(t, "apply", file), file)
}

func appendFile(t *testing.T, path, text string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(text); err != nil {
		t.Fatal(err)
	}
}
