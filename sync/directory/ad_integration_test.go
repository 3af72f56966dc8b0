package directory_test

// AD behaviour of the reader against the real slapd of scripts/testdirs.sh:
// --filter, domain controllers found through DNS SRV records (served by an
// in-process DNS server on loopback), and the errors an administrator
// sees when the directory cannot be used.

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/upnsync/upnsync/internal/testenv"
	"github.com/upnsync/upnsync/sync/directory"
)

// --filter ANDs a clause with the default user filter: the read returns
// exactly the people of a full read that the clause selects.
func TestLDAPExtraFilter(t *testing.T) {
	e := testenv.LDAP(t)
	all, res, err := readAll(t, open(t, baseOptions(e)))
	if err != nil || !res.Complete {
		t.Fatalf("%+v %v", res, err)
	}
	wantDisabled := map[string]bool{}
	for guid, p := range all {
		if p.Disabled {
			wantDisabled[guid] = true
		}
	}
	if len(wantDisabled) == 0 || len(wantDisabled) == len(all) {
		t.Fatalf("%d disabled people of %d: the test data cannot tell", len(wantDisabled), len(all))
	}
	for _, f := range []string{
		"(userAccountControl:1.2.840.113556.1.4.803:=2)", // AD's bit test; slapd knows the same matching rule
		"(|(userAccountControl=514)(userAccountControl=546)(userAccountControl=66050))",
	} {
		t.Run(f, func(t *testing.T) {
			var log bytes.Buffer
			o := baseOptions(e)
			o.Filter = f
			o.Logger = slog.New(slog.NewTextHandler(&log, nil))
			got, res, err := readAll(t, open(t, o))
			if err != nil || !res.Complete {
				t.Fatalf("%+v %v", res, err)
			}
			if len(got) != len(wantDisabled) {
				t.Errorf("%d people, want the %d disabled ones", len(got), len(wantDisabled))
			}
			for guid, p := range got {
				if !wantDisabled[guid] {
					t.Errorf("%s is not disabled but was read", p.DN)
				}
			}
			// The search sent is the AND of both, as the log's ldapsearch shows.
			if want := "(&(&(objectCategory=person)(objectClass=user))" + f + ")"; !strings.Contains(log.String(), want) {
				t.Errorf("the log does not show the filter %s:\n%s", want, log.String())
			}
		})
	}
}

// closedPort is a loopback address where nothing listens.
func closedPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return port
}

func port(t *testing.T, rawURL string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(hostPort(t, rawURL))
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(p)
	return n
}

// attempts are the addresses of the "trying domain controller" log lines.
func attempts(log string) []string {
	var out []string
	for _, m := range regexp.MustCompile(`msg="trying domain controller".* address=(\S+)`).FindAllStringSubmatch(log, -1) {
		out = append(out, m[1])
	}
	return out
}

