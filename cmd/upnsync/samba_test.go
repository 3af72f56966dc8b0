package main

// The whole command against the real Samba AD DC of scripts/testdirs.sh:
// AD's objectGUIDs, userAccountControl, empty UPNs and continuation
// references, over ldaps:// and StartTLS. Without it the tests skip; with
// CI=true they fail.

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"

	"github.com/upnsync/upnsync/internal/faultproxy"
	"github.com/upnsync/upnsync/internal/testenv"
)

type sambaEnv struct {
	testenv.SambaEnv
	dir string
}

func newSambaEnv(t *testing.T) sambaEnv {
	t.Helper()
	return sambaEnv{SambaEnv: testenv.Samba(t), dir: t.TempDir()}
}

// store imports the Octopus users made for the Samba domain into a new
// SQLite store and returns its path.
func (e sambaEnv) store(t *testing.T, name string) string {
	t.Helper()
	db := filepath.Join(e.dir, name+".db")
	if code, out, errOut := cli(t, nil, "store", "import", "--store", "sqlite:"+db, e.OctopusCSV); code != 0 {
		t.Fatalf("import: %s %s", out, errOut)
	}
	return db
}

// adminConn is a connection to the DC over ldaps, bound as the
// Administrator, for tests that look or write behind upnsync's back.
func (e sambaEnv) adminConn(t *testing.T) *ldap.Conn {
	t.Helper()
	pem, err := os.ReadFile(e.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	conn, err := ldap.DialURL(e.LDAPSURL, ldap.DialWithTLSConfig(&tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}))
	if err != nil {
		t.Fatal(err)
	}
	if err := conn.Bind(e.BindDN, e.Password); err != nil {
		conn.Close()
		t.Fatal(err)
	}
	return conn
}

// args are a sync's arguments against the DC over ldaps:// ("ldaps") or
// StartTLS ("starttls"), with a simple bind as the Administrator.
func (e sambaEnv) args(db, transport string, extra ...string) []string {
	a := []string{"--config-file-path", filepath.Join("..", "..", "testdata", "mapping", "ADSIReaderLDAPMappings-upn.xml"),
		"--login", e.BindDN, "--password-file", e.PasswordFile, "--ca-file", e.CAFile,
		"--store", "sqlite:" + db, "--report", "json"}
	if transport == "starttls" {
		a = append(a, "--directory", e.URL, "--start-tls")
	} else {
		a = append(a, "--directory", e.LDAPSURL)
	}
	return append(a, extra...)
}

// disabledInLDIF counts the users loaded disabled (userAccountControl 514
// or 546).
func (e sambaEnv) disabledInLDIF(t *testing.T) int {
	t.Helper()
	data, err := os.ReadFile(e.LDIF)
	if err != nil {
		t.Fatal(err)
	}
	return len(regexp.MustCompile(`(?m)^userAccountControl: (514|546)$`).FindAll(data, -1))
}

