//go:build unix

package run

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/upnsync/upnsync/internal/testenv"
)

func isCharDevice(t *testing.T, path string) {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil || fi.Mode()&fs.ModeCharDevice == 0 {
		t.Errorf("%s is no longer a character device (%v, %v)", path, fi.Mode(), err)
	}
}

// A report that cannot be written after an apply (the disk filled) does
// not hide the apply: the exit code says what was written, and the error
// is on standard error, in the log and in the summary.
func TestReportFailingAfterAnApply(t *testing.T) {
	d := newDemo(t)
	full := testenv.CharDevice(t, d.dir, "full", testenv.FullDevice)
	logFile := filepath.Join(d.dir, "upnsync.log")
	summary := filepath.Join(d.dir, "summary.json")
	o := Sync(context.Background(), d.env(), d.sync(t, "--apply", "--report-file", full, "--log-file-path", logFile, "--summary-file", summary))
	if ExitCode(o) != ExitConflicts || o.Written != 9 || o.OutputErr == nil || o.Err != nil {
		t.Fatalf("exit %d, %+v; want 4 with 9 written and the report's error apart", ExitCode(o), o)
	}
	if d.field(t, "1001") != `jdoe;CORP\jdoe;jane.doe@corp.example.com` {
		t.Error("the apply did not write")
	}
	want := "writing the report to " + full + ": write " + full + ": no space left on device"
	if !strings.Contains(d.stderr.String(), want) {
		t.Errorf("standard error lacks %q:\n%s", want, d.stderr)
	}
	if data, _ := os.ReadFile(logFile); !strings.Contains(string(data), "level=ERROR msg=\""+want) {
		t.Errorf("the log lacks the error:\n%s", data)
	}
	if data, _ := os.ReadFile(summary); !strings.Contains(string(data), `"output_error": "`+want) || !strings.Contains(string(data), `"exit_code": 4`) {
		t.Errorf("summary:\n%s", data)
	}
	isCharDevice(t, full)

	// A dry run's report is what the run was for: failing to write it is
	// exit code 1.
	d.stderr.Reset()
	if o := Sync(context.Background(), d.env(), d.sync(t, "--report-file", full)); ExitCode(o) != ExitError || !isReportError(o.Err) {
		t.Errorf("dry run: exit %d %+v", ExitCode(o), o)
	}
}

