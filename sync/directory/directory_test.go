package directory

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	upnsync "github.com/upnsync/upnsync/sync"
)

func noneRead() *upnsync.ReadResult { return &upnsync.ReadResult{} }

// readResultFixture is a read that failed during its third page.
var readResultFixture = upnsync.ReadResult{Pages: 2, Entries: 2500}

// listener accepts connections on loopback and counts them, so a test can
// prove that Open refused before sending anything.
func listener(t *testing.T) (addr string, accepted *atomic.Int32) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted = new(atomic.Int32)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			c.Close()
		}
	}()
	t.Cleanup(func() { l.Close() })
	return l.Addr().String(), accepted
}

func TestOpenRefusesBeforeSending(t *testing.T) {
	addr, accepted := listener(t)
	secret := "S3cret-Pa55"
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{"no login", Options{URL: "ldaps://" + addr, Password: secret},
			"give --login and a password (--password-file or UPNSYNC_PASSWORD), or --anonymous"},
		{"no password", Options{URL: "ldaps://" + addr, Login: "svc@corp.example.com"},
			"give --login and a password (--password-file or UPNSYNC_PASSWORD), or --anonymous"},
		{"anonymous and login", Options{URL: "ldaps://" + addr, Login: "svc", Anonymous: true},
			"--anonymous and --login exclude each other"},
		{"plaintext bind", Options{URL: "ldap://" + addr, Login: "svc@corp.example.com", Password: secret},
			`refusing to send the password of "svc@corp.example.com" in clear text to ldap://` + addr + ": use ldaps:// or --start-tls (or --allow-plaintext-bind to accept the risk)"},
		{"plaintext bind, scheme in capitals", Options{URL: "LDAP://" + addr, Login: "svc", Password: secret},
			"--allow-plaintext-bind"},
		{"start-tls on ldaps", Options{URL: "ldaps://" + addr, Login: "svc", Password: secret, StartTLS: true},
			"--start-tls is for ldap:// URLs"},
		{"bad filter", Options{URL: "ldaps://" + addr, Login: "svc", Password: secret, UserFilter: "(&(objectClass=user)"},
			`--user-filter "(&(objectClass=user)" is not a valid LDAP filter: ldap: unexpected end of filter`},
		{"filter without parentheses", Options{URL: "ldaps://" + addr, Login: "svc", Password: secret, UserFilter: "objectClass=user"},
			`--user-filter "objectClass=user" is not a valid LDAP filter: ldap: filter does not start with an '('`},
		{"bad extra filter", Options{URL: "ldaps://" + addr, Login: "svc", Password: secret, Filter: "(department=R&D (Lab))"},
			`--filter "(department=R&D (Lab))" is not a valid LDAP filter: `},
		{"extra filter unbalanced", Options{URL: "ldaps://" + addr, Login: "svc", Password: secret, Filter: "(|(department=Sales)"},
			`--filter "(|(department=Sales)" is not a valid LDAP filter: ldap: unexpected end of filter; give one clause such as (department=Sales)`},
		{"extra filter, two clauses", Options{URL: "ldaps://" + addr, Login: "svc", Password: secret, Filter: "(department=Sales)(title=Boss)"},
			`--filter "(department=Sales)(title=Boss)" is not a valid LDAP filter`},
		{"negative page size", Options{URL: "ldaps://" + addr, Login: "svc", Password: secret, PageSize: -1},
			"page size -1 is out of range"},
		{"bad base", Options{URL: "ldaps://" + addr, Login: "svc", Password: secret, Bases: []string{"corp..com"}},
			`search base "corp..com" is neither a DN`},
		{"credentials in URL", Options{URL: "ldaps://svc:" + secret + "@" + addr, Login: "svc", Password: secret},
			"holds credentials: put none in the URL"},
		{"no host", Options{URL: "ldaps://", Login: "svc", Password: secret}, "names no host"},
		{"query", Options{URL: "ldaps://" + addr + "/dc=x??sub?(cn=*)", Login: "svc", Password: secret}, "are not supported"},
		{"missing CA file", Options{URL: "ldaps://" + addr, Login: "svc", Password: secret, CAFile: filepath.Join(t.TempDir(), "none.pem")},
			"cannot read the CA file given with --ca-file"},
		{"CA file without PEM", Options{URL: "ldaps://" + addr, Login: "svc", Password: secret, CAFile: "directory_test.go"},
			"holds no PEM certificate"},
		{"csv missing", Options{URL: "csv:no-such-users.csv"}, "cannot read CSV file no-such-users.csv"},
		{"xlsx missing", Options{URL: `xlsx:C:\exports\users.xlsx`}, `cannot read XLSX file C:\exports\users.xlsx`},
		{"csv bad columns", Options{URL: "csv:directory_test.go", Columns: "nick=Nickname"}, `--columns: unknown key "nick"`},
		{"unknown kind", Options{URL: "http://dc1"}, `unknown kind "http"`},
		{"empty URL", Options{}, "no directory given"},
		{"empty URL, DN without DC", Options{Bases: []string{"O=Corp"}}, "no directory given"},
		{"no kind", Options{URL: "dc1.corp.example.com"}, "has no kind"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := Open(tt.opts)
			if err == nil {
				d.Close()
				t.Fatalf("Open succeeded, want an error containing %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %q\nwant it to contain %q", err, tt.want)
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error shows the password: %q", err)
			}
			if strings.ContainsAny(err.Error(), "\n\r") {
				t.Errorf("error is not one line: %q", err)
			}
		})
	}
	if n := accepted.Load(); n != 0 {
		t.Errorf("%d connections reached the server; Open must refuse before sending anything", n)
	}
}

