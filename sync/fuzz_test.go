package sync

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// FuzzMergeUPN checks the merge rules on any list, UPN and provenance:
// it never drops or rewrites an entry it did not add, keeps the order,
// appends the UPN or replaces exactly one entry it owns for this person
// (or, the UPN being there already, takes out the one it owns),
// never returns a list over the limit unless it says TooLong, and merging
// the same UPN again changes nothing.
func FuzzMergeUPN(f *testing.F) {
	f.Add("jdoe;CORP\\jdoe", "jane.doe@corp.example.com", "g1", "", "", 250)
	f.Add("jdoe;Jane.Doe@Corp.Example.com", "jane.doe@corp.example.com", "g1", "", "", 250)
	f.Add("jdoe;jane.old@corp.example.com", "jane.doe@corp.example.com", "g1", "jane.old@corp.example.com", "G1", 250)
	f.Add("jdoe;jane.old@corp.example.com", "jane.doe@corp.example.com", "g1", "jane.old@corp.example.com", "g2", 250)
	// The new UPN typed by someone already: the old one upnsync added goes.
	f.Add("jdoe;jane.old@corp.example.com;Jane.Doe@corp.example.com", "jane.doe@corp.example.com", "g1", "jane.old@corp.example.com", "g1", 250)
	f.Add(" a ;; b ; ", "x@y", "", "a", "", 3)
	f.Add("", "x@y", "", "", "", 0)
	f.Add(strings.Repeat("a;", 120), "jane.doe@corp.example.com", "g", "", "", 250)
	f.Add("ü;ö", "é@ü", "g", "ö", "g", 5)
	f.Fuzz(func(t *testing.T, before, upn, guid, ownedEntry, ownedGUID string, maxLen int) {
		owned := []Owned{{Entry: ownedEntry, GUID: ownedGUID}}
		m := MergeUPN(before, upn, guid, owned, maxLen)
		if ValidateUPN(upn) != "" {
			return // the planner never merges an invalid UPN; only: no panic
		}
		entries := SplitEntries(before)
		if m.Unchanged {
			if m.After != before || !slices.ContainsFunc(entries, func(e string) bool { return strings.EqualFold(e, upn) }) {
				t.Fatalf("Unchanged, but %q does not hold %q (after %q)", before, upn, m.After)
			}
			return
		}
		after := SplitEntries(m.After)
		want := append(slices.Clone(entries), upn)
		switch len(m.Replaced) {
		case 0:
			if len(m.Removed) > 0 {
				// The UPN was in the list already: the person's old entry,
				// which upnsync added, goes, and nothing is added.
				r := m.Removed[0]
				i := slices.IndexFunc(entries, func(e string) bool { return strings.EqualFold(e, r) })
				if len(m.Removed) != 1 || len(m.Added) != 0 || i < 0 || guid == "" || !strings.EqualFold(r, ownedEntry) ||
					!strings.EqualFold(guid, ownedGUID) || !slices.ContainsFunc(entries, func(e string) bool { return strings.EqualFold(e, upn) }) {
					t.Fatalf("removed %q, added %q; owned %q for %q, person %q", m.Removed, m.Added, ownedEntry, ownedGUID, guid)
				}
				want = slices.Delete(slices.Clone(entries), i, i+1)
			} else if len(m.Added) != 1 || m.Added[0] != upn {
				t.Fatalf("added %q, want [%q]", m.Added, upn)
			}
		case 1:
			r := m.Replaced[0]
			if guid == "" || !strings.EqualFold(r.Old, ownedEntry) || !strings.EqualFold(guid, ownedGUID) || r.New != upn || len(m.Added) != 0 {
				t.Fatalf("replaced %+v, owned %q for %q, person %q", r, ownedEntry, ownedGUID, guid)
			}
			i := slices.IndexFunc(entries, func(e string) bool { return strings.EqualFold(e, r.Old) })
			want = slices.Clone(entries)
			want[i] = upn
		default:
			t.Fatalf("replaced %d entries", len(m.Replaced))
		}
		if !slices.Equal(after, want) || m.After != JoinEntries(want) {
			t.Fatalf("%q + %q = %q, want %q", before, upn, m.After, JoinEntries(want))
		}
		limit := maxLen
		if limit <= 0 {
			limit = DefaultMaxLength
		}
		// Taking an entry out only shortens the list: never too long.
		if n := utf8.RuneCountInString(m.After); n != m.Length || (n > limit && len(m.Removed) == 0) != m.TooLong {
			t.Fatalf("%q: %d characters, Length %d, TooLong %v, limit %d", m.After, n, m.Length, m.TooLong, limit)
		}
		own := []Owned{{Entry: upn, GUID: guid}}
		if again := MergeUPN(m.After, upn, guid, own, maxLen); !again.Unchanged || again.After != m.After {
			t.Fatalf("merging %q again into %q: %+v", upn, m.After, again)
		}
	})
}

