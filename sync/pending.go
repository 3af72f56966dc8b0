package sync

import (
	"cmp"
	"math"
	"slices"
	"strings"
)

// changeRec is a decided change in 16 bytes: the user's position in the
// store's snapshot (which gives the id, name, list before the change and
// external identifier), the address of the person in the change set's
// arena of people (which gives the rule too), and what few changes have
// beyond a plain addition. The UPN a plain addition adds is the person's,
// and the list after it is the list before with the UPN appended (L4), so
// neither is kept.
type changeRec struct {
	person uint64
	user   int32
	more   int32 // 1 + index in changeSet.mores; 0: a plain addition
}

// changeSet is what the records of a plan point into: the store's
// snapshot (its records only: the lookups are dropped once matching is
// over), the people of the decided changes, and the rest of the changes
// that are more than a plain addition. Every part only grows, so a Change
// made from it can share its strings.
type changeSet struct {
	ix     *userIndex
	people keptPeople
	mores  []pendingMore
}

// pendingMore is the rest of a change that a plain addition does not
// have.
type pendingMore struct {
	// after is the list the change writes, when it is not the list before
	// with the UPN appended (hasAfter).
	after    string
	hasAfter bool
	// replaced is the owned entry the UPN replaces (L3).
	replaced string
	// noAdd: the UPN was already in the list; the change only takes out
	// the person's old entry.
	noAdd    bool
	removed  []string
	notes    []string
	departed DepartureReason // a change made only to remove a departed person's entries
}

// change makes the Change of a record.
func (s *changeSet) change(r changeRec) Change {
	var c Change
	var rule uint8
	c.Person, rule = s.people.person(r.person)
	if int(rule) < len(rules) {
		c.Match = rules[rule]
	}
	c.UserID, c.UserName, c.Before, c.ExternalID = s.ix.shown(r.user)
	upn := c.Person.UPN
	var mo *pendingMore
	if r.more > 0 {
		mo = &s.mores[r.more-1]
	}
	switch {
	case mo != nil && mo.replaced != "":
		c.Replaced = []Replacement{{Old: mo.replaced, New: upn}}
	case mo == nil || !mo.noAdd && mo.departed == "":
		c.Added = []string{upn}
	}
	if mo != nil && mo.hasAfter {
		c.After = mo.after
	} else {
		c.After = appendEntry(c.Before, upn)
	}
	if mo != nil {
		c.Removed, c.Notes, c.Departed = mo.removed, mo.notes, mo.departed
	}
	return c
}

// dropLookups lets the lookups go once matching is over: the records
// stay, for the plan's changes.
func (ix *userIndex) dropLookups() {
	ix.byExt, ix.byEntry, ix.byEmail = keyTable{}, keyTable{}, keyTable{}
	ix.pinned, ix.enc, ix.key, ix.cmp = nil, nil, nil, nil
}

// shown is what a Change shows of the user at pos: id, display name,
// the list before the change and the ExternalIdentifier. The strings
// share the snapshot but the name of a user with both names and an
// ExternalIdentifier kept as bytes.
func (ix *userIndex) shown(pos int32) (id, name, before, ext string) {
	r, flags := ix.record(pos)
	id = r.str()
	first, last := r.str(), r.str()
	before = r.str()
	r.entryOr(before) // e-mail
	if flags&recExtGUID != 0 {
		var g [36]byte
		formatGUID(&g, r.raw(16))
		ext = string(g[:])
	} else {
		ext = r.str()
	}
	u := User{FirstName: first, LastName: last}
	return id, u.Name(), before, ext
}

// appendEntry is the list L4 writes: the entries of list (SplitEntries)
// and then entry, joined by ";" (JoinEntries).
func appendEntry(list, entry string) string {
	var b strings.Builder
	b.Grow(len(list) + 1 + len(entry))
	for part := range strings.SplitSeq(list, ";") {
		if e := strings.TrimSpace(part); e != "" {
			b.WriteString(e)
			b.WriteByte(';')
		}
	}
	b.WriteString(entry)
	return b.String()
}

// isAppended reports whether after is appendEntry(list, entry), without
// building it.
func isAppended(after, list, entry string) bool {
	for part := range strings.SplitSeq(list, ";") {
		e := strings.TrimSpace(part)
		if e == "" {
			continue
		}
		if len(after) <= len(e) || after[:len(e)] != e || after[len(e)] != ';' {
			return false
		}
		after = after[len(e)+1:]
	}
	return after == entry
}

// pendingChange is a decided change that a departure's removal (D5)
// amends.
type pendingChange struct {
	p *Planner
	i int32
}

func (c pendingChange) rec() *changeRec { return &c.p.changes[c.i] }

// extra is the change's pendingMore, made when it has none yet.
func (c pendingChange) extra() *pendingMore {
	r := c.rec()
	if r.more == 0 {
		set := c.p.set
		set.mores = append(set.mores, pendingMore{})
		r.more = int32(len(set.mores))
	}
	return &c.p.set.mores[r.more-1]
}

// after is the list the change writes.
func (c pendingChange) after() string {
	r := c.rec()
	if r.more > 0 {
		if mo := &c.p.set.mores[r.more-1]; mo.hasAfter {
			return mo.after
		}
	}
	_, _, before, _ := c.p.set.ix.shown(r.user)
	return appendEntry(before, c.p.set.people.upn(r.person))
}

