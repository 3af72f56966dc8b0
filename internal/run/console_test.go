package run

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// --quiet: nothing on standard output when the run changed nothing, has
// nothing pending and no conflicts; one line otherwise. Without --quiet a
// report that went to a file leaves that line and where the report went.
func TestQuietAndReportFileOnStandardOutput(t *testing.T) {
	ctx := context.Background()
	d := newDemo(t)
	d.onlyJane(t)
	report := filepath.Join(d.dir, "report.txt")
	line := func(extra ...string) (int, string) {
		t.Helper()
		d.stdout.Reset()
		o := Sync(ctx, d.env(), d.sync(t, extra...))
		return ExitCode(o), d.stdout.String()
	}
	runID := `\d{8}T\d{6}Z-[0-9a-f]{6}`
	cases := []struct {
		name string
		args []string
		code int
		want string // a regexp of the whole of standard output
	}{
		{"quiet dry run with a change", []string{"--quiet"}, ExitPending,
			`^upnsync dry run ` + runID + `: read 1, matched 1, unchanged 0, changes 1, conflicts 0, unmatched 0, skipped 0; exit code 2 \(dry run with changes pending\)\n$`},
		{"report to a file", []string{"--report-file", report}, ExitPending,
			`^upnsync dry run ` + runID + `: read 1, .*; exit code 2 \(dry run with changes pending\); report in ` + regexp.QuoteMeta(report) + `\n$`},
		{"quiet apply", []string{"--apply", "--quiet", "--report-file", report}, ExitOK,
			`^upnsync apply ` + runID + `: read 1, matched 1, unchanged 0, changes 1, conflicts 0, unmatched 0, skipped 0; written 1; exit code 0 \(in sync\); report in ` + regexp.QuoteMeta(report) + `\n$`},
		{"quiet run in sync", []string{"--quiet"}, ExitOK, `^$`},
		{"quiet run in sync, report to a file", []string{"--quiet", "--report-file", report}, ExitOK, `^$`},
		{"run in sync, report to a file", []string{"--report-file", report}, ExitOK,
			`^upnsync dry run ` + runID + `: read 1, matched 1, unchanged 1, changes 0, .*; exit code 0 \(in sync\); report in ` + regexp.QuoteMeta(report) + `\n$`},
		{"run in sync, report on standard output", nil, ExitOK, `^upnsync dry run, .*\nSummary: read 1, matched 1, unchanged 1, changes 0(.|\n)*Nothing to change`},
	}
	for _, c := range cases {
		code, out := line(c.args...)
		if code != c.code || !regexp.MustCompile(c.want).MatchString(out) {
			t.Errorf("%s: exit %d (want %d), standard output:\n%q\nwant %s\nstderr:\n%s", c.name, code, c.code, out, c.want, d.stderr)
		}
	}
	// The report file holds the whole report, its summary first.
	if data, _ := os.ReadFile(report); !strings.HasPrefix(string(data), "upnsync dry run, ") ||
		!strings.Contains(strings.SplitN(string(data), "\n", 3)[1], "Summary: read 1, matched 1, unchanged 1") {
		t.Errorf("report file:\n%s", data)
	}

	// Conflicts are worth a line; an error is on standard error only.
	d = newDemo(t)
	if code, out := line("--apply", "--quiet"); code != ExitConflicts || !strings.Contains(out, "; written 9; exit code 4 (finished with conflicts") || strings.Count(out, "\n") != 1 {
		t.Errorf("quiet apply with conflicts: exit %d\n%s", code, out)
	}
	if code, out := line("--quiet"); code != ExitConflicts || !strings.Contains(out, "conflicts 5") || strings.Count(out, "\n") != 1 {
		t.Errorf("quiet dry run with conflicts only: exit %d\n%s", code, out)
	}
	os.Remove(d.ldif)
	d.stderr.Reset()
	if code, out := line("--quiet"); code != ExitError || out != "" || !strings.Contains(d.stderr.String(), "directory.ldif") {
		t.Errorf("quiet run that fails: exit %d, stdout %q, stderr %q", code, out, d.stderr)
	}
}

// Two outputs naming the same file, or two on standard output, are refused
// before anything is written; "-" is standard output.
func TestOutputsCheckedTogether(t *testing.T) {
	ctx := context.Background()
	d := newDemo(t)
	summary := filepath.Join(d.dir, "summary.json")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--report-file", summary, "--summary-file", filepath.Join(d.dir, ".", "summary.json")},
			"--summary-file " + filepath.Join(d.dir, "summary.json") + ": --report-file names the same file; give each its own"},
		{[]string{"--summary-file", "-"}, "--summary-file -: standard output already has the report; give one of them a file"},
		{[]string{"--report-file", "-", "--metrics-file", "-"}, "--metrics-file -: standard output already has --report-file -"},
		{[]string{"--log-file-path", "-"}, "--log-file-path -: the log does not go to standard output"},
		{[]string{"--report-file", d.dir}, "--report-file " + d.dir + ": it is a folder, not a file"},
	} {
		d.stderr.Reset()
		o := Sync(ctx, d.env(), d.sync(t, c.args...))
		if ExitCode(o) != ExitError || !strings.Contains(d.stderr.String(), c.want) {
			t.Errorf("%q: exit %d, stderr %q, want %q", c.args, ExitCode(o), d.stderr, c.want)
		}
		if _, err := os.Stat(summary); err == nil {
			t.Fatalf("%q: the summary was written", c.args)
		}
	}
	// --report-file - and --summary-file FILE: the report on standard
	// output, the summary in its file.
	d.stdout.Reset()
	if o := Sync(ctx, d.env(), d.sync(t, "--report", "json", "--report-file", "-", "--summary-file", summary)); ExitCode(o) != ExitPending ||
		!strings.HasPrefix(d.stdout.String(), "{\n  \"version\": 1,") {
		t.Errorf("--report-file -: %+v\n%s", o, d.stdout)
	}
}

