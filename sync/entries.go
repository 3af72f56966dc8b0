package sync

import (
	"strings"
)

// DefaultMaxLength is the size of Octopus's Windows username field in
// current versions (older ones had 50).
const DefaultMaxLength = 250

// MaxUPNLength bounds a single UPN; AD's own limit is lower, this is the
// field's.
const MaxUPNLength = 250

// SplitEntries splits a Windows usernames field on ";", trimming each entry
// and dropping empty ones.
func SplitEntries(field string) []string {
	if field == "" {
		return nil
	}
	out := make([]string, 0, strings.Count(field, ";")+1)
	for part := range strings.SplitSeq(field, ";") {
		if e := strings.TrimSpace(part); e != "" {
			out = append(out, e)
		}
	}
	return out
}

// JoinEntries is the written form of a list: entries joined by ";", no
// spaces.
func JoinEntries(entries []string) string {
	return strings.Join(entries, ";")
}

// indexFold returns the index of the first entry equal to s in any letter
// case, or -1.
func indexFold(entries []string, s string) int {
	for i, e := range entries {
		if strings.EqualFold(e, s) {
			return i
		}
	}
	return -1
}

// containsFold reports whether the list holds s in any letter case, as
// indexFold(SplitEntries(field), s) >= 0 does, without allocating.
func containsFold(field, s string) bool {
	for part := range strings.SplitSeq(field, ";") {
		if e := strings.TrimSpace(part); e != "" && strings.EqualFold(e, s) {
			return true
		}
	}
	return false
}

// Merge is the outcome of merging one UPN into one user's list.
type Merge struct {
	// Unchanged is true when the UPN is already in the list and nothing
	// upnsync added for an older UPN of the person is left to clean up.
	Unchanged bool
	After     string
	Added     []string
	Replaced  []Replacement
	// Removed holds the person's old UPNs that upnsync added and that the
	// merge takes out: when the new UPN is already in the list (typed by
	// someone), replacing an old one in place would write the UPN twice,
	// so the old entry goes; and when upnsync added several old UPNs for
	// the person to this list, one is replaced and the others go, so that
	// the next run has nothing left to clean up.
	Removed []string
	// TooLong is set when the merged list would not fit the field; After
	// then holds what would have been written, for the report.
	TooLong bool
	Length  int
}