// FuzzValidateUPN: an accepted UPN is one entry of the list whatever
// surrounds it and follows the rules; a refusal is one line.
func FuzzValidateUPN(f *testing.F) {
	for _, s := range []string{"jane.doe@corp.example.com", "eve adams@corp.example.com", "a;b@c", "@c", "a@", "a@b@c",
		"ü@ö", "\x00@x", "a\u200b@x", "a\u00a0b@x", "\xff@x", strings.Repeat("a", 250) + "@x", "a\u2028b@x", "a\tb@x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, upn string) {
		why := ValidateUPN(upn)
		if why != "" {
			if strings.ContainsAny(why, "\r\n") || !utf8.ValidString(why) {
				t.Fatalf("reason for %q is not one line of text: %q", upn, why)
			}
			return
		}
		if !utf8.ValidString(upn) || utf8.RuneCountInString(upn) > MaxUPNLength || strings.Count(upn, "@") != 1 ||
			strings.HasPrefix(upn, "@") || strings.HasSuffix(upn, "@") || strings.Contains(upn, ";") {
			t.Fatalf("accepted %q", upn)
		}
		for _, r := range upn {
			if unicode.IsSpace(r) || unicode.IsControl(r) {
				t.Fatalf("accepted %q with %U", upn, r)
			}
		}
		list := SplitEntries(JoinEntries([]string{"jdoe", upn, "CORP\\jdoe"}))
		if len(list) != 3 || list[1] != upn {
			t.Fatalf("%q does not survive the list: %q", upn, list)
		}
	})
}

// FuzzNormalizeGUID: any string normalizes without a panic, the same
// through both functions, and once only (normalizing twice changes
// nothing); a GUID's swapped form is a GUID whose swapped form is the
// GUID again.
func FuzzNormalizeGUID(f *testing.F) {
	for _, s := range []string{guidJane, "{3F2504E0-4F89-11D3-9A0C-0305E82C3301}", "3F2504E04F8911D39A0C0305E82C3301",
		"4AQlP4lP0xGaDAMF6CwzAQ==", "CN=Old,DC=corp", "", " {x} ", "AAAAAAAAAAAAAAAAAAAAAA==", "{}", "\xff=="} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n := NormalizeGUID(s)
		if got := string(normalizeGUIDInto(nil, s)); got != n {
			t.Fatalf("NormalizeGUID(%q) = %q, normalizeGUIDInto %q", s, n, got)
		}
		if again := NormalizeGUID(n); again != n && IsGUID(n) {
			t.Fatalf("NormalizeGUID(%q) = %q, then %q", s, n, again)
		}
		sw := SwappedGUID(s)
		if IsGUID(n) != (sw != "") || sw != "" && (!IsGUID(sw) || SwappedGUID(sw) != n) {
			t.Fatalf("%q (%q): swapped %q, swapped back %q", s, n, sw, SwappedGUID(sw))
		}
	})
}

