package directory

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/csv"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"

	"github.com/upnsync/upnsync/internal/testenv"
)

// normDN is a DN in one spelling (lower case, escapes as go-ldap writes
// them), to compare the DNs of an export with a directory's.
func normDN(t *testing.T, dn string) string {
	t.Helper()
	p, err := ldap.ParseDN(dn)
	if err != nil {
		t.Fatalf("%q: %v", dn, err)
	}
	return strings.ToLower(p.String())
}

func dialTLS(t *testing.T, url, caFile, bindDN, password string) *ldap.Conn {
	t.Helper()
	pem, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	conn, err := ldap.DialURL(url, ldap.DialWithTLSConfig(&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if err := conn.Bind(bindDN, password); err != nil {
		t.Fatal(err)
	}
	return conn
}

// searchDNs is what the directory returns for a base and a filter, as a
// read would ask (the user filter ANDed with --filter).
func searchDNs(t *testing.T, conn *ldap.Conn, base, filter string, attrs ...string) ([]string, []*ldap.Entry) {
	t.Helper()
	req := ldap.NewSearchRequest(base, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false, filter, append([]string{"cn"}, attrs...), nil)
	sr, err := conn.SearchWithPaging(req, 500)
	if err != nil && !ldap.IsErrorWithCode(err, ldap.LDAPResultReferral) {
		t.Fatalf("search %s %s: %v", base, filter, err)
	}
	var out []string
	for _, e := range sr.Entries {
		out = append(out, normDN(t, e.DN))
	}
	sort.Strings(out)
	return out, sr.Entries
}

func exportDNs(t *testing.T, opts Options) ([]string, error) {
	t.Helper()
	people, _, err := readPeople(t, opts)
	var out []string
	for _, p := range people {
		out = append(out, normDN(t, p.DN))
	}
	sort.Strings(out)
	return out, err
}

// scopeCase is a --domain, --user-filter and --filter to try on an export
// and, as a search, on the directory it came from.
type scopeCase struct {
	base, userFilter, filter string
}

func (c scopeCase) search(defaultBase string) (string, string) {
	base := c.base
	if base == "" {
		base = defaultBase
	} else if b, err := BaseFromDomain(base); err == nil {
		base = b
	}
	user := c.userFilter
	if user == "" {
		user = DefaultUserFilter
	}
	extra := c.filter
	if extra != "" && !strings.HasPrefix(extra, "(") {
		extra = "(" + extra + ")"
	}
	return base, "(&" + user + extra + ")"
}

func (c scopeCase) options(url string) Options {
	o := Options{URL: url, UserFilter: c.userFilter, Filter: c.filter}
	if c.base != "" {
		o.Bases = []string{c.base}
	}
	return o
}

// The test slapd's own LDIF, limited with --domain and filtered with
// --filter and --user-filter, gives the same people as slapd returns for
// the same base and filter; so does a CSV export of the same entries.
func TestExportScopeAgreesWithSlapd(t *testing.T) {
	e := testenv.LDAP(t)
	conn := dialTLS(t, e.LDAPSURL, e.CAFile, e.BindDN, e.Password)

	// An escaped DN to use as a base: one of the people with a comma in
	// their name.
	all, entries := searchDNs(t, conn, e.Base, DefaultUserFilter, "userPrincipalName", "sAMAccountName", "mail", "sn",
		"userAccountControl", "uSNChanged", "whenChanged", "objectClass", "objectCategory", "givenName")
	fromLDIF, err := exportDNs(t, Options{URL: "ldif:" + e.LDIF})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(all, "\n") != strings.Join(fromLDIF, "\n") {
		t.Fatalf("the LDIF (%d people) and slapd (%d) hold different people: was slapd loaded from %s?", len(fromLDIF), len(all), e.LDIF)
	}
	escaped := ""
	for _, en := range entries {
		if strings.Contains(en.DN, `\`) {
			escaped = en.DN
			break
		}
	}
	if escaped == "" {
		t.Fatal("no DN with an escaped character in the test directory")
	}
	mid := entries[len(entries)/2].GetAttributeValue("uSNChanged")
	when := entries[len(entries)/3].GetAttributeValue("whenChanged")

	csvPath := writeExportCSV(t, entries)
	cases := []scopeCase{
		{base: "ou=Berlin,ou=People," + e.Base},
		{base: "OU=R&D,OU=Amsterdam,OU=People," + strings.ToUpper(e.Base)},
		{base: "ou=Toronto Office,ou=People," + e.Base},
		{base: `OU="Toronto Office",OU=People,` + e.Base},
		{base: "corp.example.com"},
		{base: escaped},
		{filter: "(userAccountControl:1.2.840.113556.1.4.803:=2)"},
		{filter: "(!(userAccountControl:1.2.840.113556.1.4.803:=2))", base: "ou=Sales,ou=Berlin,ou=People," + e.Base},
		{filter: "(userAccountControl:1.2.840.113556.1.4.804:=65538)"},
		{filter: "(userAccountControl=514)"},
		{filter: "(uSNChanged>=" + mid + ")"},
		{filter: "uSNChanged<=" + mid},
		{filter: "(whenChanged>=" + when + ")"},
		{filter: "(sAMAccountName=a*)"},
		{filter: "(sAMAccountName=*son*1*)"},
		{filter: "(mail=*0@CORP.example.com)"},
		{filter: "(!(userPrincipalName=*))"},
		{filter: "(|(sn=Müller)(sn=wang)(givenName=JOSÉ))"},
		{filter: "(&(sn=Schmidt)(!(givenName=a*)))", base: "ou=Amsterdam,ou=People," + e.Base},
		{userFilter: "(&(objectClass=inetOrgPerson)(uSNChanged<=" + mid + "))"},
		{userFilter: "(&(objectCategory=person)(objectClass=user))", filter: "(sn=Meyer)"},
		{userFilter: "(objectCategory=computer)"},
	}
	for _, c := range cases {
		base, filter := c.search(e.Base)
		want, _ := searchDNs(t, conn, base, filter)
		if len(want) == 0 {
			t.Errorf("%+v: slapd returns nobody; the case tests nothing", c)
			continue
		}
		if len(want) == len(all) && c.base != "corp.example.com" {
			t.Errorf("%+v: slapd returns everybody; the case tests nothing", c)
		}
		sources := []string{"ldif:" + e.LDIF}
		if c.userFilter == "" {
			// The CSV holds the people of the default user filter only.
			sources = append(sources, "csv:"+csvPath)
		}
		for _, src := range sources {
			got, err := exportDNs(t, c.options(src))
			if err != nil {
				t.Errorf("%s %+v: %v", src[:4], c, err)
				continue
			}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("%s %+v: %d people, slapd returns %d for %s %s", src[:4], c, len(got), len(want), base, filter)
			}
		}
	}
}

// writeExportCSV writes the entries as a Get-ADUser CSV export would
// hold them: DistinguishedName, one column per attribute.
func writeExportCSV(t *testing.T, entries []*ldap.Entry) string {
	t.Helper()
	cols := []string{"userPrincipalName", "sAMAccountName", "mail", "sn", "givenName", "userAccountControl", "uSNChanged", "whenChanged", "objectCategory"}
	path := filepath.Join(t.TempDir(), "people.csv")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := csv.NewWriter(f)
	_ = w.Write(append([]string{"DistinguishedName"}, cols...))
	for _, e := range entries {
		rec := []string{e.DN}
		for _, c := range cols {
			rec = append(rec, e.GetAttributeValue(c))
		}
		_ = w.Write(rec)
	}
	w.Flush()
	if err := w.Error(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// A real Active Directory (the test Samba DC), exported to LDIF as
// ldifde would (every value, objectCategory a DN, memberOf), gives under
// each base and filter the same people as the DC returns: AD's meaning of
// objectCategory=person and of DN-valued attributes included.
func TestExportScopeAgreesWithSamba(t *testing.T) {
	e := testenv.Samba(t)
	conn := dialTLS(t, e.LDAPSURL, e.CAFile, e.BindDN, e.Password)
	users := "CN=Users," + e.Base
	attrs := []string{"objectClass", "objectCategory", "memberOf", "userAccountControl", "sAMAccountName", "userPrincipalName", "uSNChanged", "whenChanged", "cn"}
	// The built-in accounts of CN=Users: no other test changes them.
	export := func() string {
		_, entries := searchDNs(t, conn, users, "(objectClass=*)", attrs...)
		var b strings.Builder
		b.WriteString("version: 1\n\n")
		for _, en := range entries {
			b.WriteString("dn:: " + base64.StdEncoding.EncodeToString([]byte(en.DN)) + "\n")
			for _, a := range en.Attributes {
				for _, v := range a.ByteValues {
					b.WriteString(a.Name + ":: " + base64.StdEncoding.EncodeToString(v) + "\n")
				}
			}
			b.WriteString("\n")
		}
		return writeFile(t, "samba.ldif", []byte(b.String()))
	}
	path := export()
	cases := []scopeCase{
		{base: users},
		{filter: "(memberOf=CN=Domain Admins," + users + ")"},
		{filter: "(memberOf=cn=domain admins,cn=users," + strings.ToLower(e.Base) + ")"},
		{filter: "(!(memberOf=*))"},
		{filter: "(userAccountControl:1.2.840.113556.1.4.803:=2)"},
		{filter: "(sAMAccountName=*min*)"},
		{userFilter: "(objectCategory=person)"},
		{userFilter: "(&(objectCategory=user)(objectClass=user))"},
		{userFilter: "(objectCategory=CN=Person,CN=Schema,CN=Configuration," + e.Base + ")"},
		{userFilter: "(objectCategory=group)"},
	}
	for _, c := range cases {
		_, filter := c.search(users)
		want, _ := searchDNs(t, conn, users, filter)
		if len(want) == 0 {
			t.Errorf("%+v: the DC returns nobody; the case tests nothing", c)
			continue
		}
		o := c.options("ldif:" + path)
		if c.base == "" {
			o.Bases = []string{users}
		}
		got, err := exportDNs(t, o)
		if err != nil {
			t.Errorf("%+v: %v", c, err)
			continue
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%+v: the export gives %q, the DC %q", c, got, want)
		}
	}
}
