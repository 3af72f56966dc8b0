package main

import (
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/upnsync/upnsync/internal/testenv"
)

type jsonReport struct {
	Mode     string
	Complete bool
	Summary  map[string]int
	Read     struct{ Pages, Entries int }
	Changes  []struct {
		UserID string `json:"user_id"`
		After  string
		Added  []string
	}
	Conflicts []struct{ Reason string }
	Applied   *struct{ Written int }
}

func parseReport(t *testing.T, out string) jsonReport {
	t.Helper()
	var r jsonReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("report: %v\n%s", err, out)
	}
	return r
}

// The whole job against a real directory (slapd with AD's attributes and
// AD's 1000-entry size limit) over ldaps:// and over StartTLS: a dry run
// that pages past the limit, the apply, and a second run with nothing left.
func TestSyncAgainstRealDirectory(t *testing.T) {
	env := testenv.LDAP(t)
	for _, transport := range []string{"ldaps", "starttls"} {
		t.Run(transport, func(t *testing.T) {
			dir := t.TempDir()
			store := "sqlite:" + filepath.Join(dir, "octopus.db")
			if code, out, errOut := cli(t, nil, "store", "import", "--store", store, env.OctopusCSV); code != 0 {
				t.Fatalf("import: %s %s", out, errOut)
			}
			args := []string{"--config-file-path", filepath.Join("..", "..", "testdata", "mapping", "ADSIReaderLDAPMappings-upn.xml"),
				"--login", env.BindDN, "--password-file", env.PasswordFile, "--ca-file", env.CAFile,
				"--domain", env.Base, "--store", store, "--report", "json"}
			if transport == "ldaps" {
				args = append(args, "--directory", env.LDAPSURL)
			} else {
				args = append(args, "--directory", env.URL, "--start-tls")
			}

			code, out, errOut := cli(t, nil, args...)
			plan := parseReport(t, out)
			if code != exitPending || !plan.Complete || plan.Summary["read"] != env.Users || plan.Read.Pages < 2 {
				t.Fatalf("dry run: exit %d, complete %v, read %d of %d in %d pages\n%s", code, plan.Complete,
					plan.Summary["read"], env.Users, plan.Read.Pages, errOut)
			}
			if len(plan.Changes) == 0 || plan.Summary["matched"] < env.Users/2 {
				t.Fatalf("implausible plan: %v", plan.Summary)
			}

			code, out, errOut = cli(t, nil, append(args, "--apply")...)
			applied := parseReport(t, out)
			if (code != exitOK && code != exitConflicts) || applied.Applied == nil || applied.Applied.Written != len(plan.Changes) {
				t.Fatalf("apply: exit %d %+v\n%s", code, applied.Applied, errOut)
			}

			code, out, _ = cli(t, nil, args...)
			again := parseReport(t, out)
			if code == exitPending || again.Summary["changes"] != 0 || again.Summary["read"] != env.Users {
				t.Fatalf("second run: exit %d %v", code, again.Summary)
			}
		})
	}
}

