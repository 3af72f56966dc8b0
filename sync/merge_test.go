package sync

import (
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestSplitJoinEntries(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{";;", []string{}},
		{"jdoe", []string{"jdoe"}},
		{" jdoe ; CORP\\jdoe;;jane@corp.example.com ", []string{"jdoe", `CORP\jdoe`, "jane@corp.example.com"}},
		{"a;\tb\t;c", []string{"a", "b", "c"}},
	}
	for _, tt := range tests {
		got := SplitEntries(tt.in)
		if len(got) == 0 && len(tt.want) == 0 {
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("SplitEntries(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if got := JoinEntries([]string{"a", "b"}); got != "a;b" {
		t.Errorf("JoinEntries = %q", got)
	}
}

func TestValidateUPN(t *testing.T) {
	tests := []struct {
		upn  string
		want string // substring of the reason; "" means valid
	}{
		{"jane.doe@corp.example.com", ""},
		{"José.Müller@corp.example.com", ""},
		{"王芳@corp.example.com", ""},
		{"jane doe@corp.example.com", "white space"},
		{"jane.doe@corp.example.com ", "white space"},
		{"jane\u00a0doe@corp.example.com", "white space"},
		{"jane;doe@corp.example.com", `";"`},
		{"jane\x01doe@corp.example.com", "control character U+0001"},
		{"jane\x7fdoe@corp.example.com", "control character U+007F"},
		{"jane.doe", `exactly one "@" (it has 0)`},
		{"a@b@c", `exactly one "@" (it has 2)`},
		{"@corp.example.com", `nothing before the "@"`},
		{"jane@", `nothing after the "@"`},
		{"jane\xff@corp.example.com", "not valid UTF-8"},
		{strings.Repeat("a", 240) + "@example.com", "252 characters long, over 250"},
	}
	for _, tt := range tests {
		got := ValidateUPN(tt.upn)
		if tt.want == "" && got != "" || tt.want != "" && !strings.Contains(got, tt.want) {
			t.Errorf("ValidateUPN(%q) = %q, want %q", tt.upn, got, tt.want)
		}
	}
}

func TestMergeUPN(t *testing.T) {
	const guid = "3f2504e0-4f89-11d3-9a0c-0305e82c3301"
	owned := func(entry string) []Owned { return []Owned{{Entry: entry, GUID: guid}} }
	tests := []struct {
		name      string
		before    string
		upn       string
		owned     []Owned
		maxLen    int
		unchanged bool
		after     string
		added     []string
		replaced  []Replacement
		tooLong   bool
	}{
		{name: "append to empty", before: "", upn: "jane@corp.example.com",
			after: "jane@corp.example.com", added: []string{"jane@corp.example.com"}},
		{name: "append keeps order", before: `jdoe;CORP\jdoe`, upn: "jane@corp.example.com",
			after: `jdoe;CORP\jdoe;jane@corp.example.com`, added: []string{"jane@corp.example.com"}},
		{name: "present exactly", before: "jdoe;jane@corp.example.com", upn: "jane@corp.example.com", unchanged: true},
		{name: "present other case", before: "jdoe;Jane@Corp.Example.com", upn: "jane@corp.example.com", unchanged: true},
		{name: "present with spaces", before: " jdoe ; jane@corp.example.com ", upn: "JANE@corp.example.com", unchanged: true},
		{name: "written form drops blanks and spaces", before: " jdoe ;; CORP\\jdoe ;", upn: "jane@corp.example.com",
			after: `jdoe;CORP\jdoe;jane@corp.example.com`, added: []string{"jane@corp.example.com"}},
		{name: "rename replaces owned entry in place", before: "jdoe;jane.old@corp.example.com;x",
			upn: "jane.new@corp.example.com", owned: owned("jane.old@corp.example.com"),
			after:    "jdoe;jane.new@corp.example.com;x",
			replaced: []Replacement{{Old: "jane.old@corp.example.com", New: "jane.new@corp.example.com"}}},
		{name: "rename matches owned entry in any case", before: "JANE.OLD@corp.example.com",
			upn: "jane.new@corp.example.com", owned: owned("jane.old@corp.example.com"),
			after:    "jane.new@corp.example.com",
			replaced: []Replacement{{Old: "JANE.OLD@corp.example.com", New: "jane.new@corp.example.com"}}},
		{name: "manual old entry is never replaced", before: "jdoe;jane.old@corp.example.com",
			upn:   "jane.new@corp.example.com",
			after: "jdoe;jane.old@corp.example.com;jane.new@corp.example.com", added: []string{"jane.new@corp.example.com"}},
		{name: "owned entry of another person is not replaced", before: "jdoe;bob@corp.example.com",
			upn: "jane.new@corp.example.com", owned: []Owned{{Entry: "bob@corp.example.com", GUID: "other"}},
			after: "jdoe;bob@corp.example.com;jane.new@corp.example.com", added: []string{"jane.new@corp.example.com"}},
		{name: "owned entry removed by hand: append", before: "jdoe",
			upn: "jane.new@corp.example.com", owned: owned("jane.old@corp.example.com"),
			after: "jdoe;jane.new@corp.example.com", added: []string{"jane.new@corp.example.com"}},
		{name: "exactly at the limit fits", before: strings.Repeat("a", 10), upn: "b@cd", maxLen: 15,
			after: strings.Repeat("a", 10) + ";b@cd", added: []string{"b@cd"}},
		{name: "one over the limit", before: strings.Repeat("a", 11), upn: "b@cd", maxLen: 15,
			after: strings.Repeat("a", 11) + ";b@cd", added: []string{"b@cd"}, tooLong: true},
		{name: "limit counts characters not bytes", before: "ééééé", upn: "é@é", maxLen: 9,
			after: "ééééé;é@é", added: []string{"é@é"}},
		{name: "default limit 250", before: strings.Repeat("a", 240), upn: "b@cd.example",
			after: strings.Repeat("a", 240) + ";b@cd.example", added: []string{"b@cd.example"}, tooLong: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := MergeUPN(tt.before, tt.upn, guid, tt.owned, tt.maxLen)
			if m.Unchanged != tt.unchanged {
				t.Fatalf("Unchanged = %v, want %v (%+v)", m.Unchanged, tt.unchanged, m)
			}
			if tt.unchanged {
				if m.After != tt.before || m.Added != nil || m.Replaced != nil {
					t.Fatalf("unchanged merge must not touch the list: %+v", m)
				}
				return
			}
			if m.After != tt.after {
				t.Errorf("After = %q, want %q", m.After, tt.after)
			}
			if !reflect.DeepEqual(m.Added, tt.added) {
				t.Errorf("Added = %q, want %q", m.Added, tt.added)
			}
			if !reflect.DeepEqual(m.Replaced, tt.replaced) {
				t.Errorf("Replaced = %v, want %v", m.Replaced, tt.replaced)
			}
			if m.TooLong != tt.tooLong {
				t.Errorf("TooLong = %v, want %v (length %d)", m.TooLong, tt.tooLong, m.Length)
			}
		})
	}
}

// Every entry that was in the list before is still there after, in the
// same order, whatever the merge does, unless upnsync owned it.
func TestMergeNeverDropsManualEntries(t *testing.T) {
	befores := []string{"", "a", "a;b;c", "x@y;X@Y", " a ;; b ", `CORP\a;a@b.c`}
	upns := []string{"a@b.c", "new@b.c", "x@y"}
	for _, before := range befores {
		for _, upn := range upns {
			m := MergeUPN(before, upn, "g", nil, 1000)
			after := SplitEntries(m.After)
			want := SplitEntries(before)
			if len(after) < len(want) {
				t.Fatalf("merge of %q into %q dropped entries: %q", upn, before, m.After)
			}
			for i, e := range want {
				if after[i] != e {
					t.Fatalf("merge of %q into %q changed entry %d: %q", upn, before, i, m.After)
				}
			}
			again := MergeUPN(m.After, upn, "g", nil, 1000)
			if !again.Unchanged {
				t.Fatalf("merge of %q into %q is not idempotent: %q then %q", upn, before, m.After, again.After)
			}
		}
	}
}

// A person upnsync added several old UPNs for, on one user (found by
// FuzzPlanner: testdata/fuzz/FuzzPlanner/64399a4e73e0c506): the merge
// replaces one and takes the others out at once, so that the next run has
// nothing to clean up; a second copy of the replaced entry, typed by
// someone, stays; so do other people's entries.
func TestMergeTakesOutEveryOldUPNOfThePerson(t *testing.T) {
	owned := []Owned{{Entry: "jsmith", GUID: "g"}, {Entry: "jdoe", GUID: "g"}, {Entry: "JDOE", GUID: "G"},
		{Entry: "kim", GUID: "other"}}
	for _, tt := range []struct {
		before, upn   string
		after         string
		replaced      []Replacement
		added, remove []string
	}{
		// The first owned entry is replaced in place (its position), the
		// other goes.
		{"jdoe;jsmith;kim", "sam@corp", "sam@corp;kim", []Replacement{{Old: "jsmith", New: "sam@corp"}}, nil, []string{"jdoe"}},
		{"jsmith;jdoe;jsmith", "sam@corp", "sam@corp;jsmith", []Replacement{{Old: "jsmith", New: "sam@corp"}}, nil, []string{"jdoe"}},
		{"jdoe;Sam@Corp;jsmith", "sam@corp", "Sam@Corp", nil, nil, []string{"jsmith", "jdoe"}},
		{"kim", "sam@corp", "kim;sam@corp", nil, []string{"sam@corp"}, nil},
	} {
		m := MergeUPN(tt.before, tt.upn, "g", owned, 250)
		if m.Unchanged || m.After != tt.after || !reflect.DeepEqual(m.Replaced, tt.replaced) ||
			!reflect.DeepEqual(m.Added, tt.added) || !reflect.DeepEqual(m.Removed, tt.remove) {
			t.Errorf("%q + %q: %+v\nwant after %q, replaced %+v, added %q, removed %q", tt.before, tt.upn, m, tt.after, tt.replaced, tt.added, tt.remove)
		}
		// Written with its provenance (what was replaced or removed is no
		// longer owned, the UPN is), the merge has nothing left to do.
		var left []Owned
		for _, o := range owned {
			if !slices.ContainsFunc(m.Removed, func(r string) bool { return strings.EqualFold(r, o.Entry) }) &&
				!slices.ContainsFunc(m.Replaced, func(r Replacement) bool { return strings.EqualFold(r.Old, o.Entry) }) {
				left = append(left, o)
			}
		}
		left = append(left, Owned{Entry: tt.upn, GUID: "g"})
		if again := MergeUPN(m.After, tt.upn, "g", left, 250); !again.Unchanged {
			t.Errorf("%q + %q, written, then again: %+v", tt.before, tt.upn, again)
		}
	}
}