// remove takes the first copy of entry (in any letter case) out of the
// list the change writes, and reports whether it was there.
func (c pendingChange) remove(entry string) bool {
	entries := SplitEntries(c.after())
	i := indexFold(entries, entry)
	if i < 0 {
		return false
	}
	mo := c.extra()
	mo.removed = append(mo.removed, strings.Clone(entries[i]))
	mo.after, mo.hasAfter = strings.Clone(JoinEntries(append(entries[:i], entries[i+1:]...))), true
	return true
}

// departedOnly reports whether the change was made only to remove a
// departed person's entries (no person of the read matched the user).
func (c pendingChange) departedOnly() bool {
	r := c.rec()
	return r.more > 0 && c.p.set.mores[r.more-1].departed != ""
}

func (c pendingChange) note(s string) {
	mo := c.extra()
	mo.notes = append(mo.notes, s)
}

// buildChanges makes the plan's changes: the records not withdrawn, in
// the order of their users' ids.
func (p *Planner) buildChanges() Changes {
	recs := make([]changeRec, 0, len(p.changes))
	for i, r := range p.changes {
		if !p.withdrawn[i] {
			recs = append(recs, r)
		}
	}
	if len(recs) == 0 {
		return Changes{}
	}
	p.sortRecs(recs)
	return Changes{recs: recs, set: p.set}
}

// packed is a person as the planner keeps it: DN, UPN, sAMAccountName and
// GUID in one string, the GUID as its 16 bytes when it is canonical (as
// readers give it).
type packed struct {
	s          string
	dn, upnEnd uint32
	samEnd     uint32
	disabled   bool
	rawGUID    bool
}

// pack keeps what reports need of a person, copied into one new string: a
// reader may hand over all of a person's values in one allocation (the
// LDAP reader does), and a kept substring would keep all of it.
func pack(p *Person) packed {
	k := packed{disabled: p.Disabled, rawGUID: IsGUID(p.GUID)}
	dn := len(p.DN)
	k.dn, k.upnEnd, k.samEnd = uint32(dn), uint32(dn+len(p.UPN)), uint32(dn+len(p.UPN)+len(p.SAMAccountName))
	var b strings.Builder
	b.Grow(int(k.samEnd) + len(p.GUID))
	b.WriteString(p.DN)
	b.WriteString(p.UPN)
	b.WriteString(p.SAMAccountName)
	if k.rawGUID {
		var raw [16]byte
		b.Write(appendGUID(raw[:0], p.GUID))
	} else {
		b.WriteString(p.GUID)
	}
	k.s = b.String()
	return k
}

func (k packed) upn() string { return k.s[k.dn:k.upnEnd] }

func (k packed) unpack() Person {
	p := Person{DN: k.s[:k.dn], UPN: k.s[k.dn:k.upnEnd], SAMAccountName: k.s[k.upnEnd:k.samEnd],
		GUID: k.s[k.samEnd:], Disabled: k.disabled}
	if k.rawGUID {
		var g [36]byte
		formatGUID(&g, p.GUID)
		p.GUID = string(g[:])
	}
	return p
}

// rules are the match rules in the order of Planner.byRule.
var rules = [...]MatchRule{MatchExternalID, MatchWindowsUsername, MatchEmail}

func ruleIndex(r MatchRule) int {
	switch r {
	case MatchExternalID:
		return 0
	case MatchWindowsUsername:
		return 1
	}
	return 2
}

// sortRecs orders changes by user id (numerically when both are
// numbers), keeping the directory's order for one user. When the store
// gave its users in that order (an SQLite store reads them ORDER BY id),
// the users' positions are in that order too and are compared instead;
// else the ids are parsed once, not at each comparison.
func (p *Planner) sortRecs(recs []changeRec) {
	if len(recs) < 2 {
		return
	}
	if p.idsInOrder {
		slices.SortStableFunc(recs, func(a, b changeRec) int { return cmp.Compare(a.user, b.user) })
		return
	}
	type key struct {
		num   uint64
		isNum bool
		rec   changeRec
	}
	keys := make([]key, len(recs))
	for i, r := range recs {
		n, ok := parseID(p.ix.id(r.user))
		keys[i] = key{num: n, isNum: ok, rec: r}
	}
	slices.SortStableFunc(keys, func(a, b key) int {
		switch {
		case a.isNum && b.isNum:
			return cmp.Compare(a.num, b.num)
		case a.isNum != b.isNum:
			if a.isNum {
				return -1
			}
			return 1
		}
		return strings.Compare(p.ix.id(a.rec.user), p.ix.id(b.rec.user))
	})
	for i := range keys {
		recs[i] = keys[i].rec
	}
}

// compareIDs is the order of sortRecs on two user ids.
func compareIDs(a, b string) int {
	na, okA := parseID(a)
	nb, okB := parseID(b)
	switch {
	case okA && okB:
		return cmp.Compare(na, nb)
	case okA:
		return -1
	case okB:
		return 1
	}
	return strings.Compare(a, b)
}

// parseID is strconv.ParseUint(id, 10, 64) without the error it
// allocates for the many ids that are not numbers.
func parseID(id string) (uint64, bool) {
	if id == "" {
		return 0, false
	}
	var n uint64
	for i := 0; i < len(id); i++ {
		c := id[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if n > (math.MaxUint64-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	return n, true
}

// retain reduces a person the planner keeps to what reports need (see
// pack).
func retain(p *Person) {
	*p = pack(p).unpack()
}
