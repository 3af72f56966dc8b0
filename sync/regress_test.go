package sync

import "testing"

// Found by FuzzPlanner (testdata/fuzz/FuzzPlanner/3922a8d424fa5edb): a
// person whose UPN was already in place is taken back twice, first when a
// second person matches the same user, then when a third has the same
// UPN. The summary counted it out twice: "unchanged -1".
func TestUnchangedPersonTakenBackOnce(t *testing.T) {
	p := NewPlanner(Options{})
	p.AddUser(User{ID: "1001", WindowsUsernames: "jdoe;sam.lee@corp.example.com"})
	for _, person := range []Person{
		{DN: "CN=Sam Lee,DC=corp", SAMAccountName: "jdoe", UPN: "sam.lee@corp.example.com"},    // already there
		{DN: "CN=Other JDoe,DC=other", SAMAccountName: "jdoe", UPN: "j.doe@other.example.com"}, // claims the same user
		{DN: "CN=Samuel Lee,DC=corp", SAMAccountName: "slee", UPN: "Sam.Lee@corp.example.com"}, // the same UPN
	} {
		p.Add(person)
	}
	plan := p.Plan(ReadResult{Complete: true})
	if plan.Stats.Unchanged != 0 || plan.Changes.Len() != 0 || len(plan.Conflicts) != 2 {
		t.Fatalf("unchanged %d, changes %d, conflicts %+v", plan.Stats.Unchanged, plan.Changes.Len(), plan.Conflicts)
	}
}
