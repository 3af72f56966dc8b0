package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A run scoped to one OU of an LDIF export plans, and with --apply
// writes, the changes of that OU only; the people outside it keep their
// pending changes for an unscoped run. Before, --domain was silently
// ignored on an export and the whole export was written.
func TestDomainScopesAnExportEndToEnd(t *testing.T) {
	d := newDemo(t)
	sales := "OU=Sales,OU=Staff,DC=corp,DC=example,DC=com"
	changes := func(extra ...string) []string {
		t.Helper()
		code, out, errOut := cli(t, nil, d.gnu(append([]string{"--report", "json"}, extra...)...)...)
		if code != exitPending && code != exitOK && code != exitConflicts {
			t.Fatalf("%q: exit %d\n%s", extra, code, errOut)
		}
		var r struct {
			Changes []struct {
				DN string `json:"dn"`
			} `json:"changes"`
		}
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("%q: %v\n%s", extra, err, out)
		}
		var dns []string
		for _, c := range r.Changes {
			dns = append(dns, c.DN)
		}
		return dns
	}
	all := changes()
	scoped := changes("--domain", sales)
	if len(scoped) == 0 || len(scoped) >= len(all) {
		t.Fatalf("scoped to %s: %d changes of %d", sales, len(scoped), len(all))
	}
	for _, dn := range scoped {
		if !strings.HasSuffix(dn, ","+sales) {
			t.Errorf("a change outside %s: %s", sales, dn)
		}
	}
	if code, _, errOut := cli(t, nil, d.gnu("--domain", sales, "--apply")...); code != exitOK && code != exitConflicts {
		t.Fatalf("apply: exit %d\n%s", code, errOut)
	}
	if left := changes("--domain", sales); len(left) != 0 {
		t.Errorf("after the scoped apply, still pending under %s: %q", sales, left)
	}
	if left := changes(); len(left) != len(all)-len(scoped) {
		t.Errorf("after the scoped apply, %d changes pending in the whole export, want %d (it wrote outside its scope?)", len(left), len(all)-len(scoped))
	}
}

// An export without DNs cannot be limited to a base: the run and doctor
// both say so, naming the option and the file, and nothing is written.
func TestDomainOnAnExportWithoutDNs(t *testing.T) {
	d := newDemo(t)
	entra, err := filepath.Abs(filepath.Join("..", "..", "testdata", "exports", "entra-download-users.csv"))
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"--config-file-path", d.mapping, "--directory", "csv:" + entra, "--store", d.store, "--domain", "OU=Staff,DC=corp,DC=example,DC=com"}
	before := fileHash(t, d.db)
	code, _, errOut := cli(t, nil, append(args, "--apply")...)
	want := "--domain OU=Staff,DC=corp,DC=example,DC=com: the export csv:" + entra + " has no DN column"
	if code != exitError || !strings.Contains(errOut, want) {
		t.Errorf("sync: exit %d, stderr %q, want %q", code, errOut, want)
	}
	if fileHash(t, d.db) != before {
		t.Error("the store changed")
	}
	code, out, _ := cli(t, nil, append([]string{"doctor"}, args...)...)
	if code != exitError || !strings.Contains(out, "FAIL  directory") || !strings.Contains(out, want) || strings.Contains(out, "All checks passed") {
		t.Errorf("doctor: exit %d\n%s", code, out)
	}
}

// What the option table adds to the command line, end to end: an option
// that does not apply is exit 1 naming it, a mistyped one gets the
// nearest, --version and per-command help work.
func TestOptionTableAtTheCommandLine(t *testing.T) {
	d := newDemo(t)
	for _, tt := range []struct {
		args []string
		code int
		out  string // on stdout
		err  string // on stderr
	}{
		{args: d.gnu("--start-tls"), code: exitError, err: "upnsync: --start-tls applies to ldap:// directories and domain controllers found through DNS; ldif:" + d.ldif + " is an LDIF export (a file)"},
		{args: d.gnu("/Aply"), code: exitError, err: "unknown option /Aply (did you mean /Apply?)"},
		{args: d.gnu("--aply"), code: exitError, err: "unknown option --aply (did you mean --apply?)"},
		{args: []string{"--version"}, code: exitOK, out: "upnsync "},
		{args: []string{"/Version"}, code: exitOK, out: "upnsync "},
		{args: []string{"help", "undo"}, code: exitOK, out: "upnsync undo: restore what a run changed"},
		{args: []string{"undo", "--help"}, code: exitOK, out: "upnsync undo RUN_ID"},
		{args: []string{"help", "foo"}, code: exitError, err: "upnsync help foo: no such command"},
	} {
		code, out, errOut := cli(t, nil, tt.args...)
		if code != tt.code || !strings.Contains(out, tt.out) || !strings.Contains(errOut, tt.err) {
			t.Errorf("%q: exit %d, stdout %q, stderr %q", tt.args, code, firstLine(out), errOut)
		}
	}
	_, out, _ := cli(t, nil, "help", "undo")
	if n := strings.Count(out, "\n"); n >= 80 || strings.Contains(out, "--directory") {
		t.Errorf("upnsync help undo: %d lines, or options undo does not take:\n%s", n, out)
	}
	if _, err := os.Stat(d.db); err != nil {
		t.Fatal(err)
	}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
