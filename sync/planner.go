package sync

import (
	"hash/maphash"
	"strings"
)

// Options are the engine's settings.
type Options struct {
	// MaxLength is the Windows username field's size in characters.
	MaxLength int
	// ImplicitUPN derives sAMAccountName@<dns domain> for people whose
	// userPrincipalName is empty.
	ImplicitUPN bool
	// SkipDisabled leaves disabled accounts out of the sync.
	SkipDisabled bool
	// RemoveDeparted plans the removal of the entries upnsync added for
	// people who are gone from the directory (classified first, and only
	// after a complete read).
	RemoveDeparted bool
	// HoldRemovals, when set, keeps every departed person's entries with
	// this reason (D3): the scope changed since the last complete run and
	// --force has not confirmed it.
	HoldRemovals string
	// ListLimit is how many unmatched people, and how many skipped ones,
	// the plan lists (DefaultListLimit when 0, all when negative). The
	// others are counted in Stats but not listed, so that a directory much
	// larger than the store does not fill the memory with people no
	// Octopus user is waiting for.
	ListLimit int
	// DomainHints asks the final plan (BuildPlan's) for Plan.DomainHints:
	// a post-pass over the unmatched people once matching is over
	// (domainhints.go), outside the rules' hot path.
	DomainHints bool
}

// DefaultListLimit bounds Plan.Unmatched and Plan.Skipped: a listed person
// costs about 400 bytes, so 20 MB each at most.
const DefaultListLimit = 50_000

// refKind says where the first holder of a UPN (or the claim on a user)
// lives in the planner.
type refKind uint8

const (
	refNone refKind = iota
	refChange
	refUnchanged // idx is the user's position
	refUnmatched
	refConflict
	refUnlisted // an unmatched person over the list limit: idx is in Planner.unlisted
)

type ref struct {
	kind refKind
	idx  int32
}

// Planner builds a Plan: load the store's users with AddUser, feed every
// directory person to Add, then call Plan. It holds per person only what
// the report needs (changes, conflicts, unmatched, skipped) plus a hash per
// UPN, so its memory grows with the Octopus users and the plan, not with
// the directory. The rules it applies are in rules.go; this file holds
// what it remembers while it applies them, and builds the Plan.
type Planner struct {
	opts Options
	ix   *userIndex

	// changes are records of 16 bytes (pending.go) pointing into set:
	// a Change is close to 400 bytes, and a first run at a million users
	// plans hundreds of thousands. The plan keeps them so.
	changes   []changeRec
	set       *changeSet
	withdrawn []bool // changes taken back by a later conflict
	conflicts []Conflict
	unmatched []packed
	gone      []bool // unmatched people moved into a conflict
	skipped   []Skip
	// Over Options.ListLimit: unlisted holds the arena address of each
	// unmatched person's UPN; unlistedGone and skippedOver are counts.
	unlisted     []uint64
	unlistedUPNs userArena
	unlistedGone int
	skippedOver  int

	seed maphash.Seed
	// seen maps each UPN (lower case) to where its first holder went; once
	// a second holder shows up, to their duplicate-upn conflict.
	seen upnTable
	key  []byte
	// claims holds, by user position, the person that matched the user
	// (kind refNone: nobody yet). A slice, not a map: most users are
	// matched, and a position is a dense index.
	claims []uint32 // packRef; 0 is nobody
	byRule [3]int   // MatchExternalID, MatchWindowsUsername, MatchEmail

	// owners are the objectGUIDs that own entries in the store, with
	// where (owners.go).
	owners ownerSet
	// pinned is what the read saw of the users pinned by their
	// ExternalIdentifier (M7, pinned.go).
	pinned pinnedSeen
	// removals maps a user position to the change removing its departed
	// entries, so that several departures on one user make one write.
	removals map[int32]int32
	// unchangedGone holds the users whose unchanged person was taken back,
	// so that a person taken back twice is counted out of Unchanged once.
	unchangedGone map[int32]bool

	stats Stats
	buf   []int32
	// idsInOrder: the store gave its users in the order of their ids as
	// the plan sorts them (compareIDs); lastID is the last one.
	idsInOrder bool
	lastID     string
	// partial restricts Departed to people a change feed reported
	// unselected (BuildPlan sets it after a partial read).
	partial bool
}

