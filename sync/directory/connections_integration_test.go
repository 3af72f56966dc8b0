package directory_test

import (
	"context"
	"net"
	"testing"

	"github.com/upnsync/upnsync/internal/faultproxy"
	"github.com/upnsync/upnsync/internal/testenv"
	upnsync "github.com/upnsync/upnsync/sync"
	"github.com/upnsync/upnsync/sync/directory"
)

// One TCP connection per run attempt: what a run does with an LDAP
// directory (Open: bind, rootDSE, NetBIOS names; Read: every page; then the
// look-ups of departed people) goes over one connection, counted by a proxy
// in front of the real server, for each way of binding. So everything a run
// reads comes from one domain controller, even behind a DNS name with
// several.

// runThrough makes a run's calls on the directory o names, through a
// counting proxy in front of the server's ldap:// (plainURL) or ldaps://
// (ldapsURL) port, as scheme says, and returns how many connections the
// proxy accepted.
func runThrough(t *testing.T, o directory.Options, scheme, plainURL, ldapsURL string, wantUsers int) int {
	t.Helper()
	target := hostPort(t, plainURL)
	if scheme == "ldaps" {
		target = hostPort(t, ldapsURL)
	}
	if _, _, err := net.SplitHostPort(target); err != nil {
		port := "389"
		if scheme == "ldaps" {
			port = "636"
		}
		target = net.JoinHostPort(target, port)
	}
	p, err := faultproxy.Start(target)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	o.URL = p.URL(scheme)
	d, err := directory.Open(o)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer d.Close()
	var someone upnsync.Person
	res, err := d.Read(context.Background(), func(p upnsync.Person) error {
		if someone.GUID == "" && p.GUID != "" {
			someone = p
		}
		return nil
	})
	if err != nil || !res.Complete || res.Entries < wantUsers {
		t.Fatalf("read: %+v, %v", res, err)
	}
	loc, ok := d.(upnsync.GUIDLocator)
	if !ok {
		t.Fatal("an LDAP directory is a GUIDLocator")
	}
	// Someone the read returned, and someone no longer there.
	for guid, want := range map[string]upnsync.DepartureReason{
		someone.GUID:                           upnsync.DepartedPresent,
		"0badc0de-0000-4000-8000-00000000beef": upnsync.DepartedNotFound,
	} {
		w, err := loc.LocateGUID(context.Background(), guid)
		if err != nil || w.Reason != want {
			t.Fatalf("LocateGUID(%s) = %+v, %v; want %v", guid, w, err, want)
		}
	}
	d.Close()
	for i, st := range p.Stats() {
		if st.ServerBytes == 0 {
			t.Errorf("connection %d carried nothing: %+v", i+1, st)
		}
	}
	return p.Connections()
}

func TestOneConnectionPerRunSlapd(t *testing.T) {
	e := testenv.LDAP(t)
	for _, tt := range []struct {
		name, scheme string
		edit         func(*directory.Options)
	}{
		{"ldaps", "ldaps", func(*directory.Options) {}},
		{"StartTLS", "ldap", func(o *directory.Options) { o.StartTLS = true }},
		{"plain", "ldap", func(o *directory.Options) { o.AllowPlaintextBind = true }},
		{"unpaged", "ldaps", func(o *directory.Options) {
			o.PageSize = 0
			o.Bases = []string{"ou=Berlin,ou=People," + e.Base} // under slapd's size limit of 1000
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o := baseOptions(e)
			tt.edit(&o)
			users := e.Users
			if o.PageSize == 0 {
				users = 1
			}
			if n := runThrough(t, o, tt.scheme, e.URL, e.LDAPSURL, users); n != 1 {
				t.Fatalf("%d connections for one run, want 1", n)
			}
		})
	}
}

func TestOneConnectionPerRunSamba(t *testing.T) {
	e := testenv.Samba(t)
	kerberos := func(o *directory.Options) {
		o.Login, o.Password, o.Krb5Conf = e.Principal, "", e.Krb5Conf
		o.KerberosKeytab = e.Keytab
	}
	for _, tt := range []struct {
		name, scheme string
		edit         func(*directory.Options)
	}{
		{"ldaps", "ldaps", func(*directory.Options) {}},
		{"StartTLS", "ldap", func(o *directory.Options) { o.StartTLS = true }},
		{"Kerberos over ldaps", "ldaps", kerberos},
		{"Kerberos over StartTLS", "ldap", func(o *directory.Options) { kerberos(o); o.StartTLS = true }},
		{"NTLM over ldaps", "ldaps", func(o *directory.Options) { o.NTLM = true }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o := sambaOptions(e)
			tt.edit(&o)
			if n := runThrough(t, o, tt.scheme, e.URL, e.LDAPSURL, e.Users); n != 1 {
				t.Fatalf("%d connections for one run, want 1", n)
			}
		})
	}
}