// Page size 0 (no paging) stops at the server's 1000-entry limit: the read
// is not proven complete and nothing is written.
func TestUnpagedReadOfRealDirectoryStopsTheRun(t *testing.T) {
	env := testenv.LDAP(t)
	dir := t.TempDir()
	db := filepath.Join(dir, "octopus.db")
	if code, out, errOut := cli(t, nil, "store", "import", "--store", "sqlite:"+db, env.OctopusCSV); code != 0 {
		t.Fatalf("import: %s %s", out, errOut)
	}
	before := fileHash(t, db)
	code, out, errOut := cli(t, nil, "--config-file-path", filepath.Join("..", "..", "testdata", "mapping", "ADSIReaderLDAPMappings-upn.xml"),
		"--directory", env.LDAPSURL, "--ca-file", env.CAFile, "--login", env.BindDN, "--password-file", env.PasswordFile,
		"--store", "sqlite:"+db, "--page-size", "0", "--apply")
	if code != exitError || !strings.Contains(out, "INCOMPLETE") || !strings.Contains(strings.ToLower(errOut), "size limit") {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	if fileHash(t, db) != before {
		t.Fatal("an incomplete read changed the store")
	}
}

// Errors an administrator can act on, as one line, without the password.
func TestRealDirectoryErrors(t *testing.T) {
	env := testenv.LDAP(t)
	dir := t.TempDir()
	store := "sqlite:" + filepath.Join(dir, "octopus.db")
	if code, _, errOut := cli(t, nil, "store", "import", "--store", store, env.OctopusCSV); code != 0 {
		t.Fatal(errOut)
	}
	wrong := filepath.Join(dir, "wrong.pw")
	if err := os.WriteFile(wrong, []byte("Wr0ng-Passw0rd"), 0o600); err != nil {
		t.Fatal(err)
	}
	mappingFile := filepath.Join("..", "..", "testdata", "mapping", "ADSIReaderLDAPMappings-upn.xml")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()
	tests := []struct {
		name    string
		args    []string
		want    string
		wantLog string // the LDAP result code in the log
	}{
		{"wrong password", []string{"--directory", env.LDAPSURL, "--ca-file", env.CAFile, "--login", env.BindDN, "--password-file", wrong},
			`cannot bind to ` + env.LDAPSURL + ` as "` + env.BindDN + `": wrong user name or password (LDAP 49 Invalid Credentials); check --login and the password`,
			`ldap_result="49 Invalid Credentials"`},
		{"untrusted certificate", []string{"--directory", env.LDAPSURL, "--login", env.BindDN, "--password-file", env.PasswordFile},
			`is not trusted: subject "CN=dc1.corp.example.com,O=upnsync tests", issued by "CN=upnsync test CA,O=upnsync tests"; give the issuing CA's certificate (PEM) with --ca-file`, ""},
		{"plaintext bind", []string{"--directory", env.URL, "--login", env.BindDN, "--password-file", env.PasswordFile}, "--allow-plaintext-bind", ""},
		{"missing base", []string{"--directory", env.LDAPSURL, "--ca-file", env.CAFile, "--login", env.BindDN, "--password-file", env.PasswordFile,
			"--domain", "OU=Nowhere," + env.Base}, `search base "OU=Nowhere,` + env.Base + `" does not exist on ` + env.LDAPSURL + ` (LDAP 32 No Such Object)`,
			`ldap_result="32 No Such Object"`},
		{"connection refused", []string{"--directory", "ldaps://" + closed, "--ca-file", env.CAFile, "--login", env.BindDN, "--password-file", env.PasswordFile},
			"cannot connect to ldaps://" + closed + ": connection refused", ""},
		{"bad --filter", []string{"--directory", env.LDAPSURL, "--ca-file", env.CAFile, "--login", env.BindDN, "--password-file", env.PasswordFile,
			"--filter", "(department=R&D (Lab))"}, `--filter "(department=R&D (Lab))" is not a valid LDAP filter`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logFile := filepath.Join(t.TempDir(), "run.log")
			args := append([]string{"--config-file-path", mappingFile, "--store", store, "--retries", "0", "--log-file-path", logFile}, tt.args...)
			code, out, errOut := cli(t, nil, args...)
			if code != exitError || !strings.Contains(errOut, tt.want) || strings.Contains(errOut, "Wr0ng-Passw0rd") ||
				strings.Contains(errOut, env.Password) || strings.Count(strings.TrimSpace(errOut), "\n") > 1 {
				t.Fatalf("exit %d\nstdout %s\nstderr %s\nwant %s", code, out, errOut, tt.want)
			}
			log, err := os.ReadFile(logFile)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(log), tt.wantLog) || strings.Contains(string(log), "Wr0ng-Passw0rd") {
				t.Errorf("the log lacks %s (or holds the password):\n%s", tt.wantLog, log)
			}
		})
	}
}

// A sync over two OUs in one run (--domain twice) writes the same store
// as two runs over each OU, and its report counts each base.
func TestTwoOUsInOneRunEqualTwoRuns(t *testing.T) {
	env := testenv.LDAP(t)
	ouA := "ou=Amsterdam,ou=People," + env.Base
	ouB := "ou=Berlin,ou=People," + env.Base
	common := []string{"--config-file-path", filepath.Join("..", "..", "testdata", "mapping", "ADSIReaderLDAPMappings-upn.xml"),
		"--login", env.BindDN, "--password-file", env.PasswordFile, "--ca-file", env.CAFile,
		"--directory", env.LDAPSURL, "--report", "json", "--apply"}
	newStore := func() string {
		store := "sqlite:" + filepath.Join(t.TempDir(), "octopus.db")
		if code, out, errOut := cli(t, nil, "store", "import", "--store", store, env.OctopusCSV); code != 0 {
			t.Fatalf("import: %s %s", out, errOut)
		}
		return store
	}
	run := func(store string, bases ...string) map[string]any {
		args := append([]string{"--store", store}, common...)
		for _, b := range bases {
			args = append(args, "--domain", b)
		}
		code, out, errOut := cli(t, nil, args...)
		if code != exitOK && code != exitConflicts {
			t.Fatalf("%q: exit %d\n%s", bases, code, errOut)
		}
		var r map[string]any
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	export := func(store string) string {
		code, out, errOut := cli(t, nil, "store", "export", "--store", store)
		if code != 0 {
			t.Fatal(errOut)
		}
		return out
	}

	one := newStore()
	r := run(one, ouA, ouB)
	two := newStore()
	ra, rb := run(two, ouA), run(two, ouB)

	if got, want := export(one), export(two); got != want {
		t.Errorf("one run over both OUs and a run over each wrote different stores:\n%s\n---\n%s", got, want)
	}
	if export(one) == export(newStore()) {
		t.Fatal("the runs changed nothing: the test cannot tell")
	}
	// Per-base counts: the combined run's bases are the single runs' reads.
	read := r["read"].(map[string]any)
	bases, _ := read["bases"].([]any)
	if len(bases) != 2 {
		t.Fatalf("read.bases = %v", read["bases"])
	}
	for i, single := range []map[string]any{ra, rb} {
		b := bases[i].(map[string]any)
		n := single["read"].(map[string]any)["entries"]
		if b["base"] != []string{ouA, ouB}[i] || b["entries"] != n || n.(float64) == 0 {
			t.Errorf("base %d: %v, the single run read %v", i, b, n)
		}
	}
}
