//go:build unix

package run

import (
	"context"
	"os"
	"strings"
	"syscall"
	"testing"
)

// sync --apply counts a user that came to hold the planned value between
// the plan and the write (an administrator made the same change by hand)
// as already applied, as apply PLAN and undo do: not written, not a
// conflict.
//
// The directory is a FIFO, so the test decides when the read ends: the
// run loads the store's users before it takes the first person, and the
// test writes far more than a pipe and the reader's buffer hold after
// that person, so that when its write returns the store is loaded. It
// then edits the user and ends the read; the plan still has the old value.
func TestSyncApplyCountsAUserAlreadyHoldingThePlannedValue(t *testing.T) {
	d := newDemo(t)
	d.onlyJane(t)
	ldif, err := os.ReadFile(d.ldif)
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(d.ldif)
	if err := syscall.Mkfifo(d.ldif, 0o600); err != nil {
		t.Skipf("no FIFOs here: %v", err)
	}
	done := make(chan Outcome, 1)
	go func() { done <- Sync(context.Background(), d.env(), d.sync(t, "--apply")) }()

	w, err := os.OpenFile(d.ldif, os.O_WRONLY, 0) // returns once the run reads
	if err != nil {
		t.Fatal(err)
	}
	padding := strings.Repeat("# "+strings.Repeat("x", 1000)+"\n", 4<<10) // 4 MiB of comments
	if _, err := w.Write(append(append(ldif, '\n'), padding...)); err != nil {
		t.Fatal(err)
	}
	d.setField(t, "1001", janePlanned)
	w.Close()

	o := <-done
	if ExitCode(o) != ExitOK || o.AlreadyApplied != 1 || o.Written != 0 || o.Changed != 0 {
		t.Fatalf("exit %d, %+v\n%s", ExitCode(o), o, d.stderr)
	}
	if got := d.field(t, "1001"); got != janePlanned {
		t.Fatalf("1001 = %q", got)
	}
}
