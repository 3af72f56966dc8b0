//go:build linux

package main

import (
	"bytes"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// Store faults that need the operating system's help: a store this
// account may only read, and a disk that fills up during the apply. They
// run the built command as a real process.

// runBinary runs the built command; as nobody when asNobody, under prefix
// (such as prlimit) when given.
func runBinary(t *testing.T, asNobody bool, prefix []string, args ...string) (int, string, string) {
	t.Helper()
	argv := append(append(append([]string(nil), prefix...), testBinary(t)), args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = []string{"PATH=/usr/bin:/bin"}
	if asNobody {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee) && ee.Exited():
		return ee.ExitCode(), stdout.String(), stderr.String()
	case err != nil:
		t.Fatalf("%v: %v\n%s", argv, err, stderr.String())
	}
	return 0, stdout.String(), stderr.String()
}

// openToOthers lets other users into the test's temporary folder (and the
// folder above it, which t.TempDir creates for the test).
func openToOthers(t *testing.T, dir string) {
	t.Helper()
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		os.Chmod(filepath.Join(dir, e.Name()), 0o644)
	}
}

// A store file this account may not write, or a folder where SQLite
// cannot create its journal: the apply says so, exit code 1, not a byte
// changed. Root may write anything, so as root the command runs as nobody.
func TestStoreReadOnly(t *testing.T) {
	for _, tt := range []struct {
		name             string
		fileMode, dirMod os.FileMode
		want             string
	}{
		{"file", 0o444, 0o755, " is read-only; make the file and its folder writable for this account; nothing was written"},
		{"folder", 0o666, 0o555, " is read-only; make the file and its folder writable (SQLite writes a journal beside it)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newStoreFiles(t)
			// The run lock beside the store may be taken: this test is about
			// the store itself refusing the write.
			lock := f.db + ".lock"
			if err := os.WriteFile(lock, nil, 0o666); err != nil {
				t.Fatal(err)
			}
			openToOthers(t, f.dir)
			if err := os.Chmod(lock, 0o666); err != nil {
				t.Fatal(err)
			}
			before := fileHash(t, f.db)
			if err := os.Chmod(f.db, tt.fileMode); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(f.dir, tt.dirMod); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.Chmod(f.dir, 0o755) })
			var code int
			var out, errOut string
			if os.Geteuid() == 0 {
				code, out, errOut = runBinary(t, true, nil, f.args("--apply")...)
			} else {
				code, out, errOut = cli(t, nil, f.args("--apply")...)
			}
			t.Log(errOut)
			noStack(t, out, errOut)
			if code != exitError || !strings.Contains(errOut, tt.want) || !strings.Contains(errOut, f.db) {
				t.Fatalf("exit %d\n%s\nwant %q", code, errOut, tt.want)
			}
			if !strings.Contains(out, fmt.Sprintf("Changes: %d", storeFaultUsers)) {
				t.Errorf("the report does not show the plan:\n%.300s", out)
			}
			if fileHash(t, f.db) != before {
				t.Fatal("the store changed")
			}
			if left, _ := filepath.Glob(f.db + "-*"); len(left) != 0 {
				t.Fatalf("files left beside the store: %v", left)
			}
		})
	}
}

// pageCount is the store's size in pages.
func pageCount(t *testing.T, path string) (pages, size int64) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.QueryRow(`PRAGMA page_count`).Scan(&pages); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow(`PRAGMA page_size`).Scan(&size); err != nil {
		t.Fatal(err)
	}
	return pages, size
}

// The disk fills up in the middle of batch 2: the file may not grow past
// its size (a file size limit of the process, set with prlimit, which the
// operating system enforces like a full disk), and it holds free pages for
// about 60% of what the whole apply needs. Batch 1 fits, batch 2 does not.
// Batch 2 is rolled back whole, batch 1 stays, the journal says which
// users; with room again, the same command finishes the job.
func TestStoreDiskFullMidApply(t *testing.T) {
	prlimit, err := exec.LookPath("prlimit")
	if err != nil {
		t.Fatalf("this test needs prlimit (util-linux): %v", err)
	}
	f := newStoreFiles(t)

	// How many pages the whole apply takes, on a copy.
	calib := filepath.Join(f.dir, "calibration.db")
	if err := os.WriteFile(calib, mustRead(t, f.db), 0o644); err != nil {
		t.Fatal(err)
	}
	before, _ := pageCount(t, calib)
	if code, _, errOut := cli(t, nil, append(f.args("--apply"), "--store", "sqlite:"+calib)...); code != exitOK {
		t.Fatalf("calibration: exit %d\n%s", code, errOut)
	}
	after, pageSize := pageCount(t, calib)
	need := after - before

	// Free pages for 60% of that, inside the file.
	db, err := sql.Open("sqlite", f.db)
	if err != nil {
		t.Fatal(err)
	}
	free := need * 6 / 10
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`CREATE TABLE filler (x BLOB)`, nil},
		{`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
			INSERT INTO filler SELECT zeroblob(?) FROM n`, []any{free, pageSize - 200}},
		{`DROP TABLE filler`, nil},
	} {
		if _, err := db.Exec(q.sql, q.args...); err != nil {
			t.Fatalf("%s: %v", q.sql, err)
		}
	}
	var freelist int64
	db.QueryRow(`PRAGMA freelist_count`).Scan(&freelist)
	db.Close()
	st, err := os.Stat(f.db)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("the apply needs %d pages of %d bytes; the store has %d free pages and may not grow past %d bytes", need, pageSize, freelist, st.Size())
	openToOthers(t, f.dir)
	before2 := readStore(t, f.db)
	if len(before2.written) != 0 {
		t.Fatal("written before the test")
	}

	code, out, errOut := runBinary(t, false, []string{prlimit, "--fsize=" + strconv.FormatInt(st.Size(), 10)}, f.args("--apply")...)
	t.Log(errOut)
	noStack(t, out, errOut)
	if code != exitError {
		t.Fatalf("exit %d, want 1\n%s", code, errOut)
	}
	for _, want := range []string{"the system could not write " + f.db + " (disk full, a file size limit", batch2Stopped, batch1Stays, "run upnsync again to finish the job"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("the error lacks %q", want)
		}
	}
	state := readStore(t, f.db)
	var runID string
	for id := range state.journal {
		runID = id
	}
	if len(state.written) != batch || len(state.journal) != 1 || !sameInts(state.journal[runID], ids(1, batch)) || state.runs[runID] != batch {
		t.Fatalf("after the failed apply: %d users written, journal %d runs, %d entries, run record %d; want users 1 to %d",
			len(state.written), len(state.journal), len(state.journal[runID]), state.runs[runID], batch)
	}
	for i := 1; i <= batch; i++ {
		if !state.written[i] {
			t.Fatalf("user %d of batch 1 not written", i)
		}
	}

	code, _, errOut = runBinary(t, false, nil, f.args("--apply")...)
	if code != exitOK || len(readStore(t, f.db).written) != storeFaultUsers {
		t.Fatalf("second apply with room: exit %d\n%s", code, errOut)
	}
	if code, out, _ := runBinary(t, false, nil, f.args()...); code != exitOK || !strings.Contains(out, "Changes: 0") {
		t.Fatalf("third run: exit %d\n%s", code, out)
	}
}