// With --domain and no --directory, the domain controllers come from the
// SRV records _ldap._tcp.<domain>: by priority, then weighted within a
// priority; one that is down, or whose name does not resolve, is logged
// and the next one tried.
func TestLDAPLocateDomainControllers(t *testing.T) {
	e := testenv.LDAP(t)
	dns := startDNS(t)
	dead := closedPort(t)
	live := port(t, e.URL)
	// Priority 0 first: a host that refuses connections. Then priority 10,
	// where weight 100 always goes before weight 0 (RFC 2782: a weight-0
	// record is picked first only when all the others are 0): a name DNS
	// does not know, then the real directory.
	dns.SRV("_ldap._tcp.corp.example.com",
		srvRecord{priority: 10, weight: 0, target: "dc1.corp.example.com", port: live},
		srvRecord{priority: 10, weight: 100, target: "gone.corp.example.com", port: live},
		srvRecord{priority: 0, weight: 50, target: "dc9.corp.example.com", port: dead},
	)
	dns.A("dc1.corp.example.com")
	dns.A("dc9.corp.example.com")

	var log bytes.Buffer
	o := baseOptions(e)
	o.URL = ""
	o.Bases = []string{"corp.example.com"}
	o.Resolver = dns.Resolver()
	o.Timeout = 5 * time.Second
	o.Logger = slog.New(slog.NewTextHandler(&log, nil))
	d := open(t, o)
	t.Log(log.String())
	want := []string{"dc9.corp.example.com:" + strconv.Itoa(dead), "gone.corp.example.com:" + strconv.Itoa(live), "dc1.corp.example.com:" + strconv.Itoa(live)}
	if got := attempts(log.String()); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("tried %q, want %q", got, want)
	}
	for _, w := range []string{
		`msg="domain controller failed" srv=_ldap._tcp.corp.example.com address=dc9.corp.example.com:` + strconv.Itoa(dead) + ` error="cannot connect to ldap://dc9.corp.example.com:` + strconv.Itoa(dead) + `: connection refused`,
		`address=gone.corp.example.com:` + strconv.Itoa(live) + ` error="cannot connect to ldap://gone.corp.example.com:` + strconv.Itoa(live) + `: unknown host \"gone.corp.example.com\"`,
		`msg="connected to domain controller" srv=_ldap._tcp.corp.example.com address=dc1.corp.example.com:` + strconv.Itoa(live),
	} {
		if !strings.Contains(log.String(), w) {
			t.Errorf("the log lacks %s", w)
		}
	}
	wantDesc := "ldap://dc1.corp.example.com:" + strconv.Itoa(live) + ", found through _ldap._tcp.corp.example.com, (base DC=corp,DC=example,DC=com)"
	if got := d.Describe(); got != wantDesc {
		t.Errorf("Describe = %q, want %q", got, wantDesc)
	}
	// The read goes to the domain controller found, over StartTLS with its
	// certificate checked for dc1.corp.example.com, and is complete.
	got, res, err := readAll(t, d)
	checkAll(t, e, got, res, err, directory.DefaultPageSize)

	// --global-catalog asks for _gc._tcp records instead.
	dns.SRV("_gc._tcp.corp.example.com", srvRecord{priority: 0, weight: 0, target: "dc1.corp.example.com", port: live})
	log.Reset()
	o.GlobalCatalog = true
	gc := open(t, o)
	if !strings.Contains(gc.Describe(), "found through _gc._tcp.corp.example.com") {
		t.Errorf("Describe = %q", gc.Describe())
	}
	got, res, err = readAll(t, gc)
	checkAll(t, e, got, res, err, directory.DefaultPageSize)
	if q := dns.asked(); !contains(q, "SRV _gc._tcp.corp.example.com.") || !contains(q, "SRV _ldap._tcp.corp.example.com.") {
		t.Errorf("DNS queries %q", q)
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// A wrong password is not tried on the next domain controller: every one
// would refuse it, and each attempt counts towards the account's lockout.
// A domain without SRV records, or whose domain controllers are all down,
// fails with a message that says so.
func TestLDAPLocateFailures(t *testing.T) {
	e := testenv.LDAP(t)
	dns := startDNS(t)
	live := port(t, e.URL)
	dead := closedPort(t)
	dns.SRV("_ldap._tcp.corp.example.com",
		srvRecord{priority: 0, weight: 0, target: "dc1.corp.example.com", port: live},
		srvRecord{priority: 1, weight: 0, target: "dc2.corp.example.com", port: live})
	dns.SRV("_ldap._tcp.down.example.com",
		srvRecord{priority: 0, weight: 0, target: "dc1.down.example.com", port: dead},
		srvRecord{priority: 1, weight: 0, target: "dc2.down.example.com", port: dead})
	for _, h := range []string{"dc1.corp.example.com", "dc2.corp.example.com", "dc1.down.example.com", "dc2.down.example.com"} {
		dns.A(h)
	}
	tests := []struct {
		name     string
		domain   string
		password string
		want     string
		tries    int
	}{
		{"wrong password", "corp.example.com", "not-" + e.Password,
			"cannot bind to ldap://dc1.corp.example.com:" + strconv.Itoa(live) + ` as "` + e.BindDN + `": wrong user name or password`, 1},
		{"no SRV records", "nowhere.example.com", e.Password,
			"cannot find a domain controller of nowhere.example.com: DNS has no SRV record _ldap._tcp.nowhere.example.com; check the DNS name in --domain", 0},
		{"all down", "down.example.com", e.Password,
			"no domain controller of down.example.com could be used (2 tried, from the DNS records _ldap._tcp.down.example.com: dc1.down.example.com:" + strconv.Itoa(dead) +
				", dc2.down.example.com:" + strconv.Itoa(dead) + "); the last failed with: cannot connect to ldap://dc2.down.example.com:" + strconv.Itoa(dead) + ": connection refused", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var log bytes.Buffer
			o := baseOptions(e)
			o.URL, o.Bases, o.Password = "", []string{tt.domain}, tt.password
			o.Resolver = dns.Resolver()
			o.Timeout = 5 * time.Second
			o.Logger = slog.New(slog.NewTextHandler(&log, nil))
			d, err := directory.Open(o)
			if err == nil {
				d.Close()
				t.Fatalf("Open succeeded, want %q", tt.want)
			}
			t.Log(err)
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %q\nwant it to contain %q", err, tt.want)
			}
			if n := len(attempts(log.String())); n != tt.tries {
				t.Errorf("%d domain controllers tried, want %d:\n%s", n, tt.tries, log.String())
			}
			if strings.Contains(err.Error()+log.String(), tt.password) {
				t.Error("the password is in the error or the log")
			}
		})
	}
}

// Options wrong for every domain controller are refused before DNS is
// asked.
func TestLocateRefusesBadOptionsFirst(t *testing.T) {
	dns := startDNS(t)
	dns.SRV("_ldap._tcp.corp.example.com", srvRecord{target: "dc1.corp.example.com", port: 389})
	_, err := directory.Open(directory.Options{Bases: []string{"corp.example.com"}, Login: "svc", Password: "x",
		Filter: "(department=Sales", Resolver: dns.Resolver()})
	if err == nil || !strings.Contains(err.Error(), `--filter "(department=Sales" is not a valid LDAP filter`) {
		t.Fatalf("error %v", err)
	}
	if q := dns.asked(); len(q) != 0 {
		t.Errorf("DNS was asked %q", q)
	}
}

