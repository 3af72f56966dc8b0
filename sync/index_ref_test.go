package sync

// The map-based index upnsync used before the compact one (index.go): kept
// as the reference that TestIndexMatchesReference compares against.

import (
	"strings"
)

// refMulti maps a key to one or more user positions. Most keys name one
// user, so the common case costs one map entry and no slice.
type refMulti struct {
	one  map[string]int32
	more map[string][]int32
}

func newRefMulti(size int) refMulti {
	return refMulti{one: make(map[string]int32, size), more: map[string][]int32{}}
}

func (m *refMulti) add(key string, pos int32) {
	first, ok := m.one[key]
	if !ok {
		m.one[key] = pos
		return
	}
	if first == pos {
		return
	}
	list, ok := m.more[key]
	if !ok {
		list = []int32{first}
	}
	for _, p := range list {
		if p == pos {
			return
		}
	}
	m.more[key] = append(list, pos)
}

// get appends the positions under key to buf.
func (m *refMulti) get(key string, buf []int32) []int32 {
	if list, ok := m.more[key]; ok {
		return append(buf, list...)
	}
	if p, ok := m.one[key]; ok {
		return append(buf, p)
	}
	return buf
}

// refIndex is the store's snapshot with the lookups matching needs.
type refIndex struct {
	users   []User
	extGUID []bool // ExternalID holds a GUID (then it pins the user to that object)
	byExt   refMulti
	byEntry refMulti // every Windows username, lower case
	byEmail refMulti
}

func newRefIndex() *refIndex {
	return &refIndex{byExt: newRefMulti(0), byEntry: newRefMulti(0), byEmail: newRefMulti(0)}
}

func (ix *refIndex) add(u User) {
	pos := int32(len(ix.users))
	ix.users = append(ix.users, u)
	ext := NormalizeGUID(u.ExternalID)
	ix.extGUID = append(ix.extGUID, IsGUID(ext))
	if ext != "" {
		ix.byExt.add(ext, pos)
	}
	for _, e := range SplitEntries(u.WindowsUsernames) {
		ix.byEntry.add(strings.ToLower(e), pos)
	}
	if mail := strings.ToLower(strings.TrimSpace(u.Email)); mail != "" {
		ix.byEmail.add(mail, pos)
	}
}

// match finds the Octopus users a person matches by the first rule that
// matches anyone: ExternalIdentifier equal to the objectGUID; a Windows
// username equal to the sAMAccountName (bare or DOMAIN\name) or to the UPN;
// a unique e-mail. Users whose ExternalIdentifier pins them to another
// object are never matched by the weaker rules.
func (ix *refIndex) match(p *Person, upn string, buf []int32) ([]int32, MatchRule) {
	guid := NormalizeGUID(p.GUID)
	if guid != "" {
		if got := ix.byExt.get(guid, buf[:0]); len(got) > 0 {
			return got, MatchExternalID
		}
	}
	got := buf[:0]
	if p.SAMAccountName != "" {
		sam := strings.ToLower(p.SAMAccountName)
		got = ix.byEntry.get(sam, got)
		if p.Domain != "" {
			got = ix.byEntry.get(strings.ToLower(p.Domain)+`\`+sam, got)
		}
	}
	if upn != "" {
		got = ix.byEntry.get(strings.ToLower(upn), got)
	}
	if got = ix.unpinned(got, guid); len(got) > 0 {
		return got, MatchWindowsUsername
	}
	if p.Mail != "" {
		got = ix.byEmail.get(strings.ToLower(strings.TrimSpace(p.Mail)), got[:0])
		if got = ix.unpinned(got, guid); len(got) > 0 {
			return got, MatchEmail
		}
	}
	return nil, ""
}

// unpinned drops duplicates and users pinned by ExternalIdentifier to
// another directory object.
func (ix *refIndex) unpinned(list []int32, guid string) []int32 {
	out := list[:0]
	for _, p := range list {
		if guid != "" && ix.extGUID[p] {
			continue
		}
		dup := false
		for _, q := range out {
			if q == p {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, p)
		}
	}
	return out
}

// holders lists the users whose list contains entry (any case).
func (ix *refIndex) holders(entry string, buf []int32) []int32 {
	return ix.byEntry.get(strings.ToLower(entry), buf[:0])
}
