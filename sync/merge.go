package sync

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
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

// ValidateUPN says why upn cannot be written to the field, or returns "".
func ValidateUPN(upn string) string {
	switch {
	case !utf8.ValidString(upn):
		return "it is not valid UTF-8"
	case utf8.RuneCountInString(upn) > MaxUPNLength:
		return fmt.Sprintf("it is %d characters long, over %d", utf8.RuneCountInString(upn), MaxUPNLength)
	case strings.Contains(upn, ";"):
		return `it contains ";", the list separator`
	}
	for _, r := range upn {
		if unicode.IsSpace(r) {
			return "it contains white space"
		}
		if unicode.IsControl(r) || r == utf8.RuneError {
			return fmt.Sprintf("it contains the control character %U", r)
		}
	}
	at := strings.Count(upn, "@")
	if at != 1 {
		return fmt.Sprintf(`it must contain exactly one "@" (it has %d)`, at)
	}
	local, domain, _ := strings.Cut(upn, "@")
	if local == "" {
		return `nothing before the "@"`
	}
	if domain == "" {
		return `nothing after the "@"`
	}
	return ""
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

// MergeUPN merges upn into the list before, following the rules of
// DESIGN.md: an entry already present in any letter case means nothing to
// do, but for the person's old UPNs upnsync added, which go; else an entry
// upnsync added earlier for the same person (owned, by objectGUID) is
// replaced in place, only that one, and any other old UPN upnsync added
// for the person goes; else the UPN is appended. No entry upnsync did not
// add is ever removed or rewritten.
func MergeUPN(before, upn, guid string, owned []Owned, maxLen int) Merge {
	entries := SplitEntries(before)
	var m Merge
	if indexFold(entries, upn) >= 0 {
		entries, m.Removed = dropOwned(entries, owned, guid, upn, "")
		if len(m.Removed) == 0 {
			return Merge{Unchanged: true, After: before}
		}
		m.After = JoinEntries(entries)
		m.Length = utf8.RuneCountInString(m.After)
		return m
	}
	if i := renamedEntry(entries, owned, guid, upn); i >= 0 {
		old := entries[i]
		m.Replaced = []Replacement{{Old: old, New: upn}}
		entries[i] = upn
		entries, m.Removed = dropOwned(entries, owned, guid, upn, old)
	} else {
		m.Added = []string{upn}
		entries = append(entries, upn)
	}
	m.After = JoinEntries(entries)
	m.Length = utf8.RuneCountInString(m.After)
	if maxLen <= 0 {
		maxLen = DefaultMaxLength
	}
	m.TooLong = m.Length > maxLen
	return m
}

// dropOwned takes out of entries the first copy of each entry upnsync
// added for this person (same objectGUID) other than upn and than kept
// (the entry a rename replaced: another copy of it was typed by someone,
// as upnsync adds an entry once). It returns the entries left and those
// taken out.
func dropOwned(entries []string, owned []Owned, guid, upn, kept string) ([]string, []string) {
	if guid == "" {
		return entries, nil
	}
	var removed []string
	for _, o := range owned {
		if !strings.EqualFold(o.GUID, guid) || strings.EqualFold(o.Entry, upn) ||
			kept != "" && strings.EqualFold(o.Entry, kept) || indexFold(removed, o.Entry) >= 0 {
			continue
		}
		if i := indexFold(entries, o.Entry); i >= 0 {
			removed = append(removed, entries[i])
			entries = append(entries[:i], entries[i+1:]...)
		}
	}
	return entries, removed
}

// renamedEntry finds the entry upnsync added earlier for this person (same
// objectGUID) that is still in the list and differs from upn: the person's
// previous UPN.
func renamedEntry(entries []string, owned []Owned, guid, upn string) int {
	if guid == "" {
		return -1
	}
	for _, o := range owned {
		if !strings.EqualFold(o.GUID, guid) || strings.EqualFold(o.Entry, upn) {
			continue
		}
		if i := indexFold(entries, o.Entry); i >= 0 {
			return i
		}
	}
	return -1
}
