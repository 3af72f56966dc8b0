//go:build linux

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Faults in the state database of a DataImporter store (the SQLite file
// that records what upnsync added and its runs, beside the workbook or
// where --state says): locked by another process, or not writable by
// this account. The run records itself there before it writes the
// workbook, so either fault stops it with exit code 1 before anything is
// written, and once the fault is gone the same command does the job.

type diFiles struct {
	demoFiles
	export, workbook, state string
}

// newDIFiles is the demo with a DataImporter store: the Octopus users
// exported to CSV, the workbook and its state database to be written
// beside it; a first --apply has created the state database (DataImporter
// has not imported that workbook yet, so the next run plans the same UPNs
// again).
func newDIFiles(t *testing.T, state string) diFiles {
	t.Helper()
	d := diFiles{demoFiles: newDemo(t)}
	d.export = filepath.Join(d.dir, "octopus-export.csv")
	d.workbook = filepath.Join(d.dir, "upn-import.xlsx")
	d.state = d.workbook + ".upnsync-state.db"
	if state != "" {
		d.state = state
	}
	if code, _, errOut := cli(t, nil, "store", "export", "--store", d.store, d.export); code != 0 {
		t.Fatal(errOut)
	}
	if code, _, errOut := cli(t, nil, d.args("--apply")...); code != exitConflicts {
		t.Fatalf("first apply: exit %d\n%s", code, errOut)
	}
	if err := os.Remove(d.workbook); err != nil {
		t.Fatal(err)
	}
	return d
}

func (d diFiles) args(extra ...string) []string {
	a := []string{"--config-file-path", d.mapping, "--directory", "ldif:" + d.ldif, "--store", "dataimporter:" + d.workbook,
		"--octopus-export", d.export}
	if d.state != d.workbook+".upnsync-state.db" {
		a = append(a, "--state", d.state)
	}
	return append(a, extra...)
}

// The state database locked by another process: the apply waits the busy
// time-out, then stops; no workbook, no new run recorded.
func TestDataImporterStateDatabaseLocked(t *testing.T) {
	d := newDIFiles(t, "")
	before := fileHash(t, d.state)
	release := holdSQLiteLock(t, d.state, "IMMEDIATE")
	started := time.Now()
	code, out, errOut := cli(t, nil, d.args("--apply")...)
	noStack(t, out, errOut)
	msg := errorLine(t, errOut)
	if code != exitError || !strings.Contains(msg, d.state) || !strings.Contains(msg, "locked by another process (waited 5s); retry when it has finished") {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	if time.Since(started) < 4*time.Second {
		t.Errorf("gave up before the busy time-out")
	}
	if _, err := os.Stat(d.workbook); err == nil {
		t.Fatal("the workbook was written")
	}
	release()
	if fileHash(t, d.state) != before {
		t.Fatal("the state database changed")
	}
	if code, _, errOut := cli(t, nil, d.args("--apply")...); code != exitConflicts {
		t.Fatalf("after the lock was released: exit %d\n%s", code, errOut)
	}
	if _, err := os.Stat(d.workbook); err != nil {
		t.Fatalf("no workbook after the rerun: %v", err)
	}
}

// The state database (given with --state, in a folder of its own) may not
// be written by this account: the apply says so and writes no workbook.
// Root may write anything, so as root the command runs as nobody.
func TestDataImporterStateDatabaseReadOnly(t *testing.T) {
	stateDir := filepath.Join(t.TempDir(), "state")
	if err := os.Mkdir(stateDir, 0o755); err != nil {
		t.Fatal(err)
	}
	d := newDIFiles(t, filepath.Join(stateDir, "upnsync-state.db"))
	// The run lock beside the state database may be taken: this test is
	// about the database refusing the write.
	lock := d.state + ".lock"
	if err := os.WriteFile(lock, nil, 0o666); err != nil {
		t.Fatal(err)
	}
	openToOthers(t, d.dir)
	openToOthers(t, stateDir)
	for _, p := range []string{lock, d.dir} {
		os.Chmod(p, 0o777) // the workbook's folder takes the workbook
	}
	before := fileHash(t, d.state)
	if err := os.Chmod(d.state, 0o444); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(stateDir, 0o555); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(stateDir, 0o755) })
	var code int
	var out, errOut string
	if os.Geteuid() == 0 {
		code, out, errOut = runBinary(t, true, nil, d.args("--apply")...)
	} else {
		code, out, errOut = cli(t, nil, d.args("--apply")...)
	}
	t.Log(errOut)
	noStack(t, out, errOut)
	msg := errorLine(t, errOut)
	if code != exitError || !strings.Contains(msg, d.state) || !strings.Contains(msg, "read-only") || !strings.Contains(msg, "nothing was written") {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	if _, err := os.Stat(d.workbook); err == nil {
		t.Fatal("the workbook was written")
	}
	if fileHash(t, d.state) != before {
		t.Fatal("the state database changed")
	}
	os.Chmod(stateDir, 0o755)
	os.Chmod(d.state, 0o644)
	if code, _, errOut := cli(t, nil, d.args("--apply")...); code != exitConflicts {
		t.Fatalf("once writable: exit %d\n%s", code, errOut)
	}
}
