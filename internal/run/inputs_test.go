package run

import (
	"context"
	"reflect"
	"testing"

	upnsync "github.com/upnsync/upnsync/sync"
)

// usersStore and peopleDir are a store and a directory of given users and
// people, for the inputs digest.
type usersStore struct {
	fakeStore
	users []upnsync.User
}

func (s usersStore) Users(_ context.Context, fn func(upnsync.User) error) error {
	for _, u := range s.users {
		if err := fn(u); err != nil {
			return err
		}
	}
	return nil
}

type peopleDir struct {
	fakeDir
	people []upnsync.Person
}

func (d peopleDir) Read(_ context.Context, fn func(upnsync.Person) error) (upnsync.ReadResult, error) {
	for _, p := range d.people {
		if err := fn(p); err != nil {
			return upnsync.ReadResult{}, err
		}
	}
	return upnsync.ReadResult{Complete: true, Entries: len(d.people), Pages: 1}, nil
}

var (
	digestUsers = []upnsync.User{
		{ID: "1001", FirstName: "Jane", WindowsUsernames: "jdoe", Active: true},
		{ID: "1002", WindowsUsernames: "bob", Owned: []upnsync.Owned{{Entry: "bob@corp.example.com", GUID: "g"}}},
	}
	digestPeople = []upnsync.Person{
		{GUID: "3f2504e0-4f89-11d3-9a0c-0305e82c3301", UPN: "jane.doe@corp.example.com", SAMAccountName: "jdoe",
			Domain: "CORP", DNSDomain: "corp.example.com", DN: "CN=Jane,DC=corp", GivenName: "Jane", Surname: "Doe",
			Mail: "jane@corp.example.com"},
		{UPN: "bob@corp.example.com", SAMAccountName: "bob", DN: "CN=Bob,DC=corp", Disabled: true},
	}
)

// digestOf hashes the users and people the way makePlan does; storeFirst
// says which wrapper runs first (BuildPlan runs them at once).
func digestOf(t *testing.T, users []upnsync.User, people []upnsync.Person, order string) string {
	t.Helper()
	i := newInputsHash([]byte("<mapping/>"), map[string]string{"directory": "ldaps://dc1"})
	store := i.store(usersStore{users: users})
	dir := i.directory(peopleDir{people: people})
	ctx := context.Background()
	readStore := func() {
		if err := store.Users(ctx, func(upnsync.User) error { return nil }); err != nil {
			t.Error(err)
		}
	}
	readDir := func() {
		if _, err := dir.Read(ctx, func(upnsync.Person) error { return nil }); err != nil {
			t.Error(err)
		}
	}
	switch order {
	case "store first":
		readStore()
		readDir()
	case "directory first":
		readDir()
		readStore()
	case "together":
		done := make(chan struct{})
		go func() { readStore(); close(done) }()
		readDir()
		<-done
	case "BuildPlan":
		if _, err := upnsync.BuildPlan(ctx, store, dir, upnsync.Options{}); err != nil {
			t.Fatal(err)
		}
	}
	return i.sum()
}

// The saved plan's inputs digest does not depend on whether the store or
// the directory was read first (BuildPlan reads both at once: under -race
// a shared digest would be reported here), and it sees every field of
// every person read and of every user loaded.
func TestInputsDigest(t *testing.T) {
	want := digestOf(t, digestUsers, digestPeople, "store first")
	for _, order := range []string{"directory first", "together", "BuildPlan"} {
		if got := digestOf(t, digestUsers, digestPeople, order); got != want {
			t.Errorf("%s: digest %s, want %s as with the store first", order, got, want)
		}
	}
	if got := digestOf(t, digestUsers, digestPeople, "store first"); got != want {
		t.Fatalf("the same inputs digest differently: %s, %s", got, want)
	}
	// Every field of a person counts: change each in turn.
	for f := 0; f < reflect.TypeFor[upnsync.Person]().NumField(); f++ {
		people := append([]upnsync.Person(nil), digestPeople...)
		v := reflect.ValueOf(&people[1]).Elem().Field(f)
		name := reflect.TypeFor[upnsync.Person]().Field(f).Name
		switch v.Kind() {
		case reflect.String:
			v.SetString(v.String() + "x")
		case reflect.Bool:
			v.SetBool(!v.Bool())
		default:
			t.Fatalf("Person.%s is a %s: teach this test (and the digest) about it", name, v.Kind())
		}
		if digestOf(t, digestUsers, people, "together") == want {
			t.Errorf("changing Person.%s leaves the digest as it was", name)
		}
	}
	if digestOf(t, digestUsers, digestPeople[:1], "together") == want {
		t.Error("a person fewer leaves the digest as it was")
	}
	users := append([]upnsync.User(nil), digestUsers...)
	users[1].Owned = nil
	if digestOf(t, users, digestPeople, "together") == want {
		t.Error("a user's provenance is not in the digest")
	}
}
