package sync

// Issue 13: never a wrong decision. Departures on positive evidence only
// (D2, D3), the forms of an ExternalIdentifier (M1, C8), users pinned to
// an object the read did not return (M7), held removals after a scope
// change (D3), and the read guards (G7, G8).

import (
	"strings"
	"testing"
	"time"
)

// Every form an administrator's export may give a GUID in is the same
// key; other strings stay themselves; the byte-swapped form is not.
func TestNormalizeGUIDForms(t *testing.T) {
	for _, in := range []string{guidJane, "{" + guidJane + "}", strings.ToUpper(guidJane), " {3F2504E0-4F89-11D3-9A0C-0305E82C3301} ",
		"3f2504e04f8911d39a0c0305e82c3301", "3F2504E04F8911D39A0C0305E82C3301", "{3F2504E04F8911D39A0C0305E82C3301}",
		"4AQlP4lP0xGaDAMF6CwzAQ==", " 4AQlP4lP0xGaDAMF6CwzAQ== "} {
		if got := NormalizeGUID(in); got != guidJane {
			t.Errorf("NormalizeGUID(%q) = %q, want %q", in, got, guidJane)
		}
		if got := string(normalizeGUIDInto(nil, in)); got != guidJane {
			t.Errorf("normalizeGUIDInto(%q) = %q, want %q", in, got, guidJane)
		}
	}
	for in, want := range map[string]string{
		"CN=Old,DC=corp": "cn=old,dc=corp", "": "",
		"3f2504e04f8911d39a0c0305e82c33": "3f2504e04f8911d39a0c0305e82c33", "not/base64/at/all/=====": "not/base64/at/all/=====",
		"AAAAAAAAAAAAAAAAAAAAAA==": "00000000-0000-0000-0000-000000000000",
	} {
		if got := NormalizeGUID(in); got != want {
			t.Errorf("NormalizeGUID(%q) = %q, want %q", in, got, want)
		}
	}
	swapped := "e004253f-894f-d311-9a0c-0305e82c3301"
	if got := SwappedGUID(guidJane); got != swapped || SwappedGUID(swapped) != guidJane || NormalizeGUID(swapped) != swapped {
		t.Fatalf("SwappedGUID(%s) = %q, want %s and back", guidJane, got, swapped)
	}
	if got := SwappedGUID("CN=Old,DC=corp"); got != "" {
		t.Fatalf("SwappedGUID of a DN = %q", got)
	}
}

// M1 matches the ExternalIdentifier in every usual form.
func TestExternalIDFormsMatch(t *testing.T) {
	for _, ext := range []string{"{" + strings.ToUpper(guidJane) + "}", "3F2504E04F8911D39A0C0305E82C3301", "4AQlP4lP0xGaDAMF6CwzAQ=="} {
		pl := plan(t, Options{}, []User{{ID: "7", FirstName: "Jane", ExternalID: ext, WindowsUsernames: "someone-else"}}, jane())
		if pl.Changes.Len() != 1 || pl.Changes.At(0).Match != MatchExternalID || pl.Changes.At(0).ExternalID != ext || len(pl.PinnedMissing) != 0 {
			t.Fatalf("ExternalIdentifier %q: changes %+v, pinned %+v", ext, pl.Changes, pl.PinnedMissing)
		}
	}
}

// C8: the byte-swapped form writes nothing and says what to store, even
// when another user would match by name; the user is not listed as
// pinned to a missing object, and the person is not unmatched.
func TestByteOrderConflict(t *testing.T) {
	swapped := SwappedGUID(guidJane)
	users := []User{
		{ID: "7", FirstName: "Jane", LastName: "Doe", ExternalID: swapped, WindowsUsernames: "jane"},
		{ID: "8", FirstName: "Other", WindowsUsernames: "jdoe"}, // would match by M2
	}
	pl := plan(t, Options{}, users, jane())
	if pl.Changes.Len() != 0 || len(pl.Unmatched) != 0 || len(pl.PinnedMissing) != 0 || len(pl.Conflicts) != 1 {
		t.Fatalf("changes %+v unmatched %+v pinned %+v conflicts %+v", pl.Changes, pl.Unmatched, pl.PinnedMissing, pl.Conflicts)
	}
	c := pl.Conflicts[0]
	want := "the ExternalIdentifier " + swapped + " of Octopus user 7 (Jane Doe) is this person's objectGUID with the bytes of its first three groups in the wrong order"
	if c.Reason != ConflictExternalIDByteOrder || !strings.HasPrefix(c.Detail, want) || !strings.Contains(c.Detail, "store "+guidJane+" there instead") ||
		len(c.Users) != 1 || c.Users[0] != "7" || c.People[0] != jane().DN {
		t.Fatalf("conflict %+v", c)
	}
	// Fixed: M1 matches.
	users[0].ExternalID = guidJane
	if pl := plan(t, Options{}, users, jane()); len(pl.Conflicts) != 0 || pl.Changes.Len() != 1 || pl.Changes.At(0).UserID != "7" {
		t.Fatalf("after the fix: %+v %+v", pl.Conflicts, pl.Changes)
	}
}

