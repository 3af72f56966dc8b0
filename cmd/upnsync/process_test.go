package main

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// execMainVar makes the test binary run main itself: tests that need a real
// process (signals, exit codes as the system sees them) start this binary
// again with it set, which is the same code as the built upnsync.
const execMainVar = "UPNSYNC_TEST_EXEC_MAIN"

// TestMain lets the test binary play other processes: upnsync itself
// (the scheduler's tests send it real signals), or a second process holding
// an SQLite lock (the store fault tests).
func TestMain(m *testing.M) {
	if os.Getenv(execMainVar) == "1" {
		os.Args = append([]string{"upnsync"}, os.Args[1:]...)
		main()
		return
	}
	if path := os.Getenv("UPNSYNC_TEST_HOLD_LOCK"); path != "" {
		os.Exit(holdLock(path, os.Getenv("UPNSYNC_TEST_LOCK_MODE")))
	}
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// proc is upnsync running as a process of its own.
type proc struct {
	t      *testing.T
	cmd    *exec.Cmd
	stderr *syncBuffer
	stdout *syncBuffer
	done   chan struct{}
	code   int
}

func startUpnsync(t *testing.T, env []string, args ...string) *proc {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	p := &proc{t: t, cmd: exec.Command(exe, args...), stderr: &syncBuffer{}, stdout: &syncBuffer{}, done: make(chan struct{})}
	p.cmd.Env = append(append(os.Environ(), execMainVar+"=1"), env...)
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = p.cmd.Wait()
		p.code = p.cmd.ProcessState.ExitCode()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// waitFor waits until standard error holds want n times.
func (p *proc) waitFor(want string, n int, limit time.Duration) {
	p.t.Helper()
	deadline := time.Now().Add(limit)
	for strings.Count(p.stderr.String(), want) < n {
		select {
		case <-p.done:
			p.t.Fatalf("upnsync exited (%d) before %d× %q:\n%s", p.code, n, want, p.stderr)
		default:
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("no %d× %q within %s:\n%s", n, want, limit, p.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// exited waits for the process to end and returns its exit code.
func (p *proc) exited(limit time.Duration) int {
	p.t.Helper()
	select {
	case <-p.done:
		return p.code
	case <-time.After(limit):
		p.t.Fatalf("upnsync still running after %s:\n%s", limit, p.stderr)
	}
	return -1
}

func (p *proc) running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
