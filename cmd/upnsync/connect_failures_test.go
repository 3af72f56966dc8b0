package main

// Mistakes of the settings that fail the same way every time, through the
// whole command with its default settings (--retries 3): each fails in one
// attempt, exit 1, with one line that says what to use, and nothing is
// written. A port that accepts the connection and never answers fails
// within a minute; a scheme that does not fit the port, a missing keytab,
// a keytab others can read, within seconds.

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// failsOnce runs a sync with args, expects exit 1 within limit, one error
// line holding every want, no retry, and the store unchanged.
func failsOnce(t *testing.T, db string, limit time.Duration, args []string, want ...string) string {
	t.Helper()
	before := fileHash(t, db)
	start := time.Now()
	code, _, errOut := cli(t, nil, args...)
	took := time.Since(start)
	if code != exitError {
		t.Fatalf("exit %d, want %d\n%s", code, exitError, errOut)
	}
	msg := errorLine(t, errOut)
	t.Logf("%s (in %s)", msg, took.Round(time.Millisecond))
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("error %q lacks %q", msg, w)
		}
	}
	if strings.Contains(errOut, "attempt 1 of") || strings.Contains(errOut, "gave up after") {
		t.Errorf("retried:\n%s", errOut)
	}
	if took > limit {
		t.Errorf("took %s, want under %s", took, limit)
	}
	if fileHash(t, db) != before {
		t.Error("the store was written")
	}
	return msg
}

// A port that accepts the connection and never answers: with the default
// settings the run fails in under a minute (the connect timeout, 30 s, not
// retried), where it took four attempts of the two-minute timeout before.
func TestSilentDirectoryFailsWithinAMinute(t *testing.T) {
	if testing.Short() {
		t.Skip("takes the default connect timeout, 30 s")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c) // held open, never answered
		}
	}()
	defer func() {
		l.Close()
		<-done
		for _, c := range conns {
			c.Close()
		}
	}()
	d := newDemo(t)
	pw := filepath.Join(d.dir, "pw")
	if err := os.WriteFile(pw, []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	url := "ldaps://" + l.Addr().String()
	failsOnce(t, d.db, time.Minute, []string{"--config-file-path", d.mapping, "--directory", url, "--store", d.store,
		"--login", "svc@corp.example.com", "--password-file", pw, "--domain", "corp.example.com"},
		url+" accepted the connection but did not answer the TLS handshake within 30s (--connect-timeout)", "not tried again")
}

// ldaps:// to the plain port and ldap:// (StartTLS) to the TLS port of the
// Samba DC; doctor says the same in its TLS check.
func TestSambaProtocolMismatch(t *testing.T) {
	e := newSambaEnv(t)
	db := e.store(t, "mismatch")
	common := []string{"--config-file-path", filepath.Join("..", "..", "testdata", "mapping", "ADSIReaderLDAPMappings-upn.xml"),
		"--login", e.BindDN, "--password-file", e.PasswordFile, "--ca-file", e.CAFile, "--store", "sqlite:" + db, "--domain", e.Base}
	for _, tt := range []struct {
		name, check string
		args        []string
		want        string
	}{
		{"ldaps to 389", "TLS", []string{"--directory", "ldaps://127.0.0.1:389"},
			"ldaps://127.0.0.1:389: port 389 speaks plain LDAP, not TLS: use ldap://127.0.0.1:389 with --start-tls, or ldaps://127.0.0.1:636"},
		{"StartTLS to 636", "TLS", []string{"--directory", "ldap://127.0.0.1:636", "--start-tls"},
			"ldap://127.0.0.1:636: port 636 speaks TLS from the first byte (LDAPS), not plain LDAP: use ldaps://127.0.0.1:636 without --start-tls, or ldap://127.0.0.1:389 with --start-tls"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			failsOnce(t, db, 10*time.Second, append(append([]string{}, common...), tt.args...), tt.want)
			code, out, _ := cli(t, nil, append(append([]string{"doctor"}, common...), tt.args...)...)
			if code != exitError || !strings.Contains(out, "FAIL  "+tt.check) || !strings.Contains(out, tt.want) {
				t.Errorf("doctor: exit %d, want its %s check to say %q:\n%s", code, tt.check, tt.want, out)
			}
		})
	}
}

// Kerberos mistakes: a keytab that does not exist (one attempt, at once),
// one others can read (refused as a password file is), an unknown
// principal (the KDC's answer, in words).
func TestSambaKerberosMistakesFailOnce(t *testing.T) {
	e := newSambaEnv(t)
	db := e.store(t, "kerberos-mistakes")
	shared := filepath.Join(e.dir, "shared.keytab")
	data, err := os.ReadFile(e.Keytab)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(shared, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(shared, 0o644); err != nil {
		t.Fatal(err)
	}
	args := func(keytab, login string) []string {
		return []string{"--config-file-path", filepath.Join("..", "..", "testdata", "mapping", "ADSIReaderLDAPMappings-upn.xml"),
			"--directory", e.LDAPSURL, "--ca-file", e.CAFile, "--kerberos-keytab", keytab, "--login", login,
			"--krb5-conf", e.Krb5Conf, "--store", "sqlite:" + db, "--domain", e.Base}
	}
	missing := filepath.Join(e.dir, "none.keytab")
	failsOnce(t, db, 5*time.Second, args(missing, e.Principal), "cannot read the keytab "+missing+": no such file or directory")
	failsOnce(t, db, 5*time.Second, args(shared, e.Principal), "keytab "+shared+" can be read by other users (mode 0644): run chmod 600 "+shared)
	msg := failsOnce(t, db, 5*time.Second, args(e.Keytab, "nobody@"+e.Realm), "the KDC of "+e.Realm+" does not know nobody@"+e.Realm)
	if strings.Contains(msg, "Root cause") || strings.Contains(msg, "setspn") {
		t.Errorf("noise in %q", msg)
	}
}