// FuzzPlanner plans random people against random users built from small
// pools of names, so that matches, duplicates and conflicts are common. It
// checks what must hold for any input: no panic; every change keeps every
// entry of its user's list (an entry it replaces is one upnsync owns), fits
// the field, adds the person's valid UPN, and compares against the exact
// stored value; no user gets two changes, no UPN goes to two users or to a
// user when another already has it; the counts add up; and written, the
// changes converge (see below).
func FuzzPlanner(f *testing.F) {
	f.Add([]byte{4, 6, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20})
	f.Add([]byte{7, 9, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 250, 17, 33, 5, 8, 200, 1, 99})
	f.Add([]byte("the planner eats bytes"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		in := &fuzzInput{data: data}
		opts := Options{MaxLength: in.pick([]int{0, 20, 45, 250}), ImplicitUPN: in.bit(), SkipDisabled: in.bit()}
		users := make([]User, in.next()%8)
		for i := range users {
			users[i] = in.user(i)
		}
		people := make([]Person, in.next()%10)
		for i := range people {
			people[i] = in.person(i)
		}
		plan := planOf(opts, users, people)
		checkPlan(t, opts, users, people, plan)
		// The planner plans as the reference planner (planner_ref_test.go:
		// the rules by brute force), departures and removals included.
		sameAsReference(t, opts, users, people, plan)
		removing := opts
		removing.RemoveDeparted = true
		sameAsReference(t, removing, users, people, Plan{})

		// Write the changes as the store would and plan again, until
		// nothing is left: a plan must converge, never flap. When the first
		// plan had no conflict, the second has nothing to do (idempotence,
		// docs/design.md, after rule L7); a conflict may hold back a change that the other
		// changes make possible (a rename frees the old UPN for its new
		// owner), which the next run then makes.
		for round := 2; plan.Changes.Len() > 0; round++ {
			if round > len(users)+2 {
				t.Fatalf("no end after %d rounds: %+v", round, plan.Changes)
			}
			conflicts := len(plan.Conflicts)
			apply(users, plan.Changes.Slice())
			plan = planOf(opts, users, people)
			checkPlan(t, opts, users, people, plan)
			if round == 2 && conflicts == 0 && plan.Changes.Len() != 0 {
				t.Fatalf("a first plan without conflicts, written, leaves %d changes: %+v\nusers %+v\npeople %+v",
					plan.Changes.Len(), plan.Changes, users, people)
			}
		}
	})
}

// apply writes changes to users as a store does: the new list, and the
// provenance of what was added or replaced.
func apply(users []User, changes []Change) {
	byID := map[string]*User{}
	for i := range users {
		byID[users[i].ID] = &users[i]
	}
	for _, c := range changes {
		u := byID[c.UserID]
		u.WindowsUsernames = c.After
		for _, r := range c.Replaced {
			u.Owned = slices.DeleteFunc(u.Owned, func(o Owned) bool { return strings.EqualFold(o.Entry, r.Old) })
			u.Owned = append(u.Owned, Owned{Entry: r.New, GUID: c.Person.GUID})
		}
		for _, a := range c.Added {
			u.Owned = append(u.Owned, Owned{Entry: a, GUID: c.Person.GUID})
		}
		for _, r := range c.Removed {
			u.Owned = slices.DeleteFunc(u.Owned, func(o Owned) bool { return strings.EqualFold(o.Entry, r) })
		}
	}
}

// fuzzRead is the complete read of people; every other one counts as a
// read of the whole directory (rule M7 lists more then).
func fuzzRead(people []Person) ReadResult {
	return ReadResult{Complete: true, Entries: len(people), Whole: len(people)%2 == 0}
}

func planOf(opts Options, users []User, people []Person) Plan {
	p := NewPlanner(opts)
	for _, u := range users {
		u.Owned = slices.Clone(u.Owned)
		p.AddUser(u)
	}
	for _, person := range people {
		p.Add(person)
	}
	return p.Plan(fuzzRead(people))
}

// sameAsReference plans with the reference planner and wants got (planned
// with planOf; with RemoveDeparted, planned here with every departure
// located by whereabouts) from the compact one.
func sameAsReference(t *testing.T, opts Options, users []User, people []Person, got Plan) {
	t.Helper()
	ref, np := newRefPlanner(opts), NewPlanner(opts)
	for _, u := range users {
		u.Owned = slices.Clone(u.Owned)
		ref.AddUser(u)
		np.AddUser(u)
	}
	for _, person := range people {
		ref.Add(person)
		np.Add(person)
	}
	if opts.RemoveDeparted {
		for _, g := range ref.Departed() {
			ref.Locate(g, whereabouts(g))
			np.Locate(g, whereabouts(g))
		}
		got = np.Plan(fuzzRead(people))
	}
	want := ref.Plan(fuzzRead(people))
	if !reflect.DeepEqual(materialized(got), materialized(want)) {
		t.Fatalf("the planner and the reference differ (RemoveDeparted %v)\ngot  %+v\nwant %+v\nusers %+v\npeople %+v",
			opts.RemoveDeparted, got, want, users, people)
	}
}

