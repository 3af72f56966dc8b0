package sync

import (
	"cmp"
	"context"
	"fmt"
	"hash/maphash"
	"runtime/debug"
	"slices"
	"strconv"
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
	// ListLimit is how many unmatched people, and how many skipped ones,
	// the plan lists (DefaultListLimit when 0, all when negative). The
	// others are counted in Stats but not listed, so that a directory much
	// larger than the store does not fill the memory with people no
	// Octopus user is waiting for.
	ListLimit int
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
// the directory.
type Planner struct {
	opts Options
	ix   *userIndex

	// changes are kept small (pending) until Plan builds the Change
	// values: a Change is over 300 bytes, and a first run at a million
	// users plans hundreds of thousands.
	changes   []pending
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
	// removals maps a user position to the change removing its departed
	// entries, so that several departures on one user make one write.
	removals map[int32]int32
	// unchangedGone holds the users whose unchanged person was taken back,
	// so that a person taken back twice is counted out of Unchanged once.
	unchangedGone map[int32]bool

	stats Stats
	buf   []int32
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
	return &Planner{
		opts:  opts,
		ix:    newUserIndex(),
		seed:  maphash.MakeSeed(),
		stats: Stats{ByRule: map[MatchRule]int{}},
	}
}

// AddUser adds one Octopus user to the snapshot. All users must be added
// before the first person.
func (p *Planner) AddUser(u User) {
	pos := p.ix.n
	p.ix.add(u)
	p.stats.StoreUsers++
	for k, o := range u.Owned {
		p.owners.add(o.GUID, pos, int32(k))
	}
}

// Add matches one directory person and records what it needs.
func (p *Planner) Add(person Person) {
	owner := p.owners.find(person.GUID)
	if person.Deleted || person.Unselected {
		// From a change feed: never a person to merge (nor counted as one
		// read); it only tells that whoever owned entries under this GUID
		// may be gone. A tombstone says why; the directory is asked about
		// the others.
		if owner >= 0 && !p.owners.list[owner].seen {
			o := &p.owners.list[owner]
			if person.Deleted {
				o.deleted = true
				p.Locate(person.GUID, Whereabouts{Reason: DepartedDeleted, DN: person.DN,
					Detail: "deleted: DirSync reported a tombstone at " + person.DN})
			} else {
				o.unselected = true
			}
		}
		return
	}
	p.stats.Read++
	if owner >= 0 && (p.owners.list[owner].deleted || p.owners.list[owner].unselected) {
		// Reported gone and then seen again in the same delta (restored
		// from the recycle bin, moved back): present after all.
		p.owners.list[owner].deleted, p.owners.list[owner].unselected = false, false
		p.owners.list[owner].where = 0
	}
	if owner >= 0 {
		if p.opts.SkipDisabled && person.Disabled {
			p.owners.list[owner].disabled = true
		} else {
			p.owners.list[owner].seen = true
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
	// From here on, anything but an unchanged user keeps the person: give
	// what it keeps memory of its own (see retain), and only then.
	if len(users) > 1 {
		retain(&person)
		upn = person.UPN
		p.conflict(Conflict{
			Reason: ConflictAmbiguousMatch, UPN: upn,
			Detail: fmt.Sprintf("matches %d Octopus users by %s; none is written", len(users), rule),
			Users:  p.userIDs(users), People: []string{person.Label()},
		})
		return
	}
	if why := ValidateUPN(upn); why != "" {
		retain(&person)
		upn = person.UPN
		p.conflict(Conflict{
			Reason: ConflictInvalidUPN, UPN: upn,
			Detail: "userPrincipalName cannot be written: " + why,
			Users:  p.userIDs(users), People: []string{person.Label()},
		})
		return
	}

	p.key = lowerInto(p.key[:0], upn)
	key := maphash.Bytes(p.seed, p.key)
	if slot := p.findSeen(key, upn); slot >= 0 {
		retain(&person)
		p.duplicate(slot, &person, users)
		return
	}
	if len(users) == 0 {
		if p.opts.ListLimit >= 0 && len(p.unmatched) >= p.opts.ListLimit {
			// Over the limit: only the UPN, which the duplicate check needs.
			p.key = appendString(p.key[:0], upn)
			p.seen.add(key, ref{refUnlisted, int32(len(p.unlisted))})
			p.unlisted = append(p.unlisted, p.unlistedUPNs.add(p.key))
			return
		}
		retain(&person)
		p.seen.add(key, ref{refUnmatched, int32(len(p.unmatched))})
		p.unmatched = append(p.unmatched, pack(&person))
		p.gone = append(p.gone, false)
		return
	}

	pos := users[0]
	p.stats.Matched++
	p.byRule[ruleIndex(rule)]++
	if int(pos) >= len(p.claims) {
		p.claims = append(p.claims, make([]uint32, int(p.ix.n)-len(p.claims))...)
	}
	if prev := unpackRef(p.claims[pos]); prev.kind != refNone {
		retain(&person)
		p.claimedTwice(pos, prev, &person, rule)
		p.seen.add(key, unpackRef(p.claims[pos]))
		return
	}
	r := p.merge(pos, &person, upn, rule, owner)
	p.seen.add(key, r)
	p.claims[pos] = packRef(r)
}

// merge decides the outcome for a person matched to exactly one user.
// owner is the person's entry in p.owners, or -1.
func (p *Planner) merge(pos int32, person *Person, upn string, rule MatchRule, owner int32) ref {
	// Most people are in sync: answer them from the record, without
	// rebuilding the user. MergeUPN leaves a list that holds the UPN alone
	// unless the person owns another entry of it (a rename to clean up),
	// which needs the user to have owned entries and, for a canonical
	// GUID (as readers give it), the GUID to be an owner: two canonical
	// GUIDs equal under strings.EqualFold normalize alike.
	if windows, owned := p.ix.ownedCount(pos); containsFold(windows, upn) {
		if owned == 0 || owner < 0 && p.owners.foldSafe(person.GUID) {
			p.stats.Unchanged++
			return ref{refUnchanged, pos}
		}
	}
	retain(person)
	upn = person.UPN
	user := p.ix.user(pos)
	u := &user
	m := MergeUPN(u.WindowsUsernames, upn, NormalizeGUID(person.GUID), u.Owned, p.opts.MaxLength)
	if m.Unchanged {
		p.stats.Unchanged++
		return ref{refUnchanged, pos}
	}
	// A change that only takes out the person's old entry adds nothing
	// another user could hold.
	adds := len(m.Added) > 0 || len(m.Replaced) > 0
	for _, h := range p.ix.holders(upn, p.buf) {
		if !adds {
			break
		}
		if h != pos {
			otherUser := p.ix.user(h)
			other := &otherUser
			return p.conflict(Conflict{
				Reason: ConflictOwnedByOther, UPN: upn,
				Detail: fmt.Sprintf("already a Windows username of Octopus user %s%s; not added to user %s",
					other.ID, paren(other.Name()), u.ID),
				Users: []string{p.userID(pos), p.userID(h)}, People: []string{person.Label()},
			})
		}
	}
	if m.TooLong {
		return p.conflict(Conflict{
			Reason: ConflictFieldTooLong, UPN: upn,
			Detail: fmt.Sprintf("the merged list would be %d characters; the field holds %d (--max-length)",
				m.Length, p.opts.MaxLength),
			Users: []string{p.userID(pos)}, People: []string{person.Label()},
		})
	}
	// m.After and m.Removed may be substrings of the snapshot's record
	// (a list left with one entry): copies, so that the plan never keeps
	// the snapshot alive.
	pd := pending{rule: uint8(ruleIndex(rule)), after: strings.Clone(m.After), person: pack(person), user: packUser(u)}
	if len(m.Replaced) > 0 {
		pd.replaced = strings.Clone(m.Replaced[0].Old)
	}
	notes := p.renameNotes(pos, u, owner, upn, &m)
	if !adds || len(m.Removed) > 0 || len(notes) > 0 {
		mo := pd.extra()
		mo.noAdd = !adds
		mo.notes = notes
		for _, r := range m.Removed {
			mo.removed = append(mo.removed, strings.Clone(r))
		}
	}
	p.changes = append(p.changes, pd)
	p.withdrawn = append(p.withdrawn, false)
	return ref{refChange, int32(len(p.changes) - 1)}
}

// renameNotes tells what provenance knows about this person's earlier
// UPNs that the merge leaves alone: an entry upnsync added for them to
// another user, an entry it added that someone removed, and manual entries
// equal to a UPN it once added for them (those are never touched).
func (p *Planner) renameNotes(pos int32, u *User, owner int32, upn string, m *Merge) []string {
	if owner < 0 {
		return nil
	}
	before := SplitEntries(u.WindowsUsernames)
	after := SplitEntries(m.After)
	var notes []string
	for r := p.owners.list[owner].first; r >= 0; r = p.owners.refs[r].next {
		ref := p.owners.refs[r]
		entry := p.ownedEntry(ref)
		if strings.EqualFold(entry, upn) {
			continue
		}
		if ref.pos != pos {
			otherUser := p.ix.user(ref.pos)
			other := &otherUser
			notes = append(notes, fmt.Sprintf("upnsync added %s for this person to Octopus user %s%s earlier; it is left there",
				entry, other.ID, paren(other.Name())))
			if indexFold(after, entry) >= 0 && !ownsEntry(u, entry) {
				notes = append(notes, fmt.Sprintf("%s, an earlier UPN of this person, is in this list as a manual entry (upnsync did not add it here); it is kept", entry))
			}
			continue
		}
		switch {
		case indexFold(before, entry) < 0:
			notes = append(notes, fmt.Sprintf("upnsync added %s for this person earlier; someone has removed it from the list since", entry))
		case indexFold(after, entry) >= 0:
			// The rename replaced one copy; another copy stays as typed.
			notes = append(notes, fmt.Sprintf("%s, this person's previous UPN, is in the list a second time; that copy is kept", entry))
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

// ownedEntry is the entry an ownedRef points at (a string of the
// snapshot: copy it before keeping it).
func (p *Planner) ownedEntry(r ownedRef) string {
	u := p.ix.user(r.pos)
	return u.Owned[r.k].Entry
}

func ownsEntry(u *User, entry string) bool {
	for _, o := range u.Owned {
		if strings.EqualFold(o.Entry, entry) {
			return true
		}
	}
	return false
}

// claimedTwice handles a second person matching a user another person
// already matched: neither may write, both are reported.
func (p *Planner) claimedTwice(pos int32, prev ref, person *Person, rule MatchRule) {
	user := p.ix.user(pos)
	u := &user
	if prev.kind == refConflict {
		c := &p.conflicts[prev.idx]
		if c.Reason == ConflictAmbiguousMatch {
			c.People = append(c.People, person.Label())
			c.Detail = fmt.Sprintf("Octopus user %s%s is matched by %d directory users; none is written",
				u.ID, paren(u.Name()), len(c.People))
			return
		}
	}
	people := []string{p.label(prev), person.Label()}
	p.withdraw(prev)
	r := p.conflict(Conflict{
		Reason: ConflictAmbiguousMatch, UPN: person.UPN,
		Detail: fmt.Sprintf("Octopus user %s%s is matched by 2 directory users (the second by %s); none is written",
			u.ID, paren(u.Name()), rule),
		Users: []string{p.userID(pos)}, People: people,
	})
	p.claims[pos] = packRef(r)
}

// duplicate handles a UPN seen before: neither person is written.
func (p *Planner) duplicate(slot int, person *Person, users []int32) {
	first := p.seen.at(slot)
	upn := person.UPN
	if first.kind == refConflict && p.conflicts[first.idx].Reason == ConflictDuplicateUPN {
		c := &p.conflicts[first.idx]
		c.People = append(c.People, person.Label())
		c.Users = appendNew(c.Users, p.userIDs(users)...)
		c.Detail = fmt.Sprintf("%d directory users have this UPN; none is written", len(c.People))
		return
	}
	people := []string{p.label(first), person.Label()}
	ids := appendNew(p.refUsers(first), p.userIDs(users)...)
	p.withdraw(first)
	r := p.conflict(Conflict{
		Reason: ConflictDuplicateUPN, UPN: upn,
		Detail: "2 directory users have this UPN; neither is written",
		Users:  ids, People: people,
	})
	p.seen.set(slot, r)
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
		return strings.EqualFold(p.changes[r.idx].person.upn(), upn)
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
		pn := p.changes[r.idx].person.unpack()
		return pn.Label()
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
		return []string{p.changes[r.idx].user.id()}
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

// departures lists the people upnsync added entries for who were not in
// the read and, with RemoveDeparted after a complete read, plans the
// removal of those entries. It needs the snapshot: call it before the
// snapshot goes.
func (p *Planner) departures(read ReadResult) []Departure {
	gone := p.owners.guids(func(o *owner) bool {
		// A partial read (incremental, DirSync) sees only who changed:
		// nobody is gone for not being in it, only for a tombstone.
		return !o.seen && (!read.Partial || o.deleted || o.disabled || o.unselected)
	})
	deps := make([]Departure, 0, len(gone))
	for _, g := range gone {
		ow := &p.owners.list[g.i]
		d := Departure{GUID: g.guid}
		switch {
		case ow.disabled:
			d.Whereabouts = Whereabouts{Reason: DepartedDisabled, Detail: "the account is disabled and --skip-disabled leaves it out"}
		case ow.where != 0:
			d.Whereabouts = p.owners.wheres[ow.where-1]
		}
		for r := ow.first; r >= 0; r = p.owners.refs[r].next {
			ref := p.owners.refs[r]
			u := p.ix.user(ref.pos)
			entry := u.Owned[ref.k].Entry
			if indexFold(SplitEntries(u.WindowsUsernames), entry) < 0 {
				continue // someone removed it already
			}
			// Copies: the plan outlives the snapshot.
			d.Entries = append(d.Entries, DepartedEntry{UserID: strings.Clone(u.ID),
				UserName: strings.Clone(u.Name()), Entry: strings.Clone(entry)})
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

// claim is the person that matched the user at pos (kind refNone: none).
func (p *Planner) claim(pos int32) ref {
	if int(pos) >= len(p.claims) {
		return ref{}
	}
	return unpackRef(p.claims[pos])
}

// removeDeparted plans the removal of a departed person's entries, user by
// user, merged into the change already planned for a user if there is
// one. It returns why something was kept, or "".
func (p *Planner) removeDeparted(ow *owner, d *Departure) string {
	var kept []string
	for r := ow.first; r >= 0; r = p.owners.refs[r].next {
		ref := p.owners.refs[r]
		u := p.ix.user(ref.pos)
		entry := u.Owned[ref.k].Entry
		if indexFold(SplitEntries(u.WindowsUsernames), entry) < 0 {
			continue
		}
		p.key = lowerInto(p.key[:0], entry)
		if slot := p.findSeen(maphash.Bytes(p.seed, p.key), entry); slot >= 0 {
			kept = append(kept, fmt.Sprintf("%s is now the UPN of %s", entry, p.label(p.seen.at(slot))))
			continue
		}
		if c := p.claim(ref.pos); c.kind == refConflict {
			kept = append(kept, fmt.Sprintf("user %s has a conflict", u.ID))
			continue
		}
		var c *pending
		if i, ok := p.removals[ref.pos]; ok {
			c = &p.changes[i]
		} else if cl := p.claim(ref.pos); cl.kind == refChange && !p.withdrawn[cl.idx] {
			c = &p.changes[cl.idx]
			p.setRemoval(ref.pos, cl.idx)
		} else {
			p.changes = append(p.changes, pending{rule: ruleNone, user: packUser(&u),
				after: strings.Clone(u.WindowsUsernames), person: pack(&Person{GUID: d.GUID, DN: d.DN}),
				more: &pendingMore{departed: d.Reason}})
			p.withdrawn = append(p.withdrawn, false)
			p.setRemoval(ref.pos, int32(len(p.changes)-1))
			c = &p.changes[len(p.changes)-1]
		}
		entries := SplitEntries(c.after)
		i := indexFold(entries, entry)
		if i < 0 {
			continue
		}
		mo := c.extra()
		mo.removed = append(mo.removed, strings.Clone(entries[i]))
		c.after = strings.Clone(JoinEntries(append(entries[:i], entries[i+1:]...)))
		if mo.departed == "" {
			mo.notes = append(mo.notes, fmt.Sprintf("%s removed: upnsync added it for %s, who is gone (%s)", entry, d.GUID, d.Reason))
		}
		p.stats.Removals++
	}
	if len(kept) > 0 {
		return "kept: " + strings.Join(kept, "; ")
	}
	return ""
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
	if final {
		// Matching is over: let the lookups go before the changes are built
		// (a fifth of the heap at a million users), and hand their memory
		// back at once: the Change values need one block of their own, which
		// the freed tables cannot provide, so without this the peak would be
		// the sum of both.
		big := len(p.ix.byEntry.slots) > 1<<20
		p.ix = nil
		p.seen, p.claims = upnTable{}, nil
		if big {
			debug.FreeOSMemory()
		}
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
	st.Changes = len(plan.Changes)
	st.Conflicts = len(plan.Conflicts)
	st.Unmatched = len(plan.Unmatched) + len(p.unlisted) - p.unlistedGone
	st.Skipped = len(plan.Skipped) + p.skippedOver
	st.Departed = len(plan.Departures)
	plan.Stats = st
	if final {
		*p = Planner{}
	}
	return plan
}

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

// ReadError is a directory read that failed part way: the plan covers
// only what was read and must not be acted on.
type ReadError struct{ Err error }

func (e *ReadError) Error() string { return e.Err.Error() }
func (e *ReadError) Unwrap() error { return e.Err }

// BuildPlan loads the store's users, streams the directory through the
// planner and returns the plan. When the read fails the plan covers what
// was read, Read.Complete is false and the error is a *ReadError; any
// other error comes from the store.
//
// The store loads while the directory read starts (connection, bind, the
// server's first pages); the first person waits until every user is
// loaded. A store error stops the read and is returned as is.
func BuildPlan(ctx context.Context, store Store, dir Directory, opts Options) (Plan, error) {
	p := NewPlanner(opts)
	loaded := make(chan error, 1)
	go func() {
		loaded <- store.Users(ctx, func(u User) error { p.AddUser(u); return nil })
	}()
	var storeErr error
	waiting := true
	wait := func() error {
		if waiting {
			waiting = false
			storeErr = <-loaded
		}
		return storeErr
	}
	read, err := dir.Read(ctx, func(person Person) error {
		if err := wait(); err != nil {
			return err
		}
		p.Add(person)
		return nil
	})
	if err := wait(); err != nil {
		return Plan{}, err
	}
	if err == nil && ctx.Err() != nil {
		err = ctx.Err()
	}
	if err != nil {
		read.Complete = false
		if read.Why == "" {
			read.Why = err.Error()
		}
		return p.plan(read, true), &ReadError{Err: err}
	}
	if opts.RemoveDeparted && read.Complete {
		// After a partial read only those a change feed reported out of
		// scope are asked about: the others were simply not read.
		p.partial = read.Partial
		if err := LocateDeparted(ctx, p, dir); err != nil {
			return Plan{}, err
		}
	}
	return p.plan(read, true), nil
}

// LocateDeparted asks the directory where each departed person went. A
// directory that cannot look objects up leaves them unclassified (never
// removed); a lookup that fails marks that person only. Cancellation stops
// it with an error.
func LocateDeparted(ctx context.Context, p *Planner, dir Directory) error {
	loc, ok := dir.(GUIDLocator)
	if !ok {
		return nil
	}
	for _, g := range p.Departed() {
		w, err := loc.LocateGUID(ctx, g)
		if ctxErr := ctx.Err(); ctxErr != nil {
			return fmt.Errorf("looking up departed people in %s was cancelled: %w", dir.Describe(), ctxErr)
		}
		if err != nil {
			w = Whereabouts{Reason: DepartedLookupFailed, Detail: err.Error()}
		}
		p.Locate(g, w)
	}
	return nil
}

// retain reduces a person the planner keeps to what reports need (see
// pack).
func retain(p *Person) {
	*p = pack(p).unpack()
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
