package sync

// The planner as it was before the compact index, the UPN table and the
// in-place plan (planner.go), with issue 4's provenance, renames and
// departures and issue 9's count of people taken back: kept as the
// reference that TestPlannerMatchesReference compares against.

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

	// owners are the objectGUIDs that own entries in the store, with
	// where: only those, so that memory is bounded by the Octopus users and
	// never holds a set of every directory GUID.
	owners map[string]*oldOwner
	// removals maps a user position to the change removing its departed
	// entries, so that several departures on one user make one write.
	removals map[int32]int

	stats Stats
	buf   []int32

	unchangedGone map[int32]bool // users whose unchanged person was taken back
}

// oldOwner is one objectGUID that owns entries, and what the read saw of it.
type oldOwner struct {
	refs     []oldOwnedRef
	seen     bool
	disabled bool // read, but skipped by --skip-disabled
	where    *Whereabouts
}

type oldOwnedRef struct {
	pos   int32
	entry string
}

// newOldPlanner returns an empty planner.
func newOldPlanner(opts Options) *oldPlanner {
	if opts.MaxLength <= 0 {
		opts.MaxLength = DefaultMaxLength
	}
	return &oldPlanner{
		opts:     opts,
		ix:       newRefIndex(),
		seed:     maphash.MakeSeed(),
		seen:     map[uint64]oref{},
		dups:     map[uint64]int32{},
		claims:   map[int32]oref{},
		owners:   map[string]*oldOwner{},
		removals: map[int32]int{},
		stats:    Stats{ByRule: map[MatchRule]int{}},
	}
}

// AddUser adds one Octopus user to the snapshot. All users must be added
// before the first person.
func (p *oldPlanner) AddUser(u User) {
	pos := int32(len(p.ix.users))
	p.ix.add(u)
	p.stats.StoreUsers++
	for _, o := range u.Owned {
		g := NormalizeGUID(o.GUID)
		if g == "" {
			continue
		}
		ow := p.owners[g]
		if ow == nil {
			ow = &oldOwner{}
			p.owners[g] = ow
		}
		ow.refs = append(ow.refs, oldOwnedRef{pos: pos, entry: o.Entry})
	}
}

