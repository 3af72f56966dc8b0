package directory_test

// Integration tests against the real OpenLDAP server of
// scripts/testdirs.sh (AD's attributes, AD-like size limits of 1000).
// Without it they skip; with CI=true they fail.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/upnsync/upnsync/internal/testenv"
	upnsync "github.com/upnsync/upnsync/sync"
	"github.com/upnsync/upnsync/sync/directory"
)

func baseOptions(e testenv.LDAPEnv) directory.Options {
	return directory.Options{
		URL:      e.LDAPSURL,
		CAFile:   e.CAFile,
		Login:    e.BindDN,
		Password: e.Password,
		Bases:    []string{e.Base},
		PageSize: directory.DefaultPageSize,
	}
}

func open(t *testing.T, o directory.Options) upnsync.Directory {
	t.Helper()
	d, err := directory.Open(o)
	if err != nil {
		t.Fatalf("Open(%s): %v", o.URL, err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// readAll reads everyone, keyed by objectGUID (DNs are spelled differently
// by the LDIF file and the server: slapd writes an escaped comma as \2C).
func readAll(t *testing.T, d upnsync.Directory) (map[string]upnsync.Person, upnsync.ReadResult, error) {
	t.Helper()
	people := map[string]upnsync.Person{}
	res, err := d.Read(context.Background(), func(p upnsync.Person) error {
		if _, dup := people[p.GUID]; dup {
			t.Errorf("GUID %q twice (%s)", p.GUID, p.DN)
		}
		people[p.GUID] = p
		return nil
	})
	return people, res, err
}

func sameDN(a, b string) bool {
	x, err1 := ldap.ParseDN(a)
	y, err2 := ldap.ParseDN(b)
	return err1 == nil && err2 == nil && x.EqualFold(y)
}

// want reads the generated LDIF twice: with the LDIF reader (people by
// DN) and for the generator's "# user SAM objectGUID GUID" comments, the
// GUIDs computed independently of the readers.
func want(t *testing.T, e testenv.LDAPEnv) (map[string]upnsync.Person, map[string]string) {
	t.Helper()
	if e.LDIF == "" {
		t.Fatal("the test environment names no generated LDIF")
	}
	d := open(t, directory.Options{URL: "ldif:" + e.LDIF})
	people, res, err := readAll(t, d)
	if err != nil || !res.Complete {
		t.Fatalf("reading %s: %+v %v", e.LDIF, res, err)
	}
	f, err := os.Open(e.LDIF)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	guids := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var sam, guid string
		if n, _ := fmt.Sscanf(sc.Text(), "# user %s objectGUID %s", &sam, &guid); n == 2 {
			guids[sam] = guid
		}
	}
	if len(people) != e.Users || len(guids) != e.Users {
		t.Fatalf("%s holds %d people and %d GUID comments, want %d", e.LDIF, len(people), len(guids), e.Users)
	}
	return people, guids
}

func checkAll(t *testing.T, e testenv.LDAPEnv, got map[string]upnsync.Person, res upnsync.ReadResult, err error, pageSize int) {
	t.Helper()
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	if !res.Complete || res.Why != "" || res.Entries != e.Users || len(got) != e.Users {
		t.Fatalf("result %+v with %d people; want complete with %d", res, len(got), e.Users)
	}
	if wantPages := (e.Users + pageSize - 1) / pageSize; res.Pages != wantPages || res.Pages < 2 {
		t.Errorf("pages = %d, want %d (more than one: the server's limit is 1000)", res.Pages, wantPages)
	}
	if len(res.Bases) != 1 || res.Bases[0].Entries != e.Users || res.Bases[0].Pages != res.Pages || res.Bases[0].Referrals != res.Referrals {
		t.Errorf("per-base counts %+v", res.Bases)
	}
	if res.Referrals != 1 {
		t.Errorf("referrals = %d, want 1 (ou=Partner, counted and not chased)", res.Referrals)
	}
	people, guids := want(t, e)
	disabled := 0
	for guid, w := range people {
		dn := w.DN
		g, ok := got[guid]
		if !ok {
			t.Errorf("missing %s (%s)", dn, guid)
			continue
		}
		if !sameDN(g.DN, w.DN) {
			t.Errorf("DN %q, the LDIF has %q", g.DN, w.DN)
		}
		g.DN = w.DN
		if g != w {
			t.Errorf("LDAP and LDIF differ for %s:\nldap %+v\nldif %+v", dn, g, w)
		}
		if g.GUID != guids[g.SAMAccountName] {
			t.Errorf("%s: GUID %s, the generator wrote %s", dn, g.GUID, guids[g.SAMAccountName])
		}
		if g.Disabled {
			disabled++
		}
		if g.Domain != "CORP" || g.DNSDomain != "corp.example.com" {
			t.Errorf("%s: domain %q %q", dn, g.Domain, g.DNSDomain)
		}
	}
	if disabled == 0 || disabled == len(people) {
		t.Errorf("%d disabled people of %d", disabled, len(people))
	}
	// The special people of the generator.
	var jose, wang, noUPN, alt bool
	for _, p := range got {
		jose = jose || p.GivenName == "José" && p.Surname == "Müller"
		wang = wang || p.GivenName == "芳" && p.Surname == "王"
		noUPN = noUPN || p.UPN == ""
		alt = alt || strings.HasSuffix(p.UPN, "@example.net")
	}
	if !jose || !wang || !noUPN || !alt {
		t.Errorf("special people found: José Müller %t, 王芳 %t, no UPN %t, other suffix %t", jose, wang, noUPN, alt)
	}
}

func TestLDAPReadStartTLS(t *testing.T) {
	e := testenv.LDAP(t)
	o := baseOptions(e)
	o.URL, o.StartTLS = e.URL, true
	got, res, err := readAll(t, open(t, o))
	checkAll(t, e, got, res, err, 1000)
}

func TestLDAPReadLDAPS(t *testing.T) {
	e := testenv.LDAP(t)
	got, res, err := readAll(t, open(t, baseOptions(e)))
	checkAll(t, e, got, res, err, 1000)
}

func TestLDAPSmallPagesAndRootDSE(t *testing.T) {
	e := testenv.LDAP(t)
	o := baseOptions(e)
	o.Bases, o.PageSize = nil, 250
	d := open(t, o)
	if got, want := d.Describe(), e.LDAPSURL+" (base "+e.Base+")"; got != want {
		t.Errorf("Describe = %q, want %q (base from the rootDSE)", got, want)
	}
	got, res, err := readAll(t, d)
	checkAll(t, e, got, res, err, 250)
	// A second read on the same directory reuses the connection.
	got, res, err = readAll(t, d)
	checkAll(t, e, got, res, err, 250)
}

func TestLDAPPlaintextBind(t *testing.T) {
	e := testenv.LDAP(t)
	o := baseOptions(e)
	o.URL = e.URL
	_, err := directory.Open(o)
	if err == nil || !strings.Contains(err.Error(), "--allow-plaintext-bind") || strings.Contains(err.Error(), e.Password) {
		t.Fatalf("plain ldap:// bind: %v; want a refusal naming --allow-plaintext-bind", err)
	}
	o.AllowPlaintextBind = true
	got, res, err := readAll(t, open(t, o))
	checkAll(t, e, got, res, err, 1000)
}

func TestLDAPUnpagedSizeLimit(t *testing.T) {
	e := testenv.LDAP(t)
	o := baseOptions(e)
	o.PageSize = 0
	got, res, err := readAll(t, open(t, o))
	if err == nil || res.Complete || res.Entries != 1000 || len(got) != 1000 || res.Why != err.Error() || res.Pages != 0 {
		t.Fatalf("unpaged read over the limit: %+v, %d people, %v; want incomplete after 1000", res, len(got), err)
	}
	t.Log(res.Why)
	if !strings.Contains(res.Why, "(LDAP 4 Size Limit Exceeded)") || !strings.Contains(res.Why, "--page-size 1000") {
		t.Errorf("Why = %q", res.Why)
	}
}

func TestLDAPMultipleBasesAndFilter(t *testing.T) {
	e := testenv.LDAP(t)
	o := baseOptions(e)
	o.Bases = []string{"ou=Amsterdam,ou=People," + e.Base, "OU=Berlin,OU=People,DC=corp,DC=example,DC=com"}
	o.PageSize = 100
	got, res, err := readAll(t, open(t, o))
	if err != nil || !res.Complete || len(res.Bases) != 2 {
		t.Fatalf("%+v %v", res, err)
	}
	if res.Bases[0].Entries+res.Bases[1].Entries != res.Entries || res.Bases[0].Entries == 0 || res.Bases[1].Entries == 0 ||
		res.Bases[0].Pages+res.Bases[1].Pages != res.Pages || len(got) != res.Entries {
		t.Errorf("per-base counts %+v for %+v", res.Bases, res)
	}
	for _, p := range got {
		if !strings.Contains(p.DN, "ou=Amsterdam,") && !strings.Contains(p.DN, "ou=Berlin,") {
			t.Errorf("%s is outside both bases", p.DN)
		}
	}

	// A filter of one's own: the disabled people only.
	o = baseOptions(e)
	o.UserFilter = "(&(objectCategory=person)(objectClass=user)(|(userAccountControl=514)(userAccountControl=66050)))"
	got, res, err = readAll(t, open(t, o))
	if err != nil || !res.Complete || len(got) == 0 {
		t.Fatalf("%+v %v", res, err)
	}
	for _, p := range got {
		if !p.Disabled {
			t.Errorf("%s is not disabled", p.DN)
		}
	}
}

func TestLDAPCancelAfterPage2(t *testing.T) {
	e := testenv.LDAP(t)
	if e.Users <= 2000 {
		t.Fatalf("the test directory has %d users; this test needs more than 2000 (scripts/testdirs.sh makes 3000)", e.Users)
	}
	d := open(t, baseOptions(e))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	n := 0
	res, err := d.Read(ctx, func(upnsync.Person) error {
		n++
		if n == 2001 { // the first person of page 3
			cancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) || res.Complete || res.Pages != 2 || res.Why != err.Error() {
		t.Fatalf("cancelled read: %+v, %v", res, err)
	}
	if !strings.Contains(res.Why, "was cancelled after page 2 (2001 entries); the read is incomplete") {
		t.Errorf("Why = %q", res.Why)
	}
	// The directory is usable again after an interrupted read.
	got, res, err := readAll(t, d)
	checkAll(t, e, got, res, err, 1000)

	// An error from fn stops the read the same way.
	boom := errors.New("the store is full")
	res, err = d.Read(context.Background(), func(upnsync.Person) error { return boom })
	if !errors.Is(err, boom) || res.Complete || res.Entries != 1 || !strings.Contains(res.Why, "the store is full") {
		t.Errorf("fn error: %+v, %v", res, err)
	}
}

// proxy relays TCP connections to a target and, when limit > 0, closes
// each connection after limit bytes from the server: a connection lost
// in the middle of a read.
type proxy struct {
	l      net.Listener
	target string
	limit  int64
	mu     sync.Mutex
	conns  []net.Conn
	wg     sync.WaitGroup
}

func startProxy(t *testing.T, listen, target string, limit int64) *proxy {
	t.Helper()
	l, err := net.Listen("tcp", listen)
	if err != nil {
		t.Skipf("cannot listen on %s: %v", listen, err)
	}
	p := &proxy{l: l, target: target, limit: limit}
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(func() {
		l.Close()
		p.closeAll()
		p.wg.Wait()
	})
	return p
}

func (p *proxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.l.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, s)
		p.mu.Unlock()
		p.wg.Add(2)
		go func() {
			defer p.wg.Done()
			io.Copy(s, c)
			s.Close()
		}()
		go func() {
			defer p.wg.Done()
			if p.limit > 0 {
				io.CopyN(c, s, p.limit)
			} else {
				io.Copy(c, s)
			}
			c.Close()
			s.Close()
		}()
	}
}

func (p *proxy) closeAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func (p *proxy) url(scheme string) string { return scheme + "://" + p.l.Addr().String() }

func hostPort(t *testing.T, raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}

func TestLDAPConnectionLost(t *testing.T) {
	e := testenv.LDAP(t)
	p := startProxy(t, "127.0.0.1:0", hostPort(t, e.LDAPSURL), 600_000)
	o := baseOptions(e)
	o.URL = p.url("ldaps")
	got, res, err := readAll(t, open(t, o))
	if err == nil || res.Complete || res.Why != err.Error() || len(got) >= e.Users || res.Entries != len(got) {
		t.Fatalf("read through a connection cut after 600 kB: %+v, %d people, %v", res, len(got), err)
	}
	re := regexp.MustCompile(`^connection to ldaps://127\.0\.0\.1:\d+ lost after page \d+ of the read \(\d+ entries\)`)
	t.Log(res.Why)
	if !re.MatchString(res.Why) || !strings.HasSuffix(res.Why, "the read is incomplete") {
		t.Errorf("Why = %q", res.Why)
	}
	if res.Pages < 1 || res.Pages > 2 {
		t.Errorf("pages = %d", res.Pages)
	}
}

func TestLDAPReconnectsAfterIdleDrop(t *testing.T) {
	e := testenv.LDAP(t)
	p := startProxy(t, "127.0.0.1:0", hostPort(t, e.LDAPSURL), 0)
	o := baseOptions(e)
	o.URL = p.url("ldaps")
	d := open(t, o)
	p.closeAll() // the server drops the idle connection, as AD does after 900 s
	got, res, err := readAll(t, d)
	checkAll(t, e, got, res, err, 1000)
}

func TestLDAPErrors(t *testing.T) {
	e := testenv.LDAP(t)
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := closed.Addr().String()
	closed.Close()
	other := startProxy(t, "127.0.0.2:0", hostPort(t, e.LDAPSURL), 0)

	subject := `subject "CN=dc1.corp.example.com,O=upnsync tests", issued by "CN=upnsync test CA,O=upnsync tests"`
	tests := []struct {
		name string
		edit func(*directory.Options)
		want []string
	}{
		{"wrong password", func(o *directory.Options) { o.Password = "not-" + e.Password },
			[]string{"cannot bind to " + e.LDAPSURL + ` as "` + e.BindDN + `": wrong user name or password (LDAP 49 Invalid Credentials)`}},
		{"unknown account", func(o *directory.Options) { o.Login = "cn=nobody,ou=service," + e.Base },
			[]string{"wrong user name or password"}},
		{"certificate not trusted", func(o *directory.Options) { o.CAFile = "" },
			[]string{"the TLS certificate of " + e.LDAPSURL + " is not trusted: " + subject + "; give the issuing CA's certificate (PEM) with --ca-file"}},
		{"certificate not trusted, StartTLS", func(o *directory.Options) { o.CAFile, o.URL, o.StartTLS = "", e.URL, true },
			[]string{"the TLS certificate of " + e.URL + " is not trusted: " + subject, "--ca-file"}},
		{"name mismatch", func(o *directory.Options) { o.URL = other.url("ldaps") },
			[]string{`does not name "127.0.0.2": it is for localhost, dc1.corp.example.com, 127.0.0.1, ::1`, "put one of those names in --directory"}},
		{"connection refused", func(o *directory.Options) { o.URL = "ldaps://" + closedAddr },
			[]string{"cannot connect to ldaps://" + closedAddr + ": connection refused"}},
		{"plain ldap on the ldaps port", func(o *directory.Options) { o.URL = "ldap://" + hostPort(t, e.LDAPSURL); o.AllowPlaintextBind = true },
			[]string{"ldap://" + hostPort(t, e.LDAPSURL) + ": port " + strconv.Itoa(port(t, e.LDAPSURL)) + " speaks TLS from the first byte (LDAPS), not plain LDAP: use ldaps://" + hostPort(t, e.LDAPSURL) + " without --start-tls"}},
		{"ldaps on the plain port", func(o *directory.Options) { o.URL = "ldaps://" + hostPort(t, e.URL) },
			[]string{"ldaps://" + hostPort(t, e.URL) + ": port " + strconv.Itoa(port(t, e.URL)) + " speaks plain LDAP, not TLS: use ldap://" + hostPort(t, e.URL) + " with --start-tls"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := baseOptions(e)
			o.Timeout = 5 * time.Second
			tt.edit(&o)
			d, err := directory.Open(o)
			if err == nil {
				d.Close()
				t.Fatalf("Open succeeded, want %q", tt.want)
			}
			t.Log(err)
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error = %q\nwant it to contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), e.Password) || strings.ContainsAny(err.Error(), "\n\r") {
				t.Errorf("error leaks the password or spans lines: %q", err)
			}
		})
	}
}

