package runlock

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A child process (this test binary, re-executed) holds the lock until it
// is killed.
const childEnv = "UPNSYNC_RUNLOCK_TEST_CHILD"

func TestMain(m *testing.M) {
	if path := os.Getenv(childEnv); path != "" {
		l, err := Acquire(context.Background(), path, Holder{PID: os.Getpid(), Host: "child-host", Command: "upnsync sync --apply"}, 0)
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		fmt.Println("locked")
		time.Sleep(time.Minute) // killed long before
		l.Release()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func me(cmd string) Holder {
	return Holder{PID: os.Getpid(), Host: "test-host", User: "tester", Command: cmd}
}

func startChild(t *testing.T, path string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+path)
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

func TestSecondHolderIsRefusedAndTold(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db.lock")
	l, err := Acquire(context.Background(), path, me("upnsync sync --apply"), 0)
	if err != nil {
		t.Fatal(err)
	}
	if l.Stale != nil {
		t.Fatalf("a new lock file has a stale holder: %+v", l.Stale)
	}
	// A second open in the same process is refused too (flock belongs to
	// the open file, not the process).
	_, err = Acquire(context.Background(), path, me("upnsync undo r1 --apply"), 0)
	var held *HeldError
	if !errors.As(err, &held) || held.Holder.PID != os.Getpid() || held.Holder.Command != "upnsync sync --apply" {
		t.Fatalf("second acquire: %v", err)
	}
	for _, want := range []string{path, fmt.Sprintf("pid %d on test-host (user tester)", os.Getpid()), "`upnsync sync --apply`", "since ", "--wait-lock"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message lacks %q: %s", want, err)
		}
	}
	// Waiting gives up after the duration, and says it waited.
	start := time.Now()
	_, err = Acquire(context.Background(), path, me("x"), 300*time.Millisecond)
	if !errors.As(err, &held) || held.Waited != 300*time.Millisecond || time.Since(start) < 300*time.Millisecond {
		t.Fatalf("wait: %v after %s", err, time.Since(start))
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	// A clean release leaves no holder behind: no stale report next time.
	l2, err := Acquire(context.Background(), path, me("y"), 0)
	if err != nil || l2.Stale != nil {
		t.Fatalf("after release: %v stale %+v", err, l2)
	}
	l2.Release()
}

func TestWaitGetsTheLockWhenReleased(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db.lock")
	l, err := Acquire(context.Background(), path, me("first"), 0)
	if err != nil {
		t.Fatal(err)
	}
	first := l
	go func() { time.Sleep(300 * time.Millisecond); first.Release() }()
	l2, err := Acquire(context.Background(), path, me("second"), 5*time.Second)
	if err != nil {
		t.Fatalf("waiting: %v", err)
	}
	l2.Release()

	// Cancelling stops the wait.
	l3, err := Acquire(context.Background(), path, me("first"), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer l3.Release()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := Acquire(ctx, path, me("second"), time.Minute); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("cancelled wait: %v", err)
	}
}

// A run killed while holding the lock: the operating system releases it,
// the next run gets it at once and reports the dead holder as stale.
func TestKilledHolderLeavesStaleLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db.lock")
	child := startChild(t, path)
	_, err := Acquire(context.Background(), path, me("parent"), 0)
	var held *HeldError
	if !errors.As(err, &held) || held.Holder.PID != child.Process.Pid || held.Holder.Host != "child-host" {
		t.Fatalf("while the child holds it: %v", err)
	}
	if err := child.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	child.Wait()
	l, err := Acquire(context.Background(), path, me("parent"), 2*time.Second)
	if err != nil {
		t.Fatalf("after the holder died: %v", err)
	}
	defer l.Release()
	if l.Stale == nil || l.Stale.PID != child.Process.Pid || l.Stale.Command != "upnsync sync --apply" {
		t.Fatalf("stale holder = %+v, want the killed child %d", l.Stale, child.Process.Pid)
	}
	if got := readHolder(path); got.PID != os.Getpid() || got.Command != "parent" {
		t.Fatalf("the file names %+v, want this process", got)
	}
}

func TestUnwritableFolder(t *testing.T) {
	_, err := Acquire(context.Background(), filepath.Join(t.TempDir(), "missing", "x.lock"), me("x"), 0)
	if err == nil || !strings.Contains(err.Error(), "cannot open the lock file") {
		t.Fatalf("err = %v", err)
	}
}

// Remove deletes the lock file as it lets go, and a run that was waiting
// meanwhile takes the lock on a new file at the same path: a third run is
// then refused, never given a lock of its own on a second file.
func TestRemoveHandsOverToAWaiter(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db.lock")
	first, err := Acquire(context.Background(), path, me("store import"), 0)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan *Lock, 1)
	go func() {
		l, err := Acquire(context.Background(), path, me("waiter"), 10*time.Second)
		if err != nil {
			t.Errorf("waiter: %v", err)
		}
		got <- l
	}()
	time.Sleep(3 * pollEvery) // the waiter has the file open by now
	if err := first.Remove(); err != nil {
		t.Fatal(err)
	}
	waiter := <-got
	if waiter == nil {
		t.FailNow()
	}
	defer waiter.Remove()
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("the waiter holds no file at %s: %v", path, err)
	}
	var held *HeldError
	if _, err := Acquire(context.Background(), path, me("third"), 0); !errors.As(err, &held) || held.Holder.Command != "waiter" {
		t.Fatalf("a third run: %v, want the waiter's lock", err)
	}

	// Without a waiter the file is gone.
	if err := waiter.Remove(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("after Remove: %v", err)
	}
}