func checkPlan(t *testing.T, opts Options, users []User, people []Person, plan Plan) {
	t.Helper()
	limit := opts.MaxLength
	if limit <= 0 {
		limit = DefaultMaxLength
	}
	byID := map[string]User{}
	for _, u := range users {
		byID[u.ID] = u
	}
	changed := map[string]bool{}
	given := map[string]string{} // UPN (lower case) -> user
	for _, c := range plan.Changes.All() {
		u, ok := byID[c.UserID]
		if !ok || changed[c.UserID] {
			t.Fatalf("change for user %q: unknown or twice", c.UserID)
		}
		changed[c.UserID] = true
		if c.Before != u.WindowsUsernames {
			t.Fatalf("user %s: Before %q is not the stored %q", c.UserID, c.Before, u.WindowsUsernames)
		}
		upn := c.Person.UPN
		if ValidateUPN(upn) != "" {
			t.Fatalf("user %s gets the invalid UPN %q", c.UserID, upn)
		}
		after := SplitEntries(c.After)
		for _, e := range SplitEntries(c.Before) {
			if slices.Contains(after, e) {
				continue
			}
			// Replaced by the new UPN, or taken out because someone had
			// typed the new UPN already (Merge.Removed): either way an
			// entry upnsync owns.
			dropped := slices.ContainsFunc(c.Replaced, func(r Replacement) bool { return r.Old == e }) || slices.Contains(c.Removed, e)
			owned := slices.ContainsFunc(u.Owned, func(o Owned) bool { return strings.EqualFold(o.Entry, e) })
			if !dropped || !owned {
				t.Fatalf("user %s: %q -> %q drops %q, which upnsync does not own", c.UserID, c.Before, c.After, e)
			}
		}
		adds := len(c.Added) + len(c.Replaced)
		// A change that only takes the person's old entry out keeps the
		// UPN as someone typed it, in any letter case.
		has := slices.Contains(after, upn) || adds == 0 && slices.ContainsFunc(after, func(e string) bool { return strings.EqualFold(e, upn) })
		if !has || adds > 1 || adds == 0 && len(c.Removed) == 0 {
			t.Fatalf("user %s: %q -> %q for UPN %q (added %q, replaced %+v, removed %q)", c.UserID, c.Before, c.After, upn, c.Added, c.Replaced, c.Removed)
		}
		if utf8.RuneCountInString(c.After) > limit && adds > 0 { // a removal only shortens a list
			t.Fatalf("user %s: %q is over %d characters", c.UserID, c.After, limit)
		}
		if adds == 0 {
			continue // the UPN was there already: nothing goes to this user
		}
		key := strings.ToLower(upn)
		if other, dup := given[key]; dup {
			t.Fatalf("UPN %q goes to users %s and %s", upn, other, c.UserID)
		}
		given[key] = c.UserID
	}
	for key, id := range given {
		for _, u := range users {
			if u.ID != id && slices.ContainsFunc(SplitEntries(u.WindowsUsernames), func(e string) bool { return strings.ToLower(e) == key }) {
				t.Fatalf("UPN %q goes to user %s, but user %s already has it", key, id, u.ID)
			}
		}
	}
	st := plan.Stats
	if st.Read != len(people) || st.StoreUsers != len(users) || st.Changes != plan.Changes.Len() || st.Conflicts != len(plan.Conflicts) ||
		st.Unmatched != len(plan.Unmatched) || st.Skipped != len(plan.Skipped) || st.Matched > st.Read || st.Unchanged < 0 {
		t.Fatalf("stats %+v for %d people, %d users: %d changes, %d conflicts, %d unmatched, %d skipped",
			st, len(people), len(users), plan.Changes.Len(), len(plan.Conflicts), len(plan.Unmatched), len(plan.Skipped))
	}
	for _, c := range plan.Conflicts {
		if c.Reason == "" || c.Detail == "" || strings.ContainsAny(c.Detail, "\r\n") {
			t.Fatalf("conflict %+v", c)
		}
	}
}

