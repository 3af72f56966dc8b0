//go:build unix

package main

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// --schedule "@every 1s" runs again and again, each run with its own log
// file and a fresh summary, and SIGTERM between runs ends it with exit 0.
func TestScheduleRunsRepeatedlyAndExits0OnSIGTERM(t *testing.T) {
	d := newDemo(t)
	logs := filepath.Join(d.dir, "logs") + "/"
	summary := filepath.Join(d.dir, "last-run.json")
	p := startUpnsync(t, nil, d.gnu("--schedule", "@every 1s", "--log-file-path", logs, "--summary-file", summary,
		"--report-file", filepath.Join(d.dir, "report.txt"))...)
	p.waitFor("scheduled run finished", 2, 20*time.Second)
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := p.exited(20 * time.Second); code != exitOK {
		t.Fatalf("exit %d after SIGTERM, want 0:\n%s", code, p.stderr)
	}
	errOut := p.stderr.String()
	for _, want := range []string{"scheduler started", `run="1"`, `run="2"`, `exit_code="2"`, "scheduler stopped"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	files, _ := filepath.Glob(filepath.Join(logs, "upnsync_*.log"))
	if len(files) < 2 {
		t.Fatalf("want a log file per run, got %v", files)
	}
	for _, f := range files {
		data, _ := os.ReadFile(f)
		if !strings.Contains(string(data), `msg="upnsync finished" exit_code=2`) {
			t.Errorf("%s lacks its run's summary:\n%s", f, data)
		}
	}
	var s summaryJSON
	data, err := os.ReadFile(summary)
	if err != nil || json.Unmarshal(data, &s) != nil || s.ExitCode != exitPending || s.Summary.Changes != 9 {
		t.Fatalf("summary after scheduled runs: %v %s", err, data)
	}
}

// A run still going when the next is due makes the scheduler skip that one
// and say so; SIGTERM while the run is in flight waits for it to finish and
// then exits 0. The directory is a FIFO, so the test decides when the run
// can read it and finish.
func TestScheduleSkipsOverlapAndWaitsForTheRunningSyncOnSIGTERM(t *testing.T) {
	d := newDemo(t)
	fifo := filepath.Join(d.dir, "slow.ldif")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("no FIFOs here: %v", err)
	}
	logFile := filepath.Join(d.dir, "scheduler.log")
	before := fileHash(t, d.db)
	p := startUpnsync(t, nil, "--config-file-path", d.mapping, "--directory", "ldif:"+fifo, "--store", d.store, "--apply",
		"--schedule", "@every 1s", "--log-file-path", logFile, "--report-file", filepath.Join(d.dir, "report.txt"))
	p.waitFor("scheduled run starting", 1, 20*time.Second)
	p.waitFor("a scheduled run was skipped: run 1", 1, 20*time.Second)

	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	p.waitFor("waiting up to 5m0s (--shutdown-timeout) for run 1 to finish", 1, 20*time.Second)
	time.Sleep(300 * time.Millisecond)
	if !p.running() {
		t.Fatalf("upnsync exited with a run in flight:\n%s", p.stderr)
	}
	if fileHash(t, d.db) != before {
		t.Fatal("the store changed before the run could read the directory")
	}

	// Let the run read its directory: it finishes, applies, and only then
	// does the process exit, with 0.
	ldif, err := os.ReadFile(d.ldif)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(fifo, ldif, 0o600); err != nil {
		t.Fatal(err)
	}
	if code := p.exited(20 * time.Second); code != exitOK {
		t.Fatalf("exit %d, want 0:\n%s", code, p.stderr)
	}
	if fileHash(t, d.db) == before {
		t.Fatal("the run in flight did not finish its apply before the exit")
	}
	data, _ := os.ReadFile(logFile)
	log := string(data)
	for _, want := range []string{"a scheduled run was skipped: run 1", "stopping: waiting up to 5m0s",
		`msg="upnsync finished" exit_code=4 result=conflicts mode=apply`, "written=9"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	if strings.Count(log, "upnsync starting") != 1 {
		t.Errorf("want exactly one run in the log (the others skipped):\n%s", log)
	}
}

// A run that outlives --shutdown-timeout is cancelled: the exit code is 1
// and the log says why.
func TestScheduleShutdownTimeoutCancelsTheRun(t *testing.T) {
	d := newDemo(t)
	fifo := filepath.Join(d.dir, "slow.ldif")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("no FIFOs here: %v", err)
	}
	before := fileHash(t, d.db)
	p := startUpnsync(t, nil, "--config-file-path", d.mapping, "--directory", "ldif:"+fifo, "--store", d.store, "--apply",
		"--schedule", "@hourly", "--run-now", "--shutdown-timeout", "1s")
	p.waitFor("scheduled run starting", 1, 20*time.Second)
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	p.waitFor("did not finish within --shutdown-timeout 1s: cancelling it", 1, 20*time.Second)
	// The run is blocked opening the FIFO; once it can read, it finds its
	// context cancelled.
	// The reader may give up as soon as it has seen the cancellation, so a
	// broken pipe here is expected, not a failure.
	ldif, _ := os.ReadFile(d.ldif)
	if err := os.WriteFile(fifo, ldif, 0o600); err != nil && !errors.Is(err, syscall.EPIPE) {
		t.Fatal(err)
	}
	if code := p.exited(20 * time.Second); code != exitError {
		t.Fatalf("exit %d, want 1:\n%s", code, p.stderr)
	}
	if !strings.Contains(p.stderr.String(), "cancelled") {
		t.Errorf("stderr does not say the run was cancelled:\n%s", p.stderr)
	}
	if fileHash(t, d.db) != before {
		t.Fatal("a cancelled run wrote to the store")
	}
}
