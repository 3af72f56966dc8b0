package sync

// The planner as it was before the compact index, the UPN table and the
// in-place plan (planner.go): kept as the reference that
// TestPlannerMatchesReference compares against.

import (
	"fmt"
	"hash/maphash"
	"sort"
	"strconv"
	"strings"
)

// orefKind says where the first holder of a UPN (or the claim on a user)
// lives in the planner.
type orefKind uint8

const (
	orefNone orefKind = iota
	orefChange
	orefUnchanged // idx is the user's position
	orefUnmatched
	orefConflict
)

type oref struct {
	kind orefKind
	idx  int32
}

// oldPlanner builds a Plan: load the store's users with AddUser, feed every
// directory person to Add, then call Plan. It holds per person only what
// the report needs (changes, conflicts, unmatched, skipped) plus a hash per
// UPN, so its memory grows with the Octopus users and the plan, not with
// the directory.
type oldPlanner struct {
	opts Options
	ix   *refIndex

	changes   []Change
	withdrawn []bool // changes taken back by a later conflict
	conflicts []Conflict
	unmatched []Person
	gone      []bool // unmatched people moved into a conflict
	skipped   []Skip

	seed   maphash.Seed
	seen   map[uint64]oref // by UPN (lower case): the first person with it
	dups   map[uint64]int32
	claims map[int32]oref // by user position: the person that matched it

	stats Stats
	buf   []int32
}

// newOldPlanner returns an empty planner.
func newOldPlanner(opts Options) *oldPlanner {
	if opts.MaxLength <= 0 {
		opts.MaxLength = DefaultMaxLength
	}
	return &oldPlanner{
		opts:   opts,
		ix:     newRefIndex(),
		seed:   maphash.MakeSeed(),
		seen:   map[uint64]oref{},
		dups:   map[uint64]int32{},
		claims: map[int32]oref{},
		stats:  Stats{ByRule: map[MatchRule]int{}},
	}
}

// AddUser adds one Octopus user to the snapshot. All users must be added
// before the first person.
func (p *oldPlanner) AddUser(u User) {
	p.ix.add(u)
	p.stats.StoreUsers++
}

// Add matches one directory person and records what it needs.
func (p *oldPlanner) Add(person Person) {
	p.stats.Read++
	if p.opts.SkipDisabled && person.Disabled {
		p.skip(&person, "account disabled (--skip-disabled)")
		return
	}
	upn := person.UPN
	if upn == "" {
		if !p.opts.ImplicitUPN {
			p.skip(&person, "no userPrincipalName; --implicit-upn derives sAMAccountName@domain")
			return
		}
		if person.SAMAccountName == "" || person.DNSDomain == "" {
			p.skip(&person, "no userPrincipalName, and no sAMAccountName and DNS domain to derive one")
			return
		}
		upn = person.SAMAccountName + "@" + person.DNSDomain
		person.UPN = upn
	}

	users, rule := p.ix.match(&person, upn, p.buf)
	p.buf = users[:0]
	if len(users) > 1 {
		p.conflict(Conflict{
			Reason: ConflictAmbiguousMatch, UPN: upn,
			Detail: fmt.Sprintf("matches %d Octopus users by %s; none is written", len(users), rule),
			Users:  p.userIDs(users), People: []string{person.Label()},
		})
		return
	}
	if why := ValidateUPN(upn); why != "" {
		p.conflict(Conflict{
			Reason: ConflictInvalidUPN, UPN: upn,
			Detail: "userPrincipalName cannot be written: " + why,
			Users:  p.userIDs(users), People: []string{person.Label()},
		})
		return
	}

	key := maphash.String(p.seed, strings.ToLower(upn))
	if first, ok := p.seen[key]; ok && p.sameUPN(first, upn) {
		p.duplicate(key, first, &person, upn, users)
		return
	}
	if len(users) == 0 {
		p.seen[key] = oref{orefUnmatched, int32(len(p.unmatched))}
		p.unmatched = append(p.unmatched, oldCompact(&person))
		p.gone = append(p.gone, false)
		return
	}

	pos := users[0]
	p.stats.Matched++
	p.stats.ByRule[rule]++
	if prev, ok := p.claims[pos]; ok {
		p.claimedTwice(pos, prev, &person, rule)
		p.seen[key] = p.claims[pos]
		return
	}
	r := p.merge(pos, &person, upn, rule)
	p.seen[key] = r
	p.claims[pos] = r
}

