package sync

import (
	"context"
	"reflect"
	"strings"
	"testing"
)

// A store where upnsync added Jane's and Bob's UPNs earlier, next to
// manual entries.
func departureUsers() []User {
	return []User{
		{ID: "1", FirstName: "Jane", ExternalID: guidJane, WindowsUsernames: "jdoe;jane.doe@corp.example.com",
			Owned: []Owned{{Entry: "jane.doe@corp.example.com", GUID: guidJane}}},
		{ID: "2", FirstName: "Bob", WindowsUsernames: "bob;bob@corp.example.com;bob@old.example.com",
			Owned: []Owned{{Entry: "bob@corp.example.com", GUID: guidBob}}},
		{ID: "3", FirstName: "Ann", WindowsUsernames: "ann"},
	}
}

func planWith(t *testing.T, opts Options, users []User, where map[string]Whereabouts, complete bool, people ...Person) (Plan, []string) {
	t.Helper()
	p := NewPlanner(opts)
	for _, u := range users {
		p.AddUser(u)
	}
	for _, person := range people {
		p.Add(person)
	}
	departed := p.Departed()
	for g, w := range where {
		p.Locate(g, w)
	}
	return p.Plan(ReadResult{Complete: complete, Entries: len(people)}), departed
}

func TestDepartureRemovesOnlyOwnedEntries(t *testing.T) {
	where := map[string]Whereabouts{guidBob: {Reason: DepartedDeleted, Detail: "no object has this objectGUID"}}
	pl, departed := planWith(t, Options{RemoveDeparted: true}, departureUsers(), where, true, jane())
	if !reflect.DeepEqual(departed, []string{guidBob}) {
		t.Fatalf("Departed() = %q, want only Bob (Jane was read)", departed)
	}
	if pl.Changes.Len() != 1 {
		t.Fatalf("changes = %+v", pl.Changes)
	}
	c := pl.Changes.At(0)
	// bob@old.example.com looks like a UPN but was typed by someone: kept.
	if c.UserID != "2" || c.Before != "bob;bob@corp.example.com;bob@old.example.com" ||
		c.After != "bob;bob@old.example.com" || !reflect.DeepEqual(c.Removed, []string{"bob@corp.example.com"}) ||
		c.Departed != DepartedDeleted || !c.Removal() || c.Person.GUID != guidBob || len(c.Added) != 0 {
		t.Fatalf("removal = %+v", c)
	}
	if len(pl.Departures) != 1 || !pl.Departures[0].Removed || pl.Departures[0].Reason != DepartedDeleted ||
		pl.Stats.Removals != 1 || pl.Stats.Departed != 1 {
		t.Fatalf("departures %+v stats %+v", pl.Departures, pl.Stats)
	}
}

func TestDepartureKeptUnlessAllowedAndKnown(t *testing.T) {
	tests := []struct {
		name     string
		opts     Options
		where    map[string]Whereabouts
		complete bool
		kept     string
	}{
		{"flag not given", Options{}, map[string]Whereabouts{guidBob: {Reason: DepartedDeleted}}, true, "--remove-departed not given"},
		{"incomplete read", Options{RemoveDeparted: true}, map[string]Whereabouts{guidBob: {Reason: DepartedDeleted}}, false, "not proven complete"},
		{"not classified", Options{RemoveDeparted: true}, nil, true, "could not tell"},
		{"lookup failed", Options{RemoveDeparted: true}, map[string]Whereabouts{guidBob: {Reason: DepartedLookupFailed}}, true, "lookup-failed"},
		{"back in scope", Options{RemoveDeparted: true}, map[string]Whereabouts{guidBob: {Reason: DepartedPresent}}, true, "present"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pl, _ := planWith(t, tt.opts, departureUsers(), tt.where, tt.complete, jane())
			if pl.Changes.Len() != 0 || pl.Stats.Removals != 0 {
				t.Fatalf("changes = %+v", pl.Changes)
			}
			if len(pl.Departures) != 1 || pl.Departures[0].Removed || !strings.Contains(pl.Departures[0].Kept, tt.kept) {
				t.Fatalf("departures = %+v, want kept %q", pl.Departures, tt.kept)
			}
		})
	}
}

func TestEveryReasonThatMeansGoneRemoves(t *testing.T) {
	for _, r := range []DepartureReason{DepartedDisabled, DepartedDeleted, DepartedMoved, DepartedFiltered, DepartedNotInExport} {
		pl, _ := planWith(t, Options{RemoveDeparted: true}, departureUsers(), map[string]Whereabouts{guidBob: {Reason: r}}, true, jane())
		if pl.Changes.Len() != 1 || pl.Changes.At(0).Departed != r {
			t.Errorf("%s: changes %+v", r, pl.Changes)
		}
	}
}

