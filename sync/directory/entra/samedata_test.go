package entra

// One data set, two ways: the people the test slapd was loaded with
// ($UPNSYNC_TEST_LDIF), read over LDAP by the ldaps:// source, and the
// same people as Entra Connect would have put them in Entra ID (objectGUID
// as onPremisesImmutableId, sAMAccountName as onPremisesSamAccountName,
// ...), read through Microsoft Graph by this source, must give the same
// Persons, person by person.

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"

	"github.com/upnsync/upnsync/internal/testenv"
	upnsync "github.com/upnsync/upnsync/sync"
	"github.com/upnsync/upnsync/sync/directory"
)

// ldifRecords reads an LDIF file into records of attribute -> first
// value (names lower-cased; base64 values decoded; "objectclass" joined).
// The generated file has no folded lines; one would fail the test.
func ldifRecords(t *testing.T, path string) []map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []map[string]string
	rec := map[string]string{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if len(rec) > 0 {
				out = append(out, rec)
				rec = map[string]string{}
			}
			continue
		case strings.HasPrefix(line, "#"):
			continue
		case strings.HasPrefix(line, " "):
			t.Fatalf("%s: folded lines are not expected in the generated LDIF", path)
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			t.Fatalf("%s: %q", path, line)
		}
		if strings.HasPrefix(value, ":") {
			raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(value[1:]))
			if err != nil {
				t.Fatalf("%s: %q: %v", path, line, err)
			}
			value = string(raw)
		} else {
			value = strings.TrimPrefix(value, " ")
		}
		name = strings.ToLower(name)
		if name == "objectclass" {
			rec[name] += value + ";"
		} else if _, seen := rec[name]; !seen {
			rec[name] = value
		}
	}
	if len(rec) > 0 {
		out = append(out, rec)
	}
	return out
}

// graphUsersFromLDIF makes the Graph users Entra Connect would sync from
// the LDIF's people (objectCategory person, objectClass user).
func graphUsersFromLDIF(t *testing.T, path string) []map[string]any {
	var users []map[string]any
	for i, r := range ldifRecords(t, path) {
		if r["objectcategory"] != "person" || !strings.Contains(strings.ToLower(r["objectclass"]), "user;") {
			continue
		}
		uac, _ := strconv.Atoi(r["useraccountcontrol"])
		var dcs []string
		for _, rdn := range strings.Split(r["dn"], ",") {
			if k, v, _ := strings.Cut(rdn, "="); strings.EqualFold(strings.TrimSpace(k), "dc") {
				dcs = append(dcs, strings.ToLower(v))
			}
		}
		u := map[string]any{
			"id":                          fmt.Sprintf("%08x-0000-4000-8000-000000000000", i),
			"givenName":                   nilIfEmpty(r["givenname"]),
			"surname":                     nilIfEmpty(r["sn"]),
			"mail":                        nilIfEmpty(r["mail"]),
			"accountEnabled":              uac&2 == 0,
			"userType":                    "Member",
			"onPremisesImmutableId":       base64.StdEncoding.EncodeToString([]byte(r["objectguid"])),
			"onPremisesSamAccountName":    r["samaccountname"],
			"onPremisesDistinguishedName": r["dn"],
			"onPremisesDomainName":        strings.Join(dcs, "."),
			"businessPhones":              []string{},
		}
		// Every Entra user has a UPN; the few LDIF people without one are
		// kept without, so both sides read the same thing.
		if upn := r["userprincipalname"]; upn != "" {
			u["userPrincipalName"] = upn
		}
		users = append(users, u)
	}
	return users
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func TestSameDataSetReadOverLDAPAndThroughGraph(t *testing.T) {
	e := testenv.LDAP(t)
	users := graphUsersFromLDIF(t, e.LDIF)
	if len(users) != e.Users {
		t.Fatalf("%s gives %d Graph users, want %d", e.LDIF, len(users), e.Users)
	}
	// Besides the synchronised people, a tenant has guests and cloud-only
	// users the LDAP read cannot know.
	extra := []map[string]any{sampleUsers()[1], sampleUsers()[2]}

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

	tn := newTenant(t)
	tn.users = append(users, extra...)
	viaGraph, gres, err := readAll(t, openTenant(t, tn.options()))
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
