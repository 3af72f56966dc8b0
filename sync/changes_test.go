package sync

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// A plan the engine built reads like one built from values: Len, At, All,
// Batch and Slice agree, Map rewrites what they return and leaves the
// plan as it is, changes appended come after the engine's, and Withdraw
// takes out the ones a store refuses, wherever they are.
func TestChangesReadAlike(t *testing.T) {
	p := NewPlanner(Options{})
	for i := range 5 {
		p.AddUser(User{ID: fmt.Sprint(10 + i), FirstName: "U", WindowsUsernames: fmt.Sprintf("u%d", i),
			ExternalID: fmt.Sprintf("0000000%d-0000-4000-8000-000000000000", i)})
	}
	for i := range 5 {
		p.Add(Person{GUID: fmt.Sprintf("0000000%d-0000-4000-8000-000000000000", 4-i), UPN: fmt.Sprintf("p%d@corp.example.com", 4-i),
			DN: fmt.Sprintf("CN=P%d,DC=corp", 4-i), SAMAccountName: fmt.Sprint("p", 4-i)})
	}
	plan := p.plan(ReadResult{Complete: true}, true)
	c := plan.Changes
	if c.Len() != 5 || len(c.recs) != 5 {
		t.Fatalf("%d changes (%d records), want 5 records", c.Len(), len(c.recs))
	}
	want := []Change{}
	for i := range 5 {
		want = append(want, Change{UserID: fmt.Sprint(10 + i), UserName: "U", ExternalID: fmt.Sprintf("0000000%d-0000-4000-8000-000000000000", i),
			Match: MatchExternalID, Before: fmt.Sprintf("u%d", i), After: fmt.Sprintf("u%d;p%d@corp.example.com", i, i),
			Added: []string{fmt.Sprintf("p%d@corp.example.com", i)},
			Person: Person{GUID: fmt.Sprintf("0000000%d-0000-4000-8000-000000000000", i), UPN: fmt.Sprintf("p%d@corp.example.com", i),
				DN: fmt.Sprintf("CN=P%d,DC=corp", i), SAMAccountName: fmt.Sprint("p", i)}})
	}
	if got := c.Slice(); !reflect.DeepEqual(got, want) {
		t.Fatalf("changes\n%+v\nwant\n%+v", got, want)
	}
	var all []Change
	for i, ch := range c.All() {
		if !reflect.DeepEqual(ch, c.At(i)) {
			t.Errorf("All's %d differs from At", i)
		}
		all = append(all, ch)
	}
	if !reflect.DeepEqual(all, want) || !reflect.DeepEqual(append(c.Batch(0, 2), c.Batch(2, 5)...), want) {
		t.Error("All or Batch differ from Slice")
	}
	if s := fmt.Sprintf("%v", c); !strings.Contains(s, "CN=P3,DC=corp") {
		t.Errorf("%%v prints %s", s)
	}

	extra := Change{UserID: "99", After: "x"}
	c.Append(extra)
	if c.Len() != 6 || !reflect.DeepEqual(c.At(5), extra) || plan.Changes.Len() != 5 {
		t.Fatalf("appended: %d changes, last %+v; the plan's %d", c.Len(), c.At(5), plan.Changes.Len())
	}
	upper := c.Map(func(ch Change) Change { ch.After = strings.ToUpper(ch.After); return ch })
	if upper.At(0).After != "U0;P0@CORP.EXAMPLE.COM" || upper.At(5).After != "X" || c.At(0).After != want[0].After {
		t.Errorf("mapped %q and %q, original %q", upper.At(0).After, upper.At(5).After, c.At(0).After)
	}
	twice := upper.Map(func(ch Change) Change { ch.After += "!"; return ch })
	if twice.At(1).After != "U1;P1@CORP.EXAMPLE.COM!" {
		t.Errorf("two maps give %q", twice.At(1).After)
	}

	plan.Changes = c
	plan.Withdraw(map[int]Conflict{1: {Reason: "r1"}, 5: {Reason: "r5"}})
	var ids []string
	for _, ch := range plan.Changes.All() {
		ids = append(ids, ch.UserID)
	}
	if !slices.Equal(ids, []string{"10", "12", "13", "14"}) || plan.Stats.Changes != 4 || len(plan.Conflicts) != 2 ||
		plan.Conflicts[0].Reason != "r1" || plan.Conflicts[1].Reason != "r5" {
		t.Errorf("after Withdraw: %v, stats %d, conflicts %+v", ids, plan.Stats.Changes, plan.Conflicts)
	}
	var zero Changes
	if zero.Len() != 0 || zero.Slice() != nil {
		t.Error("the zero Changes is not empty")
	}
}

// appendEntry and isAppended agree with L4 (SplitEntries, the UPN
// appended, JoinEntries) on lists with spaces, empty entries and none.
func TestAppendEntry(t *testing.T) {
	for _, list := range []string{"", " ", ";", "a", "a;b", " a ; b ;", ";;a;;", "a;\u00a0b", "a; b;c "} {
		want := JoinEntries(append(SplitEntries(list), "u@x"))
		if got := appendEntry(list, "u@x"); got != want {
			t.Errorf("appendEntry(%q) = %q, want %q", list, got, want)
		}
		if !isAppended(want, list, "u@x") {
			t.Errorf("isAppended(%q, %q) is false", want, list)
		}
		for _, other := range []string{want + ";", "u@x", want[:len(want)-1], "x;" + want, strings.Replace(want, ";", ",", 1)} {
			if other != want && isAppended(other, list, "u@x") {
				t.Errorf("isAppended(%q, %q) is true", other, list)
			}
		}
	}
}