// A dry run, the apply and a second run with nothing left, over ldaps://
// and StartTLS, from the domain root: every user read (the domain's own
// accounts too), Samba's three continuation references counted, the
// people matched by the objectGUIDs Samba assigned.
func TestSambaSync(t *testing.T) {
	e := newSambaEnv(t)
	for _, tr := range []string{"ldaps", "starttls"} {
		t.Run(tr, func(t *testing.T) {
			db := e.store(t, "sync-"+tr)
			args := e.args(db, tr, "--domain", e.Base)
			code, out, errOut := cli(t, nil, args...)
			plan := decodePlanRead(t, out)
			if code != exitPending || !plan.Complete || plan.Summary["read"] < e.Users || plan.Read.Referrals != 0 {
				t.Fatalf("dry run: exit %d, complete %v, read %d (%d loaded), %d referrals (want 0: the domain-scope control keeps Samba's 3 away)\n%s", code, plan.Complete,
					plan.Summary["read"], e.Users, plan.Read.Referrals, errOut)
			}
			if len(plan.Changes) < e.Users/20 || plan.Summary["matched"] < e.Users/2 {
				t.Fatalf("implausible plan: %v", plan.Summary)
			}
			// The NetBIOS name is the DC's own (Partitions container), and
			// the report says so.
			var nb struct {
				Name   string `json:"netbios_name"`
				Source string `json:"netbios_source"`
			}
			if err := json.Unmarshal([]byte(out), &nb); err != nil || nb.Name != e.NetBIOS || nb.Source != "directory" {
				t.Errorf("NetBIOS name %q from %q, want %q from the directory (%v)", nb.Name, nb.Source, e.NetBIOS, err)
			}
			byGUID := 0
			for _, c := range plan.Changes {
				if c["match"] == "external-id" {
					byGUID++
				}
			}
			if byGUID == 0 {
				t.Error("no change matched by ExternalIdentifier: the objectGUIDs read differ from those ldapsearch showed at load time")
			}
			for _, s := range plan.Skipped {
				if strings.Contains(s["reason"].(string), "disabled") {
					t.Fatalf("a disabled user skipped without --skip-disabled: %v", s)
				}
			}

			code, out, errOut = cli(t, nil, append(args, "--apply")...)
			applied := decodePlanRead(t, out)
			if (code != exitOK && code != exitConflicts) || applied.Applied == nil || applied.Applied.Written != len(plan.Changes) {
				t.Fatalf("apply: exit %d, applied %+v, want %d\n%s", code, applied.Applied, len(plan.Changes), errOut)
			}
			code, out, errOut = cli(t, nil, args...)
			if again := decodePlanRead(t, out); code == exitPending || again.Summary["changes"] != 0 {
				t.Fatalf("second run: exit %d, %v\n%s", code, again.Summary, errOut)
			}
		})
	}
}

type planRead struct {
	planJSON
	Read struct{ Pages, Entries, Referrals int }
}

func decodePlanRead(t *testing.T, out string) planRead {
	t.Helper()
	var p planRead
	p.planJSON = decodePlan(t, out)
	r := struct {
		Read struct{ Pages, Entries, Referrals int }
	}{}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	p.Read = r.Read
	return p
}

