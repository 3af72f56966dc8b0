package main

// The ldapsearch line of a run's log file, copied as an administrator
// copies it (what stands between the quotes after ldapsearch=) and run
// with the real ldapsearch against the Samba DC: it returns as many
// entries as the run read. The login is DOMAIN\name, whose backslash the
// log's own quoting doubles.

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
)

func TestSambaLogLDAPSearchLinePastes(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("needs a POSIX shell")
	}
	e := newSambaEnv(t)
	db := e.store(t, "ldapsearch-line")
	logFile := filepath.Join(e.dir, "run.log")
	name := strings.SplitN(e.BindDN, "@", 2)[0]
	args := e.args(db, "starttls", "--domain", "OU=Berlin,OU=People,"+e.Base, "--log-file-path", logFile)
	for i, a := range args {
		if a == e.BindDN {
			args[i] = e.NetBIOS + `\` + name
		}
	}
	code, out, errOut := cli(t, nil, args...)
	if code != exitPending {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	read := decodePlanRead(t, out).Read.Entries
	log, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`ldapsearch="((?:[^"\\]|\\.)*)"`).FindSubmatch(log)
	if m == nil {
		t.Fatalf("no ldapsearch line in the log:\n%s", log)
	}
	line := string(m[1])
	if !strings.Contains(line, "-ZZ") || !strings.Contains(line, "-y "+e.PasswordFile) || strings.Contains(line, e.Password) {
		t.Errorf("the line lacks -ZZ or -y, or holds the password: %s", line)
	}
	cmd := exec.Command("/bin/sh", "-c", line)
	got, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("the pasted line failed: %v\n%s\n%s", err, stderr, line)
	}
	if n := len(regexp.MustCompile(`(?m)^dn:`).FindAll(got, -1)); n != read || read == 0 {
		t.Errorf("ldapsearch returned %d entries, the run read %d", n, read)
	}
}
