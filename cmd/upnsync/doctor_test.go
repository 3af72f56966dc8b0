package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/upnsync/upnsync/internal/testenv"
)

// doctorLines maps each check to its status lines ("PASS  bind  ...").
func doctorLines(out string) map[string][]string {
	lines := map[string][]string{}
	re := regexp.MustCompile(`^(PASS|WARN|FAIL|SKIP)  (\S+(?: \S+)?)\s+(.*)$`)
	for _, l := range strings.Split(out, "\n") {
		if m := re.FindStringSubmatch(l); m != nil {
			lines[m[2]] = append(lines[m[2]], m[1]+" "+m[3])
		}
	}
	return lines
}

func status(lines map[string][]string, check string) string {
	if len(lines[check]) == 0 {
		return ""
	}
	return lines[check][0][:4]
}

// upnsync doctor against the real test directory: every check passes over
// ldaps:// and StartTLS, and the store is not changed by a byte; a wrong
// password, an untrusted certificate and a missing base DN each fail the
// right check, with exit code 1 and no password in the output.
func TestDoctorAgainstRealDirectory(t *testing.T) {
	env := testenv.LDAP(t)
	dir := t.TempDir()
	db := filepath.Join(dir, "octopus.db")
	if code, _, errOut := cli(t, nil, "store", "import", "--store", "sqlite:"+db, env.OctopusCSV); code != 0 {
		t.Fatal(errOut)
	}
	wrong := filepath.Join(dir, "wrong.pw")
	if err := os.WriteFile(wrong, []byte("Wr0ng-Passw0rd"), 0o600); err != nil {
		t.Fatal(err)
	}
	mappingFile := filepath.Join("..", "..", "testdata", "mapping", "ADSIReaderLDAPMappings-upn.xml")
	base := []string{"doctor", "--config-file-path", mappingFile, "--store", "sqlite:" + db, "--login", env.BindDN}
	good := []string{"--ca-file", env.CAFile, "--password-file", env.PasswordFile}
	ldaps := []string{"--directory", env.LDAPSURL}

	tests := []struct {
		name      string
		args      []string
		code      int
		check     string // the check that must fail ("" when all pass)
		want      string // in that check's line
		skipAfter []string
		absent    []string // checks that must not be listed
	}{
		{name: "ldaps passes", args: append(append([]string{}, ldaps...), good...)},
		{name: "starttls passes", args: append([]string{"--directory", env.URL, "--start-tls", "--apply", "--domain", env.Base}, good...)},
		{name: "wrong password", args: append(ldaps, "--ca-file", env.CAFile, "--password-file", wrong),
			code: exitError, check: "bind", want: "wrong user name or password (LDAP 49 Invalid Credentials); check --login and the password",
			skipAfter: []string{"rootDSE", "base", "clock"}, absent: []string{"changes"}},
		{name: "wrong password, incremental", args: append(ldaps, "--ca-file", env.CAFile, "--password-file", wrong, "--incremental"),
			code: exitError, check: "bind", want: "wrong user name or password (LDAP 49 Invalid Credentials)",
			skipAfter: []string{"rootDSE", "base", "changes", "clock"}},
		{name: "untrusted certificate", args: append(ldaps, "--password-file", env.PasswordFile),
			code: exitError, check: "TLS", want: `is not trusted: subject "CN=dc1.corp.example.com,O=upnsync tests", issued by "CN=upnsync test CA,O=upnsync tests"; give the issuing CA's certificate (PEM) with --ca-file`,
			skipAfter: []string{"bind", "rootDSE", "base", "clock"}},
		// (Not with the domain's own base too: a base inside another one
		// given is left out, with a warning.)
		{name: "missing base DN", args: append(append(append([]string{}, ldaps...), good...), "--domain", "OU=Nowhere,"+env.Base),
			code: exitError, check: "base", want: `search base "OU=Nowhere,` + env.Base + `" does not exist on ` + env.LDAPSURL + ` (LDAP 32 No Such Object); the closest existing entry is "` + env.Base + `"; check --domain`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := fileHash(t, db)
			stat, _ := os.Stat(db)
			code, out, errOut := cli(t, nil, append(base, tt.args...)...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\n%s\n%s", code, tt.code, out, errOut)
			}
			if strings.Contains(out+errOut, env.Password) || strings.Contains(out+errOut, "Wr0ng-Passw0rd") {
				t.Fatal("the output holds a password")
			}
			lines := doctorLines(out)
			if tt.check == "" {
				for _, check := range []string{"settings", "mapping file", "DNS", "TCP", "TLS", "bind", "rootDSE", "base", "store"} {
					if status(lines, check) != "PASS" {
						t.Errorf("%s: %q, want PASS\n%s", check, lines[check], out)
					}
				}
				if strings.Contains(out, "FAIL") || !strings.Contains(out, "All checks passed") {
					t.Errorf("not all checks passed:\n%s", out)
				}
				for _, want := range []string{"paged results yes", "users in 3 pages", "ldapsearch -H", "writable (checked without writing to it)",
					"users in 3 pages", "3,000 users", "trusted; expires"} {
					if !strings.Contains(out, want) {
						t.Errorf("output lacks %q:\n%s", want, out)
					}
				}
				if status(lines, "clock") != "SKIP" { // slapd publishes no currentTime
					t.Errorf("clock: %q", lines["clock"])
				}
			} else {
				failed := 0
				for check, ls := range lines {
					for _, l := range ls {
						if strings.HasPrefix(l, "FAIL") {
							failed++
							if check != tt.check {
								t.Errorf("check %s failed too: %s", check, l)
							}
						}
					}
				}
				if failed != 1 {
					t.Errorf("%d checks failed, want only %s:\n%s", failed, tt.check, out)
				}
				found := false
				for _, l := range lines[tt.check] {
					found = found || strings.HasPrefix(l, "FAIL") && strings.Contains(l, tt.want)
				}
				if !found {
					t.Errorf("%s: %q, want FAIL with %q\n%s", tt.check, lines[tt.check], tt.want, out)
				}
				for _, check := range tt.skipAfter {
					if status(lines, check) != "SKIP" {
						t.Errorf("%s after a failed %s: %q, want SKIP", check, tt.check, lines[check])
					}
				}
				for _, check := range tt.absent {
					if len(lines[check]) > 0 {
						t.Errorf("%s listed: %q\n%s", check, lines[check], out)
					}
				}
				if !strings.Contains(out, "checks failed ("+tt.check+")") {
					t.Errorf("the last line does not name the failed check:\n%s", out)
				}
			}
			after, _ := os.Stat(db)
			if fileHash(t, db) != before || !after.ModTime().Equal(stat.ModTime()) {
				t.Error("doctor changed the store")
			}
			if leftovers, _ := filepath.Glob(filepath.Join(dir, ".upnsync-check-*")); len(leftovers) > 0 {
				t.Errorf("doctor left files behind: %v", leftovers)
			}
		})
	}
}