// Every output is written in place when it is a device or a pipe, through
// a symbolic link to its target, and never replaced: the device stays a
// device (as root, a rename over /dev/null made it a regular file).
func TestOutputsToDevicesPipesAndLinks(t *testing.T) {
	ctx := context.Background()
	d := newDemo(t)
	null := testenv.CharDevice(t, d.dir, "null", testenv.NullDevice)
	// Through a device, each option in turn; the log, a device too.
	runs := map[string][]string{
		"--report-file":   {"--report-file", null},
		"--summary-file":  {"--summary-file", null},
		"--metrics-file":  {"--metrics-file", null},
		"--log-file-path": {"--log-file-path", null},
	}
	for option, args := range runs {
		d.stdout.Reset()
		if o := Sync(ctx, d.env(), d.sync(t, args...)); ExitCode(o) != ExitPending {
			t.Errorf("%s %s: exit %d %+v\n%s", option, null, ExitCode(o), o, d.stderr)
		}
		isCharDevice(t, null)
	}
	if o := Plan(ctx, d.env(), d.sync(t, "plan", "--out", null)); ExitCode(o) != ExitPending {
		t.Errorf("plan --out %s: %+v\n%s", null, o, d.stderr)
	}
	isCharDevice(t, null)
	if _, _, err := ExportUsers(ctx, d.settings(t, "store", "export", "--store", d.store, null), nil, null); err != nil {
		t.Errorf("store export %s: %v", null, err)
	}
	isCharDevice(t, null)
	report := filepath.Join(d.dir, "dry.json")
	mustSync(t, d, ExitPending, "--report", "json", "--report-file", report)
	if err := RenderHTML(report, null); err != nil {
		t.Errorf("report html %s: %v", null, err)
	}
	isCharDevice(t, null)

	// A link to the device: the link and the device stay.
	link := filepath.Join(d.dir, "last-report.txt")
	if err := os.Symlink("null", link); err != nil {
		t.Fatal(err)
	}
	mustSync(t, d, ExitPending, "--report-file", link, "--summary-file", link+".json")
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		t.Errorf("the link was replaced (%v)", err)
	}
	isCharDevice(t, null)

	// A pipe: whoever reads it gets the report.
	fifo := filepath.Join(d.dir, "report.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 1)
	go func() {
		data, _ := os.ReadFile(fifo)
		got <- string(data)
	}()
	mustSync(t, d, ExitPending, "--report-file", fifo)
	select {
	case s := <-got:
		if !strings.Contains(s, "Changes: 9") {
			t.Errorf("the pipe's reader got:\n%s", s)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("nothing came through the pipe")
	}
	if fi, _ := os.Lstat(fifo); fi.Mode()&fs.ModeNamedPipe == 0 {
		t.Errorf("the pipe became %v", fi.Mode())
	}
}

// The files upnsync creates have one of two modes whatever the umask:
// owner-only for the store (and its journal), plans, exports and the lock;
// owner and group for logs, reports, pages, the summary and the metrics.
func TestModesOfTheFilesARunCreates(t *testing.T) {
	for _, umask := range []int{0, 0o77} {
		old := syscall.Umask(umask)
		t.Cleanup(func() { syscall.Umask(old) })
		ctx := context.Background()
		d := newDemo(t) // the store is created by store import
		in := func(name string) string { return filepath.Join(d.dir, name) }
		mustPlan(t, d)
		mustSync(t, d, ExitConflicts, "--apply", "--report", "json", "--report-file", in("report.json"),
			"--summary-file", in("summary.json"), "--metrics-file", in("upnsync.prom"), "--log-file-path", in("logs")+"/")
		if _, _, err := ExportUsers(ctx, d.settings(t, "store", "export", "--store", d.store, in("export.csv")), nil, in("export.csv")); err != nil {
			t.Fatal(err)
		}
		if err := RenderHTML(in("report.json"), in("report.html")); err != nil {
			t.Fatal(err)
		}
		logs, _ := filepath.Glob(in("logs/upnsync_*.log"))
		if len(logs) != 1 {
			t.Fatalf("logs: %v", logs)
		}
		want := map[string]fs.FileMode{
			d.db: 0o600, d.db + ".lock": 0o600, in("plan.json"): 0o600, in("export.csv"): 0o600,
			in("report.json"): 0o640, in("report.html"): 0o640, in("summary.json"): 0o640, in("upnsync.prom"): 0o640, logs[0]: 0o640,
		}
		for path, mode := range want {
			fi, err := os.Stat(path)
			if err != nil || fi.Mode().Perm() != mode {
				t.Errorf("umask %03o: %s: %v %v, want mode %v", umask, filepath.Base(path), fi, err, mode)
			}
		}
		// SQLite gives its journal the database file's mode: the
		// rollback journal (kept after a write with journal_mode=PERSIST),
		// and a WAL's -wal and -shm.
		db := d.open(t)
		db.SetMaxOpenConns(1)
		for _, step := range []struct{ sql, files string }{
			{"PRAGMA journal_mode=PERSIST", ""},
			{"UPDATE users SET windows_usernames = 'x' WHERE id = '1001'", "-journal"},
			{"PRAGMA journal_mode=WAL", ""},
			{"UPDATE users SET windows_usernames = 'y' WHERE id = '1001'", "-wal -shm"},
		} {
			if _, err := db.Exec(step.sql); err != nil {
				t.Fatalf("%s: %v", step.sql, err)
			}
			for _, suffix := range strings.Fields(step.files) {
				if fi, err := os.Stat(d.db + suffix); err != nil || fi.Mode().Perm() != 0o600 {
					t.Errorf("umask %03o: %s: %v %v, want mode 0600", umask, suffix, fi, err)
				}
			}
		}
		syscall.Umask(old)
	}
}