func TestOptionsNeverPrintThePassword(t *testing.T) {
	o := Options{URL: "ldaps://dc1", Login: "svc", Password: "S3cret-Pa55"}
	for _, s := range []string{fmt.Sprint(o), fmt.Sprintf("%v", o), fmt.Sprintf("%+v", o), fmt.Sprintf("%#v", o), fmt.Sprintf("%s", &o)} {
		if strings.Contains(s, "S3cret") || !strings.Contains(s, "svc") {
			t.Errorf("printed options: %s", s)
		}
	}
	if v := o.LogValue().String(); strings.Contains(v, "S3cret") {
		t.Errorf("log value: %s", v)
	}
}

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"ldaps://svc:pw@dc1:636":  "ldaps://dc1:636",
		"ldaps://dc1":             "ldaps://dc1",
		"ldaps://svc:p%zz@dc1":    "ldaps://…@dc1",
		"ldif:C:\\x\\users.ldif":  "ldif:C:\\x\\users.ldif",
		"ldaps://svc@dc1/dc=corp": "ldaps://dc1/dc=corp",
	} {
		if got := redactURL(in); got != want {
			t.Errorf("redactURL(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestNewLDAPSettings(t *testing.T) {
	d, err := newLDAP(Options{URL: "ldaps://dc1.corp.example.com", Login: "svc", Password: "x",
		Bases: []string{"corp.example.com", "DC=corp,DC=example,DC=com", "OU=Staff,DC=corp,DC=example,DC=com", "OU=Staff,DC=other,DC=example,DC=com"}})
	if err != nil {
		t.Fatal(err)
	}
	// The repeat and the base inside another are left out (bases.go).
	if got := strings.Join(d.bases, "|"); got != "DC=corp,DC=example,DC=com|OU=Staff,DC=other,DC=example,DC=com" {
		t.Errorf("bases = %s", got)
	}
	if d.filter != DefaultUserFilter || d.timeout != DefaultTimeout || d.pageSize != 0 || d.tls.ServerName != "dc1.corp.example.com" || d.tls.MinVersion < 0x0303 || d.tls.InsecureSkipVerify {
		t.Errorf("settings: filter %q timeout %s page %d tls %+v", d.filter, d.timeout, d.pageSize, d.tls)
	}
	if got := d.Describe(); got != "ldaps://dc1.corp.example.com (bases DC=corp,DC=example,DC=com; OU=Staff,DC=other,DC=example,DC=com)" {
		t.Errorf("Describe = %q", got)
	}
	// A base DN in the URL path, IPv6, anonymous on plain ldap:// (no password to protect).
	d, err = newLDAP(Options{URL: "ldap://[::1]:1389/dc=corp,dc=example,dc=com", Anonymous: true, Timeout: time.Second, PageSize: 500})
	if err != nil {
		t.Fatal(err)
	}
	if d.Describe() != "ldap://[::1]:1389 (base dc=corp,dc=example,dc=com)" || d.host != "::1" || d.timeout != time.Second {
		t.Errorf("Describe = %q host %q", d.Describe(), d.host)
	}
}

// adDiag is the diagnostic message AD (and Samba) send with a refused bind.
func adDiag(data string) string {
	return "80090308: LdapErr: DSID-0C09041C, comment: AcceptSecurityContext error, data " + data + ", v4563"
}

func TestErrorMessages(t *testing.T) {
	d, err := newLDAP(Options{URL: "ldaps://dc1.corp.example.com", Login: "svc@corp.example.com", Password: "S3cret", PageSize: 1000})
	if err != nil {
		t.Fatal(err)
	}
	ad := func(code uint16, diag string) error {
		return &ldap.Error{ResultCode: code, Err: errors.New(diag)}
	}
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"wrong password", d.bindError(ad(49, adDiag("52e")+"\x00")),
			`cannot bind to ldaps://dc1.corp.example.com as "svc@corp.example.com": wrong user name or password (LDAP 49 Invalid Credentials); check --login and the password (--password-file or UPNSYNC_PASSWORD)`},
		{"locked", d.bindError(ad(49, adDiag("775"))),
			`cannot bind to ldaps://dc1.corp.example.com as "svc@corp.example.com": account locked (LDAP 49 Invalid Credentials); unlock the account in AD and check the password upnsync uses`},
		{"password expired", d.bindError(ad(49, adDiag("532"))),
			`: password expired (LDAP 49 Invalid Credentials); set a new password for the account`},
		{"disabled", d.bindError(ad(49, adDiag("533"))),
			`: account disabled (LDAP 49 Invalid Credentials); enable the account in AD`},
		{"account expired", d.bindError(ad(49, adDiag("701"))),
			`: account expired (LDAP 49 Invalid Credentials); extend the account's expiry date in AD`},
		{"must change password", d.bindError(ad(49, adDiag("773"))),
			`: the password must be changed ("User must change password at next logon") (LDAP 49 Invalid Credentials); set a new password for the account in AD`},
		{"no such user", d.bindError(ad(49, adDiag("525"))),
			`: no such user (LDAP 49 Invalid Credentials); check --login`},
		{"logon hours", d.bindError(ad(49, adDiag("530"))), `: the account may not log on at this time (LDAP 49`},
		{"workstations", d.bindError(ad(49, adDiag("531"))), `: the account may not log on from this computer (LDAP 49`},
		{"52e, upper case, Samba's DSID", d.bindError(ad(49, "80090308: LdapErr: DSID-0C0904DC, comment: AcceptSecurityContext error, data 52E, v1db1")),
			`: wrong user name or password (LDAP 49 Invalid Credentials); check --login and the password`},
		{"unknown data code", d.bindError(ad(49, adDiag("999"))), `: wrong user name or password (LDAP 49 Invalid Credentials)`},
		{"slapd wrong password", d.bindError(ad(49, "")), "wrong user name or password"},
		{"signing required", d.bindError(ad(8, "00002028: LdapErr: DSID-0C090259, comment: The server requires binds to turn on integrity checking")),
			"refuses a simple bind over this connection (LDAP 8 Strong Auth Required"},
		{"no such base", d.searchError(&ldap.Error{ResultCode: 32, MatchedDN: "DC=corp,DC=example,DC=com", Err: errors.New("0000208D: NameErr")}, "OU=Nope,DC=corp,DC=example,DC=com", noneRead()),
			`search base "OU=Nope,DC=corp,DC=example,DC=com" does not exist on ldaps://dc1.corp.example.com (LDAP 32 No Such Object); the closest existing entry is "DC=corp,DC=example,DC=com"; check --domain`},
		{"rights", d.searchError(ad(50, "00002098: SecErr"), "DC=corp,DC=example,DC=com", noneRead()),
			`the account "svc@corp.example.com" may not read "DC=corp,DC=example,DC=com" on ldaps://dc1.corp.example.com (LDAP 50 Insufficient Access Rights); grant it read access`},
		{"page size", d.searchError(ad(11, "adminlimit exceeded"), "DC=x", noneRead()), "try --page-size 1000 or less"},
		{"size limit mid-read", d.searchError(ad(4, ""), "DC=x", &readResultFixture), "stopped the paged read at its size limit (LDAP 4 Size Limit Exceeded) after 2500 entries, so the read is incomplete; raise the account's limit on paged searches"},
		{"lost", d.searchError(ldap.NewError(ldap.ErrorNetwork, errors.New("unable to read LDAP response packet: EOF")), "DC=x", &readResultFixture),
			"connection to ldaps://dc1.corp.example.com lost after page 2 of the read (2500 entries): unable to read LDAP response packet: EOF; the read is incomplete"},
		{"timeout", d.searchError(ldap.NewError(ldap.ErrorNetwork, errors.New("ldap: connection timed out")), "DC=x", &readResultFixture),
			"no answer from ldaps://dc1.corp.example.com within 2m0s during page 3 of the read (2500 entries); the read is incomplete"},
		{"unknown host", d.dialError(ldap.NewError(ldap.ErrorNetwork, &net.OpError{Op: "dial", Err: &net.DNSError{Name: "dc1.corp.example.com", Err: "no such host", IsNotFound: true}})),
			`cannot connect to ldaps://dc1.corp.example.com: unknown host "dc1.corp.example.com" (no such name in DNS); check the host name in --directory`},
		{"refused", d.dialError(ldap.NewError(ldap.ErrorNetwork, &net.OpError{Op: "dial", Err: &os.SyscallError{Syscall: "connectex", Err: errors.New("No connection could be made because the target machine actively refused it.")}})),
			"connection refused (nothing listens on that address and port)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.err.Error()
			if !strings.Contains(got, tt.want) {
				t.Errorf("message = %q\nwant it to contain %q", got, tt.want)
			}
			if strings.Contains(got, "S3cret") || strings.ContainsAny(got, "\n\x00") {
				t.Errorf("message leaks the password or is not one clean line: %q", got)
			}
		})
	}
}