// --skip-disabled reads a disabled person and leaves them out: that is a
// departure the planner classifies itself, with no lookup.
func TestSkippedDisabledIsDepartedDisabled(t *testing.T) {
	bob := Person{GUID: guidBob, UPN: "bob@corp.example.com", SAMAccountName: "bob", Disabled: true}
	pl, departed := planWith(t, Options{RemoveDeparted: true, SkipDisabled: true}, departureUsers(), nil, true, jane(), bob)
	if len(departed) != 0 {
		t.Fatalf("Departed() = %q: a skipped disabled person needs no lookup", departed)
	}
	if pl.Changes.Len() != 1 || pl.Changes.At(0).Departed != DepartedDisabled || pl.Changes.At(0).After != "bob;bob@old.example.com" {
		t.Fatalf("changes = %+v", pl.Changes)
	}
}

// A departed person's entry that is on a user a new person now matches is
// removed in the same write as the new UPN.
func TestDepartureMergesWithChangeOfSameUser(t *testing.T) {
	users := []User{{ID: "7", ExternalID: guidAnn, WindowsUsernames: "desk;bob@corp.example.com",
		Owned: []Owned{{Entry: "bob@corp.example.com", GUID: guidBob}}}}
	ann := Person{GUID: guidAnn, UPN: "ann@corp.example.com", SAMAccountName: "ann"}
	pl, _ := planWith(t, Options{RemoveDeparted: true}, users, map[string]Whereabouts{guidBob: {Reason: DepartedMoved}}, true, ann)
	if pl.Changes.Len() != 1 {
		t.Fatalf("want one write for user 7, got %+v", pl.Changes)
	}
	c := pl.Changes.At(0)
	if c.Before != "desk;bob@corp.example.com" || c.After != "desk;ann@corp.example.com" ||
		!reflect.DeepEqual(c.Added, []string{"ann@corp.example.com"}) || !reflect.DeepEqual(c.Removed, []string{"bob@corp.example.com"}) ||
		c.Departed != "" || len(c.Notes) != 1 || !strings.Contains(c.Notes[0], "who is gone (moved-out-of-scope)") {
		t.Fatalf("change = %+v", c)
	}
}

// An entry that is now some directory person's UPN is never removed, even
// if upnsync added it for someone who left.
func TestDepartureKeepsEntryThatIsSomeonesUPNNow(t *testing.T) {
	newBob := Person{GUID: guidAnn, UPN: "BOB@corp.example.com", SAMAccountName: "bob2"}
	pl, _ := planWith(t, Options{RemoveDeparted: true}, departureUsers(), map[string]Whereabouts{guidBob: {Reason: DepartedDeleted}}, true, jane(), newBob)
	for _, c := range pl.Changes.All() {
		if len(c.Removed) > 0 {
			t.Fatalf("removed %q", c.Removed)
		}
	}
	if len(pl.Departures) != 1 || !strings.Contains(pl.Departures[0].Kept, "is now the UPN of") {
		t.Fatalf("departures = %+v", pl.Departures)
	}
}

// A rename where someone already typed the new UPN: the old entry upnsync
// added goes, nothing is added twice, and the next run has nothing to do.
func TestRenameWithNewUPNAlreadyPresent(t *testing.T) {
	users := []User{{ID: "12", ExternalID: guidJane, WindowsUsernames: "jdoe;jane.old@corp.example.com;Jane.Doe@corp.example.com",
		Owned: []Owned{{Entry: "jane.old@corp.example.com", GUID: guidJane}}}}
	pl := plan(t, Options{}, users, jane())
	if pl.Changes.Len() != 1 {
		t.Fatalf("changes %+v", pl.Changes)
	}
	c := pl.Changes.At(0)
	if c.After != "jdoe;Jane.Doe@corp.example.com" || !reflect.DeepEqual(c.Removed, []string{"jane.old@corp.example.com"}) ||
		len(c.Added) != 0 || len(c.Replaced) != 0 || len(c.Notes) != 1 {
		t.Fatalf("change %+v", c)
	}
	users[0].WindowsUsernames, users[0].Owned = c.After, nil
	if again := plan(t, Options{}, users, jane()); again.Changes.Len() != 0 {
		t.Fatalf("not idempotent: %+v", again.Changes)
	}
}

func TestRenameNotes(t *testing.T) {
	// Jane's GUID owns an entry on user 30 (an old account); her own user
	// 12 holds that old UPN as a manual entry.
	users := []User{
		{ID: "12", ExternalID: guidJane, WindowsUsernames: "jdoe;jane.old@corp.example.com"},
		{ID: "30", FirstName: "Old", WindowsUsernames: "jane.old@corp.example.com",
			Owned: []Owned{{Entry: "jane.old@corp.example.com", GUID: guidJane}}},
	}
	pl := plan(t, Options{}, users, jane())
	if pl.Changes.Len() != 1 || pl.Changes.At(0).UserID != "12" {
		t.Fatalf("changes %+v", pl.Changes)
	}
	notes := strings.Join(pl.Changes.At(0).Notes, "\n")
	for _, want := range []string{
		"upnsync added jane.old@corp.example.com for this person to Octopus user 30 (Old) earlier; it is left there",
		"jane.old@corp.example.com, an earlier UPN of this person, is in this list as a manual entry (upnsync did not add it here); it is kept",
	} {
		if !strings.Contains(notes, want) {
			t.Errorf("notes lack %q:\n%s", want, notes)
		}
	}
	if pl.Changes.At(0).After != "jdoe;jane.old@corp.example.com;jane.doe@corp.example.com" {
		t.Errorf("manual entry touched: %q", pl.Changes.At(0).After)
	}

	// The entry upnsync added was removed by someone: the note says so and
	// the new UPN is appended.
	users = []User{{ID: "12", ExternalID: guidJane, WindowsUsernames: "jdoe",
		Owned: []Owned{{Entry: "jane.old@corp.example.com", GUID: guidJane}}}}
	pl = plan(t, Options{}, users, jane())
	if pl.Changes.Len() != 1 || len(pl.Changes.At(0).Notes) != 1 || !strings.Contains(pl.Changes.At(0).Notes[0], "someone has removed it") {
		t.Fatalf("changes %+v", pl.Changes)
	}
}