// NewPlanner returns an empty planner.
func NewPlanner(opts Options) *Planner {
	if opts.MaxLength <= 0 {
		opts.MaxLength = DefaultMaxLength
	}
	if opts.ListLimit == 0 {
		opts.ListLimit = DefaultListLimit
	}
	ix := newUserIndex()
	return &Planner{
		opts:       opts,
		ix:         ix,
		set:        &changeSet{ix: ix, people: newKeptPeople()},
		seed:       maphash.MakeSeed(),
		stats:      Stats{ByRule: map[MatchRule]int{}},
		idsInOrder: true,
	}
}

// AddUser adds one Octopus user to the snapshot. All users must be added
// before the first person.
func (p *Planner) AddUser(u User) {
	pos := p.ix.n
	p.ix.add(u)
	p.stats.StoreUsers++
	if p.idsInOrder && pos > 0 && compareIDs(p.lastID, u.ID) >= 0 {
		p.idsInOrder = false
	}
	p.lastID = u.ID
	for k, o := range u.Owned {
		p.owners.add(o.GUID, pos, int32(k))
	}
}

// What follows answers the rules' questions (rules.go) and records their
// answers.

// countMatch counts a person matched by rule.
func (p *Planner) countMatch(rule MatchRule) {
	p.stats.Matched++
	p.byRule[ruleIndex(rule)]++
}

// claim is the person that matched the user at pos (kind refNone: none).
func (p *Planner) claim(pos int32) ref {
	if int(pos) >= len(p.claims) {
		return ref{}
	}
	return unpackRef(p.claims[pos])
}

// setClaim records where the person that matched the user at pos went.
func (p *Planner) setClaim(pos int32, r ref) {
	if int(pos) >= len(p.claims) {
		p.claims = append(p.claims, make([]uint32, int(p.ix.n)-len(p.claims))...)
	}
	p.claims[pos] = packRef(r)
}

// seenUPN is where a UPN stands among the UPNs of this read: its hash, and
// its slot in p.seen when an earlier person had it (-1: none).
type seenUPN struct {
	hash uint64
	slot int
}

func (s seenUPN) found() bool { return s.slot >= 0 }

// lookupUPN looks upn up, in any letter case, among the UPNs of this read.
func (p *Planner) lookupUPN(upn string) seenUPN {
	p.key = lowerInto(p.key[:0], upn)
	h := maphash.Bytes(p.seed, p.key)
	return seenUPN{hash: h, slot: p.findSeen(h, upn)}
}

// holder is where the first person with a UPN seen before went.
func (p *Planner) holder(s seenUPN) ref { return p.seen.at(s.slot) }

// remember records where the first person with a new UPN went.
func (p *Planner) remember(s seenUPN, r ref) { p.seen.add(s.hash, r) }

// reassign points a UPN seen before at its conflict.
func (p *Planner) reassign(s seenUPN, r ref) { p.seen.set(s.slot, r) }

// inSync answers L2 from the snapshot's record, without rebuilding the
// user, for the many people whose UPN is in place: true when MergeUPN would
// say Unchanged. A list that holds the UPN is left alone unless the person
// owns another entry of it (a rename to clean up), which needs the user to
// have owned entries and, for a canonical GUID (as readers give it), the
// GUID to be an owner: two canonical GUIDs equal under strings.EqualFold
// normalize alike. false means: ask MergeUPN.
func (p *Planner) inSync(pos int32, person *Person, upn string, owner int32) bool {
	windows, owned := p.ix.ownedCount(pos)
	return containsFold(windows, upn) && (owned == 0 || owner < 0 && p.owners.foldSafe(person.GUID))
}