// M7: after a complete full read, a user pinned to an objectGUID nobody
// read has is listed, with the person who would match by name but for M5;
// not after an incomplete or partial read, nor when the person was read
// but skipped.
func TestPinnedMissing(t *testing.T) {
	users := []User{
		{ID: "1", FirstName: "Jane", ExternalID: guidBob, WindowsUsernames: "jdoe"}, // Jane re-created: new GUID
		{ID: "2", FirstName: "Ann", ExternalID: guidAnn, WindowsUsernames: "ann"},
		{ID: "3", FirstName: "Old", ExternalID: "CN=Old,DC=corp", WindowsUsernames: "old"}, // not a GUID: not pinned
		// No one of the read would match Gus: listed only after a read of
		// the whole directory, since his object may be out of scope.
		{ID: "4", FirstName: "Gus", ExternalID: "22222222-3333-4444-5555-666666666666", WindowsUsernames: "gus"},
	}
	p := NewPlanner(Options{})
	for _, u := range users {
		p.AddUser(u)
	}
	p.Add(jane())
	p.Add(Person{GUID: "{" + strings.ToUpper(guidAnn) + "}", SAMAccountName: "ann", DN: "CN=Ann,DC=corp"}) // no UPN: skipped
	pl := p.Plan(ReadResult{Complete: true, Entries: 2})
	if len(pl.PinnedMissing) != 1 || pl.Stats.PinnedMissing != 1 {
		t.Fatalf("pinned %+v, stats %+v", pl.PinnedMissing, pl.Stats)
	}
	pn := pl.PinnedMissing[0]
	if pn.UserID != "1" || pn.ExternalID != guidBob || pn.Match != MatchWindowsUsername || pn.Candidate.GUID != guidJane ||
		pn.Candidate.DN != jane().DN || pn.Candidate.UPN != jane().UPN {
		t.Fatalf("pinned %+v", pn)
	}
	if len(pl.Unmatched) != 1 {
		t.Fatalf("Jane must stay unmatched (M5): %+v", pl.Unmatched)
	}
	whole := NewPlanner(Options{})
	for _, u := range users {
		whole.AddUser(u)
	}
	whole.Add(jane())
	if pl := whole.Plan(ReadResult{Complete: true, Entries: 1, Whole: true}); pl.Stats.PinnedMissing != 3 ||
		len(pl.PinnedMissing) != 3 || pl.PinnedMissing[2].UserID != "4" || pl.PinnedMissing[2].Match != "" {
		t.Fatalf("a read of the whole directory: pinned %+v, stats %+v", pl.PinnedMissing, pl.Stats)
	}
	for _, read := range []ReadResult{{Complete: false}, {Complete: true, Partial: true}} {
		p := NewPlanner(Options{})
		for _, u := range users {
			p.AddUser(u)
		}
		p.Add(jane())
		if pl := p.Plan(read); len(pl.PinnedMissing) != 0 || pl.Stats.PinnedMissing != 0 {
			t.Fatalf("%+v: pinned %+v", read, pl.PinnedMissing)
		}
	}
}

// D2, D3: a person the directory could not find is kept, counted, and the
// reason says what to check; a scope change holds removals with its
// reason; the removable reasons still remove.
func TestNotFoundAndHeldRemovalsKeep(t *testing.T) {
	notFound := map[string]Whereabouts{guidBob: {Reason: DepartedNotFound, Detail: "no object with this objectGUID is visible"}}
	pl, _ := planWith(t, Options{RemoveDeparted: true}, departureUsers(), notFound, true, jane())
	if pl.Changes.Len() != 0 || pl.Stats.Removals != 0 || pl.Stats.NotFound != 1 || len(pl.Departures) != 1 {
		t.Fatalf("changes %+v stats %+v", pl.Changes, pl.Stats)
	}
	if d := pl.Departures[0]; d.Removed || d.Reason != DepartedNotFound || !strings.Contains(d.Kept, "no evidence that they left") ||
		!strings.Contains(d.Kept, "List contents and Read all properties") || len(d.Entries) != 1 {
		t.Fatalf("departure %+v", d)
	}
	deleted := map[string]Whereabouts{guidBob: {Reason: DepartedDeleted, Detail: "a tombstone"}}
	held := Options{RemoveDeparted: true, HoldRemovals: "the scope changed since the last complete run; confirm with --force"}
	pl, _ = planWith(t, held, departureUsers(), deleted, true, jane())
	if pl.Changes.Len() != 0 || pl.Stats.Removals != 0 || pl.Departures[0].Removed || pl.Departures[0].Kept != "kept: "+held.HoldRemovals {
		t.Fatalf("held: changes %+v departures %+v", pl.Changes, pl.Departures)
	}
	held.HoldRemovals = ""
	if pl, _ = planWith(t, held, departureUsers(), deleted, true, jane()); pl.Stats.Removals != 1 || pl.Stats.NotFound != 0 {
		t.Fatalf("not held: %+v", pl.Stats)
	}
}