// An unknown host name: DNS (a real one, on loopback) answers NXDOMAIN.
func TestLDAPUnknownHost(t *testing.T) {
	e := testenv.LDAP(t)
	dns := startDNS(t)
	o := baseOptions(e)
	o.URL = "ldaps://dc7.corp.example.com:" + strconv.Itoa(port(t, e.LDAPSURL))
	o.Resolver = dns.Resolver()
	d, err := directory.Open(o)
	if err == nil {
		d.Close()
		t.Fatal("Open succeeded")
	}
	want := `cannot connect to ` + o.URL + `: unknown host "dc7.corp.example.com" (no such name in DNS); check the host name in --directory`
	if err.Error() != want {
		t.Errorf("error = %q\nwant %q", err, want)
	}
	if !contains(dns.asked(), "A dc7.corp.example.com.") {
		t.Errorf("DNS was not asked: %q", dns.asked())
	}
}

// Within a priority, the order is random, weighted by weight (RFC 2782):
// with weights 1 and 3 the second comes first about three times in four.
// Lower priorities always come first.
func TestLocateDCsWeightedOrder(t *testing.T) {
	dns := startDNS(t)
	dns.SRV("_ldap._tcp.corp.example.com",
		srvRecord{priority: 5, weight: 1, target: "light.corp.example.com", port: 389},
		srvRecord{priority: 5, weight: 3, target: "heavy.corp.example.com", port: 389},
		srvRecord{priority: 9, weight: 100, target: "backup.corp.example.com", port: 389},
		srvRecord{priority: 1, weight: 0, target: "first.corp.example.com", port: 389})
	o := directory.Options{Resolver: dns.Resolver(), Timeout: 5 * time.Second}
	const n = 200
	heavy := 0
	for range n {
		name, dcs, err := directory.LocateDCs(context.Background(), o, "corp.example.com")
		if err != nil || name != "_ldap._tcp.corp.example.com" || len(dcs) != 4 {
			t.Fatalf("%s %+v %v", name, dcs, err)
		}
		if dcs[0].Address != "first.corp.example.com:389" || dcs[3].Address != "backup.corp.example.com:389" {
			t.Fatalf("priorities out of order: %+v", dcs)
		}
		if dcs[1].Address == "heavy.corp.example.com:389" {
			heavy++
		}
	}
	// p = 0.75, n = 200: the bounds are five standard deviations away.
	if heavy < 120 || heavy > 180 {
		t.Errorf("weight 3 came before weight 1 in %d of %d lookups, want about %d", heavy, n, 3*n/4)
	}
}

func TestLocatorDomain(t *testing.T) {
	for _, tt := range []struct {
		bases []string
		want  string
	}{
		{[]string{"corp.example.com"}, "corp.example.com"},
		{[]string{"Corp.Example.COM."}, "corp.example.com"},
		{[]string{"OU=Staff,DC=corp,DC=example,DC=com"}, "corp.example.com"},
		{[]string{"OU=Staff,DC=corp,DC=example,DC=com", "emea.corp.example.com"}, "emea.corp.example.com"},
		{[]string{"O=Corp"}, ""},
		{[]string{"corp..com"}, ""},
		{nil, ""},
	} {
		if got := directory.LocatorDomain(tt.bases); got != tt.want {
			t.Errorf("LocatorDomain(%q) = %q, want %q", tt.bases, got, tt.want)
		}
	}
}

// A domain controller whose certificate does not name it is logged with
// the names the certificate holds, and the next one is used.
func TestLDAPLocateFallsOverOnCertificate(t *testing.T) {
	e := testenv.LDAP(t)
	dns := startDNS(t)
	live := port(t, e.URL)
	dns.SRV("_ldap._tcp.corp.example.com",
		srvRecord{priority: 0, target: "dc2.corp.example.com", port: live},
		srvRecord{priority: 1, target: "dc1.corp.example.com", port: live})
	dns.A("dc1.corp.example.com")
	dns.A("dc2.corp.example.com")
	var log bytes.Buffer
	o := baseOptions(e)
	o.URL, o.Bases, o.Resolver = "", []string{"corp.example.com"}, dns.Resolver()
	o.Logger = slog.New(slog.NewTextHandler(&log, nil))
	d := open(t, o)
	if !strings.HasPrefix(d.Describe(), "ldap://dc1.corp.example.com:") {
		t.Errorf("Describe = %q", d.Describe())
	}
	want := `address=dc2.corp.example.com:` + strconv.Itoa(live) + ` error="the TLS certificate of ldap://dc2.corp.example.com:` + strconv.Itoa(live) +
		` does not name \"dc2.corp.example.com\": it is for localhost, dc1.corp.example.com, 127.0.0.1, ::1`
	if !strings.Contains(log.String(), want) || len(attempts(log.String())) != 2 {
		t.Errorf("the log lacks %s, or not 2 attempts:\n%s", want, log.String())
	}
}
