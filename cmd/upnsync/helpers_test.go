package main

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	upnrun "github.com/upnsync/upnsync/internal/run"
)

// The exit codes the tests expect, by name.
const (
	exitPending   = upnrun.ExitPending
	exitGuard     = upnrun.ExitGuard
	exitConflicts = upnrun.ExitConflicts
)

// summaryJSON is the part of --summary-file the tests read, by its JSON
// names (the file's contract).
type summaryJSON struct {
	ExitCode int `json:"exit_code"`
	Summary  struct {
		Changes int `json:"changes"`
	} `json:"summary"`
}

// TestMain also lets the test binary play another process for the tests:
// with UPNSYNC_TEST_HOLD_LOCK=PATH it holds a write transaction on the
// SQLite store at PATH until its standard input closes.
// holdLock begins a transaction of the given mode (IMMEDIATE: another
// writer; EXCLUSIVE: not even readers get in), says "locked" on standard
// output, and rolls back when standard input closes.
func holdLock(path, mode string) int {
	db, err := sql.Open("sqlite", path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer db.Close()
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN "+mode); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("locked")
	io.Copy(io.Discard, os.Stdin)
	conn.ExecContext(ctx, "ROLLBACK")
	return 0
}

// holdSQLiteLock starts another process that holds the store locked until the
// test ends or release is called.
func holdSQLiteLock(t *testing.T, db, mode string) (release func()) {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "UPNSYNC_TEST_HOLD_LOCK="+db, "UPNSYNC_TEST_LOCK_MODE="+mode)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	release = func() {
		once.Do(func() {
			stdin.Close()
			cmd.Wait()
		})
	}
	t.Cleanup(release)
	buf := make([]byte, len("locked\n"))
	if _, err := io.ReadFull(stdout, buf); err != nil || string(buf) != "locked\n" {
		release()
		t.Fatalf("the locking process did not lock the store: %q %v", buf, err)
	}
	return release
}

var (
	binDir   string
	binPath  string
	binErr   error
	binBuild sync.Once
)

// testBinary builds the upnsync command once per test run, for tests that need
// a real process: its command line as others see it, another user's
// permissions, resource limits.
func testBinary(t *testing.T) string {
	t.Helper()
	binBuild.Do(func() {
		binDir, binErr = os.MkdirTemp("", "upnsync-bin-")
		if binErr != nil {
			return
		}
		// Other users (the read-only store test runs it as nobody) may run it.
		if binErr = os.Chmod(binDir, 0o755); binErr != nil {
			return
		}
		name := "upnsync"
		if runtime.GOOS == "windows" {
			name += ".exe"
		}
		binPath = filepath.Join(binDir, name)
		goCmd, err := exec.LookPath("go")
		if err != nil {
			goCmd = filepath.Join(runtime.GOROOT(), "bin", "go")
		}
		out, err := exec.Command(goCmd, "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}
