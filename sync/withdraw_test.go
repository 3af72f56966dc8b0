package sync

import (
	"reflect"
	"testing"
)

func TestWithdraw(t *testing.T) {
	p := Plan{
		Changes:   ChangesOf(Change{UserID: "1"}, Change{UserID: "2"}, Change{UserID: "3"}),
		Conflicts: []Conflict{{Reason: ConflictDuplicateUPN}},
		Stats:     Stats{Changes: 3, Conflicts: 1, Matched: 5},
	}
	p.Withdraw(map[int]Conflict{1: {Reason: "store-limit", Users: []string{"2"}}})
	if got := []string{p.Changes.At(0).UserID, p.Changes.At(1).UserID}; !reflect.DeepEqual(got, []string{"1", "3"}) || p.Changes.Len() != 2 {
		t.Errorf("changes = %+v", p.Changes)
	}
	if len(p.Conflicts) != 2 || p.Conflicts[1].Reason != "store-limit" || p.Stats.Changes != 2 || p.Stats.Conflicts != 2 || p.Stats.Matched != 5 {
		t.Errorf("plan = %+v", p)
	}
	p.Withdraw(nil)
	if p.Changes.Len() != 2 {
		t.Error("Withdraw(nil) changed the plan")
	}
}