type locatingDir struct {
	fakeDir
	where map[string]Whereabouts
	asked []string
}

func (d *locatingDir) LocateGUID(_ context.Context, guid string) (Whereabouts, error) {
	d.asked = append(d.asked, guid)
	return d.where[guid], nil
}

// BuildPlan asks a directory that can locate GUIDs about departed people
// only after a complete read and only with RemoveDeparted.
func TestBuildPlanLocatesDeparted(t *testing.T) {
	store := fakeStore{users: departureUsers()}
	dir := &locatingDir{fakeDir: fakeDir{people: []Person{jane()}}, where: map[string]Whereabouts{guidBob: {Reason: DepartedFiltered}}}
	pl, err := BuildPlan(context.Background(), store, dir, Options{})
	if err != nil || len(dir.asked) != 0 || pl.Changes.Len() != 0 {
		t.Fatalf("without RemoveDeparted: %v asked %q changes %+v", err, dir.asked, pl.Changes)
	}
	pl, err = BuildPlan(context.Background(), store, dir, Options{RemoveDeparted: true})
	if err != nil || !reflect.DeepEqual(dir.asked, []string{guidBob}) || pl.Changes.Len() != 1 || pl.Changes.At(0).Departed != DepartedFiltered {
		t.Fatalf("with RemoveDeparted: %v asked %q changes %+v", err, dir.asked, pl.Changes)
	}
}

func TestGuards(t *testing.T) {
	pl := Plan{Changes: ChangesOf(make([]Change, 12)...), Stats: Stats{StoreUsers: 100, Removals: 11}}
	if stops := NoLimits.Check(&pl); len(stops) != 0 {
		t.Fatalf("NoLimits stops: %+v", stops)
	}
	if stops := DefaultLimits.Check(&pl); len(stops) != 1 || stops[0].Guard != GuardMaxRemovalPercent || stops[0].Threshold != 10 {
		t.Fatalf("default limits: %+v", stops)
	}
	l := Limits{MaxChanges: 10, MaxChangePercent: 12, MaxRemovals: 11, MaxRemovalPercent: 50}
	stops := l.Check(&pl)
	if len(stops) != 1 || stops[0].Guard != GuardMaxChanges || stops[0].Count != 12 || stops[0].Threshold != 10 {
		t.Fatalf("stops %+v", stops)
	}
	want := "12 users to write exceed the limit of 10 (--max-changes 10); check the plan, then raise --max-changes (/MaxChanges:N) or let this one run through with --force (/Force)"
	if stops[0].Message != want {
		t.Fatalf("message:\n%s\nwant\n%s", stops[0].Message, want)
	}
	l = Limits{MaxChanges: -1, MaxChangePercent: 11.5, MaxRemovals: 10, MaxRemovalPercent: -1}
	stops = l.Check(&pl)
	if len(stops) != 2 {
		t.Fatalf("stops %+v", stops)
	}
	for _, s := range stops {
		if !strings.Contains(s.Message, "12 users") && !strings.Contains(s.Message, "11 entries") || !strings.Contains(s.Message, "--force") {
			t.Errorf("message lacks the count or --force: %s", s.Message)
		}
	}
	if !strings.Contains(stops[0].Message, "(12% of the 100 Octopus users) exceed the limit of 11.5% (11 users) (--max-change-percent 11.5)") {
		t.Errorf("percent message: %s", stops[0].Message)
	}
	// Exactly at the threshold passes.
	l = Limits{MaxChanges: 12, MaxChangePercent: 12, MaxRemovals: 11, MaxRemovalPercent: 11}
	if stops := l.Check(&pl); len(stops) != 0 {
		t.Fatalf("at the threshold: %+v", stops)
	}
}

func TestJournalEntryInverse(t *testing.T) {
	e := JournalEntry{UserID: "5", Before: "a;old@x", After: "a;new@x;b@x", GUID: guidJane,
		Added: []string{"b@x"}, Replaced: []Replacement{{Old: "old@x", New: "new@x"}}, Removed: []string{"gone@x"}}
	c := e.Inverse()
	want := Change{UserID: "5", Before: "a;new@x;b@x", After: "a;old@x", Person: Person{GUID: guidJane},
		Added: []string{"gone@x"}, Removed: []string{"b@x"}, Replaced: []Replacement{{Old: "new@x", New: "old@x"}}}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("inverse = %+v\nwant %+v", c, want)
	}
}
