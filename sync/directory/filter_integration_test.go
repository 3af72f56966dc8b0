package directory_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"

	"github.com/upnsync/upnsync/internal/testenv"
	upnsync "github.com/upnsync/upnsync/sync"
	"github.com/upnsync/upnsync/sync/directory"
)

// Filters built from input, run on the real directory: an injection in a
// name finds nothing (unescaped, the same text finds every user), a name
// with parentheses and commas finds its one person, a GUID finds its
// object.
func TestFilterInjectionAgainstRealDirectory(t *testing.T) {
	e := testenv.LDAP(t)
	pem, err := os.ReadFile(e.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	conn, err := ldap.DialURL(e.LDAPSURL, ldap.DialWithTLSConfig(&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.Bind(e.BindDN, e.Password); err != nil {
		t.Fatal(err)
	}
	search := func(filter string) []*ldap.Entry {
		t.Helper()
		req := ldap.NewSearchRequest(e.Base, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
			filter, []string{"cn"}, nil)
		sr, err := conn.SearchWithPaging(req, 1000)
		if err != nil {
			t.Fatalf("%s: %v", filter, err)
		}
		return sr.Entries
	}

	// Each value, pasted into the filter as is, finds every user (or breaks
	// the filter); escaped, it finds nobody, since nobody has that name.
	for _, injection := range []string{"*)(|(objectClass=*", "*)(|(objectClass=*)", "*"} {
		unescaped := "(&" + directory.DefaultUserFilter + "(sAMAccountName=" + injection + "))"
		if _, err := ldap.CompileFilter(unescaped); err == nil {
			if n := len(search(unescaped)); n < e.Users/2 {
				t.Fatalf("the unescaped %q finds %d entries; the test needs it to find the users", injection, n)
			}
		}
		f, err := directory.EqualityFilter("sAMAccountName", injection)
		if err != nil {
			t.Fatal(err)
		}
		if got := search("(&" + directory.DefaultUserFilter + f + ")"); len(got) != 0 {
			t.Fatalf("%s finds %d entries, want none", f, len(got))
		}
	}

	// A person, with a name in parentheses (as the test directory's are)
	// and, for some, a comma.
	d, err := directory.Open(directory.Options{URL: e.LDAPSURL, CAFile: e.CAFile, Login: e.BindDN, Password: e.Password,
		Bases: []string{e.Base}, PageSize: directory.DefaultPageSize})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var person upnsync.Person
	stop := errors.New("found")
	_, err = d.Read(context.Background(), func(p upnsync.Person) error {
		if strings.Contains(p.DN, `\2C`) && strings.Contains(p.DN, "(") && p.GUID != "" {
			person = p
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) {
		t.Fatalf("no person with a comma and parentheses in the name: %v", err)
	}
	dn, err := ldap.ParseDN(person.DN)
	if err != nil {
		t.Fatal(err)
	}
	cn := dn.RDNs[0].Attributes[0].Value
	f, err := directory.EqualityFilter("cn", cn)
	if err != nil {
		t.Fatal(err)
	}
	if got := search(f); len(got) != 1 || !strings.EqualFold(got[0].DN, person.DN) {
		t.Fatalf("%s (cn %q) finds %d entries, want %s", f, cn, len(got), person.DN)
	}
	f, err = directory.GUIDFilter(person.GUID)
	if err != nil {
		t.Fatal(err)
	}
	if got := search(f); len(got) != 1 || !strings.EqualFold(got[0].DN, person.DN) {
		t.Fatalf("%s finds %d entries, want %s", f, len(got), person.DN)
	}
}