// The ldapsearch command logged for a read matches the read, quotes what a
// shell would interpret, and never holds the password.
func TestLDAPSearchLine(t *testing.T) {
	d, err := newLDAP(Options{URL: "ldap://dc1.corp.example.com:389", StartTLS: true, Login: "svc-upnsync@corp.example.com",
		Password: "S3cret'pw", PageSize: 500, Bases: []string{`OU="Toronto Office",DC=corp,DC=example,DC=com`}})
	if err != nil {
		t.Fatal(err)
	}
	d.opts.CAFile = "/etc/upnsync/ca file.pem" // only named in the command; newLDAP would read it
	got := d.ldapsearchLine(d.bases[0])
	want := `LDAPTLS_CACERT='/etc/upnsync/ca file.pem' ldapsearch -H ldap://dc1.corp.example.com:389 -ZZ -x -D svc-upnsync@corp.example.com -W ` +
		`-b 'OU=Toronto Office,DC=corp,DC=example,DC=com' -s sub -E pr=500/noprompt '(&(objectCategory=person)(objectClass=user))' ` +
		`objectGUID sAMAccountName userAccountControl userPrincipalName givenName sn mail`
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	if strings.Contains(got, "S3cret") {
		t.Fatal("the password is in the command")
	}
	anon, _ := newLDAP(Options{URL: "ldaps://dc1", Anonymous: true, PageSize: 0, UserFilter: "(cn=O'Brien)", Bases: []string{"dc=x"}})
	if got := anon.ldapsearchLine("dc=x"); got != `ldapsearch -H ldaps://dc1 -x -b dc=x -s sub '(cn=O'\''Brien)' objectGUID sAMAccountName userAccountControl userPrincipalName givenName sn mail` {
		t.Fatalf("anonymous, unpaged: %s", got)
	}
}

func TestProbeAddress(t *testing.T) {
	for url, want := range map[string]string{
		"ldaps://dc1.corp.example.com":      "dc1.corp.example.com:636",
		"ldap://dc1.corp.example.com":       "dc1.corp.example.com:389",
		"ldaps://127.0.0.1:3269":            "127.0.0.1:3269",
		"ldaps://[::1]":                     "[::1]:636",
		"ldap://dc1.corp.example.com:3268/": "dc1.corp.example.com:3268",
	} {
		p, err := NewProbe(Options{URL: url, Login: "svc", Password: "x", StartTLS: strings.HasPrefix(url, "ldap:")})
		if err != nil {
			t.Fatal(url, err)
		}
		if got := p.Address(); got != want {
			t.Errorf("%s: %s, want %s", url, got, want)
		}
	}
	if _, err := NewProbe(Options{URL: "ldif:x.ldif"}); err == nil || !strings.Contains(err.Error(), "not an LDAP URL") {
		t.Fatalf("ldif: %v", err)
	}
}