// otherHolder is the first user other than pos whose list holds upn (in
// lower case), or -1.
func (p *Planner) otherHolder(upn string, pos int32) int32 {
	for _, h := range p.ix.holders(upn, p.buf) {
		if h != pos {
			return h
		}
	}
	return -1
}

// conflictOf records a conflict of one person, naming the users at users.
func (p *Planner) conflictOf(person *Person, reason, detail string, users ...int32) ref {
	retain(person)
	return p.conflict(Conflict{Reason: reason, UPN: person.UPN, Detail: detail,
		Users: p.userIDs(users), People: []string{person.Label()}})
}

// addUnmatched records a person no Octopus user matches. Over
// Options.ListLimit only the UPN is kept, which C3 needs.
func (p *Planner) addUnmatched(person *Person, seen seenUPN) {
	if p.opts.ListLimit >= 0 && len(p.unmatched) >= p.opts.ListLimit {
		p.key = appendString(p.key[:0], person.UPN)
		p.remember(seen, ref{refUnlisted, int32(len(p.unlisted))})
		p.unlisted = append(p.unlisted, p.unlistedUPNs.add(p.key))
		return
	}
	p.remember(seen, ref{refUnmatched, int32(len(p.unmatched))})
	p.unmatched = append(p.unmatched, pack(person))
	p.gone = append(p.gone, false)
}

// addChange records the change m makes to the user at pos, u, for person:
// a record of the user's position and the person kept in the change set
// (pending.go). What is more than a plain addition of the UPN (L4) goes to
// a pendingMore. m.After and m.Removed may be substrings of the
// snapshot's record, which the plan keeps; they are copied all the same,
// being few.
func (p *Planner) addChange(pos int32, u *User, person *Person, rule MatchRule, m *Merge, notes []string) ref {
	adds := len(m.Added) > 0 || len(m.Replaced) > 0
	rec := changeRec{person: p.set.people.keep(person, uint8(ruleIndex(rule))), user: pos}
	plain := len(m.Replaced) == 0 && len(m.Added) == 1 && m.Added[0] == person.UPN && isAppended(m.After, u.WindowsUsernames, person.UPN)
	if !plain || len(m.Removed) > 0 || len(notes) > 0 {
		mo := pendingMore{noAdd: !adds, notes: notes}
		if !plain {
			mo.after, mo.hasAfter = strings.Clone(m.After), true
		}
		if len(m.Replaced) > 0 {
			mo.replaced = strings.Clone(m.Replaced[0].Old)
		}
		for _, r := range m.Removed {
			mo.removed = append(mo.removed, strings.Clone(r))
		}
		p.set.mores = append(p.set.mores, mo)
		rec.more = int32(len(p.set.mores))
	}
	p.changes = append(p.changes, rec)
	p.withdrawn = append(p.withdrawn, false)
	return ref{refChange, int32(len(p.changes) - 1)}
}

// removalChange is the change that removes departed people's entries from
// the user at pos (D5): the one that already does, else the change planned
// for the user, else a change of its own, for the departed person d.
func (p *Planner) removalChange(pos int32, u *User, d *Departure) pendingChange {
	if i, ok := p.removals[pos]; ok {
		return pendingChange{p, i}
	}
	if cl := p.claim(pos); cl.kind == refChange && !p.withdrawn[cl.idx] {
		p.setRemoval(pos, cl.idx)
		return pendingChange{p, cl.idx}
	}
	p.set.mores = append(p.set.mores, pendingMore{departed: d.Reason, after: strings.Clone(u.WindowsUsernames), hasAfter: true})
	p.changes = append(p.changes, changeRec{person: p.set.people.keep(&Person{GUID: d.GUID, DN: d.DN}, ruleNone),
		user: pos, more: int32(len(p.set.mores))})
	p.withdrawn = append(p.withdrawn, false)
	i := int32(len(p.changes) - 1)
	p.setRemoval(pos, i)
	return pendingChange{p, i}
}

// ownedEntry is the entry an ownedRef points at (a string of the
// snapshot: copy it before keeping it).
func (p *Planner) ownedEntry(r ownedRef) string {
	u := p.ix.user(r.pos)
	return u.Owned[r.k].Entry
}

