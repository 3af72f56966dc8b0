package sync

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// The boundaries of the rules that count: each case sits on a limit or
// one past it, so that a mutation of the comparison (> for >=, bytes for
// characters, 0 for "off") fails a case. Mutation testing found three
// such mutations no test killed.

// C2: a UPN of exactly MaxUPNLength characters is written; one more is
// not. Characters, not bytes: 250 characters of which most take two bytes
// in UTF-8 are within the limit.
func TestUPNLengthBoundary(t *testing.T) {
	const domain = "@corp.example.com"
	ascii := func(n int) string { return strings.Repeat("a", n-len(domain)) + domain }
	accented := func(n int) string { return strings.Repeat("é", n-len(domain)) + domain }
	for _, c := range []struct {
		upn   string
		valid bool
	}{
		{ascii(MaxUPNLength), true},
		{ascii(MaxUPNLength + 1), false},
		{accented(MaxUPNLength), true},
		{accented(MaxUPNLength + 1), false},
	} {
		if n := utf8.RuneCountInString(c.upn); c.valid && n != MaxUPNLength {
			t.Fatalf("the case is %d characters", n)
		}
		why := ValidateUPN(c.upn)
		if (why == "") != c.valid {
			t.Errorf("%d characters, %d bytes: ValidateUPN = %q, want valid %v", utf8.RuneCountInString(c.upn), len(c.upn), why, c.valid)
		}
	}
	// Through the planner: the 250-character accented UPN is added, the
	// longer one is an invalid-upn conflict.
	users := []User{{ID: "1", WindowsUsernames: "", Active: true, ExternalID: "00000001-0000-4000-8000-000000000000"},
		{ID: "2", Active: true, ExternalID: "00000002-0000-4000-8000-000000000000"}}
	people := []Person{{GUID: "00000001-0000-4000-8000-000000000000", UPN: accented(MaxUPNLength), DN: "CN=A"},
		{GUID: "00000002-0000-4000-8000-000000000000", UPN: accented(MaxUPNLength + 1), DN: "CN=B"}}
	plan := planOf(Options{MaxLength: 1000}, users, people)
	if plan.Changes.Len() != 1 || plan.Changes.At(0).UserID != "1" || len(plan.Conflicts) != 1 || plan.Conflicts[0].Reason != ConflictInvalidUPN {
		t.Errorf("changes %+v, conflicts %+v", plan.Changes, plan.Conflicts)
	}
}

// C6 (--max-length): a merged list of exactly maxLen characters fits, one
// more does not; characters, not bytes.
func TestMaxLengthBoundary(t *testing.T) {
	const upn = "jane@corp.example.com" // 21 characters
	for _, c := range []struct {
		before  string
		maxLen  int
		tooLong bool
	}{
		{strings.Repeat("a", 28), 50, false}, // 28 + ";" + 21 = 50
		{strings.Repeat("a", 29), 50, true},  // 51
		{strings.Repeat("é", 28), 50, false}, // 50 characters, 78 bytes
		{strings.Repeat("é", 29), 50, true},
		{strings.Repeat("b", 228), DefaultMaxLength, false}, // 250
		{strings.Repeat("b", 229), 0, true},                 // 0: the default, 250
	} {
		m := MergeUPN(c.before, upn, "", nil, c.maxLen)
		if m.TooLong != c.tooLong {
			t.Errorf("%d characters (%d bytes) into a field of %d: TooLong %v, want %v",
				utf8.RuneCountInString(m.After), len(m.After), c.maxLen, m.TooLong, c.tooLong)
		}
	}
}

// G2 and G3: a limit of N stops N+1 changes, not N; 0 is a limit (it
// stops one change), not "no limit"; -1 is off. A percentage is of the
// Octopus users, rounded down to whole users.
func TestChangeGuardBoundaries(t *testing.T) {
	plan := func(changes, users int) *Plan {
		p := &Plan{Stats: Stats{StoreUsers: users}}
		for range changes {
			p.Changes.Append(Change{UserID: "u"})
		}
		return p
	}
	for _, c := range []struct {
		name          string
		limits        Limits
		changes, user int
		stop          string
	}{
		{"max-changes 0, one change", Limits{MaxChanges: 0, MaxChangePercent: -1, MaxRemovals: -1, MaxRemovalPercent: -1}, 1, 10, GuardMaxChanges},
		{"max-changes 0, no change", Limits{MaxChanges: 0, MaxChangePercent: -1, MaxRemovals: -1, MaxRemovalPercent: -1}, 0, 10, ""},
		{"max-changes 1, one change", Limits{MaxChanges: 1, MaxChangePercent: -1, MaxRemovals: -1, MaxRemovalPercent: -1}, 1, 10, ""},
		{"max-changes 1, two changes", Limits{MaxChanges: 1, MaxChangePercent: -1, MaxRemovals: -1, MaxRemovalPercent: -1}, 2, 10, GuardMaxChanges},
		{"max-changes off", NoLimits, 1000, 10, ""},
		{"max-change-percent 0, one change", Limits{MaxChanges: -1, MaxChangePercent: 0, MaxRemovals: -1, MaxRemovalPercent: -1}, 1, 10, GuardMaxChangePercent},
		{"max-change-percent 10 of 10 users, one change", Limits{MaxChanges: -1, MaxChangePercent: 10, MaxRemovals: -1, MaxRemovalPercent: -1}, 1, 10, ""},
		{"max-change-percent 10 of 10 users, two changes", Limits{MaxChanges: -1, MaxChangePercent: 10, MaxRemovals: -1, MaxRemovalPercent: -1}, 2, 10, GuardMaxChangePercent},
		{"max-change-percent 19 of 10 users (1.9: one user), two changes", Limits{MaxChanges: -1, MaxChangePercent: 19, MaxRemovals: -1, MaxRemovalPercent: -1}, 2, 10, GuardMaxChangePercent},
		{"max-change-percent 20 of 10 users, two changes", Limits{MaxChanges: -1, MaxChangePercent: 20, MaxRemovals: -1, MaxRemovalPercent: -1}, 2, 10, ""},
		{"max-change-percent 100, every user", Limits{MaxChanges: -1, MaxChangePercent: 100, MaxRemovals: -1, MaxRemovalPercent: -1}, 10, 10, ""},
	} {
		stops := c.limits.Check(plan(c.changes, c.user))
		got := ""
		if len(stops) == 1 {
			got = stops[0].Guard
		}
		if got != c.stop || len(stops) > 1 {
			t.Errorf("%s: stops %+v, want %q", c.name, stops, c.stop)
		}
	}
}