// Disabled accounts (userAccountControl 514 and 546, and the domain's
// Guest and krbtgt) are synced like the others unless --skip-disabled,
// which reports each as skipped.
func TestSambaSkipDisabled(t *testing.T) {
	e := newSambaEnv(t)
	db := e.store(t, "disabled")
	code, out, errOut := cli(t, nil, e.args(db, "ldaps", "--skip-disabled")...)
	if code != exitPending {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	plan := decodePlanRead(t, out)
	skipped := 0
	for _, s := range plan.Skipped {
		if s["reason"] == "account disabled (--skip-disabled)" {
			skipped++
		}
	}
	// Guest and krbtgt are disabled users of every domain.
	if want := e.disabledInLDIF(t) + 2; skipped != want {
		t.Errorf("%d disabled users skipped, want %d (%d loaded disabled, Guest, krbtgt)", skipped, want, want-2)
	}
}

// An account with an empty userPrincipalName is skipped with the reason,
// unless --implicit-upn, which gives it sAMAccountName@corp.example.com.
func TestSambaImplicitUPN(t *testing.T) {
	e := newSambaEnv(t)
	db := e.store(t, "implicit")
	code, out, errOut := cli(t, nil, e.args(db, "ldaps")...)
	if code != exitPending {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	noUPN := map[string]bool{}
	for _, s := range decodePlanRead(t, out).Skipped {
		if strings.HasPrefix(s["reason"].(string), "no userPrincipalName") {
			noUPN[strings.ToLower(s["dn"].(string))] = true
		}
	}
	// The loaded ones (1% of them) and Guest, krbtgt, svc-upnsync.
	if len(noUPN) < 10 {
		t.Fatalf("%d accounts without UPN skipped; the test domain has more", len(noUPN))
	}

	code, out, errOut = cli(t, nil, e.args(db, "ldaps", "--implicit-upn")...)
	if code != exitPending {
		t.Fatalf("--implicit-upn: exit %d\n%s", code, errOut)
	}
	plan := decodePlanRead(t, out)
	for _, s := range plan.Skipped {
		if strings.HasPrefix(s["reason"].(string), "no userPrincipalName") {
			t.Errorf("skipped with --implicit-upn: %v", s)
		}
	}
	implicit := 0
	for _, c := range plan.Changes {
		if !noUPN[strings.ToLower(c["dn"].(string))] {
			continue
		}
		added, _ := c["added"].([]any)
		if len(added) != 1 || !strings.HasSuffix(added[0].(string), "@corp.example.com") {
			t.Errorf("%s: added %v, want sAMAccountName@corp.example.com", c["dn"], added)
		}
		implicit++
	}
	if implicit == 0 {
		t.Error("--implicit-upn added no implicit UPN")
	}
}

// A sync over two OUs in one run (--domain twice) writes exactly what two
// runs over each OU write.
func TestSambaTwoOUsAsTwoRuns(t *testing.T) {
	e := newSambaEnv(t)
	a, b := "OU=Berlin,OU=People,"+e.Base, "OU=São Paulo,OU=People,"+e.Base
	one := e.store(t, "one-run")
	code, out, errOut := cli(t, nil, e.args(one, "ldaps", "--domain", a, "--domain", b, "--apply")...)
	if code != exitOK && code != exitConflicts {
		t.Fatalf("one run over both OUs: exit %d\n%s", code, errOut)
	}
	both := decodePlanRead(t, out)
	two := e.store(t, "two-runs")
	written := 0
	for _, ou := range []string{a, b} {
		code, out, errOut := cli(t, nil, e.args(two, "ldaps", "--domain", ou, "--apply")...)
		if code != exitOK && code != exitConflicts {
			t.Fatalf("run over %s: exit %d\n%s", ou, code, errOut)
		}
		if p := decodePlanRead(t, out); p.Applied != nil {
			written += p.Applied.Written
		}
	}
	if both.Applied == nil || both.Applied.Written == 0 || both.Applied.Written != written {
		t.Fatalf("one run wrote %+v, two runs %d", both.Applied, written)
	}
	export := func(db string) string {
		code, out, errOut := cli(t, nil, "store", "export", "--store", "sqlite:"+db)
		if code != 0 {
			t.Fatalf("export: %s", errOut)
		}
		return out
	}
	if x, y := export(one), export(two); x != y {
		t.Fatalf("the stores differ after one run over both OUs and two runs over each:\n%s\n----\n%s", x, y)
	}
}

// The connection to the DC cut in the middle of the read on every attempt
// (ldaps:// and StartTLS, through a proxy that cuts after half the bytes
// of a clean read): the read is incomplete, nothing is written, exit 1
// after the retries, one new connection per attempt.
func TestSambaFaultConnectionCutMidRead(t *testing.T) {
	e := newSambaEnv(t)
	for _, tr := range []string{"ldaps", "starttls"} {
		t.Run(tr, func(t *testing.T) {
			db := e.store(t, "fault-"+tr)
			raw, scheme, port := e.LDAPSURL, "ldaps", "636"
			if tr == "starttls" {
				raw, scheme, port = e.URL, "ldap", "389"
			}
			target := hostOf(t, raw)
			if _, _, err := net.SplitHostPort(target); err != nil {
				target = net.JoinHostPort(target, port)
			}
			proxy := func() *faultproxy.Proxy {
				p, err := faultproxy.Start(target)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { p.Close() })
				return p
			}
			args := func(p *faultproxy.Proxy, extra ...string) []string {
				a := []string{"--config-file-path", filepath.Join("..", "..", "testdata", "mapping", "ADSIReaderLDAPMappings-upn.xml"),
					"--login", e.BindDN, "--password-file", e.PasswordFile, "--ca-file", e.CAFile, "--domain", e.Base,
					"--store", "sqlite:" + db, "--page-size", "500", "--directory", p.URL(scheme), "--retry-delay", "10ms"}
				if tr == "starttls" {
					a = append(a, "--start-tls")
				}
				return append(a, extra...)
			}
			// A clean read through the proxy: how many bytes the read carries.
			p := proxy()
			if code, _, errOut := cli(t, nil, args(p)...); code != exitPending {
				t.Fatalf("clean run through the proxy: exit %d\n%s", code, errOut)
			}
			clean := readConns(t, p.Stats())
			if len(clean) != 1 || clean[0].ServerBytes < 100000 {
				t.Fatalf("clean run: read connections %+v", clean)
			}
			p.Close()

			p = proxy()
			p.Always(faultproxy.Fault{Action: faultproxy.Drop, AfterBytes: clean[0].ServerBytes / 2})
			before := fileHash(t, db)
			code, out, errOut := cli(t, nil, args(p, "--apply", "--retries", "2")...)
			noStack(t, out, errOut)
			if code != exitError {
				t.Fatalf("exit %d, want 1\n%s", code, errOut)
			}
			if fileHash(t, db) != before {
				t.Fatal("the store changed although no read was complete")
			}
			final := regexp.MustCompile(`(?m)^upnsync: ` + regexp.QuoteMeta("connection to "+p.URL(scheme)+" lost after page ") +
				`\d+ of the read \(\d+ entries\).*the read is incomplete; gave up after 3 attempts \(--retries 2\)$`)
			if !final.MatchString(errOut) {
				t.Errorf("the last error does not name the directory, the page and the attempts:\n%s", errOut)
			}
			if !strings.Contains(out, "INCOMPLETE") {
				t.Errorf("the report does not say the read was incomplete:\n%s", out)
			}
			st := readConns(t, p.Stats())
			if len(st) != 3 {
				t.Fatalf("%d read connections, want 3 (one per attempt)", len(st))
			}
			for i, c := range st {
				if !c.Struck {
					t.Errorf("connection %d: the fault did not strike", i+1)
				}
			}
		})
	}
}

// The whole sync with a Kerberos bind and no password anywhere, in both
// spellings: the keytab's keys (GNU options), a credential cache kinit made
// from it (Windows options); the plan is the one a password bind makes.
func TestSambaKerberosSync(t *testing.T) {
	e := newSambaEnv(t)
	db := e.store(t, "kerberos")
	mappingFile := filepath.Join("..", "..", "testdata", "mapping", "ADSIReaderLDAPMappings-upn.xml")
	code, out, errOut := cli(t, nil, e.args(db, "ldaps")...)
	if code != exitPending {
		t.Fatalf("password bind: exit %d\n%s", code, errOut)
	}
	want := decodePlanRead(t, out).Summary

	code, out, errOut = cli(t, nil, "--config-file-path", mappingFile, "--directory", e.LDAPSURL, "--ca-file", e.CAFile,
		"--kerberos-keytab", e.Keytab, "--login", e.Principal, "--krb5-conf", e.Krb5Conf,
		"--store", "sqlite:"+db, "--report", "json")
	if code != exitPending {
		t.Fatalf("keytab: exit %d\n%s", code, errOut)
	}
	if got := decodePlanRead(t, out).Summary; !reflect.DeepEqual(got, want) {
		t.Errorf("keytab bind planned %v, a password bind %v", got, want)
	}
	// --login as DOMAIN\name or the name alone: the principal in
	// krb5.conf's default realm.
	name := strings.SplitN(e.Principal, "@", 2)[0]
	for _, login := range []string{e.NetBIOS + `\` + name, name} {
		code, out, errOut = cli(t, nil, "--config-file-path", mappingFile, "--directory", e.LDAPSURL, "--ca-file", e.CAFile,
			"--kerberos-keytab", e.Keytab, "--login", login, "--krb5-conf", e.Krb5Conf,
			"--store", "sqlite:"+db, "--report", "json")
		if code != exitPending {
			t.Fatalf("keytab, --login %s: exit %d\n%s", login, code, errOut)
		}
		if got := decodePlanRead(t, out).Summary; !reflect.DeepEqual(got, want) {
			t.Errorf("keytab bind as %s planned %v, a password bind %v", login, got, want)
		}
	}

	cache := filepath.Join(e.dir, "krb5cc")
	kinit := exec.Command("kinit", "-k", "-t", e.Keytab, "-c", cache, e.Principal)
	kinit.Env = append(os.Environ(), "KRB5_CONFIG="+e.Krb5Conf)
	if out, err := kinit.CombinedOutput(); err != nil {
		t.Fatalf("kinit: %v\n%s", err, out)
	}
	code, out, errOut = cli(t, nil, "/ConfigFilePath:"+mappingFile, "/Directory:"+e.URL, "/StartTLS", "/CAFile:"+e.CAFile,
		"/KerberosCCache:"+cache, "/Krb5Conf:"+e.Krb5Conf, "/Store:sqlite:"+db, "/Report:json")
	if code != exitPending {
		t.Fatalf("credential cache: exit %d\n%s", code, errOut)
	}
	if got := decodePlanRead(t, out).Summary; !reflect.DeepEqual(got, want) {
		t.Errorf("credential cache bind planned %v, a password bind %v", got, want)
	}
}

// Kerberos options that cannot work stop the run with one line that says
// what to do, exit 1.
func TestSambaKerberosUsageErrors(t *testing.T) {
	e := newSambaEnv(t)
	db := e.store(t, "kerberos-errors")
	base := []string{"--config-file-path", filepath.Join("..", "..", "testdata", "mapping", "ADSIReaderLDAPMappings-upn.xml"),
		"--directory", e.LDAPSURL, "--ca-file", e.CAFile, "--store", "sqlite:" + db}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"integrated auth off Windows", []string{"--integrated-auth"}, "works on Windows only"},
		{"keytab and password", []string{"--kerberos-keytab", e.Keytab, "--password-file", e.PasswordFile}, "uses no password"},
		{"keytab and ccache", []string{"--kerberos-keytab", e.Keytab, "--kerberos-ccache", e.Keytab}, "exclude each other"},
		{"krb5.conf alone", []string{"--krb5-conf", e.Krb5Conf, "--login", e.BindDN, "--password-file", e.PasswordFile}, "--krb5-conf is for Kerberos binds"},
		{"unknown principal", []string{"--kerberos-keytab", e.Keytab, "--login", "nobody@" + e.Realm, "--krb5-conf", e.Krb5Conf}, "Kerberos bind to ldaps://127.0.0.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := cli(t, nil, append(base, tt.args...)...)
			noStack(t, out, errOut)
			if code != exitError || !strings.Contains(errOut, tt.want) || strings.Contains(errOut, e.Password) {
				t.Fatalf("exit %d\nstdout %s\nstderr %s", code, out, errOut)
			}
		})
	}
}

// --ntlm and /NTLM: the same plan as a simple bind.
func TestSambaNTLMSync(t *testing.T) {
	e := newSambaEnv(t)
	db := e.store(t, "ntlm")
	code, out, errOut := cli(t, nil, e.args(db, "ldaps")...)
	if code != exitPending {
		t.Fatalf("simple bind: exit %d\n%s", code, errOut)
	}
	want := decodePlanRead(t, out).Summary
	user := e.NetBIOS + `\` + strings.SplitN(e.BindDN, "@", 2)[0]
	for _, args := range [][]string{
		{"--ntlm", "--login", user},
		{"/NTLM", "/Login:" + user},
	} {
		a := append(e.args(db, "starttls"), args...)
		code, out, errOut := cli(t, nil, a...)
		if code != exitPending {
			t.Fatalf("%v: exit %d\n%s", args, code, errOut)
		}
		if got := decodePlanRead(t, out).Summary; !reflect.DeepEqual(got, want) {
			t.Errorf("%v planned %v, a simple bind %v", args, got, want)
		}
	}
}

// upnsync doctor with a Kerberos keytab against Samba: every check passes
// and the bind line says how it bound.
func TestSambaDoctorKerberos(t *testing.T) {
	e := newSambaEnv(t)
	db := e.store(t, "doctor")
	code, out, errOut := cli(t, nil, "doctor", "--config-file-path", filepath.Join("..", "..", "testdata", "mapping", "ADSIReaderLDAPMappings-upn.xml"),
		"--directory", e.LDAPSURL, "--ca-file", e.CAFile, "--kerberos-keytab", e.Keytab, "--login", e.Principal,
		"--krb5-conf", e.Krb5Conf, "--store", "sqlite:"+db, "--domain", e.Base)
	if code != exitOK {
		t.Fatalf("doctor: exit %d\n%s\n%s", code, out, errOut)
	}
	want := `PASS  bind          bound to ` + e.LDAPSURL + ` with Kerberos as "` + e.Principal + `" (keytab ` + e.Keytab + `)`
	if !strings.Contains(out, want) || !strings.Contains(out, "Kerberos with keytab "+e.Keytab) {
		t.Fatalf("doctor output lacks %q:\n%s", want, out)
	}
	// The ldapsearch line binds as the run does: kinit from the keytab,
	// then GSSAPI; no simple bind.
	line := "a run reads it like: KRB5_CONFIG=" + e.Krb5Conf + " kinit -k -t " + e.Keytab + " " + e.Principal + " && KRB5_CONFIG=" + e.Krb5Conf +
		" LDAPTLS_CACERT=" + e.CAFile + " ldapsearch -H " + e.LDAPSURL + " -Y GSSAPI -N -O maxssf=0 -Q -b " + e.Base
	if !strings.Contains(out, line) || strings.Contains(out, " -x ") || strings.Contains(out, " -D ") {
		t.Errorf("doctor's ldapsearch line is not %q...:\n%s", line, out)
	}
}

// A wrong password (AD's data code 52e) and a certificate upnsync does not
// trust, from a real AD DC: one line each that says what to do, exit 1,
// no password.
func TestSambaBindErrors(t *testing.T) {
	e := newSambaEnv(t)
	db := e.store(t, "errors")
	wrong := filepath.Join(e.dir, "wrong.pw")
	if err := os.WriteFile(wrong, []byte("Wr0ng-Passw0rd"), 0o600); err != nil {
		t.Fatal(err)
	}
	base := []string{"--config-file-path", filepath.Join("..", "..", "testdata", "mapping", "ADSIReaderLDAPMappings-upn.xml"),
		"--store", "sqlite:" + db, "--directory", e.LDAPSURL, "--login", e.BindDN}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"wrong password", []string{"--ca-file", e.CAFile, "--password-file", wrong}, "wrong user name or password (LDAP 49 Invalid Credentials)"},
		{"untrusted certificate", []string{"--password-file", e.PasswordFile}, "--ca-file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := cli(t, nil, append(base, tt.args...)...)
			noStack(t, out, errOut)
			if code != exitError || !strings.Contains(errOut, tt.want) || strings.Contains(errOut, "Wr0ng-Passw0rd") ||
				strings.Contains(errOut, e.Password) || strings.Count(strings.TrimSpace(errOut), "\n") > 0 {
				t.Fatalf("exit %d\nstdout %s\nstderr %s", code, out, errOut)
			}
		})
	}
}
