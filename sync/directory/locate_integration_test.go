package directory_test

import (
	"context"
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"

	"github.com/upnsync/upnsync/internal/testenv"
	upnsync "github.com/upnsync/upnsync/sync"
	"github.com/upnsync/upnsync/sync/directory"
)

// Departures are classified against the real slapd: it does not know AD's
// <GUID=...> DNs, so the reader falls back to a subtree search on the
// escaped objectGUID, and must still tell every case apart.
func TestLocateGUIDOnSlapd(t *testing.T) {
	e := testenv.LDAP(t)
	people, _ := want(t, e)
	berlin := "ou=Berlin,ou=People," + e.Base
	under := func(p upnsync.Person, base string) bool {
		dn, err1 := ldap.ParseDN(p.DN)
		b, err2 := ldap.ParseDN(base)
		return err1 == nil && err2 == nil && b.AncestorOfFold(dn)
	}
	var inBerlin, inBerlinDisabled, elsewhere upnsync.Person
	for _, p := range people {
		switch {
		case under(p, berlin) && !p.Disabled && inBerlin.GUID == "":
			inBerlin = p
		case under(p, berlin) && p.Disabled && inBerlinDisabled.GUID == "":
			inBerlinDisabled = p
		case !under(p, berlin) && elsewhere.GUID == "":
			elsewhere = p
		}
	}
	if inBerlin.GUID == "" || inBerlinDisabled.GUID == "" || elsewhere.GUID == "" {
		t.Fatal("the generated directory lacks the people this test needs")
	}

	o := baseOptions(e)
	o.Bases = []string{berlin}
	// AD's own filter for enabled users: slapd knows the bitwise matching
	// rule too.
	o.UserFilter = "(&(objectCategory=person)(objectClass=user)(!(userAccountControl:1.2.840.113556.1.4.803:=2)))"
	d := open(t, o)
	loc, ok := d.(upnsync.GUIDLocator)
	if !ok {
		t.Fatal("the LDAP reader cannot locate GUIDs")
	}
	ctx := context.Background()
	check := func(name, guid string, reason upnsync.DepartureReason, dn, detail string) {
		t.Helper()
		w, err := loc.LocateGUID(ctx, guid)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if w.Reason != reason || (dn != "" && !sameDN(w.DN, dn)) || !strings.Contains(w.Detail, detail) {
			t.Errorf("%s: %+v, want %s at %s (%q)", name, w, reason, dn, detail)
		}
	}
	check("moved", elsewhere.GUID, upnsync.DepartedMoved, elsewhere.DN, "outside the searched bases")
	check("disabled", inBerlinDisabled.GUID, upnsync.DepartedDisabled, inBerlinDisabled.DN, "disabled account")
	check("present", strings.ToUpper(inBerlin.GUID), upnsync.DepartedPresent, inBerlin.DN, "selected by the user filter")
	// No such object, and no tombstone (slapd keeps none): not found,
	// never "deleted" (rule D2: positive evidence only).
	check("not found", "0badc0de-0000-4000-8000-000000000000", upnsync.DepartedNotFound, "", "no object with this objectGUID is visible to the account upnsync binds as ("+e.BindDN+") under "+e.Base)

	// The same enabled person, when the filter no longer selects them.
	o.UserFilter = "(&(objectCategory=person)(objectClass=user)(sAMAccountName=nobody-at-all))"
	loc = open(t, o).(upnsync.GUIDLocator)
	check("filtered", inBerlin.GUID, upnsync.DepartedFiltered, inBerlin.DN, "no longer selects it")

	// An export can only say the person is not in it.
	lf := open(t, directory.Options{URL: "ldif:" + e.LDIF}).(upnsync.GUIDLocator)
	if w, err := lf.LocateGUID(ctx, elsewhere.GUID); err != nil || w.Reason != upnsync.DepartedNotInExport {
		t.Errorf("LDIF: %+v %v", w, err)
	}
	// A GUID comes from the store's record, which a person can edit: what
	// is not a GUID is refused before anything is sent, so that it cannot
	// widen the search (an unescaped "*)(|(objectClass=*" would make the
	// fallback's filter match every object, and the first one found would
	// pass for the departed person).
	for _, bad := range []string{"not-a-guid", "*)(|(objectClass=*", "*", "3f2504e0-4f89-11d3-9a0c-0305e82c3301)(cn=*"} {
		if w, err := loc.LocateGUID(ctx, bad); err == nil || !strings.Contains(err.Error(), "GUID") {
			t.Errorf("%q was looked up: %+v %v", bad, w, err)
		}
	}
}
