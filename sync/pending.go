package sync

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
)

// pending is a decided change, small: the rule, the merged list, the
// person and what the Change shows of the user, copied out of the store's
// snapshot so that the snapshot can go before the Change values are built.
type pending struct {
	rule   uint8 // index in rules, or ruleNone
	person packed
	user   packedUser
	after  string
	// replaced is the owned entry the UPN replaces ("": the UPN is added,
	// unless more says otherwise).
	replaced string
	// more is what few changes have (nil for most: a first run at a
	// million users plans hundreds of thousands of plain additions).
	more *pendingMore
}

// pendingMore is the rest of a Change that a plain addition does not have.
type pendingMore struct {
	// noAdd: the UPN was already in the list; the change only takes out
	// the person's old entry.
	noAdd    bool
	removed  []string
	notes    []string
	departed DepartureReason // a change made only to remove a departed person's entries
}

func (pd *pending) extra() *pendingMore {
	if pd.more == nil {
		pd.more = &pendingMore{}
	}
	return pd.more
}

// remove takes the first copy of entry (in any letter case) out of the
// list the change writes, and reports whether it was there.
func (pd *pending) remove(entry string) bool {
	entries := SplitEntries(pd.after)
	i := indexFold(entries, entry)
	if i < 0 {
		return false
	}
	mo := pd.extra()
	mo.removed = append(mo.removed, strings.Clone(entries[i]))
	pd.after = strings.Clone(JoinEntries(append(entries[:i], entries[i+1:]...)))
	return true
}

// departedOnly reports whether the change was made only to remove a
// departed person's entries (no person of the read matched the user).
func (pd *pending) departedOnly() bool { return pd.more != nil && pd.more.departed != "" }

func (pd *pending) note(s string) {
	mo := pd.extra()
	mo.notes = append(mo.notes, s)
}

// ruleNone is the rule of a change no person matched: the removal of a
// departed person's entries.
const ruleNone = 255

// buildChanges makes the Change values of the changes not withdrawn, each
// allocated once in a slice of the right size.
func (p *Planner) buildChanges() []Change {
	n := 0
	for _, w := range p.withdrawn {
		if !w {
			n++
		}
	}
	if n == 0 {
		return nil
	}
	out := make([]Change, 0, n)
	for i := range p.changes {
		if p.withdrawn[i] {
			continue
		}
		pd := &p.changes[i]
		c := Change{After: pd.after, Person: pd.person.unpack()}
		if int(pd.rule) < len(rules) {
			c.Match = rules[pd.rule]
		}
		c.UserID, c.UserName, c.Before, c.ExternalID = pd.user.unpack()
		mo := pd.more
		switch {
		case pd.replaced != "":
			c.Replaced = []Replacement{{Old: pd.replaced, New: c.Person.UPN}}
		case mo == nil || !mo.noAdd && mo.departed == "":
			c.Added = []string{c.Person.UPN}
		}
		if mo != nil {
			c.Removed, c.Notes, c.Departed = mo.removed, mo.notes, mo.departed
		}
		out = append(out, c)
	}
	sortChanges(out)
	return out
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

// packedUser is what a Change shows of its user, in one string: id,
// display name, the list before the change, ExternalIdentifier.
type packedUser struct {
	s                      string
	idEnd, nameEnd, before uint32
}

func packUser(u *User) packedUser {
	name := u.Name()
	s := strings.Join([]string{u.ID, name, u.WindowsUsernames, u.ExternalID}, "")
	id := len(u.ID)
	return packedUser{s: s, idEnd: uint32(id), nameEnd: uint32(id + len(name)),
		before: uint32(id + len(name) + len(u.WindowsUsernames))}
}

func (k packedUser) id() string { return k.s[:k.idEnd] }

func (k packedUser) unpack() (id, name, before, ext string) {
	return k.s[:k.idEnd], k.s[k.idEnd:k.nameEnd], k.s[k.nameEnd:k.before], k.s[k.before:]
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

// sortChanges orders changes by user id (numerically when both are
// numbers), keeping the directory's order for one user. The ids are
// parsed once, not at each comparison.
func sortChanges(changes []Change) {
	if len(changes) < 2 {
		return
	}
	type key struct {
		num   uint64
		isNum bool
		i     int32
	}
	keys := make([]key, len(changes))
	for i := range changes {
		n, err := strconv.ParseUint(changes[i].UserID, 10, 64)
		keys[i] = key{num: n, isNum: err == nil, i: int32(i)}
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
		return strings.Compare(changes[a.i].UserID, changes[b.i].UserID)
	})
	sorted := true
	for i, k := range keys {
		if int(k.i) != i {
			sorted = false
			break
		}
	}
	if sorted {
		return
	}
	// Apply the permutation in place, cycle by cycle.
	for i := range keys {
		if keys[i].i < 0 {
			continue
		}
		j := i
		tmp := changes[i]
		for {
			next := int(keys[j].i)
			keys[j].i = -1
			if next == i {
				changes[j] = tmp
				break
			}
			changes[j] = changes[next]
			j = next
		}
	}
}

// retain reduces a person the planner keeps to what reports need (see
// pack).
func retain(p *Person) {
	*p = pack(p).unpack()
}
