package sync

import (
	"context"
	"reflect"
	"testing"
)

// withUserNames is plan with the names BuildPlan gives the users of each
// conflict, looked up in users by id: the reference for BuildPlan.
func withUserNames(plan Plan, users []User) Plan {
	names := map[string]string{}
	for i := range users {
		names[users[i].ID] = users[i].Name()
	}
	for i := range plan.Conflicts {
		c := &plan.Conflicts[i]
		if len(c.Users) == 0 {
			continue
		}
		c.UserNames = make([]string, len(c.Users))
		for j, id := range c.Users {
			c.UserNames[j] = names[id]
		}
	}
	return plan
}

// BuildPlan names the Octopus users of each conflict, in the order of
// their ids, for the reports (a user without a name gets ""); a conflict
// of no user has none.
func TestBuildPlanNamesConflictUsers(t *testing.T) {
	users := []User{
		{ID: "10", FirstName: "Sam", LastName: "Lee", Email: "sam@corp.example.com", Active: true},
		{ID: "11", LastName: "Lee", Email: "sam@corp.example.com", Active: true},
		{ID: "12", FirstName: "Kim", Active: true},
	}
	people := []Person{
		{GUID: "00000001-0000-4000-8000-000000000000", UPN: "sam.lee@corp.example.com", Mail: "sam@corp.example.com", DN: "CN=Sam Lee,DC=corp"},
		{GUID: "00000002-0000-4000-8000-000000000000", UPN: "bad upn@corp.example.com", DN: "CN=Bad,DC=corp"},
	}
	plan, err := BuildPlan(context.Background(), fakeStore{users: users}, fakeDir{people: people}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var got [][]string
	for _, c := range plan.Conflicts {
		got = append(got, c.UserNames)
	}
	want := [][]string{{"Sam Lee", "Lee"}, nil}
	if len(plan.Conflicts) != 2 || !reflect.DeepEqual(got, want) {
		t.Fatalf("conflicts %+v: names %q, want %q", plan.Conflicts, got, want)
	}
}
