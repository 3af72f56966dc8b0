package directory

import (
	"bytes"
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"

	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/go-ldap/ldap/v3"
)

// entry sends a search result entry with string attributes.
func (w *respWriter) entry(dn string, attrs map[string][]string) {
	op := ber.Encode(ber.ClassApplication, ber.TypeConstructed, ldap.ApplicationSearchResultEntry, nil, "")
	op.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, dn, ""))
	list := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "")
	names := make([]string, 0, len(attrs))
	for n := range attrs {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		pa := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "")
		pa.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, n, ""))
		set := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSet, nil, "")
		for _, v := range attrs[n] {
			set.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, v, ""))
		}
		pa.AppendChild(set)
		list.AppendChild(pa)
	}
	op.AppendChild(list)
	w.send(op)
}

// fakeAD answers as an AD domain controller of corp.example.com whose
// NetBIOS name is CORPNET (not the first DNS label), with a child domain
// EMEA: the rootDSE, the Partitions container, and users in pages. The
// domain-scope control is announced when scope is set.
func fakeAD(t *testing.T, scope bool, users int) *fakeLDAP {
	controls := []string{ldap.ControlTypePaging}
	if scope {
		controls = append(controls, ControlDomainScope)
	}
	// Like AD (and Samba, checked with ldapsearch), a subtree search of
	// the domain root without the domain-scope control ends with
	// continuation references to the other naming contexts.
	serve := pages(users, func(w *respWriter, s search, first int) {
		if first == 0 && strings.EqualFold(s.base, "DC=corp,DC=example,DC=com") && !slices.Contains(s.controls, ControlDomainScope) {
			for _, nc := range []string{"CN=Configuration,DC=corp,DC=example,DC=com", "DC=DomainDnsZones,DC=corp,DC=example,DC=com", "DC=ForestDnsZones,DC=corp,DC=example,DC=com"} {
				w.referral("ldap://corp.example.com/" + nc)
			}
		}
	})
	return startFake(t, func(w *respWriter, s search, n int) bool {
		switch {
		case s.base == "":
			w.entry("", map[string][]string{
				"defaultNamingContext":       {"DC=corp,DC=example,DC=com"},
				"configurationNamingContext": {"CN=Configuration,DC=corp,DC=example,DC=com"},
				"supportedControl":           controls,
			})
			w.result(ldap.ApplicationSearchResultDone, 0, "", "")
		case strings.EqualFold(s.base, "CN=Partitions,CN=Configuration,DC=corp,DC=example,DC=com"):
			w.entry("CN=CORPNET,CN=Partitions,CN=Configuration,DC=corp,DC=example,DC=com", map[string][]string{
				"nCName": {"DC=corp,DC=example,DC=com"}, "nETBIOSName": {"CORPNET"}, "dnsRoot": {"corp.example.com"}})
			w.entry("CN=EMEA,CN=Partitions,CN=Configuration,DC=corp,DC=example,DC=com", map[string][]string{
				"nCName": {"DC=emea,DC=corp,DC=example,DC=com"}, "nETBIOSName": {"EMEA"}, "dnsRoot": {"emea.corp.example.com"}})
			w.result(ldap.ApplicationSearchResultDone, 0, "", "")
		default:
			return serve(w, s, n)
		}
		return true
	})
}

// On AD the NetBIOS name of a person's domain comes from the Partitions
// container (nETBIOSName of the crossRef whose nCName is the domain), and
// reads send the domain-scope control the rootDSE announces.
func TestADNetBIOSNameAndDomainScope(t *testing.T) {
	f := fakeAD(t, true, 25)
	var log bytes.Buffer
	o := Options{URL: f.url(), Login: f.login, Password: f.password, AllowPlaintextBind: true, PageSize: 10,
		Logger: slog.New(slog.NewTextHandler(&log, nil))}
	d, err := openLDAP(o)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if strings.Join(d.bases, ";") != "DC=corp,DC=example,DC=com" || !d.domainScope {
		t.Fatalf("bases %q, domain scope %t", d.bases, d.domainScope)
	}
	got, res, err := collect(t, d, context.Background())
	if err != nil || !res.Complete || len(got) != 25 || res.Referrals != 0 {
		t.Fatalf("%+v, %v", res, err)
	}
	for _, p := range got {
		if p.Domain != "CORPNET" || p.DNSDomain != "corp.example.com" {
			t.Fatalf("%s: domain %q, %q; want CORPNET, corp.example.com", p.DN, p.Domain, p.DNSDomain)
		}
	}
	// A person of the child domain gets its own NetBIOS name; a domain
	// the Partitions container does not list keeps the DN's first label.
	for dn, want := range map[string]string{
		"CN=Ana,OU=Staff,DC=emea,DC=corp,DC=example,DC=com": "EMEA",
		"CN=Bo,DC=other,DC=example,DC=org":                  "OTHER",
	} {
		if dom := d.dec.domains.lookup(dn); dom.netbios != want {
			t.Errorf("%s: NetBIOS name %q, want %q", dn, dom.netbios, want)
		}
	}
	var reads int
	for _, s := range f.recorded() {
		if s.base != "DC=corp,DC=example,DC=com" {
			continue
		}
		reads++
		if !slices.Contains(s.controls, ControlDomainScope) {
			t.Errorf("page with cookie %q sent controls %q, without the domain-scope control", s.cookie, s.controls)
		}
	}
	if reads != 3 {
		t.Errorf("%d pages read, want 3", reads)
	}
	if !strings.Contains(log.String(), `msg="NetBIOS domain names from the directory" domains="corp.example.com=CORPNET; emea.corp.example.com=EMEA"`) ||
		!strings.Contains(log.String(), "-E domainScope -E pr=10/noprompt") {
		t.Errorf("log:\n%s", log.String())
	}

	// The go-ldap reader (unpaged) sends it too.
	d.pageSize = 0
	if _, res, err := collect(t, d, context.Background()); err != nil || !res.Complete {
		t.Fatalf("unpaged: %+v, %v", res, err)
	}
	last := f.recorded()[len(f.recorded())-1]
	if last.paged || !slices.Contains(last.controls, ControlDomainScope) {
		t.Errorf("unpaged search: %+v", last)
	}
}