// Add matches one directory person and records what it needs.
func (p *oldPlanner) Add(person Person) {
	p.stats.Read++
	if ow := p.owners[NormalizeGUID(person.GUID)]; ow != nil && person.GUID != "" {
		if p.opts.SkipDisabled && person.Disabled {
			ow.disabled = true
		} else {
			ow.seen = true
		}
	}
	if p.opts.SkipDisabled && person.Disabled {
		p.skip(&person, "account disabled (--skip-disabled)")
		return
	}
	if person.Skip != "" {
		p.skip(&person, person.Skip)
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
	adds := len(m.Added) > 0 || len(m.Replaced) > 0
	for _, h := range p.ix.holders(upn, p.buf) {
		if !adds {
			break
		}
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
	notes := p.renameNotes(pos, person, upn, &m)
	p.changes = append(p.changes, Change{
		UserID: u.ID, UserName: u.Name(), ExternalID: u.ExternalID, Match: rule,
		Before: u.WindowsUsernames, After: m.After, Added: m.Added, Replaced: m.Replaced,
		Removed: m.Removed, Person: oldCompact(person), Notes: notes,
	})
	p.withdrawn = append(p.withdrawn, false)
	return oref{orefChange, int32(len(p.changes) - 1)}
}

// renameNotes tells what provenance knows about this person's earlier
// UPNs that the merge leaves alone: an entry upnsync added for them to
// another user, an entry it added that someone removed, and manual entries
// equal to a UPN it once added for them (those are never touched).
func (p *oldPlanner) renameNotes(pos int32, person *Person, upn string, m *Merge) []string {
	ow := p.owners[NormalizeGUID(person.GUID)]
	if ow == nil || person.GUID == "" {
		return nil
	}
	u := &p.ix.users[pos]
	before := SplitEntries(u.WindowsUsernames)
	after := SplitEntries(m.After)
	var notes []string
	for _, r := range ow.refs {
		if strings.EqualFold(r.entry, upn) {
			continue
		}
		if r.pos != pos {
			other := &p.ix.users[r.pos]
			notes = append(notes, fmt.Sprintf("upnsync added %s for this person to Octopus user %s%s earlier; it is left there",
				r.entry, other.ID, oldParen(other.Name())))
			if indexFold(after, r.entry) >= 0 && !oldOwnsEntry(u, r.entry) {
				notes = append(notes, fmt.Sprintf("%s, an earlier UPN of this person, is in this list as a manual entry (upnsync did not add it here); it is kept", r.entry))
			}
			continue
		}
		switch {
		case indexFold(before, r.entry) < 0:
			notes = append(notes, fmt.Sprintf("upnsync added %s for this person earlier; someone has removed it from the list since", r.entry))
		case indexFold(after, r.entry) >= 0:
			// The rename replaced one copy; another copy stays as typed.
			notes = append(notes, fmt.Sprintf("%s, this person's previous UPN, is in the list a second time; that copy is kept", r.entry))
		}
	}
	for _, r := range m.Removed {
		if len(m.Replaced) > 0 {
			notes = append(notes, fmt.Sprintf("%s, another earlier UPN upnsync added for this person, removed", r))
			continue
		}
		notes = append(notes, fmt.Sprintf("%s replaced by %s, which someone had already added to the list: %s removed", r, upn, r))
	}
	return notes
}

func oldOwnsEntry(u *User, entry string) bool {
	for _, o := range u.Owned {
		if strings.EqualFold(o.Entry, entry) {
			return true
		}
	}
	return false
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
		// The same person can be taken back twice (another person claims
		// the user, a third repeats the UPN): count it once.
		if p.unchangedGone == nil {
			p.unchangedGone = map[int32]bool{}
		}
		if !p.unchangedGone[r.idx] {
			p.unchangedGone[r.idx] = true
			p.stats.Unchanged--
		}
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

// Departed lists, sorted, the objectGUIDs that own entries in the store
// and were not in the read and whose whereabouts are not known yet: the
// people a GUIDLocator should be asked about.
func (p *oldPlanner) Departed() []string {
	var out []string
	for g, ow := range p.owners {
		if !ow.seen && !ow.disabled && ow.where == nil {
			out = append(out, g)
		}
	}
	sort.Strings(out)
	return out
}

// Locate records what the directory knows about a departed objectGUID.
func (p *oldPlanner) Locate(guid string, w Whereabouts) {
	if ow := p.owners[NormalizeGUID(guid)]; ow != nil {
		ow.where = &w
	}
}

// departures lists the people upnsync added entries for who were not in
// the read and, with RemoveDeparted after a complete read, plans the
// removal of those entries.
func (p *oldPlanner) departures(read ReadResult) []Departure {
	guids := make([]string, 0)
	for g, ow := range p.owners {
		if !ow.seen {
			guids = append(guids, g)
		}
	}
	sort.Strings(guids)
	deps := make([]Departure, 0, len(guids))
	for _, g := range guids {
		ow := p.owners[g]
		d := Departure{GUID: g}
		switch {
		case ow.disabled:
			d.Whereabouts = Whereabouts{Reason: DepartedDisabled, Detail: "the account is disabled and --skip-disabled leaves it out"}
		case ow.where != nil:
			d.Whereabouts = *ow.where
		}
		for _, r := range ow.refs {
			u := &p.ix.users[r.pos]
			if indexFold(SplitEntries(u.WindowsUsernames), r.entry) < 0 {
				continue // someone removed it already
			}
			d.Entries = append(d.Entries, DepartedEntry{UserID: u.ID, UserName: u.Name(), Entry: r.entry})
		}
		switch {
		case len(d.Entries) == 0:
			d.Kept = "nothing left to remove: the entries upnsync added are no longer in the lists"
		case !p.opts.RemoveDeparted:
			d.Kept = "kept: --remove-departed not given"
		case !read.Complete:
			d.Kept = "kept: the directory read was not proven complete"
		case d.Reason == DepartedUnknown:
			d.Kept = "kept: the directory could not tell why this person is gone"
		case !d.Reason.Removable():
			d.Kept = "kept: " + string(d.Reason)
		default:
			d.Kept = p.removeDeparted(ow, &d)
			d.Removed = d.Kept == ""
		}
		deps = append(deps, d)
	}
	return deps
}

// removeDeparted plans the removal of a departed person's entries, user by
// user, merged into the change already planned for a user if there is
// one. It returns why something was kept, or "".
func (p *oldPlanner) removeDeparted(ow *oldOwner, d *Departure) string {
	var kept []string
	for _, r := range ow.refs {
		u := &p.ix.users[r.pos]
		if indexFold(SplitEntries(u.WindowsUsernames), r.entry) < 0 {
			continue
		}
		if holder, ok := p.seen[maphash.String(p.seed, strings.ToLower(r.entry))]; ok && p.sameUPN(holder, r.entry) {
			kept = append(kept, fmt.Sprintf("%s is now the UPN of %s", r.entry, p.label(holder)))
			continue
		}
		if c, ok := p.claims[r.pos]; ok && c.kind == orefConflict {
			kept = append(kept, fmt.Sprintf("user %s has a conflict", u.ID))
			continue
		}
		var c *Change
		if i, ok := p.removals[r.pos]; ok {
			c = &p.changes[i]
		} else if cl, ok := p.claims[r.pos]; ok && cl.kind == orefChange && !p.withdrawn[cl.idx] {
			c = &p.changes[cl.idx]
			p.removals[r.pos] = int(cl.idx)
		} else {
			p.changes = append(p.changes, Change{
				UserID: u.ID, UserName: u.Name(), ExternalID: u.ExternalID,
				Before: u.WindowsUsernames, After: u.WindowsUsernames,
				Person: Person{GUID: d.GUID, DN: d.DN}, Departed: d.Reason,
			})
			p.withdrawn = append(p.withdrawn, false)
			p.removals[r.pos] = len(p.changes) - 1
			c = &p.changes[len(p.changes)-1]
		}
		entries := SplitEntries(c.After)
		i := indexFold(entries, r.entry)
		if i < 0 {
			continue
		}
		c.Removed = append(c.Removed, entries[i])
		c.After = JoinEntries(append(entries[:i], entries[i+1:]...))
		if c.Departed == "" {
			c.Notes = append(c.Notes, fmt.Sprintf("%s removed: upnsync added it for %s, who is gone (%s)", r.entry, d.GUID, d.Reason))
		}
		p.stats.Removals++
	}
	if len(kept) > 0 {
		return "kept: " + strings.Join(kept, "; ")
	}
	return ""
}

// Plan returns the plan for everything added so far. Call it once: it
// plans the removals of departed people's entries as it goes.
func (p *oldPlanner) Plan(read ReadResult) Plan {
	plan := Plan{Read: read, Conflicts: p.conflicts, Skipped: p.skipped}
	plan.Departures = p.departures(read)
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
	st.Departed = len(plan.Departures)
	plan.Stats = st
	return plan
}

// oldCompact keeps only what reports need of a person.
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

// oldLessID orders user ids numerically when both are numbers, so user 9
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