func (p *Planner) conflict(c Conflict) ref {
	p.conflicts = append(p.conflicts, c)
	return ref{refConflict, int32(len(p.conflicts) - 1)}
}

func (p *Planner) skip(person *Person, reason string) {
	if p.opts.ListLimit >= 0 && len(p.skipped) >= p.opts.ListLimit {
		p.skippedOver++
		return
	}
	retain(person)
	p.skipped = append(p.skipped, Skip{DN: person.Label(), Reason: reason})
}

// unlistedUPN is the UPN of an unmatched person over the list limit.
func (p *Planner) unlistedUPN(i int32) string {
	r := record{s: p.unlistedUPNs.at(p.unlisted[i])}
	return r.str()
}

// withdraw takes back what the first holder of a UPN or claim would have
// done, because a later person makes it a conflict.
func (p *Planner) withdraw(r ref) {
	switch r.kind {
	case refChange:
		p.withdrawn[r.idx] = true
	case refUnmatched:
		p.gone[r.idx] = true
	case refUnlisted:
		p.unlistedGone++
	case refUnchanged:
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
func (p *Planner) sameUPN(r ref, upn string) bool {
	switch r.kind {
	case refChange:
		return strings.EqualFold(p.set.people.upn(p.changes[r.idx].person), upn)
	case refUnmatched:
		return strings.EqualFold(p.unmatched[r.idx].upn(), upn)
	case refUnlisted:
		return strings.EqualFold(p.unlistedUPN(r.idx), upn)
	case refConflict:
		return strings.EqualFold(p.conflicts[r.idx].UPN, upn)
	case refUnchanged:
		return containsFold(p.ix.windows(r.idx), upn)
	}
	return false
}

// label names the person behind a ref. A person whose UPN was already in
// place is not kept (that would cost memory per directory user); it is
// named through its Octopus user instead.
func (p *Planner) label(r ref) string {
	switch r.kind {
	case refChange:
		pn, _ := p.set.people.person(p.changes[r.idx].person)
		return strings.Clone(pn.Label())
	case refUnmatched:
		pn := p.unmatched[r.idx].unpack()
		return pn.Label()
	case refUnlisted:
		// Not kept beyond its UPN (see Options.ListLimit).
		return strings.Clone(p.unlistedUPN(r.idx))
	case refConflict:
		if c := p.conflicts[r.idx]; len(c.People) > 0 {
			return c.People[0]
		}
	case refUnchanged:
		return "the directory user already in Octopus user " + p.ix.id(r.idx)
	}
	return "another directory user"
}

func (p *Planner) refUsers(r ref) []string {
	switch r.kind {
	case refChange:
		return []string{p.userID(p.changes[r.idx].user)}
	case refUnchanged:
		return []string{p.userID(r.idx)}
	case refConflict:
		return append([]string(nil), p.conflicts[r.idx].Users...)
	}
	return nil
}

func (p *Planner) userIDs(pos []int32) []string {
	if len(pos) == 0 {
		return nil
	}
	ids := make([]string, len(pos))
	for i, q := range pos {
		ids[i] = p.userID(q)
	}
	return ids
}

// Departed lists, sorted, the objectGUIDs that own entries in the store
// and were not in the read and whose whereabouts are not known yet: the
// people a GUIDLocator should be asked about.
func (p *Planner) Departed() []string {
	var out []string
	for _, g := range p.owners.guids(func(o *owner) bool {
		return !o.seen && !o.disabled && !o.deleted && o.where == 0 && (!p.partial || o.unselected)
	}) {
		out = append(out, g.guid)
	}
	return out
}

// Locate records what the directory knows about a departed objectGUID.
func (p *Planner) Locate(guid string, w Whereabouts) {
	if i := p.owners.find(guid); i >= 0 {
		o := &p.owners.list[i]
		if o.where == 0 {
			p.owners.wheres = append(p.owners.wheres, w)
			o.where = int32(len(p.owners.wheres))
		} else {
			p.owners.wheres[o.where-1] = w
		}
	}
}

func (p *Planner) setRemoval(pos, change int32) {
	if p.removals == nil {
		p.removals = map[int32]int32{}
	}
	p.removals[pos] = change
}

// Plan returns the plan for everything added so far. Call it once: it
// plans the removals of departed people's entries as it goes.
func (p *Planner) Plan(read ReadResult) Plan {
	return p.plan(read, false)
}

// plan builds the plan. With final, the planner is done: the plan takes
// over its lists instead of copying them (at a million users the changes
// alone are tens of megabytes).
func (p *Planner) plan(read ReadResult, final bool) Plan {
	plan := Plan{Read: read, Conflicts: p.conflicts, Skipped: p.skipped}
	plan.Departures = p.departures(read)
	plan.PinnedMissing, p.stats.PinnedMissing = p.pinnedMissing(read)
	if final {
		if p.opts.DomainHints {
			plan.DomainHints = p.domainHints()
		}
		// Matching is over: the lookups go (a fifth of the heap at a
		// million users). The snapshot's records stay while the plan's
		// changes point into them.
		p.ix.dropLookups()
		p.seen, p.claims = upnTable{}, nil
	}
	plan.Changes = p.buildChanges()
	for i := range p.unmatched {
		if !p.gone[i] {
			plan.Unmatched = append(plan.Unmatched, p.unmatched[i].unpack())
		}
	}
	st := p.stats
	st.ByRule = make(map[MatchRule]int, len(p.byRule))
	for i, n := range p.byRule {
		if n > 0 {
			st.ByRule[rules[i]] = n
		}
	}
	st.Changes = plan.Changes.Len()
	st.Conflicts = len(plan.Conflicts)
	st.Unmatched = len(plan.Unmatched) + len(p.unlisted) - p.unlistedGone
	st.Skipped = len(plan.Skipped) + p.skippedOver
	st.Departed = len(plan.Departures)
	for _, d := range plan.Departures {
		if d.Reason == DepartedNotFound {
			st.NotFound++
		}
	}
	plan.Stats = st
	if final {
		*p = Planner{}
	}
	return plan
}

// nameConflictUsers gives each conflict the names of its users, so that
// the reports name them and not only their ids (BuildPlan calls it before
// the final plan; Plan leaves the names out). The snapshot has no lookup
// by id: one pass over it, only when there are conflicts. The names are
// copies (see userID).
func (p *Planner) nameConflictUsers() {
	if len(p.conflicts) == 0 || p.ix == nil {
		return
	}
	names := map[string]string{}
	for _, c := range p.conflicts {
		for _, id := range c.Users {
			names[id] = ""
		}
	}
	for pos := range p.ix.n {
		if _, ok := names[p.ix.id(pos)]; ok {
			u := p.ix.user(pos)
			names[u.ID] = strings.Clone(u.Name())
		}
	}
	for i := range p.conflicts {
		c := &p.conflicts[i]
		if len(c.Users) == 0 {
			continue
		}
		c.UserNames = make([]string, len(c.Users))
		for j, id := range c.Users {
			c.UserNames[j] = names[id]
		}
	}
}

// userID is a user's id for the plan: a copy, so that the plan does not
// keep the store's snapshot alive once the planner is done.
func (p *Planner) userID(pos int32) string { return strings.Clone(p.ix.id(pos)) }

// findSeen returns the slot of upn in p.seen, or -1.
func (p *Planner) findSeen(h uint64, upn string) int {
	t := &p.seen
	if len(t.slots) == 0 {
		return -1
	}
	fp := uint32(h >> 32)
	for i := t.home(fp); ; {
		s := t.slots[i]
		if s == 0 {
			return -1
		}
		if uint32(s>>32) == fp && p.sameUPN(unpackRef(uint32(s)), upn) {
			return i
		}
		if i++; i == len(t.slots) {
			i = 0
		}
	}
}

func paren(name string) string {
	if name == "" {
		return ""
	}
	return " (" + name + ")"
}

func appendNew(list []string, more ...string) []string {
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