// A directory that does not announce the control does not get it; an
// explicit --netbios-domain wins over the Partitions container, which is
// then not read.
func TestADNoDomainScopeAndExplicitNetBIOS(t *testing.T) {
	f := fakeAD(t, false, 5)
	o := Options{URL: f.url(), Login: f.login, Password: f.password, AllowPlaintextBind: true, PageSize: 10,
		NetBIOSDomain: "LEGACY", Bases: []string{"corp.example.com"}}
	d, err := openLDAP(o)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	got, res, err := collect(t, d, context.Background())
	if err != nil || !res.Complete || len(got) != 5 || d.domainScope {
		t.Fatalf("%+v, %v, scope %t", res, err, d.domainScope)
	}
	// Without the control, the references are counted, not followed: the
	// only searches are the rootDSE's and the pages of the users.
	if res.Referrals != 3 || len(res.Bases) != 1 || res.Bases[0].Referrals != 3 {
		t.Errorf("referrals %d, per base %+v; want 3", res.Referrals, res.Bases)
	}
	if n := len(f.recorded()); n != 2 {
		t.Errorf("%d searches, want 2 (rootDSE, one page): %+v", n, f.recorded())
	}
	for _, p := range got {
		if p.Domain != "LEGACY" {
			t.Fatalf("%s: domain %q", p.DN, p.Domain)
		}
	}
	for _, s := range f.recorded() {
		if strings.HasPrefix(s.base, "CN=Partitions") {
			t.Error("the Partitions container was read despite --netbios-domain")
		}
		if slices.Contains(s.controls, ControlDomainScope) {
			t.Errorf("search of %q sent the domain-scope control the directory does not announce", s.base)
		}
	}
}

// --global-catalog without --domain reads the whole forest (the empty
// base); the Global Catalog's ports are the default.
func TestADGlobalCatalog(t *testing.T) {
	f := fakeAD(t, true, 5)
	d, err := openLDAP(Options{URL: f.url(), Login: f.login, Password: f.password, AllowPlaintextBind: true, PageSize: 10, GlobalCatalog: true})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if len(d.bases) != 1 || d.bases[0] != "" || !strings.HasSuffix(d.Describe(), "(base the whole forest)") {
		t.Fatalf("bases %q, %s", d.bases, d.Describe())
	}
	for url, want := range map[string]string{
		"ldaps://dc1.corp.example.com":      "ldaps://dc1.corp.example.com:3269",
		"ldap://dc1.corp.example.com":       "ldap://dc1.corp.example.com:3268",
		"ldaps://dc1.corp.example.com:6636": "ldaps://dc1.corp.example.com:6636",
		"ldaps://[::1]":                     "ldaps://[::1]:3269",
	} {
		d, err := newLDAP(Options{URL: url, Login: "svc", Password: "x", StartTLS: strings.HasPrefix(url, "ldap:"), GlobalCatalog: true})
		if err != nil {
			t.Fatal(err)
		}
		if d.url != want {
			t.Errorf("%s: %s, want %s", url, d.url, want)
		}
	}
}

// --filter is ANDed with the user filter, default or --user-filter; a
// clause without parentheses gets them.
func TestExtraFilter(t *testing.T) {
	for _, tt := range []struct{ user, extra, want string }{
		{"", "(department=Sales)", "(&(&(objectCategory=person)(objectClass=user))(department=Sales))"},
		{"", " department=Sales ", "(&(&(objectCategory=person)(objectClass=user))(department=Sales))"},
		{"(objectClass=inetOrgPerson)", "(!(l=Berlin))", "(&(objectClass=inetOrgPerson)(!(l=Berlin)))"},
		{"(objectClass=inetOrgPerson)", "", "(objectClass=inetOrgPerson)"},
		{"", `(cn=R\28D\29 \2a)`, `(&(&(objectCategory=person)(objectClass=user))(cn=R\28D\29 \2a))`},
	} {
		d, err := newLDAP(Options{URL: "ldaps://dc1", Login: "svc", Password: "x", UserFilter: tt.user, Filter: tt.extra})
		if err != nil {
			t.Fatal(err)
		}
		if d.filter != tt.want {
			t.Errorf("--user-filter %q --filter %q: %s, want %s", tt.user, tt.extra, d.filter, tt.want)
		}
	}
}

// The filter a directory receives is the AND of both.
func TestExtraFilterSent(t *testing.T) {
	f := startFake(t, pages(3, nil))
	d := f.dir(t, func(o *Options) { o.Filter = "(department=Sales)" })
	if _, res, err := collect(t, d, context.Background()); err != nil || !res.Complete {
		t.Fatalf("%+v, %v", res, err)
	}
	for _, s := range f.recorded() {
		if s.filter != "(&(&(objectCategory=person)(objectClass=user))(department=Sales))" {
			t.Errorf("filter sent: %s", s.filter)
		}
	}
}
