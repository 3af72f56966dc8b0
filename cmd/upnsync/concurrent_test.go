//go:build unix

package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/upnsync/upnsync/internal/testenv"
)

// buildBinary builds upnsync into the test's folder: these tests need
// real, separate processes.
func buildBinary(t *testing.T) string {
	t.Helper()
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "upnsync")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/upnsync")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

type binProc struct {
	cmd            *exec.Cmd
	stdout, stderr bytes.Buffer
	done           chan struct{}
}

func start(t *testing.T, bin string, args ...string) *binProc {
	t.Helper()
	p := &binProc{cmd: exec.Command(bin, args...), done: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	p.cmd.Env = append(os.Environ(), "UPNSYNC_SETTINGS=")
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() { p.cmd.Process.Kill(); <-p.done })
	return p
}

func (p *binProc) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(60 * time.Second):
		t.Fatalf("%v did not finish\n%s\n%s", p.cmd.Args, p.stdout.String(), p.stderr.String())
	}
	return p.cmd.ProcessState.ExitCode()
}

// waitForHolder waits until the lock file names pid.
func waitForHolder(t *testing.T, lock string, pid int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if data, _ := os.ReadFile(lock); strings.Contains(string(data), `"pid":`+strconv.Itoa(pid)+`,`) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	data, _ := os.ReadFile(lock)
	t.Fatalf("pid %d never held %s (it holds %q)", pid, lock, data)
}

// fifoDirectory makes a named pipe for the demo directory: a run reading it
// waits, holding the store's lock, until the test writes the data.
func fifoDirectory(t *testing.T, d demoFiles) (string, func()) {
	t.Helper()
	fifo := filepath.Join(d.dir, "slow.ldif")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("no named pipes here: %v", err)
	}
	feed := func() {
		data, err := os.ReadFile(d.ldif)
		if err != nil {
			t.Fatal(err)
		}
		f, err := os.OpenFile(fifo, os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.Write(data)
		f.Close()
	}
	return fifo, feed
}

// Two runs that would both write never do: the second exits 1 naming the
// holder of the lock, or, with --wait-lock, waits and then plans from what
// the first wrote.
func TestConcurrentRunsNeverBothWrite(t *testing.T) {
	bin := buildBinary(t)
	d := newDemo(t)
	fifo, feed := fifoDirectory(t, d)
	args := func(dir string, extra ...string) []string {
		return append([]string{"--config-file-path", d.mapping, "--directory", "ldif:" + dir, "--store", d.store, "--apply", "--report", "json"}, extra...)
	}
	first := start(t, bin, args(fifo)...)
	waitForHolder(t, d.db+".lock", first.cmd.Process.Pid)

	second := start(t, bin, args(d.ldif)...)
	if code := second.wait(t); code != exitError {
		t.Fatalf("second run: exit %d\n%s\n%s", code, second.stdout.String(), second.stderr.String())
	}
	for _, want := range []string{"another upnsync run holds the lock " + d.db + ".lock", "pid " + strconv.Itoa(first.cmd.Process.Pid),
		"`upnsync sync --apply`", "since ", "--wait-lock"} {
		if !strings.Contains(second.stderr.String(), want) {
			t.Errorf("second run's message lacks %q:\n%s", want, second.stderr.String())
		}
	}
	waiting := start(t, bin, args(d.ldif, "--wait-lock", "60s")...)
	time.Sleep(300 * time.Millisecond)
	select {
	case <-waiting.done:
		t.Fatalf("the waiting run did not wait: %s", waiting.stderr.String())
	default:
	}

	feed()
	if code := first.wait(t); code != exitConflicts {
		t.Fatalf("first run: exit %d\n%s", code, first.stderr.String())
	}
	if rep := parseSafety(t, first.stdout.String()); rep.Applied == nil || rep.Applied.Written != 9 {
		t.Fatalf("first run wrote %+v", rep.Applied)
	}
	if code := waiting.wait(t); code != exitConflicts {
		t.Fatalf("waiting run: exit %d\n%s", code, waiting.stderr.String())
	}
	if rep := parseSafety(t, waiting.stdout.String()); rep.Applied == nil || rep.Applied.Written != 0 || rep.Summary["changes"] != 0 {
		t.Fatalf("the waiting run planned from before the first run's writes: %+v %v", rep.Applied, rep.Summary)
	}
	_, runs, _ := cli(t, nil, "runs", "--store", d.store)
	if n := len(strings.Split(strings.TrimSpace(runs), "\n")); n != 1 || !strings.Contains(runs, "written 9") {
		t.Fatalf("runs that wrote:\n%s", runs)
	}
}

// A run killed while it holds the lock does not block the next one, which
// says that it found a stale lock.
func TestKilledRunLeavesNoBlockingLock(t *testing.T) {
	bin := buildBinary(t)
	d := newDemo(t)
	fifo, _ := fifoDirectory(t, d)
	before := fileHash(t, d.db)
	victim := start(t, bin, "--config-file-path", d.mapping, "--directory", "ldif:"+fifo, "--store", d.store, "--apply")
	waitForHolder(t, d.db+".lock", victim.cmd.Process.Pid)
	if err := victim.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-victim.done
	if fileHash(t, d.db) != before {
		t.Fatal("the killed run wrote")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, d.gnu("--apply")...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitConflicts {
		t.Fatalf("next run: %v\n%s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "a previous run ended without releasing the store's lock") ||
		!strings.Contains(stderr.String(), "pid "+strconv.Itoa(victim.cmd.Process.Pid)) {
		t.Fatalf("the stale lock was not reported:\n%s", stderr.String())
	}
}
