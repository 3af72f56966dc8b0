package sync

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
)

const (
	guidJane = "3f2504e0-4f89-11d3-9a0c-0305e82c3301"
	guidBob  = "0b3f7c1e-2d4a-4c5b-8e6f-7a8b9c0d1e2f"
	guidAnn  = "11111111-2222-3333-4444-555555555555"
)

func jane() Person {
	return Person{GUID: guidJane, UPN: "jane.doe@corp.example.com", SAMAccountName: "jdoe",
		Domain: "CORP", DNSDomain: "corp.example.com", DN: "CN=Jane Doe,OU=Staff,DC=corp,DC=example,DC=com",
		Mail: "jane.doe@corp.example.com"}
}

func plan(t *testing.T, opts Options, users []User, people ...Person) Plan {
	t.Helper()
	p := NewPlanner(opts)
	for _, u := range users {
		p.AddUser(u)
	}
	for _, person := range people {
		p.Add(person)
	}
	return p.Plan(ReadResult{Complete: true, Entries: len(people)})
}

func TestMatchingOrder(t *testing.T) {
	tests := []struct {
		name  string
		users []User
		rule  MatchRule
		user  string
	}{
		{"external id", []User{{ID: "1", ExternalID: guidJane}}, MatchExternalID, "1"},
		{"external id upper case with braces", []User{{ID: "1", ExternalID: "{" + strings.ToUpper(guidJane) + "}"}}, MatchExternalID, "1"},
		{"external id wins over windows username",
			[]User{{ID: "1", WindowsUsernames: "jdoe"}, {ID: "2", ExternalID: guidJane}}, MatchExternalID, "2"},
		{"bare sAMAccountName", []User{{ID: "7", WindowsUsernames: "JDOE"}}, MatchWindowsUsername, "7"},
		{"DOMAIN\\sAMAccountName", []User{{ID: "7", WindowsUsernames: `x;corp\JDoe`}}, MatchWindowsUsername, "7"},
		{"windows username wins over e-mail",
			[]User{{ID: "1", Email: "jane.doe@corp.example.com"}, {ID: "2", WindowsUsernames: "jdoe"}}, MatchWindowsUsername, "2"},
		{"e-mail", []User{{ID: "3", Email: "Jane.Doe@Corp.Example.com"}}, MatchEmail, "3"},
		{"UPN already listed", []User{{ID: "4", WindowsUsernames: "JANE.DOE@corp.example.com"}}, MatchWindowsUsername, "4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pl := plan(t, Options{}, tt.users, jane())
			if pl.Stats.Matched != 1 || pl.Stats.ByRule[tt.rule] != 1 {
				t.Fatalf("want one match by %s, got %+v (conflicts %+v)", tt.rule, pl.Stats, pl.Conflicts)
			}
			if pl.Changes.Len() == 1 {
				if c := pl.Changes.At(0); c.UserID != tt.user || c.Match != tt.rule {
					t.Fatalf("change for user %s by %s, want %s by %s", c.UserID, c.Match, tt.user, tt.rule)
				}
			} else if pl.Stats.Unchanged != 1 {
				t.Fatalf("neither a change nor unchanged: %+v", pl)
			}
		})
	}
}

