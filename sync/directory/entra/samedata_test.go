package entra

// One data set, two ways: the people the test slapd was loaded with
// ($UPNSYNC_TEST_LDIF), read over LDAP by the ldaps:// source, and the
// same people as Entra Connect would have put them in Entra ID (objectGUID
// as onPremisesImmutableId, sAMAccountName as onPremisesSamAccountName,
// ...), read through Microsoft Graph by this source, must give the same
// Persons, person by person.

import (
	"github.com/upnsync/upnsync/sync/directory/entra/entratest"
	"testing"

	"github.com/go-ldap/ldap/v3"

	"github.com/upnsync/upnsync/internal/testenv"
	upnsync "github.com/upnsync/upnsync/sync"
	"github.com/upnsync/upnsync/sync/directory"
)

func TestSameDataSetReadOverLDAPAndThroughGraph(t *testing.T) {
	e := testenv.LDAP(t)
	users := entratest.UsersFromLDIF(t, e.LDIF)
	if len(users) != e.Users {
		t.Fatalf("%s gives %d Graph users, want %d", e.LDIF, len(users), e.Users)
	}
	// Besides the synchronised people, a tenant has guests and cloud-only
	// users the LDAP read cannot know.
	extra := []map[string]any{entratest.SampleUsers()[1], entratest.SampleUsers()[2]}

	lp, err := directory.Open(directory.Options{URL: e.LDAPSURL, CAFile: e.CAFile, Login: e.BindDN, Password: e.Password,
		Bases: []string{e.Base}, PageSize: directory.DefaultPageSize})
	if err != nil {
		t.Fatal(err)
	}
	defer lp.Close()
	viaLDAP, lres, err := readAll(t, lp)
	if err != nil || !lres.Complete || len(viaLDAP) != e.Users {
		t.Fatalf("LDAP read: %d people, %+v, %v", len(viaLDAP), lres, err)
	}

	tn := entratest.New(t)
	tn.Users = append(users, extra...)
	viaGraph, gres, err := readAll(t, openTenant(t, tenantOptions(tn)))
	if err != nil || !gres.Complete || len(viaGraph) != e.Users+len(extra) || gres.Pages != (e.Users+len(extra)+PageSize-1)/PageSize {
		t.Fatalf("Graph read: %d people, %+v, %v", len(viaGraph), gres, err)
	}

	byGUID := map[string]upnsync.Person{}
	for _, p := range viaGraph {
		if p.GUID == "" {
			continue // the cloud-only user and the guest
		}
		if _, dup := byGUID[p.GUID]; dup {
			t.Fatalf("GUID %s twice through Graph", p.GUID)
		}
		byGUID[p.GUID] = p
	}
	if len(byGUID) != e.Users {
		t.Fatalf("%d people with a GUID through Graph, want %d", len(byGUID), e.Users)
	}
	diffs := 0
	for _, l := range viaLDAP {
		g, ok := byGUID[l.GUID]
		if !ok {
			t.Errorf("%s (%s) read over LDAP is missing through Graph", l.DN, l.GUID)
			diffs++
			continue
		}
		if !sameDN(l.DN, g.DN) {
			t.Errorf("%s: DN %q through Graph", l.DN, g.DN)
			diffs++
		}
		g.DN = l.DN
		if g != l {
			t.Errorf("%s differs:\n LDAP  %+v\n Graph %+v", l.DN, l, g)
			diffs++
		}
		if diffs > 10 {
			t.Fatal("too many differences")
		}
	}
	disabled := 0
	for _, p := range viaLDAP {
		if p.Disabled {
			disabled++
		}
	}
	if disabled == 0 {
		t.Fatal("the data set has no disabled people: the comparison proves less than it should")
	}
}

func sameDN(a, b string) bool {
	x, err1 := ldap.ParseDN(a)
	y, err2 := ldap.ParseDN(b)
	return err1 == nil && err2 == nil && x.EqualFold(y)
}