// G7 and G8: a base that gives too few people, an empty read; neither
// after a partial or incomplete read; an empty read of an empty store is
// no alarm; --allow-empty-read lets it through, --force does not.
func TestCheckRead(t *testing.T) {
	when := time.Date(2026, 12, 7, 11, 41, 0, 0, time.UTC)
	last := &LastRead{Time: when, Bases: []BaseCount{{Base: "OU=Berlin,DC=corp", Entries: 716}, {Base: "OU=Paris,DC=corp", Entries: 100}}}
	plan := func(read int, complete, partial bool) *Plan {
		return &Plan{Read: ReadResult{Complete: complete, Partial: partial, Entries: read}, Stats: Stats{Read: read, StoreUsers: 25}}
	}
	bases := []BaseCount{{Base: "ou=berlin,dc=corp", Entries: 573}, {Base: "OU=Paris,DC=corp", Entries: 95}, {Base: "OU=New,DC=corp", Entries: 3}}
	stops := DefaultLimits.CheckRead(plan(668, true, false), bases, last, "bases OU=Berlin,DC=corp; OU=Paris,DC=corp")
	if len(stops) != 1 || stops[0].Guard != GuardMaxReadDrop || stops[0].Count != 143 || stops[0].Threshold != 35 || !stops[0].Forceable() {
		t.Fatalf("stops %+v", stops)
	}
	want := "base ou=berlin,dc=corp gave 573 people, 143 (20%) fewer than the 716 of the last complete read (2026-12-07 11:41 UTC), over the limit of 5% (--max-read-drop 5)"
	if !strings.HasPrefix(stops[0].Message, want) || !strings.Contains(stops[0].Message, "--force") {
		t.Fatalf("message %q\nwant prefix %q", stops[0].Message, want)
	}
	// A small directory: 10 people fewer never trips, 11 do.
	small := &LastRead{Time: when, Bases: []BaseCount{{Base: "OU=Small,DC=corp", Entries: 25}}}
	if got := DefaultLimits.CheckRead(plan(15, true, false), []BaseCount{{Base: "OU=Small,DC=corp", Entries: 15}}, small, ""); len(got) != 0 {
		t.Fatalf("10 of 25 fewer: %+v", got)
	}
	if got := DefaultLimits.CheckRead(plan(14, true, false), []BaseCount{{Base: "OU=Small,DC=corp", Entries: 14}}, small, ""); len(got) != 1 || got[0].Threshold != MinReadDrop {
		t.Fatalf("11 of 25 fewer: %+v", got)
	}
	off := DefaultLimits
	off.MaxReadDrop = -1
	for name, got := range map[string][]GuardStop{
		"switched off": off.CheckRead(plan(668, true, false), bases, last, ""),
		"first read":   DefaultLimits.CheckRead(plan(668, true, false), bases, nil, ""),
		"partial":      DefaultLimits.CheckRead(plan(668, true, true), bases, last, ""),
		"incomplete":   DefaultLimits.CheckRead(plan(668, false, false), bases, last, ""),
		"empty store":  DefaultLimits.CheckRead(&Plan{Read: ReadResult{Complete: true}}, nil, last, ""),
		"allowed":      Limits{MaxReadDrop: 5, AllowEmptyRead: true}.CheckRead(plan(0, true, false), []BaseCount{{Base: "OU=Berlin,DC=corp"}}, last, ""),
	} {
		if len(got) != 0 {
			t.Errorf("%s: %+v", name, got)
		}
	}
	empty := DefaultLimits.CheckRead(plan(0, true, false), []BaseCount{{Base: "OU=Berlin,DC=corp"}}, last, "base OU=Berlin,DC=corp, filter (&(objectCategory=person)(memberOf=CN=Nobody))")
	if len(empty) != 1 || empty[0].Guard != GuardEmptyRead || empty[0].Forceable() ||
		!strings.Contains(empty[0].Message, "the read found no one (base OU=Berlin,DC=corp, filter (&(objectCategory=person)(memberOf=CN=Nobody))) while the store has 25 Octopus users") ||
		!strings.Contains(empty[0].Message, "--allow-empty-read") {
		t.Fatalf("empty read: %+v", empty)
	}
}