// Undoing a run already undone is refused and records nothing; undoing
// the undo (a redo) makes the run undoable again. An undo's report shows
// what an undo has: its changes, no read, no empty lists.
func TestUndoTwiceIsRefused(t *testing.T) {
	ctx := context.Background()
	d := newDemo(t)
	d.onlyJane(t)
	mustSync(t, d, ExitOK, "--apply")
	id := lastRun(t, d)
	undo := func(runID string, apply bool) Outcome {
		args := []string{"undo", runID, "--store", d.store}
		if apply {
			args = append(args, "--apply")
		}
		d.stdout.Reset()
		d.stderr.Reset()
		return Undo(ctx, d.env(), d.settings(t, args...), runID)
	}
	if o := undo(id, true); ExitCode(o) != ExitOK || o.Written != 1 {
		t.Fatalf("undo: %+v\n%s", o, d.stderr)
	}
	rep := d.stdout.String()
	for _, absent := range []string{"Unmatched", "Skipped", "Conflicts", "read 0"} {
		if strings.Contains(rep, absent) {
			t.Errorf("the undo's report has %q:\n%s", absent, rep)
		}
	}
	if lines := strings.Split(rep, "\n"); !strings.HasPrefix(lines[1], "Summary: changes 1; written 1") || !strings.Contains(rep, "    after:    jdoe;CORP\\jdoe\n") {
		t.Errorf("the undo's report:\n%s", rep)
	}
	undoID := lastRun(t, d)
	for _, apply := range []bool{false, true} {
		o := undo(id, apply)
		want := "run " + id + " was already undone by run " + undoID
		if ExitCode(o) != ExitError || !strings.Contains(d.stderr.String(), want) || d.stdout.Len() != 0 {
			t.Errorf("undo again (apply %v): exit %d, stderr %q, stdout %q", apply, ExitCode(o), d.stderr, d.stdout)
		}
	}
	if got := lastRun(t, d); got != undoID {
		t.Errorf("a refused undo recorded run %s", got)
	}
	// Undo the undo: the run's values are back, and the run may be undone
	// again.
	if o := undo(undoID, true); ExitCode(o) != ExitOK || o.Written != 1 {
		t.Fatalf("undo of the undo: %+v\n%s", o, d.stderr)
	}
	if o := undo(id, false); ExitCode(o) != ExitPending || !strings.Contains(d.stdout.String(), "itself undone since") {
		t.Errorf("undo after a redo: exit %d\n%s%s", ExitCode(o), d.stdout, d.stderr)
	}
}

// A store undo restores to an empty list shows "(empty)", never a blank.
func TestUndoToAnEmptyListSaysEmpty(t *testing.T) {
	ctx := context.Background()
	d := newDemo(t)
	d.onlyJane(t)
	d.setField(t, "1001", "")
	mustSync(t, d, ExitOK, "--apply")
	id := lastRun(t, d)
	d.stdout.Reset()
	if o := Undo(ctx, d.env(), d.settings(t, "undo", id, "--store", d.store), id); ExitCode(o) != ExitPending ||
		!strings.Contains(d.stdout.String(), "    after:    (empty)\n") {
		t.Errorf("exit %d\n%s", ExitCode(o), d.stdout)
	}
}

// A failed store import into a new store leaves nothing behind: no
// database, no lock file.
func TestFailedImportLeavesNoLock(t *testing.T) {
	d := newDemo(t)
	bad := filepath.Join(d.dir, "bad.csv")
	if err := os.WriteFile(bad, []byte("foo,bar\n1,x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(d.dir, "new.db")
	if _, _, err := ImportUsers(context.Background(), d.env(), d.settings(t, "store", "import", "--store", "sqlite:"+db, bad), bad); err == nil {
		t.Fatal("a CSV without a header was imported")
	}
	entries, _ := filepath.Glob(db + "*")
	if len(entries) != 0 {
		t.Errorf("a failed import left %v", entries)
	}
	// A store that exists keeps its lock file (a waiting run may hold it).
	if _, _, err := ImportUsers(context.Background(), d.env(), d.settings(t, "store", "import", "--store", d.store, bad), bad); err == nil {
		t.Fatal("imported")
	}
	if _, err := os.Stat(d.db + ".lock"); err != nil {
		t.Errorf("the lock file of an existing store: %v", err)
	}
}
