package directory

import (
	"context"
	"crypto/x509"
	"net"
	"reflect"
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"

	"github.com/upnsync/upnsync/internal/testenv"
	upnsync "github.com/upnsync/upnsync/sync"
)

// goLDAPRead reads every base of d with go-ldap's own paging and decoder,
// on d's connection (with no page armed, the Tap passes every message to
// go-ldap): the reference the bulk read is compared with.
func goLDAPRead(t testing.TB, d *ldapDirectory) ([]upnsync.Person, upnsync.ReadResult) {
	t.Helper()
	var got []upnsync.Person
	var res upnsync.ReadResult
	for _, base := range d.bases {
		res.Bases = append(res.Bases, upnsync.BaseCount{Base: base})
		bc := &res.Bases[len(res.Bases)-1]
		var cookie []byte
		for {
			paging := ldap.NewControlPaging(uint32(d.pageSize))
			paging.SetCookie(cookie)
			req := ldap.NewSearchRequest(base, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
				d.readFilter(), d.dec.attrs, append([]ldap.Control{paging}, d.controls()...))
			sr, err := d.conn.Search(req)
			if err != nil {
				t.Fatalf("go-ldap's read of %s: %v", base, err)
			}
			for _, e := range sr.Entries {
				got = append(got, d.dec.entry(e))
			}
			res.Entries += len(sr.Entries)
			bc.Entries += len(sr.Entries)
			res.Referrals += len(sr.Referrals)
			bc.Referrals += len(sr.Referrals)
			res.Pages++
			bc.Pages++
			c, ok := ldap.FindControl(sr.Controls, ldap.ControlTypePaging).(*ldap.ControlPaging)
			if !ok {
				t.Fatalf("go-ldap's read of %s: page %d without a paging control", base, res.Pages)
			}
			if len(c.Cookie) == 0 {
				break
			}
			cookie = c.Cookie
		}
	}
	res.Complete = true
	return got, res
}

// TestBulkReadMatchesGoLDAP reads the real test directory (slapd with AD's
// attributes and AD-like limits) with the bulk read and with go-ldap's
// paging and decoder, over each transport and with page sizes that do and
// do not divide the directory: same people in the same order, same proof.
func TestBulkReadMatchesGoLDAP(t *testing.T) {
	e := testenv.LDAP(t)
	tests := []struct {
		name string
		edit func(*Options)
	}{
		{"ldaps, 1000", func(o *Options) {}},
		{"StartTLS, 1000", func(o *Options) { o.URL, o.StartTLS = e.URL, true }},
		{"plain, 333", func(o *Options) { o.URL, o.AllowPlaintextBind, o.PageSize = e.URL, true, 333 }},
		{"ldaps, 1", func(o *Options) { o.PageSize = 1; o.Bases = []string{"ou=Finance,ou=Berlin,ou=People," + e.Base} }},
		{"two bases, filter", func(o *Options) {
			o.Bases = []string{"ou=Amsterdam,ou=People," + e.Base, e.Base}
			o.UserFilter = "(&(objectCategory=person)(objectClass=user)(userAccountControl=514))"
			o.PageSize = 100
		}},
		{"netbios name, mapping with Index/Separator", func(o *Options) {
			o.NetBIOSDomain = "CORPNET"
			o.Fields = mappingWithPhone()
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := Options{URL: e.LDAPSURL, CAFile: e.CAFile, Login: e.BindDN, Password: e.Password,
				Bases: []string{e.Base}, PageSize: DefaultPageSize}
			tt.edit(&o)
			d, err := openLDAP(o)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			var wire []upnsync.Person
			wres, err := d.Read(context.Background(), func(p upnsync.Person) error { wire = append(wire, p); return nil })
			if err != nil || !wres.Complete {
				t.Fatalf("%+v, %v", wres, err)
			}
			// Then go-ldap on the same connection.
			lib, lres := goLDAPRead(t, d)
			// The domain's root with the default filter is a read of the
			// whole directory (which go-ldap's read does not say); an OU or
			// another filter is not.
			whole := o.UserFilter == "" && len(o.Bases) == 1 && o.Bases[0] == e.Base
			if wres.Whole != whole {
				t.Errorf("Whole %v, want %v: %+v", wres.Whole, whole, wres)
			}
			lres.Whole = wres.Whole
			if !reflect.DeepEqual(wres, lres) {
				t.Errorf("results differ:\nwire    %+v\ngo-ldap %+v", wres, lres)
			}
			if len(wire) != len(lib) || len(wire) == 0 {
				t.Fatalf("wire read %d people, go-ldap %d", len(wire), len(lib))
			}
			for i := range wire {
				if wire[i] != lib[i] {
					t.Fatalf("person %d:\nwire    %+v\ngo-ldap %+v", i, wire[i], lib[i])
				}
			}
			t.Logf("%d people, %d pages, %d referrals", wres.Entries, wres.Pages, wres.Referrals)
		})
	}
}

// TestBulkReadReconnectErrors: a read whose connection was lost connects again
// and explains failures as Open does (the directory may change between
// the two: a password reset, a new certificate).
func TestBulkReadReconnectErrors(t *testing.T) {
	e := testenv.LDAP(t)
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedURL := "ldaps://" + closed.Addr().String()
	closed.Close()
	subject := `subject "CN=dc1.corp.example.com,O=upnsync tests", issued by "CN=upnsync test CA,O=upnsync tests"`
	tests := []struct {
		name string
		edit func(*Options)
		then func(*ldapDirectory)
		want string
	}{
		{"password changed", nil, func(d *ldapDirectory) { d.opts.Password = "not-" + e.Password },
			"cannot bind to " + e.LDAPSURL + ` as "` + e.BindDN + `": wrong user name or password (LDAP 49 Invalid Credentials)`},
		{"certificate no longer trusted", nil, func(d *ldapDirectory) { d.tls.RootCAs = x509.NewCertPool() },
			"the TLS certificate of " + e.LDAPSURL + " is not trusted: " + subject},
		{"certificate no longer trusted, StartTLS", func(o *Options) { o.URL, o.StartTLS = e.URL, true },
			func(d *ldapDirectory) { d.tls.RootCAs = x509.NewCertPool() },
			"the TLS certificate of " + e.URL + " is not trusted: " + subject},
		{"server gone", nil, func(d *ldapDirectory) { d.url = closedURL },
			"cannot connect to " + closedURL + ": connection refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := Options{URL: e.LDAPSURL, CAFile: e.CAFile, Login: e.BindDN, Password: e.Password,
				Bases: []string{e.Base}, PageSize: DefaultPageSize}
			if tt.edit != nil {
				tt.edit(&o)
			}
			d, err := openLDAP(o)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			tt.then(d)
			d.dropConn() // as if the server had dropped it
			res, err := d.Read(context.Background(), func(upnsync.Person) error { return nil })
			if err == nil || res.Complete || res.Entries != 0 || res.Why != err.Error() {
				t.Fatalf("%+v, %v", res, err)
			}
			t.Log(err)
			if !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), e.Password) {
				t.Errorf("error = %q\nwant it to contain %q", err, tt.want)
			}
		})
	}
}
