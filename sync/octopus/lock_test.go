package octopus

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/upnsync/upnsync/internal/runlock"
)

// A child process (this test binary, started again) takes a store's run
// lock and holds it until it is killed: the lock of a run that dies must
// not outlive it, whatever the store.
const (
	lockChildEnv         = "UPNSYNC_OCTOPUS_TEST_LOCK_CHILD"
	lockChildPasswordEnv = "UPNSYNC_OCTOPUS_TEST_LOCK_PASSWORD"
)

// lockChildSpec says which lock the child takes: the store's (LockRun),
// or the lock file File.
type lockChildSpec struct {
	URL   string `json:"url"`
	Table string `json:"table,omitempty"`
	File  string `json:"file,omitempty"`
}

func (c lockChildSpec) String() string {
	b, _ := json.Marshal(c)
	return string(b)
}

func TestMain(m *testing.M) {
	if spec := os.Getenv(lockChildEnv); spec != "" {
		os.Exit(lockChildMain(spec))
	}
	os.Exit(m.Run())
}

func lockChildMain(spec string) int {
	var c lockChildSpec
	if err := json.Unmarshal([]byte(spec), &c); err != nil {
		fmt.Println("error:", err)
		return 1
	}
	ctx := context.Background()
	me := runlock.Holder{PID: os.Getpid(), Host: "child-host", User: "child", Command: "upnsync sync --apply"}
	var l *RunLock
	var err error
	if c.File != "" {
		l, err = lockFile(ctx, c.URL, strings.TrimSuffix(c.File, LockSuffix), c.File, me, 0)
	} else {
		l, err = LockRun(ctx, c.URL, Options{Table: c.Table, Password: os.Getenv(lockChildPasswordEnv)}, me, 0)
	}
	if err != nil {
		fmt.Println("error:", err)
		return 1
	}
	fmt.Println("locked")
	time.Sleep(2 * time.Minute) // killed long before
	l.Release()
	return 0
}

func startLockChild(t *testing.T, env []string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "locked" {
		t.Fatalf("child: %q %v", line, err)
	}
	return cmd
}

func lockHolder(cmd string) runlock.Holder {
	return runlock.Holder{PID: os.Getpid(), Host: "test-host", User: "tester", Command: cmd}
}

// lockContract is what every store's run lock does: one holder at a time;
// a second run is told who holds it since when and how to wait; a waiting
// run gets it when it is released; a cancelled wait stops; the lock of a
// killed process is released by itself and reported as stale.
func lockContract(t *testing.T, b backend, url string, opts Options) {
	ctx := context.Background()
	l1, err := b.lockRun(ctx, url, opts, lockHolder("upnsync sync --apply"), 0)
	if err != nil {
		t.Fatal(err)
	}
	if l1.Stale != nil || l1.Where == "" {
		t.Fatalf("a first lock: stale %+v, where %q", l1.Stale, l1.Where)
	}
	_, err = b.lockRun(ctx, url, opts, lockHolder("upnsync undo r1 --apply"), 0)
	var held *runlock.HeldError
	if !errors.As(err, &held) || held.Holder.PID != os.Getpid() || held.Holder.Command != "upnsync sync --apply" {
		t.Fatalf("second lock: %v", err)
	}
	for _, want := range []string{"another upnsync run holds the lock", fmt.Sprintf("pid %d on test-host (user tester)", os.Getpid()),
		"`upnsync sync --apply`", "since ", "--wait-lock"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message lacks %q: %s", want, err)
		}
	}
	if opts.Password != "" && strings.Contains(err.Error(), opts.Password) {
		t.Errorf("the password is in the message: %s", err)
	}

	// Waiting gives up after the duration, and says it waited.
	start := time.Now()
	_, err = b.lockRun(ctx, url, opts, lockHolder("x"), 300*time.Millisecond)
	if !errors.As(err, &held) || held.Waited != 300*time.Millisecond || time.Since(start) < 300*time.Millisecond ||
		!strings.Contains(err.Error(), "waited 300ms") {
		t.Fatalf("wait: %v after %s", err, time.Since(start))
	}

	// A waiting run gets the lock once it is released, and finds no
	// stale holder: a clean release leaves none.
	go func() { time.Sleep(300 * time.Millisecond); l1.Release() }()
	start = time.Now()
	l2, err := b.lockRun(ctx, url, opts, lockHolder("second"), 20*time.Second)
	if err != nil || l2.Stale != nil {
		t.Fatalf("waiting: %v (stale %+v)", err, l2)
	}
	if waited := time.Since(start); waited < 250*time.Millisecond || waited > 10*time.Second {
		t.Errorf("the waiting run got the lock after %s", waited)
	}

	// Cancelling stops the wait.
	cctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if _, err := b.lockRun(cctx, url, opts, lockHolder("third"), time.Minute); !errors.Is(err, context.DeadlineExceeded) ||
		!strings.Contains(err.Error(), "stopped while waiting for the lock") {
		t.Fatalf("cancelled wait: %v", err)
	}
	if err := l2.Release(); err != nil {
		t.Fatal(err)
	}
	// The cancelled waiter left nothing queued: the lock is free at once.
	l3, err := b.lockRun(ctx, url, opts, lockHolder("fourth"), 0)
	if err != nil {
		t.Fatalf("after a cancelled wait: %v", err)
	}
	l3.Release()

	// A run killed while it holds the lock: the lock goes with it, and the
	// next run reports the dead holder.
	child := startLockChild(t, b.lockChild(url, opts))
	_, err = b.lockRun(ctx, url, opts, lockHolder("parent"), 0)
	if !errors.As(err, &held) || held.Holder.PID != child.Process.Pid || held.Holder.Host != "child-host" {
		t.Fatalf("while the child holds it: %v", err)
	}
	if err := child.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	child.Wait()
	l4, err := b.lockRun(ctx, url, opts, lockHolder("parent"), 20*time.Second)
	if err != nil {
		t.Fatalf("after the holder died: %v", err)
	}
	if l4.Stale == nil || l4.Stale.PID != child.Process.Pid || l4.Stale.Command != "upnsync sync --apply" || l4.ReleasedBy == "" {
		t.Fatalf("stale holder = %+v (released by %q), want the killed child %d", l4.Stale, l4.ReleasedBy, child.Process.Pid)
	}
	if err := l4.Release(); err != nil {
		t.Fatal(err)
	}
	l5, err := b.lockRun(ctx, url, opts, lockHolder("last"), 0)
	if err != nil || l5.Stale != nil {
		t.Fatalf("after a clean release: %v %+v", err, l5)
	}
	l5.Release()
}
