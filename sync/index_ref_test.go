package sync

import "strings"

// refKeys are the three lookups of the store's snapshot as plain maps from
// a key, compared as the compact tables of index_tables.go compare it
// (strings.ToLower; a GUID as NormalizeGUID gives it), to the users that
// hold it, each once, in the order they were added: the reference the
// index tests compare the tables against. The match order is not here: the
// reference planner (planner_ref_test.go) checks it by brute force.
type refKeys struct {
	byExt, byEntry, byEmail map[string][]int32
}

func newRefKeys(users []User) refKeys {
	k := refKeys{byExt: map[string][]int32{}, byEntry: map[string][]int32{}, byEmail: map[string][]int32{}}
	add := func(m map[string][]int32, key string, pos int32) {
		if key != "" && !containsPos(m[key], pos) {
			m[key] = append(m[key], pos)
		}
	}
	for i, u := range users {
		pos := int32(i)
		add(k.byExt, NormalizeGUID(u.ExternalID), pos)
		for _, e := range SplitEntries(u.WindowsUsernames) {
			add(k.byEntry, strings.ToLower(e), pos)
		}
		add(k.byEmail, strings.ToLower(strings.TrimSpace(u.Email)), pos)
	}
	return k
}
