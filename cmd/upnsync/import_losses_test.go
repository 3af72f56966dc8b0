package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// Re-importing the Octopus export taken before an apply would revert the
// UPNs the apply wrote: refused, with how many and whose, nothing imported;
// an export taken after (store export) imports; --force imports the old
// file, says what it took away, and the next run plans the UPNs again.
func TestStoreImportOverWhatUpnsyncAdded(t *testing.T) {
	d := newDemo(t)
	if code, _, errOut := cli(t, nil, d.gnu("--apply")...); code != exitConflicts {
		t.Fatalf("apply: %d %s", code, errOut)
	}
	before := fileHash(t, d.db)
	code, out, errOut := cli(t, nil, "store", "import", "--store", d.store, d.csv)
	if code != exitError || out != "" ||
		!strings.Contains(errOut, "would take away 9 entries upnsync added to the Windows usernames of 9 users (user 1001: jane.doe@corp.example.com,") ||
		!strings.Contains(errOut, "give --force to import the file as it is") || !strings.Contains(errOut, "nothing was imported") {
		t.Fatalf("re-import: exit %d\n%s\n%s", code, out, errOut)
	}
	if fileHash(t, d.db) != before {
		t.Error("the refused import changed the store")
	}
	// An export taken after the apply holds the UPNs: nothing taken away.
	after := filepath.Join(d.dir, "after.csv")
	if code, _, errOut := cli(t, nil, "store", "export", "--store", d.store, after); code != 0 {
		t.Fatal(errOut)
	}
	if code, out, errOut := cli(t, nil, "store", "import", "--store", d.store, after); code != 0 || !strings.Contains(out, "32 unchanged") {
		t.Fatalf("import of the fresh export: %d %s %s", code, out, errOut)
	}
	// A file without the WindowsUsername column takes nothing away.
	names := filepath.Join(d.dir, "names.csv")
	putFile(t, names, []byte("ID,FirstName\n1001,Jane\n"))
	if code, _, errOut := cli(t, nil, "store", "import", "--store", d.store, names); code != 0 {
		t.Fatalf("import without WindowsUsername: %s", errOut)
	}
	code, out, errOut = cli(t, nil, "store", "import", "--store", d.store, d.csv, "--force")
	if code != 0 || !strings.Contains(out, "9 updated") || !strings.Contains(errOut, "warning: importing") || !strings.Contains(errOut, "(--force)") {
		t.Fatalf("--force: %d\n%s\n%s", code, out, errOut)
	}
	if code, out, _ := cli(t, nil, d.gnu()...); code != exitPending || !strings.Contains(out, "changes 9") {
		t.Errorf("the next dry run: exit %d\n%s", code, out)
	}
}