// Without a directory server: an LDIF export, the mapping file, the store
// and output folders, each passing or failing on its own.
func TestDoctorWithLDIFExport(t *testing.T) {
	d := newDemo(t)
	code, out, _ := cli(t, nil, append([]string{"doctor"}, d.gnu("--summary-file", filepath.Join(d.dir, "s.json"))...)...)
	lines := doctorLines(out)
	if code != exitOK || status(lines, "directory") != "PASS" || !strings.Contains(out, "31 users, read completely") ||
		status(lines, "store") != "PASS" || status(lines, "output files") != "PASS" {
		t.Fatalf("exit %d\n%s", code, out)
	}

	noUPN := filepath.Join("..", "..", "testdata", "mapping", "ADSIReaderLDAPMappings.xml")
	code, out, _ = cli(t, nil, "doctor", "--config-file-path", noUPN, "--directory", "ldif:"+d.ldif,
		"--store", "sqlite:"+filepath.Join(d.dir, "none.db"), "--metrics-file", filepath.Join(d.dir, "no", "such", "m.prom"))
	lines = doctorLines(out)
	if code != exitError || status(lines, "mapping file") != "FAIL" || !strings.Contains(out, "upnsync mapping add-upn") ||
		status(lines, "store") != "FAIL" || !strings.Contains(out, "none.db does not exist") ||
		status(lines, "output files") != "FAIL" || !strings.Contains(out, "does not exist") ||
		!strings.Contains(out, "3 of 5 checks failed (mapping file, store, output files)") {
		t.Fatalf("exit %d\n%s", code, out)
	}

	code, out, _ = cli(t, nil, "doctor", "--store", d.store)
	lines = doctorLines(out)
	if code != exitError || status(lines, "mapping file") != "FAIL" || status(lines, "directory") != "FAIL" ||
		!strings.Contains(out, "--config-file-path") || !strings.Contains(out, "--directory URL") {
		t.Fatalf("exit %d\n%s", code, out)
	}
}

func TestDoctorChecksTheSchedule(t *testing.T) {
	d := newDemo(t)
	code, out, _ := cli(t, nil, append([]string{"doctor"}, d.gnu("--schedule", "CRON_TZ=Europe/Paris 30 2 * * *")...)...)
	lines := doctorLines(out)
	if code != exitOK || status(lines, "schedule") != "PASS" || len(lines["schedule"]) != 3 || !strings.Contains(out, "daylight saving time skips") {
		t.Fatalf("exit %d\n%s", code, out)
	}
	code, out, _ = cli(t, nil, append([]string{"doctor"}, d.gnu("--schedule", "CRON_TZ=Europe/Paris")...)...)
	if code != exitError || status(doctorLines(out), "schedule") != "FAIL" {
		t.Fatalf("exit %d\n%s", code, out)
	}
}
