package sync

import (
	"context"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// Pieces of keys that make case comparisons hard: letters whose lower
// case differs in length (İ), folds that ToLower does not make (ς/σ, K/K
// Kelvin), invalid UTF-8 and white space around entries.
var keyParts = []string{"jdoe", "JDoe", "jDOE", "anna", "ANNA", "İstanbul", "i̇stanbul", "ς", "σ", "Σ",
	"K", "k", "K", "\xff", "\xfe", "ß", "SS", "é", "É", "x", "@corp.example.com", "@CORP.example.com", "CORP\\", "corp\\"}

var guids = []string{"3f2504e0-4f89-11d3-9a0c-0305e82c3301", "0b3f7c1e-2d4a-4c5b-8e6f-7a8b9c0d1e2f",
	"11111111-2222-3333-4444-555555555555"}

func randKey(r *rand.Rand) string {
	var b strings.Builder
	for n := 1 + r.IntN(3); n > 0; n-- {
		b.WriteString(keyParts[r.IntN(len(keyParts))])
	}
	return b.String()
}

func randGUID(r *rand.Rand) string {
	g := guids[r.IntN(len(guids))]
	switch r.IntN(9) {
	case 6:
		return guidBase64(g)
	case 7:
		return strings.ReplaceAll(g, "-", "")
	case 8:
		return SwappedGUID(g)
	case 0:
		return strings.ToUpper(g)
	case 1:
		return "{" + g + "}"
	case 2:
		return " " + g + " "
	case 3:
		return "CN=Someone,DC=corp" // older installs kept a DN
	case 4:
		return ""
	}
	return g
}

func randUser(r *rand.Rand, i int) User {
	u := User{ID: fmt.Sprint(i), FirstName: randKey(r), LastName: randKey(r), Active: r.IntN(2) == 0}
	var entries []string
	for n := r.IntN(4); n > 0; n-- {
		e := randKey(r)
		if r.IntN(4) == 0 {
			e = " " + e + " "
		}
		entries = append(entries, e)
	}
	if r.IntN(5) == 0 {
		entries = append(entries, "") // an empty entry (;;)
	}
	u.WindowsUsernames = strings.Join(entries, ";")
	if r.IntN(3) > 0 {
		u.Email = randKey(r)
		if r.IntN(3) == 0 {
			u.Email = " " + strings.ToUpper(u.Email)
		}
	}
	u.ExternalID = randGUID(r)
	for n := r.IntN(3); n > 0; n-- {
		o := Owned{Entry: randKey(r), GUID: randGUID(r)}
		if len(entries) > 0 && r.IntN(2) == 0 {
			o.Entry = strings.TrimSpace(entries[r.IntN(len(entries))])
		}
		u.Owned = append(u.Owned, o)
	}
	return u
}

func randPerson(r *rand.Rand) Person {
	p := Person{SAMAccountName: randKey(r), Mail: randKey(r)}
	if r.IntN(3) > 0 {
		p.GUID = randGUID(r)
	}
	if r.IntN(2) == 0 {
		p.Domain = []string{"CORP", "corp", "Other"}[r.IntN(3)]
	}
	if r.IntN(4) == 0 {
		p.SAMAccountName = ""
	}
	if r.IntN(4) == 0 {
		p.Mail = ""
	}
	return p
}

// TestIndexMatchesReference checks the compact index on random users and
// people built from keys that are hard to compare: the records give the
// users back, the tables find what plain maps find (index_ref_test.go), and
// the match order (rules.go) finds what the reference planner finds by
// looking at every user (planner_ref_test.go).
func TestIndexMatchesReference(t *testing.T) {
	for seed := uint64(1); seed <= 40; seed++ {
		r := rand.New(rand.NewPCG(seed, 7))
		ix, ref := newUserIndex(), newRefPlanner(Options{})
		users := make([]User, 50+r.IntN(300))
		for i := range users {
			users[i] = randUser(r, i)
			ix.add(users[i])
			ref.AddUser(users[i])
		}
		keys := newRefKeys(users)
		for i, u := range users {
			got := ix.user(int32(i))
			if !reflect.DeepEqual(got, u) {
				t.Fatalf("seed %d: user %d comes back as\n%#v\nwant\n%#v", seed, i, got, u)
			}
			if pinned := IsGUID(NormalizeGUID(u.ExternalID)); ix.isPinned(int32(i)) != pinned {
				t.Fatalf("seed %d: user %d pinned %t, want %t", seed, i, ix.isPinned(int32(i)), pinned)
			}
		}
		for k := 0; k < 2000; k++ {
			p := randPerson(r)
			upn := randKey(r)
			got, rule := ix.match(&p, upn, nil)
			want, wantRule, wantDropped := ref.match(&p, upn)
			if rule != wantRule || !slices.Equal(got, positions(want)) {
				t.Fatalf("seed %d: match(%+v, %q) = %v %q, reference %v %q", seed, p, upn, got, rule, want, wantRule)
			}
			if len(ix.dropped) != len(wantDropped) {
				t.Fatalf("seed %d: match(%+v, %q) kept %v out by M5, reference %+v", seed, p, upn, ix.dropped, wantDropped)
			}
			for i, pos := range ix.dropped {
				if m := map[bool]MatchRule{true: MatchWindowsUsername, false: MatchEmail}[i < ix.byName]; int(pos) != wantDropped[i].user || m != wantDropped[i].rule {
					t.Fatalf("seed %d: match(%+v, %q) kept %v out by M5 (%d by name), reference %+v", seed, p, upn, ix.dropped, ix.byName, wantDropped)
				}
			}
			if k%4 == 0 {
				// A quarter is enough: with three GUIDs among hundreds of
				// users, a GUID lookup checks a hundred candidates.
				checkLookups(t, ix, keys, &p, upn)
			}
		}
	}
}

// checkLookups wants from each lookup of the index what the plain maps
// hold for the person's keys.
func checkLookups(t *testing.T, ix *userIndex, keys refKeys, p *Person, upn string) {
	t.Helper()
	type lookup struct {
		name      string
		got, want []int32
	}
	lookups := []lookup{
		{"holders(" + upn + ")", ix.holders(upn, nil), keys.byEntry[strings.ToLower(upn)]},
		{"withEntry(" + p.SAMAccountName + ")", ix.withEntry(nil, "", p.SAMAccountName), keys.byEntry[strings.ToLower(p.SAMAccountName)]},
		{"withEmail(" + p.Mail + ")", ix.withEmail(p.Mail, nil), keys.byEmail[strings.ToLower(strings.TrimSpace(p.Mail))]},
		{"withExternalID(" + p.GUID + ")", ix.withExternalID(p.GUID, nil), keys.byExt[NormalizeGUID(p.GUID)]},
	}
	if p.Domain != "" {
		lookups = append(lookups, lookup{"withEntry(" + p.Domain + `\` + p.SAMAccountName + ")", ix.withEntry(nil, p.Domain, p.SAMAccountName),
			keys.byEntry[strings.ToLower(p.Domain)+`\`+strings.ToLower(p.SAMAccountName)]})
	}
	for _, l := range lookups {
		if !slices.Equal(l.got, l.want) {
			t.Fatalf("%s = %v, the maps hold %v", l.name, l.got, l.want)
		}
	}
}

func positions(users []int) []int32 {
	var out []int32
	for _, u := range users {
		out = append(out, int32(u))
	}
	return out
}

// TestIndexCollisions gives every key the same hash: only the check of
// each candidate against its user's record tells keys apart.
func TestIndexCollisions(t *testing.T) {
	ix := newUserIndex()
	ix.collide = true
	users := []User{
		{ID: "1", WindowsUsernames: "jdoe;CORP\\jdoe", Email: "a@x", ExternalID: guids[0]},
		{ID: "2", WindowsUsernames: "JDOE", Email: "b@x"},
		{ID: "3", WindowsUsernames: "anna", Email: "A@X", ExternalID: "{" + strings.ToUpper(guids[1]) + "}"},
	}
	for _, u := range users {
		ix.add(u)
	}
	tests := []struct {
		person Person
		upn    string
		want   []int32
		rule   MatchRule
	}{
		{Person{SAMAccountName: "JDoe"}, "", []int32{0, 1}, MatchWindowsUsername},
		{Person{SAMAccountName: "jdoe", Domain: "corp", GUID: guids[2]}, "", []int32{1}, MatchWindowsUsername}, // 0 is pinned
		{Person{SAMAccountName: "x"}, "ANNA", []int32{2}, MatchWindowsUsername},
		{Person{SAMAccountName: "nobody"}, "", nil, ""},
		{Person{Mail: " A@x"}, "", []int32{0, 2}, MatchEmail},
		{Person{Mail: "b@X"}, "", []int32{1}, MatchEmail},
		{Person{GUID: guids[1]}, "", []int32{2}, MatchExternalID},
		{Person{GUID: guids[0], SAMAccountName: "anna"}, "", []int32{0}, MatchExternalID},
		{Person{GUID: guids[2], SAMAccountName: "anna"}, "", nil, ""},
	}
	for _, tt := range tests {
		got, rule := ix.match(&tt.person, tt.upn, nil)
		if !slices.Equal(got, tt.want) || rule != tt.rule {
			t.Errorf("match(%+v, %q) = %v %q, want %v %q", tt.person, tt.upn, got, rule, tt.want, tt.rule)
		}
	}
	if got := ix.holders("CORP\\JDOE", nil); !slices.Equal(got, []int32{0}) {
		t.Errorf("holders = %v", got)
	}
}

// TestIndexLargeBuild builds tables large enough for the radix sort and
// finds every key of every user, and what plain maps find.
func TestIndexLargeBuild(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	ix := newUserIndex()
	const n = 40000 // 80k entries: over the radix sort's threshold
	users := make([]User, n)
	for i := range users {
		users[i] = User{ID: fmt.Sprint(i), WindowsUsernames: fmt.Sprintf("u%d;CORP\\u%d", i%35000, i),
			Email: fmt.Sprintf("m%d@x", i%30000), ExternalID: fmt.Sprintf("%08x-0000-4000-8000-%012x", i, i)}
		ix.add(users[i])
	}
	keys := newRefKeys(users)
	ix.build()
	if len(ix.byEntry.slots) < 1<<16 {
		t.Fatalf("only %d entry slots", len(ix.byEntry.slots))
	}
	for i := range users {
		for _, e := range SplitEntries(users[i].WindowsUsernames) {
			if got, want := ix.holders(e, nil), keys.byEntry[strings.ToLower(e)]; !slices.Equal(got, want) {
				t.Fatalf("holders(%q) = %v, the map holds %v", e, got, want)
			}
		}
	}
	for k := 0; k < 20000; k++ {
		i := r.IntN(n + 5000)
		p := Person{SAMAccountName: fmt.Sprintf("u%d", i), Domain: "corp", Mail: fmt.Sprintf("M%d@X", i)}
		if r.IntN(2) == 0 {
			p.GUID = fmt.Sprintf("%08x-0000-4000-8000-%012x", i, i)
		}
		checkLookups(t, ix, keys, &p, "")
	}
}

// TestIndexEntryReferences: an e-mail or owned entry equal to one of the
// user's Windows usernames is kept as its position, and comes back exactly.
func TestIndexEntryReferences(t *testing.T) {
	same := User{ID: "1", Email: "jane@corp.example.com", WindowsUsernames: "jdoe; jane@corp.example.com ;x",
		Owned: []Owned{{Entry: "jane@corp.example.com", GUID: guids[0]}, {Entry: "x", GUID: "not a guid"}}}
	other := same
	other.Email = "Jane@corp.example.com" // another letter case: kept as it is
	other.Owned = []Owned{{Entry: "JANE@corp.example.com", GUID: strings.ToUpper(guids[0])}, {Entry: "x", GUID: "not a guid"}}
	for _, u := range []User{same, other} {
		ix := newUserIndex()
		ix.add(u)
		if got := ix.user(0); !reflect.DeepEqual(got, u) {
			t.Errorf("user comes back as %#v, want %#v", got, u)
		}
	}
	a, b := newUserIndex(), newUserIndex()
	a.add(same)
	b.add(other)
	if la, lb := a.arena.chunks[0].Len(), b.arena.chunks[0].Len(); la+len(same.Email)+len(same.Owned[0].Entry)+36-16 > lb {
		t.Errorf("record of %d bytes with references, %d without: references not used", la, lb)
	}
}

// TestIndexUsersAfterBuild: users added after a lookup are found too.
func TestIndexUsersAfterBuild(t *testing.T) {
	ix := newUserIndex()
	ix.add(User{ID: "1", WindowsUsernames: "jdoe"})
	if got := ix.holders("JDOE", nil); !slices.Equal(got, []int32{0}) {
		t.Fatalf("holders = %v", got)
	}
	ix.add(User{ID: "2", WindowsUsernames: "x;jdoe"})
	if got := ix.holders("jdoe", nil); !slices.Equal(got, []int32{0, 1}) {
		t.Fatalf("after a second add, holders = %v", got)
	}
}

// TestArenaLargeRecords: a record larger than a chunk gets its own, and
// earlier records stay as they were.
func TestArenaLargeRecords(t *testing.T) {
	ix := newUserIndex()
	big := strings.Repeat("x", arenaChunk+10)
	users := []User{{ID: "1", WindowsUsernames: "a"}, {ID: "2", WindowsUsernames: big}, {ID: "3", WindowsUsernames: "c"}}
	for _, u := range users {
		ix.add(u)
	}
	for i := 0; i < 3000; i++ { // several chunks of ordinary records
		ix.add(User{ID: fmt.Sprint(4 + i), WindowsUsernames: strings.Repeat("y", 500)})
	}
	for i, u := range users {
		if got := ix.user(int32(i)); !reflect.DeepEqual(got, u) {
			t.Errorf("user %d: %q", i, got.ID)
		}
	}
	if len(ix.arena.chunks) < 3 {
		t.Errorf("%d chunks", len(ix.arena.chunks))
	}
}

// lessID is the comparison the planner sorted with before sortChanges
// (now sortRecs); it orders user ids numerically when both are numbers,
// so user 9 comes before user 10.
func lessID(a, b string) bool {
	x, errA := strconv.ParseUint(a, 10, 64)
	y, errB := strconv.ParseUint(b, 10, 64)
	if errA == nil && errB == nil {
		return x < y
	}
	if (errA == nil) != (errB == nil) {
		return errA == nil
	}
	return a < b
}

// TestSortRecs compares the order of the plan's changes with a stable
// sort by lessID on random ids, repeated ids (several users with one id,
// several changes of one user: the directory's order stays) and ids that
// are numbers or not, from stores that give their users in that order
// (the positions are compared) or in any order (the ids are).
func TestSortRecs(t *testing.T) {
	ids := []string{"1", "2", "9", "10", "010", "100", "18446744073709551615", "18446744073709551616", "-1", "a", "B", "Users-2", "Users-10", ""}
	for seed := uint64(1); seed <= 300; seed++ {
		r := rand.New(rand.NewPCG(seed, 3))
		users := make([]string, 1+r.IntN(20))
		for i := range users {
			users[i] = ids[r.IntN(len(ids))]
		}
		ordered := seed%2 == 0
		if ordered {
			sort.SliceStable(users, func(i, j int) bool { return lessID(users[i], users[j]) })
			users = slices.CompactFunc(users, func(a, b string) bool { return !lessID(a, b) && !lessID(b, a) })
		}
		p := NewPlanner(Options{})
		for _, id := range users {
			p.AddUser(User{ID: id})
		}
		inOrder := true
		for i := 1; i < len(users); i++ {
			inOrder = inOrder && lessID(users[i-1], users[i])
		}
		if inOrder != p.idsInOrder || ordered && !inOrder {
			t.Fatalf("seed %d: ids %q: idsInOrder %v", seed, users, p.idsInOrder)
		}
		recs := make([]changeRec, r.IntN(40))
		for i := range recs {
			recs[i] = changeRec{user: int32(r.IntN(len(users))), more: int32(i)}
		}
		want := slices.Clone(recs)
		sort.SliceStable(want, func(i, j int) bool { return lessID(users[want[i].user], users[want[j].user]) })
		p.sortRecs(recs)
		if !reflect.DeepEqual(recs, want) {
			t.Fatalf("seed %d: ids %q (in order: %v): sortRecs gives\n%v\nwant\n%v", seed, users, p.idsInOrder, recs, want)
		}
	}
}

// parseID is strconv.ParseUint(s, 10, 64) without its error.
func TestParseID(t *testing.T) {
	for _, s := range []string{"", "0", "7", "010", "+1", "-1", "1_000", "0x1f", " 1", "18446744073709551615", "18446744073709551616",
		"99999999999999999999", "Users-1", "12a", "١٢"} {
		n, ok := parseID(s)
		want, err := strconv.ParseUint(s, 10, 64)
		if ok != (err == nil) || ok && n != want {
			t.Errorf("parseID(%q) = %d, %v; ParseUint gives %d, %v", s, n, ok, want, err)
		}
	}
}

// randDirectory builds people and Octopus users that overlap in every way
// the planner cares about: shared UPNs in any case, users matched by
// several people, people matching several users, owned entries (renames),
// invalid UPNs, long lists, disabled and UPN-less accounts.
func randDirectory(r *rand.Rand) ([]User, []Person) {
	names := []string{"ann", "bob", "cy", "dee", "ed", "fay", "gus", "hal"}
	suffix := []string{"@corp.example.com", "@CORP.example.com", "@example.net", ""}
	guid := func() string { return fmt.Sprintf("%08x-0000-4000-8000-%012x", r.IntN(12), r.IntN(3)) }
	upn := func() string {
		n := names[r.IntN(len(names))]
		if r.IntN(3) == 0 {
			n = strings.ToUpper(n[:1]) + n[1:]
		}
		u := n + fmt.Sprint(r.IntN(4)) + suffix[r.IntN(len(suffix))]
		switch r.IntN(20) {
		case 0:
			u = "bad upn@x"
		case 1:
			u = "two@@x"
		}
		return u
	}
	var users []User
	for i := 0; i < 5+r.IntN(25); i++ {
		u := User{ID: fmt.Sprint(r.IntN(40)), FirstName: names[r.IntN(len(names))], Active: true}
		if r.IntN(5) == 0 {
			u.ID = "u" + u.ID
		}
		var entries []string
		for n := r.IntN(4); n > 0; n-- {
			switch r.IntN(3) {
			case 0:
				entries = append(entries, upn())
			case 1:
				entries = append(entries, names[r.IntN(len(names))]+fmt.Sprint(r.IntN(4)))
			default:
				entries = append(entries, "CORP\\"+names[r.IntN(len(names))]+fmt.Sprint(r.IntN(4)))
			}
		}
		if r.IntN(15) == 0 {
			entries = append(entries, strings.Repeat("x", 240))
		}
		u.WindowsUsernames = strings.Join(entries, ";")
		if r.IntN(2) == 0 {
			u.ExternalID = guidForm(r, guid())
		}
		if r.IntN(2) == 0 {
			u.Email = names[r.IntN(len(names))] + "@mail.example"
		}
		if len(entries) > 0 && r.IntN(3) == 0 {
			u.Owned = []Owned{{Entry: entries[r.IntN(len(entries))], GUID: guid()}}
		}
		// Provenance in every shape the planner meets: an owned entry
		// someone has since removed from the list, a second owned entry,
		// and GUIDs as older installs or hand edits kept them.
		if r.IntN(6) == 0 {
			u.Owned = append(u.Owned, Owned{Entry: upn(), GUID: guid()})
		}
		for i := range u.Owned {
			switch r.IntN(12) {
			case 0:
				u.Owned[i].GUID = strings.ToUpper(u.Owned[i].GUID)
			case 1:
				u.Owned[i].GUID = "{" + u.Owned[i].GUID + "}"
			case 2:
				u.Owned[i].GUID = "CN=Old " + fmt.Sprint(r.IntN(2)) + ",DC=corp"
			}
		}
		users = append(users, u)
	}
	var people []Person
	for i := 0; i < 5+r.IntN(40); i++ {
		n := names[r.IntN(len(names))] + fmt.Sprint(r.IntN(4))
		p := Person{UPN: upn(), SAMAccountName: n, Domain: "CORP", DNSDomain: "corp.example.com",
			DN: fmt.Sprintf("CN=%s %d,DC=corp", n, i), Mail: names[r.IntN(len(names))] + "@mail.example",
			Disabled: r.IntN(6) == 0}
		if r.IntN(4) > 0 {
			p.GUID = guid()
		}
		if r.IntN(8) == 0 {
			p.UPN = ""
		}
		if r.IntN(20) == 0 {
			p.GUID = "cn=old " + fmt.Sprint(r.IntN(2)) + ",dc=corp"
		}
		people = append(people, p)
	}
	return users, people
}

// guidForm writes a GUID as an ExternalIdentifier may hold it: as is, in
// capitals without dashes, in braces, as the base64 of its bytes, or
// byte-swapped (C8).
func guidForm(r *rand.Rand, g string) string {
	switch r.IntN(8) {
	case 0:
		return strings.ToUpper(strings.ReplaceAll(g, "-", ""))
	case 1:
		return "{" + strings.ToUpper(g) + "}"
	case 2:
		return guidBase64(g)
	case 3:
		return SwappedGUID(g)
	}
	return g
}

// guidBase64 is the base64 of a canonical GUID's 16 bytes as the directory
// holds them, as ldapsearch prints objectGUID.
func guidBase64(g string) string {
	var raw [16]byte
	copy(raw[:], appendGUID(nil, g))
	b := adOrder(raw)
	return base64.StdEncoding.EncodeToString(b[:])
}

// whereabouts is what answeringDir answers for a departed GUID: every
// reason, from the GUID alone, so that both planners hear the same.
func whereabouts(guid string) Whereabouts {
	reasons := []DepartureReason{DepartedDeleted, DepartedMoved, DepartedFiltered, DepartedPresent,
		DepartedLookupFailed, DepartedUnknown, DepartedNotInExport, DepartedDisabled, DepartedNotFound}
	h := uint(0)
	for _, c := range []byte(guid) {
		h = h*31 + uint(c)
	}
	return Whereabouts{Reason: reasons[h%uint(len(reasons))], DN: "CN=Now," + guid, Detail: "found by the test"}
}

// answeringDir is a fakeDir that can look GUIDs up (a GUIDLocator).
type answeringDir struct{ fakeDir }

func (answeringDir) LocateGUID(_ context.Context, guid string) (Whereabouts, error) {
	return whereabouts(guid), nil
}

// withNotices inserts a change feed's notices (tombstones, objects no
// longer selected) among the people, for GUIDs of randDirectory's pool:
// some are of people read before or after them.
func withNotices(r *rand.Rand, people []Person) []Person {
	out := make([]Person, 0, len(people)+len(people)/4)
	for i, p := range people {
		if r.IntN(4) == 0 {
			n := Person{GUID: fmt.Sprintf("%08x-0000-4000-8000-%012x", r.IntN(12), r.IntN(3)), DN: fmt.Sprintf("CN=Gone %d,DC=corp", i)}
			if r.IntN(2) == 0 {
				n.Deleted = true
			} else {
				n.Unselected = true
			}
			out = append(out, n)
		}
		out = append(out, p)
	}
	return out
}

// TestPlannerMatchesReference runs the planner and the reference planner
// (planner_ref_test.go: the same rules by brute force) over random
// directories and stores and wants the same plan from both, departures,
// removals, change feeds' notices and partial reads included.
func TestPlannerMatchesReference(t *testing.T) {
	departed, removed, notes, tombstones := 0, 0, 0, 0
	pinned, candidates, byteOrder, notFoundKept := 0, 0, 0, 0
	for seed := uint64(1); seed <= 3000; seed++ {
		r := rand.New(rand.NewPCG(seed, 11))
		users, people := randDirectory(r)
		// A change feed's notices in a third of the reads, and a partial
		// read in half of those.
		partial := false
		if r.IntN(3) == 0 {
			people = withNotices(r, people)
			partial = r.IntN(2) == 0
		}
		opts := Options{MaxLength: 60 + r.IntN(250), ImplicitUPN: r.IntN(2) == 0, SkipDisabled: r.IntN(3) == 0,
			RemoveDeparted: r.IntN(2) == 0}
		if r.IntN(8) == 0 {
			opts.HoldRemovals = "the scope changed (a test)"
		}
		np, op := NewPlanner(opts), newRefPlanner(opts)
		for _, u := range users {
			np.AddUser(u)
			op.AddUser(u)
		}
		for _, p := range people {
			np.Add(p)
			op.Add(p)
		}
		read := ReadResult{Complete: r.IntN(5) > 0, Partial: partial, Entries: len(people), Whole: r.IntN(2) == 0}
		np.partial, op.partial = partial, partial
		if got, want := np.Departed(), op.Departed(); !reflect.DeepEqual(got, want) {
			t.Fatalf("seed %d: departed %q, want %q", seed, got, want)
		}
		if r.IntN(4) > 0 {
			for _, g := range op.Departed() {
				np.Locate(g, whereabouts(g))
				op.Locate(g, whereabouts(g))
			}
		}
		want := op.Plan(read)
		got := np.Plan(read)
		if !reflect.DeepEqual(materialized(got), materialized(want)) {
			t.Fatalf("seed %d: plans differ\ngot  %+v\nwant %+v", seed, got, want)
		}
		departed += len(want.Departures)
		pinned += len(want.PinnedMissing)
		for _, pn := range want.PinnedMissing {
			if pn.Match != "" {
				candidates++
			}
		}
		for _, c := range want.Conflicts {
			if c.Reason == ConflictExternalIDByteOrder {
				byteOrder++
			}
		}
		for _, d := range want.Departures {
			if d.Reason == DepartedNotFound && !d.Removed && len(d.Entries) > 0 && opts.RemoveDeparted && read.Complete {
				notFoundKept++
			}
		}
		for _, d := range want.Departures {
			if strings.HasPrefix(d.Detail, "deleted: the change feed") {
				tombstones++
			}
		}
		removed += want.Stats.Removals
		for _, c := range want.Changes.All() {
			notes += len(c.Notes)
		}
		// BuildPlan hands over the planner's lists, and asks a locator
		// about departures when RemoveDeparted: same plan.
		op = newRefPlanner(opts)
		for _, u := range users {
			op.AddUser(u)
		}
		for _, p := range people {
			op.Add(p)
		}
		read = ReadResult{Complete: true, Entries: len(people), Pages: 1}
		if opts.RemoveDeparted {
			for _, g := range op.Departed() {
				op.Locate(g, whereabouts(g))
			}
		}
		want = withUserNames(op.Plan(read), users)
		built, err := BuildPlan(context.Background(), fakeStore{users: users}, answeringDir{fakeDir{people: people}}, opts)
		if err != nil || !reflect.DeepEqual(materialized(built), materialized(want)) {
			t.Fatalf("seed %d: BuildPlan differs (%v)\ngot  %+v\nwant %+v", seed, err, built, want)
		}
	}
	// The comparison means something only if the random stores have
	// departures, removals and rename notes.
	if departed < 1000 || removed < 100 || notes < 100 || tombstones < 100 || pinned < 100 || candidates < 100 ||
		byteOrder < 100 || notFoundKept < 50 {
		t.Errorf("too few cases: %d departures, %d removals, %d notes, %d tombstones, %d pinned to a missing object (%d with a candidate), %d byte-order conflicts, %d not found and kept",
			departed, removed, notes, tombstones, pinned, candidates, byteOrder, notFoundKept)
	}
	t.Logf("%d departures, %d removals, %d notes, %d tombstones, %d pinned to a missing object (%d with a candidate), %d byte-order conflicts, %d not found and kept",
		departed, removed, notes, tombstones, pinned, candidates, byteOrder, notFoundKept)
}

// TestListLimit plans the same random directories with a small list limit
// and with none: same counts, same changes, same conflicts (a person no
// longer listed is named by its UPN), and the lists are the first people.
func TestListLimit(t *testing.T) {
	limited := 0
	for seed := uint64(1); seed <= 2000; seed++ {
		r := rand.New(rand.NewPCG(seed, 13))
		users, people := randDirectory(r)
		opts := Options{MaxLength: 250, ImplicitUPN: r.IntN(2) == 0, SkipDisabled: r.IntN(2) == 0}
		all, some := opts, opts
		all.ListLimit, some.ListLimit = -1, 1+r.IntN(3)
		pa, ps := NewPlanner(all), NewPlanner(some)
		for _, u := range users {
			pa.AddUser(u)
			ps.AddUser(u)
		}
		for _, p := range people {
			pa.Add(p)
			ps.Add(p)
		}
		a, s := pa.Plan(ReadResult{}), ps.Plan(ReadResult{})
		if !reflect.DeepEqual(a.Stats, s.Stats) || !reflect.DeepEqual(a.Changes.Slice(), s.Changes.Slice()) {
			t.Fatalf("seed %d: stats or changes differ\nall  %+v\nsome %+v", seed, a.Stats, s.Stats)
		}
		if len(s.Unmatched) < len(a.Unmatched) || len(s.Skipped) < len(a.Skipped) {
			limited++
		}
		if len(s.Skipped) > some.ListLimit || !reflect.DeepEqual(s.Skipped, a.Skipped[:len(s.Skipped)]) {
			t.Fatalf("seed %d: skipped %v, all %v", seed, s.Skipped, a.Skipped)
		}
		if len(s.Unmatched) > some.ListLimit {
			t.Fatalf("seed %d: %d unmatched listed over a limit of %d", seed, len(s.Unmatched), some.ListLimit)
		}
		j := 0
		for _, u := range s.Unmatched {
			for j < len(a.Unmatched) && a.Unmatched[j] != u {
				j++
			}
			if j == len(a.Unmatched) {
				t.Fatalf("seed %d: listed %+v is not among %+v", seed, u, a.Unmatched)
			}
		}
		if len(a.Conflicts) != len(s.Conflicts) {
			t.Fatalf("seed %d: %d conflicts, %d with a limit", seed, len(a.Conflicts), len(s.Conflicts))
		}
		for i, c := range s.Conflicts {
			w := a.Conflicts[i]
			if c.Reason != w.Reason || c.UPN != w.UPN || c.Detail != w.Detail || !slices.Equal(c.Users, w.Users) || len(c.People) != len(w.People) {
				t.Fatalf("seed %d: conflict %+v, without a limit %+v", seed, c, w)
			}
			for k := range c.People {
				if c.People[k] != w.People[k] && !strings.EqualFold(c.People[k], c.UPN) {
					t.Fatalf("seed %d: conflict names %q, without a limit %q", seed, c.People[k], w.People[k])
				}
			}
		}
	}
	if limited < 100 {
		t.Fatalf("only %d of the directories hit the limit", limited)
	}
}

// TestPlannerFoldedGUID: a person whose UPN is already in the list is
// answered from the record unless a rename may need cleaning up. The
// owners are keyed by NormalizeGUID, MergeUPN compares with
// strings.EqualFold, and for GUIDs that are not canonical the two differ
// (ς and σ fold together but lower-case apart): the person must still get
// MergeUPN's answer, as with the reference planner.
func TestPlannerFoldedGUID(t *testing.T) {
	users := []User{{ID: "1", WindowsUsernames: "old@corp.example.com;new@corp.example.com",
		Owned: []Owned{{Entry: "old@corp.example.com", GUID: "ς"}}}}
	people := []Person{{DN: "CN=P,DC=corp", GUID: "σ", UPN: "new@corp.example.com", SAMAccountName: "p"}}
	np, op := NewPlanner(Options{}), newRefPlanner(Options{})
	for _, u := range users {
		np.AddUser(u)
		op.AddUser(u)
	}
	for _, p := range people {
		np.Add(p)
		op.Add(p)
	}
	got, want := np.Plan(ReadResult{Complete: true}), op.Plan(ReadResult{Complete: true})
	if want.Changes.Len() != 1 || len(want.Changes.At(0).Removed) != 1 {
		t.Fatalf("the reference should remove the old entry: %+v", want.Changes)
	}
	if !reflect.DeepEqual(materialized(got), materialized(want)) {
		t.Fatalf("plans differ\ngot  %+v\nwant %+v", got, want)
	}
}