func TestNoMatch(t *testing.T) {
	tests := []struct {
		name  string
		users []User
	}{
		{"nobody", nil},
		{"other domain prefix", []User{{ID: "1", WindowsUsernames: `OTHER\jdoe`}}},
		{"pinned to another object by external id", []User{{ID: "1", ExternalID: guidBob, WindowsUsernames: "jdoe", Email: "jane.doe@corp.example.com"}}},
		{"partial name", []User{{ID: "1", WindowsUsernames: "jdoe2;xjdoe"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pl := plan(t, Options{}, tt.users, jane())
			if len(pl.Unmatched) != 1 || pl.Unmatched[0].DN != jane().DN || pl.Changes.Len() != 0 {
				t.Fatalf("want jane unmatched, got %+v", pl)
			}
		})
	}
}

// A directory without objectGUIDs (an export) still matches users whose
// ExternalIdentifier holds a GUID by name: there is nothing to compare.
func TestNoGUIDMatchesPinnedUsersByName(t *testing.T) {
	p := jane()
	p.GUID = ""
	pl := plan(t, Options{}, []User{{ID: "1", ExternalID: guidBob, WindowsUsernames: "jdoe"}}, p)
	if pl.Changes.Len() != 1 {
		t.Fatalf("want a change, got %+v", pl)
	}
}

func TestChange(t *testing.T) {
	users := []User{{ID: "12", FirstName: "Jane", LastName: "Doe", ExternalID: guidJane, WindowsUsernames: `jdoe;CORP\jdoe`}}
	pl := plan(t, Options{}, users, jane())
	want := Change{
		UserID: "12", UserName: "Jane Doe", ExternalID: guidJane, Match: MatchExternalID,
		Before: `jdoe;CORP\jdoe`, After: `jdoe;CORP\jdoe;jane.doe@corp.example.com`,
		Added:  []string{"jane.doe@corp.example.com"},
		Person: Person{GUID: guidJane, UPN: "jane.doe@corp.example.com", SAMAccountName: "jdoe", DN: jane().DN},
	}
	if pl.Changes.Len() != 1 || !reflect.DeepEqual(pl.Changes.At(0), want) {
		t.Fatalf("changes = %+v\nwant %+v", pl.Changes, want)
	}
	if s := pl.Stats; s.Read != 1 || s.Matched != 1 || s.Changes != 1 || s.Unchanged != 0 || s.StoreUsers != 1 {
		t.Fatalf("stats = %+v", s)
	}
}

func TestRenameInPlan(t *testing.T) {
	users := []User{{ID: "12", ExternalID: guidJane, WindowsUsernames: "jdoe;jane.old@corp.example.com",
		Owned: []Owned{{Entry: "jane.old@corp.example.com", GUID: strings.ToUpper(guidJane)}}}}
	pl := plan(t, Options{}, users, jane())
	if pl.Changes.Len() != 1 {
		t.Fatalf("want a change, got %+v", pl)
	}
	c := pl.Changes.At(0)
	if c.After != "jdoe;jane.doe@corp.example.com" || len(c.Added) != 0 ||
		!reflect.DeepEqual(c.Replaced, []Replacement{{"jane.old@corp.example.com", "jane.doe@corp.example.com"}}) {
		t.Fatalf("rename = %+v", c)
	}
}

func TestConflicts(t *testing.T) {
	bob := Person{GUID: guidBob, UPN: "bob@corp.example.com", SAMAccountName: "bob", Domain: "CORP",
		DN: "CN=Bob,DC=corp,DC=example,DC=com", Mail: "bob@corp.example.com"}
	ann := Person{GUID: guidAnn, UPN: "ann@corp.example.com", SAMAccountName: "ann", Domain: "CORP",
		DN: "CN=Ann,DC=corp,DC=example,DC=com", Mail: "ann@corp.example.com"}
	with := func(p Person, f func(*Person)) Person { f(&p); return p }

	tests := []struct {
		name   string
		users  []User
		people []Person
		want   []Conflict
		// changes that must still be planned (conflicts never stop the run)
		changes []string
	}{
		{
			name:   "invalid upn",
			users:  []User{{ID: "1", ExternalID: guidJane}, {ID: "2", ExternalID: guidBob}},
			people: []Person{with(jane(), func(p *Person) { p.UPN = "jane doe@corp.example.com" }), bob},
			want: []Conflict{{Reason: "invalid-upn", UPN: "jane doe@corp.example.com",
				Detail: "userPrincipalName cannot be written: it contains white space",
				Users:  []string{"1"}, People: []string{jane().DN}}},
			changes: []string{"2"},
		},
		{
			name:   "invalid upn with a semicolon",
			users:  []User{{ID: "1", ExternalID: guidJane}},
			people: []Person{with(jane(), func(p *Person) { p.UPN = "jane;x@corp.example.com" })},
			want: []Conflict{{Reason: "invalid-upn", UPN: "jane;x@corp.example.com",
				Detail: `userPrincipalName cannot be written: it contains ";", the list separator`,
				Users:  []string{"1"}, People: []string{jane().DN}}},
		},
		{
			name:   "duplicate upn: neither is written",
			users:  []User{{ID: "1", ExternalID: guidJane}, {ID: "2", ExternalID: guidBob}, {ID: "3", ExternalID: guidAnn}},
			people: []Person{jane(), with(bob, func(p *Person) { p.UPN = "Jane.Doe@corp.example.com" }), ann},
			want: []Conflict{{Reason: "duplicate-upn", UPN: "Jane.Doe@corp.example.com",
				Detail: "2 directory users have this UPN; neither is written",
				Users:  []string{"1", "2"}, People: []string{jane().DN, bob.DN}}},
			changes: []string{"3"},
		},
		{
			name:   "duplicate upn with an unmatched person",
			users:  []User{{ID: "1", ExternalID: guidJane}},
			people: []Person{with(bob, func(p *Person) { p.UPN = "jane.doe@corp.example.com" }), jane()},
			want: []Conflict{{Reason: "duplicate-upn", UPN: "jane.doe@corp.example.com",
				Detail: "2 directory users have this UPN; neither is written",
				Users:  []string{"1"}, People: []string{bob.DN, jane().DN}}},
		},
		{
			name:  "three people, one upn",
			users: []User{{ID: "1", ExternalID: guidJane}, {ID: "2", ExternalID: guidBob}, {ID: "3", ExternalID: guidAnn}},
			people: []Person{jane(), with(bob, func(p *Person) { p.UPN = jane().UPN }),
				with(ann, func(p *Person) { p.UPN = jane().UPN })},
			want: []Conflict{{Reason: "duplicate-upn", UPN: jane().UPN,
				Detail: "3 directory users have this UPN; none is written",
				Users:  []string{"1", "2", "3"}, People: []string{jane().DN, bob.DN, ann.DN}}},
		},
		{
			name:   "upn owned by other user",
			users:  []User{{ID: "1", ExternalID: guidJane}, {ID: "9", FirstName: "Old", LastName: "Account", WindowsUsernames: "JANE.DOE@corp.example.com"}},
			people: []Person{jane()},
			want: []Conflict{{Reason: "upn-owned-by-other-user", UPN: "jane.doe@corp.example.com",
				Detail: "already a Windows username of Octopus user 9 (Old Account); not added to user 1",
				Users:  []string{"1", "9"}, People: []string{jane().DN}}},
		},
		{
			name:   "field too long",
			users:  []User{{ID: "1", ExternalID: guidJane, WindowsUsernames: strings.Repeat("x", 230)}},
			people: []Person{jane()},
			want: []Conflict{{Reason: "field-too-long", UPN: "jane.doe@corp.example.com",
				Detail: "the merged list would be 256 characters; the field holds 250 (--max-length)",
				Users:  []string{"1"}, People: []string{jane().DN}}},
		},
		{
			name:   "ambiguous match by e-mail",
			users:  []User{{ID: "4", Email: "jane.doe@corp.example.com"}, {ID: "5", Email: "JANE.DOE@corp.example.com"}, {ID: "2", ExternalID: guidBob}},
			people: []Person{jane(), bob},
			want: []Conflict{{Reason: "ambiguous-match", UPN: "jane.doe@corp.example.com",
				Detail: "matches 2 Octopus users by email; none is written",
				Users:  []string{"4", "5"}, People: []string{jane().DN}}},
			changes: []string{"2"},
		},
		{
			name:   "ambiguous match by windows username",
			users:  []User{{ID: "4", WindowsUsernames: "jdoe"}, {ID: "5", WindowsUsernames: `CORP\jdoe`}},
			people: []Person{jane()},
			want: []Conflict{{Reason: "ambiguous-match", UPN: "jane.doe@corp.example.com",
				Detail: "matches 2 Octopus users by windows-username; none is written",
				Users:  []string{"4", "5"}, People: []string{jane().DN}}},
		},
		{
			name:   "one user matched by two people",
			users:  []User{{ID: "4", FirstName: "Shared", Email: "team@corp.example.com"}},
			people: []Person{with(jane(), func(p *Person) { p.Mail = "team@corp.example.com" }), with(bob, func(p *Person) { p.Mail = "team@corp.example.com" })},
			want: []Conflict{{Reason: "ambiguous-match", UPN: "bob@corp.example.com",
				Detail: "Octopus user 4 (Shared) is matched by 2 directory users (the second by email); none is written",
				Users:  []string{"4"}, People: []string{jane().DN, bob.DN}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pl := plan(t, Options{}, tt.users, tt.people...)
			if !reflect.DeepEqual(pl.Conflicts, tt.want) {
				t.Fatalf("conflicts =\n%#v\nwant\n%#v", pl.Conflicts, tt.want)
			}
			var got []string
			for _, c := range pl.Changes.All() {
				got = append(got, c.UserID)
			}
			if !reflect.DeepEqual(got, tt.changes) {
				t.Fatalf("changes for users %q, want %q", got, tt.changes)
			}
			if pl.Stats.Conflicts != len(tt.want) || pl.Stats.Changes != len(tt.changes) {
				t.Fatalf("stats = %+v", pl.Stats)
			}
		})
	}
}

func TestSkipped(t *testing.T) {
	noUPN := jane()
	noUPN.UPN = ""
	disabled := jane()
	disabled.Disabled = true
	users := []User{{ID: "1", ExternalID: guidJane}}

	pl := plan(t, Options{}, users, noUPN)
	if want := []Skip{{DN: jane().DN, Reason: "no userPrincipalName; --implicit-upn derives sAMAccountName@domain"}}; !reflect.DeepEqual(pl.Skipped, want) {
		t.Fatalf("skipped = %+v", pl.Skipped)
	}
	if pl.Changes.Len() != 0 || pl.Stats.Skipped != 1 {
		t.Fatalf("plan = %+v", pl)
	}

	pl = plan(t, Options{ImplicitUPN: true}, users, noUPN)
	if pl.Changes.Len() != 1 || pl.Changes.At(0).After != "jdoe@corp.example.com" {
		t.Fatalf("implicit upn: %+v", pl)
	}

	noDomain := noUPN
	noDomain.DNSDomain = ""
	pl = plan(t, Options{ImplicitUPN: true}, users, noDomain)
	if len(pl.Skipped) != 1 || !strings.Contains(pl.Skipped[0].Reason, "no sAMAccountName and DNS domain") {
		t.Fatalf("implicit upn without domain: %+v", pl)
	}

	pl = plan(t, Options{}, users, disabled)
	if pl.Changes.Len() != 1 || !pl.Changes.At(0).Person.Disabled {
		t.Fatalf("disabled accounts are synced by default: %+v", pl)
	}
	pl = plan(t, Options{SkipDisabled: true}, users, disabled)
	if pl.Changes.Len() != 0 || len(pl.Skipped) != 1 || pl.Skipped[0].Reason != "account disabled (--skip-disabled)" {
		t.Fatalf("--skip-disabled: %+v", pl)
	}
}

func TestUnmatchedUsersUntouchedAndIdempotent(t *testing.T) {
	users := []User{
		{ID: "1", ExternalID: guidJane, WindowsUsernames: "jdoe"},
		{ID: "2", WindowsUsernames: "someone;else@corp.example.com"},
	}
	pl := plan(t, Options{}, users, jane())
	if pl.Changes.Len() != 1 || pl.Changes.At(0).UserID != "1" {
		t.Fatalf("plan = %+v", pl)
	}
	// Apply the plan to the snapshot and plan again: nothing left to do.
	users[0].WindowsUsernames = pl.Changes.At(0).After
	again := plan(t, Options{}, users, jane())
	if again.Changes.Len() != 0 || again.Stats.Unchanged != 1 {
		t.Fatalf("second plan = %+v", again)
	}
}

func TestChangesSortedByUserID(t *testing.T) {
	var users []User
	var people []Person
	for _, id := range []string{"10", "9", "100", "abc"} {
		g := "00000000-0000-0000-0000-0000000000" + map[string]string{"10": "10", "9": "09", "100": "a0", "abc": "ab"}[id]
		users = append(users, User{ID: id, ExternalID: g})
		people = append(people, Person{GUID: g, UPN: id + "@x.example", DN: "CN=" + id})
	}
	pl := plan(t, Options{}, users, people...)
	var got []string
	for _, c := range pl.Changes.All() {
		got = append(got, c.UserID)
	}
	if want := []string{"9", "10", "100", "abc"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("order = %q, want %q", got, want)
	}
}

type fakeStore struct{ users []User }

func (f fakeStore) Users(_ context.Context, fn func(User) error) error {
	for _, u := range f.users {
		if err := fn(u); err != nil {
			return err
		}
	}
	return nil
}
func (fakeStore) Apply(context.Context, Run, Changes) (Applied, error) { return Applied{}, nil }
func (fakeStore) Describe() string                                     { return "fake" }
func (fakeStore) Close() error                                         { return nil }

type fakeDir struct {
	people []Person
	err    error
}

func (f fakeDir) Read(_ context.Context, fn func(Person) error) (ReadResult, error) {
	for _, p := range f.people {
		if err := fn(p); err != nil {
			return ReadResult{}, err
		}
	}
	if f.err != nil {
		return ReadResult{Entries: len(f.people), Why: f.err.Error()}, f.err
	}
	return ReadResult{Complete: true, Entries: len(f.people), Pages: 1}, nil
}
func (fakeDir) Describe() string { return "fake" }
func (fakeDir) Close() error     { return nil }

func TestBuildPlanIncompleteRead(t *testing.T) {
	store := fakeStore{users: []User{{ID: "1", ExternalID: guidJane}}}
	pl, err := BuildPlan(context.Background(), store, fakeDir{people: []Person{jane()}}, Options{})
	if err != nil || !pl.Read.Complete || pl.Changes.Len() != 1 {
		t.Fatalf("complete read: %v %+v", err, pl)
	}
	lost := errors.New("connection lost after page 2")
	pl, err = BuildPlan(context.Background(), store, fakeDir{people: []Person{jane()}, err: lost}, Options{})
	var re *ReadError
	if !errors.Is(err, lost) || !errors.As(err, &re) || pl.Read.Complete || pl.Read.Why != lost.Error() {
		t.Fatalf("incomplete read: %v %+v", err, pl.Read)
	}
}
