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

	"github.com/jackc/pgx/v5"

	"github.com/upnsync/upnsync/internal/testenv"
)

type binProc struct {
	cmd            *exec.Cmd
	stdout, stderr bytes.Buffer
	done           chan struct{}
}

func start(t *testing.T, bin string, args ...string) *binProc {
	t.Helper()
	return startWith(t, bin, nil, args...)
}

// startWith starts upnsync with env added to the environment (where a
// password goes, never the command line).
func startWith(t *testing.T, bin string, env []string, args ...string) *binProc {
	t.Helper()
	p := &binProc{cmd: exec.Command(bin, args...), done: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	p.cmd.Env = append(append(os.Environ(), "UPNSYNC_SETTINGS="), env...)
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
	bin := testBinary(t)
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
	bin := testBinary(t)
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

// pgHolder waits until the PostgreSQL run lock of table is held by pid.
func waitForPgHolder(t *testing.T, env testenv.PostgresEnv, table string, pid int) {
	t.Helper()
	cfg, err := pgx.ParseConfig(env.URL)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Password = env.Password
	c, err := pgx.ConnectConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		var n int
		// The table may not exist before the first run creates it.
		c.QueryRow(context.Background(), `SELECT count(*) FROM upnsync.locks WHERE tbl = $1 AND pid = $2`, table, pid).Scan(&n)
		if n == 1 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("pid %d never held the run lock of %s", pid, table)
}

// pgRun is the demo against a PostgreSQL table of its own, seeded by
// `store import`.
func pgRun(t *testing.T) (testenv.PostgresEnv, demoFiles, string, []string) {
	t.Helper()
	env := testenv.Postgres(t)
	table := pgTable(t, env)
	d := newDemo(t)
	pwEnv := map[string]string{"UPNSYNC_STORE_PASSWORD": env.Password}
	if code, _, errOut := cli(t, pwEnv, "store", "import", "--store", env.URL, "--store-table", table, d.csv); code != 0 {
		t.Fatalf("import: %s", errOut)
	}
	return env, d, table, []string{"UPNSYNC_STORE_PASSWORD=" + env.Password}
}

// Through a PostgreSQL store, two runs that would both write never do: the
// lock is in the database, so the second exits 1 naming the holder, or,
// with --wait-lock, waits and then plans from what the first wrote.
func TestConcurrentRunsThroughPostgres(t *testing.T) {
	env, d, table, pw := pgRun(t)
	bin := testBinary(t)
	fifo, feed := fifoDirectory(t, d)
	args := func(dir string, extra ...string) []string {
		return append([]string{"--config-file-path", d.mapping, "--directory", "ldif:" + dir, "--store", env.URL,
			"--store-table", table, "--apply", "--report", "json"}, extra...)
	}
	first := startWith(t, bin, pw, args(fifo)...)
	waitForPgHolder(t, env, table, first.cmd.Process.Pid)

	second := startWith(t, bin, pw, args(d.ldif)...)
	if code := second.wait(t); code != exitError {
		t.Fatalf("second run: exit %d\n%s\n%s", code, second.stdout.String(), second.stderr.String())
	}
	for _, want := range []string{"another upnsync run holds the lock on table " + table + " of postgres://",
		"pid " + strconv.Itoa(first.cmd.Process.Pid), "`upnsync sync --apply`", "since ", "--wait-lock"} {
		if !strings.Contains(second.stderr.String(), want) {
			t.Errorf("second run's message lacks %q:\n%s", want, second.stderr.String())
		}
	}
	if strings.Contains(second.stderr.String(), env.Password) {
		t.Error("the password is in the message")
	}
	waiting := startWith(t, bin, pw, args(d.ldif, "--wait-lock", "60s")...)
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
	_, runs, _ := cli(t, map[string]string{"UPNSYNC_STORE_PASSWORD": env.Password}, "runs", "--store", env.URL, "--store-table", table)
	if n := len(strings.Split(strings.TrimSpace(runs), "\n")); n != 1 || !strings.Contains(runs, "written 9") {
		t.Fatalf("runs that wrote:\n%s", runs)
	}
}

// A run killed while it holds a PostgreSQL store's lock: the server ends
// its session and releases the lock, so the next run goes ahead, and says
// that it found a stale lock.
func TestKilledRunThroughPostgresLeavesNoBlockingLock(t *testing.T) {
	env, d, table, pw := pgRun(t)
	bin := testBinary(t)
	fifo, _ := fifoDirectory(t, d)
	pwEnv := map[string]string{"UPNSYNC_STORE_PASSWORD": env.Password}
	_, before, _ := cli(t, pwEnv, "store", "export", "--store", env.URL, "--store-table", table)
	args := []string{"--config-file-path", d.mapping, "--directory", "ldif:" + fifo, "--store", env.URL, "--store-table", table, "--apply"}
	victim := startWith(t, bin, pw, args...)
	waitForPgHolder(t, env, table, victim.cmd.Process.Pid)
	if err := victim.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-victim.done
	if _, after, _ := cli(t, pwEnv, "store", "export", "--store", env.URL, "--store-table", table); after != before {
		t.Fatal("the killed run wrote")
	}
	// --wait-lock only so that the test cannot hang: the server notices
	// the dead client at once.
	next := startWith(t, bin, pw, "--config-file-path", d.mapping, "--directory", "ldif:"+d.ldif, "--store", env.URL,
		"--store-table", table, "--apply", "--wait-lock", "30s")
	start := time.Now()
	if code := next.wait(t); code != exitConflicts {
		t.Fatalf("next run: exit %d\n%s", code, next.stderr.String())
	}
	if waited := time.Since(start); waited > 20*time.Second {
		t.Errorf("the next run waited %s for a dead run's lock", waited)
	}
	for _, want := range []string{"a previous run ended without releasing the store's lock", "the database server released it",
		"pid " + strconv.Itoa(victim.cmd.Process.Pid)} {
		if !strings.Contains(next.stderr.String(), want) {
			t.Fatalf("the stale lock was not reported (%q):\n%s", want, next.stderr.String())
		}
	}
}
