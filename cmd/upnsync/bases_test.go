package main

// How --domain is read, through the whole command against the Samba DC and
// an export: bases inside one another read once, and ADSI's path form.

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// export is the store's users as store export writes them.
func export(t *testing.T, db string) string {
	t.Helper()
	code, out, errOut := cli(t, nil, "store", "export", "--store", "sqlite:"+db)
	if code != 0 {
		t.Fatalf("export: %s", errOut)
	}
	return out
}

// Two --domain bases where one holds the other (an OU and the domain
// root): each person is read once, through the root; the run plans and
// writes what a run over the root alone does (no duplicate-upn conflicts
// naming one DN twice), and the log and doctor name the base left out.
func TestSambaNestedBasesReadOnce(t *testing.T) {
	e := newSambaEnv(t)
	inner := "OU=Berlin,OU=People," + e.Base
	nested, alone := e.store(t, "nested"), e.store(t, "alone")
	code, out, errOut := cli(t, nil, e.args(nested, "ldaps", "--domain", inner, "--domain", e.Base, "--apply")...)
	if code != exitOK && code != exitConflicts {
		t.Fatalf("nested bases: exit %d\n%s", code, errOut)
	}
	got := decodePlanRead(t, out)
	wantWarning := "search base " + inner + " is inside search base " + e.Base + ": its people are read once, through " + e.Base + "; leave --domain " + inner + " out"
	if !strings.Contains(errOut, "upnsync: warning: "+wantWarning) {
		t.Errorf("stderr does not name the base left out:\n%s", errOut)
	}
	code2, out2, errOut2 := cli(t, nil, e.args(alone, "ldaps", "--domain", e.Base, "--apply")...)
	if code2 != code {
		t.Fatalf("the root alone: exit %d, nested %d\n%s", code2, code, errOut2)
	}
	want := decodePlanRead(t, out2)
	if got.Read != want.Read || got.Applied == nil || want.Applied == nil || got.Applied.Written != want.Applied.Written || len(got.Conflicts) != len(want.Conflicts) {
		t.Fatalf("nested bases read %+v, wrote %+v, %d conflicts; the root alone read %+v, wrote %+v, %d conflicts",
			got.Read, got.Applied, len(got.Conflicts), want.Read, want.Applied, len(want.Conflicts))
	}
	for _, c := range got.Conflicts {
		if c["reason"] == "duplicate-upn" {
			if people, _ := c["people"].([]any); len(people) == 2 && people[0] == people[1] {
				t.Errorf("a duplicate-upn conflict names one person twice: %v", c)
			}
		}
	}
	if x, y := export(t, nested), export(t, alone); x != y {
		t.Error("the stores differ after a run over nested bases and one over the root alone")
	}
	// doctor names the overlap too.
	code, out, _ = cli(t, nil, append([]string{"doctor"}, e.args(alone, "ldaps", "--domain", inner, "--domain", e.Base)...)...)
	if !strings.Contains(out, "WARN  base          "+"search base "+inner+" is inside search base "+e.Base) ||
		!strings.Contains(out, "fix: leave --domain "+inner+" out") || code != exitOK {
		t.Errorf("doctor: exit %d, no warning about the overlap:\n%s", code, out)
	}
}

// An export with nested --domain bases keeps each person once and says
// which base was left out, as a directory does.
func TestExportNestedBases(t *testing.T) {
	d := newDemo(t)
	data, err := os.ReadFile(d.ldif)
	if err != nil {
		t.Fatal(err)
	}
	// The demo's first person's OU, inside the domain.
	var ou string
	for _, l := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(strings.ToLower(l), "dn: ") && strings.Contains(strings.ToLower(l), "ou=") {
			dn := strings.TrimSpace(l[4:])
			ou = dn[strings.Index(strings.ToLower(dn), "ou="):]
			break
		}
	}
	if ou == "" {
		t.Fatal("no OU in the demo's LDIF")
	}
	root := ou[strings.Index(strings.ToLower(ou), "dc="):]
	code, nestedOut, errOut := cli(t, nil, d.gnu("--domain", ou, "--domain", root, "--report", "json")...)
	code2, aloneOut, _ := cli(t, nil, d.gnu("--domain", root, "--report", "json")...)
	if code != code2 || withoutTimes(nestedOut) != withoutTimes(aloneOut) {
		t.Fatalf("nested bases: exit %d, the root alone %d; the plans differ:\n%s\n----\n%s", code, code2, nestedOut, aloneOut)
	}
	if !strings.Contains(errOut, "search base "+ou+" is inside search base "+root) {
		t.Errorf("stderr does not name the base left out:\n%s", errOut)
	}
}

// --domain as an ADSI path: LDAP://SERVER/DN without --directory reads DN
// from SERVER (StartTLS on 389, or ldaps:// on 636), as the canonical
// options do, and says how it read it.
func TestSambaADSIPathAsDomain(t *testing.T) {
	e := newSambaEnv(t)
	db := e.store(t, "adsi")
	berlin := "OU=Berlin,OU=People," + e.Base
	common := []string{"--config-file-path", filepath.Join("..", "..", "testdata", "mapping", "ADSIReaderLDAPMappings-upn.xml"),
		"--login", e.BindDN, "--password-file", e.PasswordFile, "--ca-file", e.CAFile, "--store", "sqlite:" + db, "--report", "json"}
	run := func(args ...string) (int, string, string) {
		return cli(t, nil, append(append([]string{}, common...), args...)...)
	}
	wantCode, wantOut, errOut := run("--directory", "ldap://127.0.0.1", "--start-tls", "--domain", berlin)
	if wantCode != exitPending {
		t.Fatalf("canonical options: exit %d\n%s", wantCode, errOut)
	}
	want := decodePlanRead(t, wantOut)
	for _, tt := range []struct {
		path, says string
	}{
		{"LDAP://127.0.0.1/" + berlin, "is read as " + berlin + " on ldap://127.0.0.1 with StartTLS"},
		{"LDAP://127.0.0.1:636/" + berlin, "write --directory ldaps://127.0.0.1:636 --domain " + berlin},
	} {
		code, out, errOut := run("--domain", tt.path)
		if code != wantCode {
			t.Fatalf("--domain %s: exit %d\n%s", tt.path, code, errOut)
		}
		if got := decodePlanRead(t, out); got.Read != want.Read || len(got.Changes) != len(want.Changes) {
			t.Errorf("--domain %s read %+v with %d changes, the canonical options %+v with %d", tt.path, got.Read, len(got.Changes), want.Read, len(want.Changes))
		}
		if !strings.Contains(errOut, "upnsync: warning: --domain "+tt.path+" ") || !strings.Contains(errOut, tt.says) {
			t.Errorf("--domain %s: the warning does not say %q:\n%s", tt.path, tt.says, errOut)
		}
		if strings.Contains(errOut, "invalid basedn") {
			t.Errorf("the server's answer reached the administrator:\n%s", errOut)
		}
	}
	// A form upnsync cannot read is refused with the right spelling.
	code, _, errOut := run("--domain", "LDAP://127.0.0.1/<GUID=3f2504e0-4f89-11d3-9a0c-0305e82c3301>")
	if msg := errorLine(t, errOut); code != exitError || !strings.Contains(msg, "needs the DN of the base") {
		t.Errorf("exit %d: %s", code, msg)
	}
}
