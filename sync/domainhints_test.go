package sync

import (
	"context"
	"strings"
	"testing"
)

func buildPlan(t *testing.T, users []User, people []Person) Plan {
	t.Helper()
	pl, err := BuildPlan(context.Background(), fakeStore{users: users}, fakeDir{people: people}, Options{DomainHints: true})
	if err != nil {
		t.Fatal(err)
	}
	return pl
}

// An unmatched person whose sAMAccountName a user lists under another
// NetBIOS name (the domain's real one, while the run guessed another from
// the DN) gets a hint naming that user; a matched one does not, nor does a
// bare name or the same name in another person's list twice.
func TestDomainHints(t *testing.T) {
	users := []User{
		{ID: "1005", FirstName: "Marc", LastName: "Tremblay", WindowsUsernames: `marc;OCTOPUS\mtremblay`, Active: true},
		{ID: "1006", FirstName: "Ann", LastName: "Roy", WindowsUsernames: `OCTOPUS-QC\aroy`, Active: true},
		{ID: "1007", FirstName: "Bob", LastName: "Lee", WindowsUsernames: `blee;OLD\mtremblay;OTHER\nobody`, Active: true},
		{ID: "1008", FirstName: "Eve", LastName: "Poe", WindowsUsernames: `epoe`, Active: true},
	}
	people := []Person{
		{DN: "CN=Marc Tremblay,DC=octopus-qc", UPN: "marc.tremblay@octopus-qc.ca", SAMAccountName: "MTremblay", Domain: "OCTOPUS-QC"},
		{DN: "CN=Ann Roy,DC=octopus-qc", UPN: "ann.roy@octopus-qc.ca", SAMAccountName: "aroy", Domain: "OCTOPUS-QC"},
		{DN: "CN=Zed,DC=octopus-qc", UPN: "zed@octopus-qc.ca", SAMAccountName: "zed", Domain: "OCTOPUS-QC"},
		{DN: "CN=Eve Poe,DC=octopus-qc", UPN: "eve@octopus-qc.ca", SAMAccountName: "epoe2", Domain: "OCTOPUS-QC"},
	}
	got := buildPlan(t, users, people)
	if len(got.DomainHints) != 1 {
		t.Fatalf("hints %+v, want one", got.DomainHints)
	}
	h := got.DomainHints[0]
	if h.UserID != "1005" || h.UserName != "Marc Tremblay" || h.Entry != `OCTOPUS\mtremblay` || h.Person.SAMAccountName != "MTremblay" ||
		!strings.Contains(h.Person.DN, "Marc Tremblay") {
		t.Errorf("hint %+v", h)
	}
	// With the right NetBIOS name Marc matches, and no hint names him;
	// read with it, Ann (listed as OCTOPUS-QC\aroy) gets one in turn.
	for i := range people {
		people[i].Domain = "OCTOPUS"
	}
	got = buildPlan(t, users, people)
	if len(got.DomainHints) != 1 || got.DomainHints[0].Entry != `OCTOPUS-QC\aroy` || got.DomainHints[0].UserID != "1006" {
		t.Errorf("after the fix: hints %+v", got.DomainHints)
	}
	// Plan (the planner still in use) gives none, nor BuildPlan unless
	// asked: the post-pass runs once, when matching is over.
	if got := plan(t, Options{DomainHints: true}, users, people...); len(got.DomainHints) != 0 {
		t.Errorf("Plan gave hints %+v", got.DomainHints)
	}
	pl, err := BuildPlan(context.Background(), fakeStore{users: users}, fakeDir{people: people}, Options{})
	if err != nil || len(pl.DomainHints) != 0 {
		t.Errorf("BuildPlan without DomainHints gave %+v (%v)", pl.DomainHints, err)
	}
}