// merge decides the outcome for a person matched to exactly one user.
func (p *oldPlanner) merge(pos int32, person *Person, upn string, rule MatchRule) oref {
	u := &p.ix.users[pos]
	m := MergeUPN(u.WindowsUsernames, upn, NormalizeGUID(person.GUID), u.Owned, p.opts.MaxLength)
	if m.Unchanged {
		p.stats.Unchanged++
		return oref{orefUnchanged, pos}
	}
	for _, h := range p.ix.holders(upn, p.buf) {
		if h != pos {
			other := &p.ix.users[h]
			return p.conflict(Conflict{
				Reason: ConflictOwnedByOther, UPN: upn,
				Detail: fmt.Sprintf("already a Windows username of Octopus user %s%s; not added to user %s",
					other.ID, oldParen(other.Name()), u.ID),
				Users: []string{u.ID, other.ID}, People: []string{person.Label()},
			})
		}
	}
	if m.TooLong {
		return p.conflict(Conflict{
			Reason: ConflictFieldTooLong, UPN: upn,
			Detail: fmt.Sprintf("the merged list would be %d characters; the field holds %d (--max-length)",
				m.Length, p.opts.MaxLength),
			Users: []string{u.ID}, People: []string{person.Label()},
		})
	}
	p.changes = append(p.changes, Change{
		UserID: u.ID, UserName: u.Name(), ExternalID: u.ExternalID, Match: rule,
		Before: u.WindowsUsernames, After: m.After, Added: m.Added, Replaced: m.Replaced,
		Person: oldCompact(person),
	})
	p.withdrawn = append(p.withdrawn, false)
	return oref{orefChange, int32(len(p.changes) - 1)}
}

// claimedTwice handles a second person matching a user another person
// already matched: neither may write, both are reported.
func (p *oldPlanner) claimedTwice(pos int32, prev oref, person *Person, rule MatchRule) {
	u := &p.ix.users[pos]
	if prev.kind == orefConflict {
		c := &p.conflicts[prev.idx]
		if c.Reason == ConflictAmbiguousMatch {
			c.People = append(c.People, person.Label())
			c.Detail = fmt.Sprintf("Octopus user %s%s is matched by %d directory users; none is written",
				u.ID, oldParen(u.Name()), len(c.People))
			return
		}
	}
	people := []string{p.label(prev), person.Label()}
	p.withdraw(prev)
	r := p.conflict(Conflict{
		Reason: ConflictAmbiguousMatch, UPN: person.UPN,
		Detail: fmt.Sprintf("Octopus user %s%s is matched by 2 directory users (the second by %s); none is written",
			u.ID, oldParen(u.Name()), rule),
		Users: []string{u.ID}, People: people,
	})
	p.claims[pos] = r
}

// duplicate handles a UPN seen before: neither person is written.
func (p *oldPlanner) duplicate(key uint64, first oref, person *Person, upn string, users []int32) {
	if i, ok := p.dups[key]; ok {
		c := &p.conflicts[i]
		c.People = append(c.People, person.Label())
		c.Users = oldAppendNew(c.Users, p.userIDs(users)...)
		c.Detail = fmt.Sprintf("%d directory users have this UPN; none is written", len(c.People))
		return
	}
	people := []string{p.label(first), person.Label()}
	ids := oldAppendNew(p.refUsers(first), p.userIDs(users)...)
	p.withdraw(first)
	r := p.conflict(Conflict{
		Reason: ConflictDuplicateUPN, UPN: upn,
		Detail: "2 directory users have this UPN; neither is written",
		Users:  ids, People: people,
	})
	p.dups[key] = r.idx
	p.seen[key] = r
}

func (p *oldPlanner) conflict(c Conflict) oref {
	p.conflicts = append(p.conflicts, c)
	return oref{orefConflict, int32(len(p.conflicts) - 1)}
}