// fuzzInput turns bytes into choices; past the end every choice is 0.
type fuzzInput struct {
	data []byte
	at   int
}

func (in *fuzzInput) next() int {
	if in.at >= len(in.data) {
		return 0
	}
	in.at++
	return int(in.data[in.at-1])
}

func (in *fuzzInput) bit() bool { return in.next()&1 == 1 }

func (in *fuzzInput) pick(of []int) int { return of[in.next()%len(of)] }

func (in *fuzzInput) word(pool []string) string { return pool[in.next()%len(pool)] }

var (
	fuzzUPNs = []string{"", "jane.doe@corp.example.com", "Jane.Doe@CORP.example.com", "john@corp.example.com",
		"sam.lee@corp.example.com", "jdoe", "eve adams@corp.example.com", "a;b@corp.example.com",
		"kim@partner.example.net", "ü@ö.example", strings.Repeat("x", 40) + "@corp.example.com"}
	fuzzEntries = append([]string{"jdoe", "CORP\\jdoe", "jsmith", "corp\\JSMITH", " spaced ", "old@corp.example.com",
		"x;y", ""}, fuzzUPNs[1:]...)
	// AD does not allow "@" in a sAMAccountName.
	fuzzSAMs  = []string{"", "jdoe", "jsmith", "JDOE", "slee", "jane.doe"}
	fuzzMails = []string{"", "jane.doe@corp.example.com", "JOHN@corp.example.com", "shared@corp.example.com"}
	// The GUID 3f2504e0-... also in the forms an ExternalIdentifier may
	// hold it (base64 of its bytes, no dashes) and byte-swapped (C8).
	fuzzGUIDs = []string{"", "11111111-1111-1111-1111-111111111111", "22222222-2222-2222-2222-222222222222", "{11111111-1111-1111-1111-111111111111}", "CN=Old,DC=corp",
		"3f2504e0-4f89-11d3-9a0c-0305e82c3301", "4AQlP4lP0xGaDAMF6CwzAQ==", "3F2504E04F8911D39A0C0305E82C3301", "e004253f-894f-d311-9a0c-0305e82c3301"}
	fuzzDomain = []string{"", "CORP", "corp"}
	fuzzDNS    = []string{"", "corp.example.com"}
)

func (in *fuzzInput) user(i int) User {
	u := User{ID: fmt.Sprint(1001 + i), FirstName: in.word([]string{"", "Jane", "John"}), LastName: "Doe",
		Email: in.word(fuzzMails), ExternalID: in.word(fuzzGUIDs), Active: in.bit()}
	var entries []string
	for range in.next() % 4 {
		entries = append(entries, in.word(fuzzEntries))
	}
	u.WindowsUsernames = strings.Join(entries, in.word([]string{";", " ; ", ";;"}))
	for range in.next() % 3 {
		u.Owned = append(u.Owned, Owned{Entry: in.word(fuzzEntries), GUID: in.word(fuzzGUIDs)})
	}
	return u
}

func (in *fuzzInput) person(i int) Person {
	return Person{GUID: in.word(fuzzGUIDs), UPN: in.word(fuzzUPNs), SAMAccountName: in.word(fuzzSAMs),
		Domain: in.word(fuzzDomain), DNSDomain: in.word(fuzzDNS), DN: fmt.Sprintf("CN=Person %d,DC=corp", i),
		Mail: in.word(fuzzMails), Disabled: in.bit(),
		// One person in eight is one the source leaves out (P4).
		Skip: []string{"guest account", "", "", "", "", "", "", ""}[in.next()%8]}
}

// materialized is p with its changes as values, for reflect.DeepEqual:
// the engine keeps them compact, the reference planner as values.
func materialized(p Plan) Plan {
	p.Changes = ChangesOf(p.Changes.Slice()...)
	return p
}