func TestLDAPReadErrors(t *testing.T) {
	e := testenv.LDAP(t)
	tests := []struct {
		name string
		edit func(*directory.Options)
		want string
	}{
		{"missing base", func(o *directory.Options) { o.Bases = []string{"ou=Nowhere," + e.Base} },
			`search base "ou=Nowhere,` + e.Base + `" does not exist on ` + e.LDAPSURL + ` (LDAP 32 No Such Object); the closest existing entry is "` + e.Base + `"; check --domain`},
		{"anonymous", func(o *directory.Options) { o.Login, o.Password, o.Anonymous = "", "", true },
			e.LDAPSURL + " does not allow anonymous reads (LDAP 53 Unwilling To Perform: authentication required); give --login and a password instead of --anonymous"},
		{"page size over the server's limit", func(o *directory.Options) { o.PageSize = 5000 },
			"try --page-size 1000 or less"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := baseOptions(e)
			tt.edit(&o)
			d := open(t, o)
			got, res, err := readAll(t, d)
			if err == nil || res.Complete || res.Why != err.Error() || len(got) != 0 {
				t.Fatalf("%+v, %d people, %v; want an incomplete read", res, len(got), err)
			}
			t.Log(err)
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %q\nwant it to contain %q", err, tt.want)
			}
		})
	}
}