func (p *oldPlanner) skip(person *Person, reason string) {
	p.skipped = append(p.skipped, Skip{DN: person.Label(), Reason: reason})
}

// withdraw takes back what the first holder of a UPN or claim would have
// done, because a later person makes it a conflict.
func (p *oldPlanner) withdraw(r oref) {
	switch r.kind {
	case orefChange:
		p.withdrawn[r.idx] = true
	case orefUnmatched:
		p.gone[r.idx] = true
	case orefUnchanged:
		p.stats.Unchanged--
	}
}

// sameUPN confirms a hash hit against the stored UPN.
func (p *oldPlanner) sameUPN(r oref, upn string) bool {
	switch r.kind {
	case orefChange:
		return strings.EqualFold(p.changes[r.idx].Person.UPN, upn)
	case orefUnmatched:
		return strings.EqualFold(p.unmatched[r.idx].UPN, upn)
	case orefConflict:
		return strings.EqualFold(p.conflicts[r.idx].UPN, upn)
	case orefUnchanged:
		return indexFold(SplitEntries(p.ix.users[r.idx].WindowsUsernames), upn) >= 0
	}
	return false
}

// label names the person behind a oref. A person whose UPN was already in
// place is not kept (that would cost memory per directory user); it is
// named through its Octopus user instead.
func (p *oldPlanner) label(r oref) string {
	switch r.kind {
	case orefChange:
		return p.changes[r.idx].Person.Label()
	case orefUnmatched:
		return p.unmatched[r.idx].Label()
	case orefConflict:
		if c := p.conflicts[r.idx]; len(c.People) > 0 {
			return c.People[0]
		}
	case orefUnchanged:
		return "the directory user already in Octopus user " + p.ix.users[r.idx].ID
	}
	return "another directory user"
}

func (p *oldPlanner) refUsers(r oref) []string {
	switch r.kind {
	case orefChange:
		return []string{p.changes[r.idx].UserID}
	case orefUnchanged:
		return []string{p.ix.users[r.idx].ID}
	case orefConflict:
		return append([]string(nil), p.conflicts[r.idx].Users...)
	}
	return nil
}

func (p *oldPlanner) userIDs(pos []int32) []string {
	if len(pos) == 0 {
		return nil
	}
	ids := make([]string, len(pos))
	for i, q := range pos {
		ids[i] = p.ix.users[q].ID
	}
	return ids
}

// Plan returns the plan for everything added so far.
func (p *oldPlanner) Plan(read ReadResult) Plan {
	plan := Plan{Read: read, Conflicts: p.conflicts, Skipped: p.skipped}
	for i, c := range p.changes {
		if !p.withdrawn[i] {
			plan.Changes = append(plan.Changes, c)
		}
	}
	for i, u := range p.unmatched {
		if !p.gone[i] {
			plan.Unmatched = append(plan.Unmatched, u)
		}
	}
	sort.SliceStable(plan.Changes, func(i, j int) bool {
		return oldLessID(plan.Changes[i].UserID, plan.Changes[j].UserID)
	})
	st := p.stats
	st.Changes = len(plan.Changes)
	st.Conflicts = len(plan.Conflicts)
	st.Unmatched = len(plan.Unmatched)
	st.Skipped = len(plan.Skipped)
	plan.Stats = st
	return plan
}

// compact keeps only what reports need of a person.
func oldCompact(p *Person) Person {
	return Person{GUID: p.GUID, UPN: p.UPN, SAMAccountName: p.SAMAccountName, DN: p.DN, Disabled: p.Disabled}
}

func oldParen(name string) string {
	if name == "" {
		return ""
	}
	return " (" + name + ")"
}

func oldAppendNew(list []string, more ...string) []string {
	for _, m := range more {
		found := false
		for _, l := range list {
			if l == m {
				found = true
				break
			}
		}
		if !found {
			list = append(list, m)
		}
	}
	return list
}

// lessID orders user ids numerically when both are numbers, so user 9
// comes before user 10.
func oldLessID(a, b string) bool {
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
