package sync

import (
	"reflect"
	"testing"
)

// planPartial plans a partial read (incremental or DirSync) of people.
func planPartial(t *testing.T, opts Options, users []User, people ...Person) Plan {
	t.Helper()
	p := NewPlanner(opts)
	for _, u := range users {
		p.AddUser(u)
	}
	for _, person := range people {
		p.Add(person)
	}
	return p.Plan(ReadResult{Complete: true, Partial: true, Entries: len(people)})
}

// An incremental read that sees only Jane says nothing about Bob: no
// departure, no removal, even with --remove-departed.
func TestPartialReadInfersNoDeparture(t *testing.T) {
	pl := planPartial(t, Options{RemoveDeparted: true}, departureUsers(), jane())
	if len(pl.Departures) != 0 || pl.Stats.Departed != 0 || pl.Stats.Removals != 0 || pl.Changes.Len() != 0 {
		t.Fatalf("departures %+v changes %+v stats %+v", pl.Departures, pl.Changes, pl.Stats)
	}
	// The same read as a full one would report Bob.
	full, _ := planWith(t, Options{RemoveDeparted: true}, departureUsers(), nil, true, jane())
	if len(full.Departures) != 1 {
		t.Fatalf("a full read should report Bob: %+v", full.Departures)
	}
}

// A tombstone from DirSync is a departure (deleted), removable with
// --remove-departed; without the option it is listed and kept.
func TestTombstoneIsDeleted(t *testing.T) {
	tomb := Person{GUID: guidBob, DN: "CN=Bob\\0ADEL:x,CN=Deleted Objects,DC=corp,DC=example,DC=com", Deleted: true}
	pl := planPartial(t, Options{RemoveDeparted: true}, departureUsers(), tomb)
	if len(pl.Departures) != 1 || pl.Departures[0].Reason != DepartedDeleted || !pl.Departures[0].Removed {
		t.Fatalf("departures = %+v", pl.Departures)
	}
	if pl.Changes.Len() != 1 || !reflect.DeepEqual(pl.Changes.At(0).Removed, []string{"bob@corp.example.com"}) {
		t.Fatalf("changes = %+v", pl.Changes)
	}
	kept := planPartial(t, Options{}, departureUsers(), tomb)
	if len(kept.Departures) != 1 || kept.Departures[0].Removed || kept.Changes.Len() != 0 {
		t.Fatalf("without --remove-departed: departures %+v changes %+v", kept.Departures, kept.Changes)
	}
	// A tombstone nobody owns entries for changes nothing.
	other := planPartial(t, Options{RemoveDeparted: true}, departureUsers(),
		Person{GUID: "11111111-2222-3333-4444-555555555555", Deleted: true})
	if len(other.Departures) != 0 || other.Changes.Len() != 0 || len(other.Unmatched) != 0 {
		t.Fatalf("foreign tombstone: %+v", other)
	}
}

// A rename seen by an incremental read replaces the entry in place.
func TestPartialReadRenames(t *testing.T) {
	j := jane()
	j.UPN = "jane.smith@corp.example.com"
	pl := planPartial(t, Options{}, departureUsers(), j)
	if pl.Changes.Len() != 1 || pl.Changes.At(0).After != "jdoe;jane.smith@corp.example.com" ||
		!reflect.DeepEqual(pl.Changes.At(0).Replaced, []Replacement{{Old: "jane.doe@corp.example.com", New: "jane.smith@corp.example.com"}}) {
		t.Fatalf("changes = %+v", pl.Changes)
	}
	if len(pl.Departures) != 0 {
		t.Fatalf("departures = %+v", pl.Departures)
	}
}

// An object a change feed reported changed but no longer selected is a
// departure candidate: BuildPlan asks the directory about it (and only
// about it) after a partial read; the classification decides.
func TestUnselectedIsLocated(t *testing.T) {
	p := NewPlanner(Options{RemoveDeparted: true})
	for _, u := range departureUsers() {
		p.AddUser(u)
	}
	p.Add(Person{GUID: guidBob, DN: "CN=Bob,OU=Elsewhere,DC=corp,DC=example,DC=com", Unselected: true})
	if p.Departed() == nil {
		t.Fatal("before BuildPlan marks the read partial, Departed lists every unseen owner")
	}
	p.partial = true
	if got := p.Departed(); !reflect.DeepEqual(got, []string{guidBob}) {
		t.Fatalf("Departed() after a partial read = %q, want only Bob (Jane was not read: not gone)", got)
	}
	p.Locate(guidBob, Whereabouts{Reason: DepartedMoved, DN: "CN=Bob,OU=Elsewhere,DC=corp,DC=example,DC=com"})
	pl := p.Plan(ReadResult{Complete: true, Partial: true, Entries: 1, Unselected: 1})
	if pl.Stats.Read != 0 || len(pl.Departures) != 1 || pl.Departures[0].Reason != DepartedMoved || !pl.Departures[0].Removed {
		t.Fatalf("stats %+v departures %+v", pl.Stats, pl.Departures)
	}
}
