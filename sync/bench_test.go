package sync

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
)

// Benchmarks of the engine's hot paths. Sizes default to 100k and follow
// UPNSYNC_BENCH_USERS, so that a million can be measured without editing:
//
//	go test ./sync -run '^$' -bench . -benchmem
//	UPNSYNC_BENCH_USERS=1000000 go test ./sync -run '^$' -bench 'BuildPlan' -benchmem
//
// scripts/bench.sh measures the whole program against a real directory.

func benchUsers(b *testing.B) int {
	if v := os.Getenv("UPNSYNC_BENCH_USERS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			b.Fatalf("UPNSYNC_BENCH_USERS=%q: want a positive number", v)
		}
		return n
	}
	return 100_000
}

// benchData is a store and a directory in the proportions of
// scripts/genusers: most people in sync by GUID, about a tenth needing
// their UPN, some matched by account name or e-mail only, a few unmatched.
func benchData(n int) ([]User, []Person) {
	users := make([]User, 0, n)
	people := make([]Person, n)
	for i := range n {
		guid := fmt.Sprintf("%08x-1111-4222-8333-%012x", i, i)
		sam := fmt.Sprintf("jdoe%d", i)
		upn := fmt.Sprintf("jane.doe%d@corp.example.com", i)
		people[i] = Person{GUID: guid, UPN: upn, SAMAccountName: sam, Domain: "CORP", DNSDomain: "corp.example.com",
			DN: fmt.Sprintf("CN=Jane Doe %d,OU=Staff,DC=corp,DC=example,DC=com", i), GivenName: "Jane", Surname: "Doe",
			Mail: fmt.Sprintf("jane.doe%d@corp.example.com", i)}
		u := User{ID: fmt.Sprintf("Users-%d", i), FirstName: "Jane", LastName: "Doe", Email: people[i].Mail, Active: true}
		switch r := i % 100; {
		case r < 70: // in sync
			u.ExternalID, u.WindowsUsernames = guid, sam+";"+upn
			u.Owned = []Owned{{Entry: upn, GUID: guid}}
		case r < 80: // needs the UPN
			u.ExternalID, u.WindowsUsernames = guid, `CORP\`+sam
		case r < 87: // by account name
			u.WindowsUsernames = sam
		case r < 92: // by e-mail
		case r < 95: // UPN held by someone else: conflict
			u.ExternalID, u.WindowsUsernames = guid, sam
			users = append(users, User{ID: fmt.Sprintf("Old-%d", i), WindowsUsernames: "old;" + upn})
		default: // no Octopus user
			continue
		}
		users = append(users, u)
	}
	return users, people
}

func BenchmarkIndexUsers(b *testing.B) {
	users, _ := benchData(benchUsers(b))
	b.ReportAllocs()
	for b.Loop() {
		ix := newUserIndex()
		for _, u := range users {
			ix.add(u)
		}
		ix.build()
	}
	b.ReportMetric(float64(len(users))*float64(b.N)/b.Elapsed().Seconds(), "users/s")
}

func BenchmarkMatch(b *testing.B) {
	users, people := benchData(benchUsers(b))
	ix := newUserIndex()
	for _, u := range users {
		ix.add(u)
	}
	ix.build()
	var buf []int32
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		p := &people[i%len(people)]
		buf, _ = ix.match(p, p.UPN, buf)
	}
}

func BenchmarkMergeUPN(b *testing.B) {
	owned := []Owned{{Entry: "old.name@corp.example.com", GUID: "3f2504e0-4f89-11d3-9a0c-0305e82c3301"}}
	b.Run("present", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			MergeUPN(`jdoe;CORP\jdoe;Jane.Doe@corp.example.com`, "jane.doe@corp.example.com", "", nil, 250)
		}
	})
	b.Run("append", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			MergeUPN(`jdoe;CORP\jdoe`, "jane.doe@corp.example.com", "", nil, 250)
		}
	})
	b.Run("rename", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			MergeUPN("jdoe;old.name@corp.example.com", "jane.doe@corp.example.com", "3f2504e0-4f89-11d3-9a0c-0305e82c3301", owned, 250)
		}
	})
}

// BenchmarkPlannerAdd is the work per directory person: match, merge,
// remember the UPN.
func BenchmarkPlannerAdd(b *testing.B) {
	users, people := benchData(benchUsers(b))
	b.ReportAllocs()
	b.ResetTimer()
	done := 0
	for b.Loop() {
		b.StopTimer()
		p := NewPlanner(Options{})
		for _, u := range users {
			p.AddUser(u)
		}
		p.ix.build()
		b.StartTimer()
		for _, person := range people {
			p.Add(person)
		}
		done += len(people)
	}
	b.ReportMetric(float64(done)/b.Elapsed().Seconds(), "people/s")
}

// BenchmarkBuildPlan is the whole engine: load the snapshot, stream the
// directory, build the plan.
func BenchmarkBuildPlan(b *testing.B) {
	users, people := benchData(benchUsers(b))
	store, dir := fakeStore{users: users}, fakeDir{people: people}
	b.ReportAllocs()
	var plan Plan
	for b.Loop() {
		var err error
		if plan, err = BuildPlan(context.Background(), store, dir, Options{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(people))*float64(b.N)/b.Elapsed().Seconds(), "people/s")
	if plan.Changes.Len() == 0 || len(plan.Conflicts) == 0 || plan.Stats.Unchanged == 0 {
		b.Fatalf("unrealistic plan: %+v", plan.Stats)
	}
}

// BenchmarkIndexBuild is the lookup tables alone, from the records.
func BenchmarkIndexBuild(b *testing.B) {
	users, _ := benchData(benchUsers(b))
	ix := newUserIndex()
	for _, u := range users {
		ix.add(u)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		ix.built = false
		ix.build()
	}
	b.ReportMetric(float64(len(users))*float64(b.N)/b.Elapsed().Seconds(), "users/s")
}
