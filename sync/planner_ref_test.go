package sync

// The reference planner: the rules of rules.go (docs/design.md) applied by
// brute force, to be compared with the planner (TestPlannerMatchesReference,
// FuzzPlanner). It keeps every user and every Change as plain values, finds
// users by looping over all of them, remembers UPNs in a plain list, and
// uses none of the planner's lookups, tables or packing. It shares with the
// planner only what defines a list and a UPN (SplitEntries, JoinEntries,
// MergeUPN, ValidateUPN, NormalizeGUID, IsGUID), which their own tests and
// fuzz targets check. It does not bound its lists (Options.ListLimit).

import (
	"fmt"
	"sort"
	"strings"
)

type refPlanner struct {
	opts  Options
	users []User
	// keys hold, for each user, the values matching compares: the
	// ExternalIdentifier normalized, the Windows usernames and the e-mail
	// in lower case.
	keys []refUserKeys

	changes       []Change
	withdrawn     []bool
	conflicts     []Conflict
	unmatched     []Person
	unmatchedGone []bool
	skipped       []Skip
	// upns are the UPNs of this read in the order first seen, each with
	// where its first holder went.
	upns []refUPN
	// claims: by user (index in users), where the person who matched it
	// went.
	claims map[int]refOutcome
	// owners: by objectGUID (normalized), the entries upnsync added.
	owners map[string]*refOwner
	// removals: by user, the change removing departed people's entries.
	removals      map[int]int
	unchangedGone map[int]bool
	stats         Stats
	partial       bool
	// named: the users whose ExternalIdentifier a person of the read has
	// (M1, C8, or a skipped person's objectGUID); candidates: for the
	// others, the first person M5 kept from them (M7).
	named      map[int]bool
	candidates map[int]Pinned
	guids      bool // a person read had an objectGUID
}

// refOutcome is where a person went: kind "change", "unchanged" (i is the
// user), "unmatched" or "conflict", i the index in that list.
type refOutcome struct {
	kind string
	i    int
}

type refUserKeys struct {
	ext, email string
	entries    []string
}

type refUPN struct {
	upn string
	out refOutcome
}

type refOwner struct {
	entries                             []refOwned
	seen, disabled, deleted, unselected bool
	where                               *Whereabouts
}

// refOwned is the k-th owned entry of users[user].
type refOwned struct{ user, k int }

func newRefPlanner(opts Options) *refPlanner {
	if opts.MaxLength <= 0 {
		opts.MaxLength = DefaultMaxLength
	}
	return &refPlanner{opts: opts, claims: map[int]refOutcome{}, owners: map[string]*refOwner{},
		removals: map[int]int{}, unchangedGone: map[int]bool{}, stats: Stats{ByRule: map[MatchRule]int{}},
		named: map[int]bool{}, candidates: map[int]Pinned{}}
}

func (r *refPlanner) AddUser(u User) {
	r.users = append(r.users, u)
	k := refUserKeys{ext: NormalizeGUID(u.ExternalID), email: strings.ToLower(strings.TrimSpace(u.Email))}
	for _, e := range SplitEntries(u.WindowsUsernames) {
		k.entries = append(k.entries, strings.ToLower(e))
	}
	r.keys = append(r.keys, k)
	r.stats.StoreUsers++
	for k, o := range u.Owned {
		g := NormalizeGUID(o.GUID)
		if g == "" {
			continue
		}
		if r.owners[g] == nil {
			r.owners[g] = &refOwner{}
		}
		r.owners[g].entries = append(r.owners[g].entries, refOwned{len(r.users) - 1, k})
	}
}

func (r *refPlanner) Add(person Person) {
	o := r.owners[NormalizeGUID(person.GUID)]
	if person.Deleted || person.Unselected { // P1
		if o != nil && !o.seen {
			if person.Deleted {
				o.deleted = true
				o.where = &Whereabouts{Reason: DepartedDeleted, DN: person.DN,
					Detail: "deleted: the change feed (DirSync, Microsoft Graph's delta) reported a tombstone at " + person.DN}
			} else {
				o.unselected = true
			}
		}
		return
	}
	r.stats.Read++
	r.guids = r.guids || NormalizeGUID(person.GUID) != ""
	if o != nil { // P2
		if o.deleted || o.unselected {
			o.deleted, o.unselected, o.where = false, false, nil
		}
		if r.opts.SkipDisabled && person.Disabled {
			o.disabled = true
		} else {
			o.seen = true
		}
	}
	if r.opts.SkipDisabled && person.Disabled { // P3
		r.skip(&person, "account disabled (--skip-disabled)")
		return
	}
	if person.Skip != "" { // P4
		r.skip(&person, person.Skip)
		return
	}
	upn := person.UPN
	if upn == "" { // P5
		switch {
		case !r.opts.ImplicitUPN:
			r.skip(&person, "no userPrincipalName; --implicit-upn derives sAMAccountName@domain")
			return
		case person.SAMAccountName == "" || person.DNSDomain == "":
			r.skip(&person, "no userPrincipalName, and no sAMAccountName and DNS domain to derive one")
			return
		}
		upn = person.SAMAccountName + "@" + person.DNSDomain
		person.UPN = upn
	}
	users, rule, dropped := r.match(&person, upn)
	r.notePinned(&person, users, dropped)
	if rule == matchByteOrder { // C8
		var held []string
		for _, i := range users {
			u := &r.users[i]
			held = append(held, fmt.Sprintf("%s of Octopus user %s%s", u.ExternalID, u.ID, paren(u.Name())))
		}
		r.conflictOf(&person, ConflictExternalIDByteOrder,
			fmt.Sprintf("the ExternalIdentifier %s is this person's objectGUID with the bytes of its first three groups in the wrong order (written from the raw bytes without AD's byte order); store %s there instead; nothing is written until then",
				strings.Join(held, " and "), NormalizeGUID(person.GUID)), users...)
		return
	}
	if len(users) > 1 { // C1
		r.conflictOf(&person, ConflictAmbiguousMatch, fmt.Sprintf("matches %d Octopus users by %s; none is written", len(users), rule), users...)
		return
	}
	if why := ValidateUPN(upn); why != "" { // C2
		r.conflictOf(&person, ConflictInvalidUPN, "userPrincipalName cannot be written: "+why, users...)
		return
	}
	if i := r.seenUPN(upn); i >= 0 { // C3
		r.duplicate(i, &person, users)
		return
	}
	if len(users) == 0 { // M6
		r.upns = append(r.upns, refUPN{upn, refOutcome{"unmatched", len(r.unmatched)}})
		r.unmatched = append(r.unmatched, reported(&person))
		r.unmatchedGone = append(r.unmatchedGone, false)
		return
	}
	pos := users[0]
	r.stats.Matched++
	r.stats.ByRule[rule]++
	if prev, ok := r.claims[pos]; ok { // C4
		r.claimedTwice(pos, prev, &person, rule)
		r.upns = append(r.upns, refUPN{upn, r.claims[pos]})
		return
	}
	out := r.settle(pos, &person, upn, rule)
	r.upns = append(r.upns, refUPN{upn, out})
	r.claims[pos] = out
}

// refDrop is a pinned user M5 kept from a person, and by which rule.
type refDrop struct {
	user int
	rule MatchRule
}

// match is M1 to M5 and C8, looking at every user. dropped are the
// pinned users M5 kept from the person, each with the rule (M2, M3).
func (r *refPlanner) match(p *Person, upn string) ([]int, MatchRule, []refDrop) {
	guid := NormalizeGUID(p.GUID)
	if guid != "" {
		if got := r.withExternalID(guid); len(got) > 0 {
			return got, MatchExternalID, nil
		}
		if sw := SwappedGUID(guid); sw != "" && sw != guid {
			if got := r.withExternalID(sw); len(got) > 0 {
				return got, matchByteOrder, nil
			}
		}
	}
	var got, dropped []int
	if p.SAMAccountName != "" {
		got = append(got, r.holding(strings.ToLower(p.SAMAccountName))...)
		if p.Domain != "" {
			got = append(got, r.holding(strings.ToLower(p.Domain)+`\`+strings.ToLower(p.SAMAccountName))...)
		}
	}
	if upn != "" {
		got = append(got, r.holding(strings.ToLower(upn))...)
	}
	got, dropped = r.unpinned(got, guid != "")
	var drops []refDrop
	for _, i := range dropped {
		drops = append(drops, refDrop{i, MatchWindowsUsername})
	}
	if len(got) > 0 {
		return got, MatchWindowsUsername, drops
	}
	if p.Mail != "" {
		mail := strings.ToLower(strings.TrimSpace(p.Mail))
		got = nil
		for i, k := range r.keys {
			if k.email != "" && k.email == mail {
				got = append(got, i)
			}
		}
		got, dropped = r.unpinned(got, guid != "")
		for _, i := range dropped {
			drops = append(drops, refDrop{i, MatchEmail})
		}
		if len(got) > 0 {
			return got, MatchEmail, drops
		}
	}
	return nil, "", drops
}

// withExternalID lists the users whose ExternalIdentifier, normalized, is
// guid.
func (r *refPlanner) withExternalID(guid string) []int {
	var got []int
	for i, k := range r.keys {
		if k.ext == guid {
			got = append(got, i)
		}
	}
	return got
}

// notePinned is M7's record of one match (see Planner.notePinned).
func (r *refPlanner) notePinned(p *Person, users []int, dropped []refDrop) {
	for _, i := range users {
		r.named[i] = true
	}
	for _, d := range dropped {
		if _, ok := r.candidates[d.user]; !ok {
			r.candidates[d.user] = Pinned{Match: d.rule, Candidate: Person{GUID: p.GUID, UPN: p.UPN, DN: p.DN}}
		}
	}
}

// skip is P3 to P5; a user pinned to the person's objectGUID, in either
// byte order, is named all the same (M7).
func (r *refPlanner) skip(p *Person, reason string) {
	if guid := NormalizeGUID(p.GUID); guid != "" {
		for _, i := range r.withExternalID(guid) {
			r.named[i] = true
		}
		if sw := SwappedGUID(guid); sw != "" {
			for _, i := range r.withExternalID(sw) {
				r.named[i] = true
			}
		}
	}
	r.skipped = append(r.skipped, Skip{DN: p.Label(), Reason: reason})
}

// pinnedMissing is M7.
func (r *refPlanner) pinnedMissing(read ReadResult) ([]Pinned, int) {
	if !read.Complete || read.Partial || !r.guids {
		return nil, 0
	}
	var out []Pinned
	for i, k := range r.keys {
		if !IsGUID(k.ext) || r.named[i] {
			continue
		}
		pn, ok := r.candidates[i]
		if !ok && !read.Whole {
			continue // the object may be out of the read's scope
		}
		u := &r.users[i]
		pn.UserID, pn.UserName, pn.ExternalID = u.ID, u.Name(), u.ExternalID
		out = append(out, pn)
	}
	return out, len(out)
}

// holding lists the users with an entry equal to key once lower-cased.
func (r *refPlanner) holding(key string) []int {
	var out []int
	for i, k := range r.keys {
		for _, e := range k.entries {
			if e == key {
				out = append(out, i)
				break
			}
		}
	}
	return out
}

// unpinned is M5, and lists each user once; it also returns the pinned
// users it kept out, as the planner's does (each as often as found).
func (r *refPlanner) unpinned(users []int, hasGUID bool) ([]int, []int) {
	var out, dropped []int
	for _, i := range users {
		pinned := IsGUID(r.keys[i].ext)
		if hasGUID && pinned {
			dropped = append(dropped, i)
			continue
		}
		if !containsInt(out, i) {
			out = append(out, i)
		}
	}
	return out, dropped
}

func containsInt(list []int, n int) bool {
	for _, m := range list {
		if m == n {
			return true
		}
	}
	return false
}

// seenUPN finds the UPN among those of this read: same lower case, and
// the same in any letter case as the UPN its holder's outcome shows (for
// an unchanged person, one in the user's list), as the planner confirms a
// hit of its table. It returns the index in r.upns, or -1.
func (r *refPlanner) seenUPN(upn string) int {
	for i, s := range r.upns {
		if strings.ToLower(s.upn) != strings.ToLower(upn) {
			continue
		}
		var same bool
		switch s.out.kind {
		case "change":
			same = strings.EqualFold(r.changes[s.out.i].Person.UPN, upn)
		case "unmatched":
			same = strings.EqualFold(r.unmatched[s.out.i].UPN, upn)
		case "conflict":
			same = strings.EqualFold(r.conflicts[s.out.i].UPN, upn)
		case "unchanged":
			same = indexFold(SplitEntries(r.users[s.out.i].WindowsUsernames), upn) >= 0
		}
		if same {
			return i
		}
	}
	return -1
}

// settle is the merge with C5 and C6.
func (r *refPlanner) settle(pos int, person *Person, upn string, rule MatchRule) refOutcome {
	u := &r.users[pos]
	m := MergeUPN(u.WindowsUsernames, upn, NormalizeGUID(person.GUID), u.Owned, r.opts.MaxLength)
	if m.Unchanged {
		r.stats.Unchanged++
		return refOutcome{"unchanged", pos}
	}
	if len(m.Added) > 0 || len(m.Replaced) > 0 {
		for _, h := range r.holding(strings.ToLower(upn)) {
			if h != pos {
				other := &r.users[h]
				return r.conflictOf(person, ConflictOwnedByOther, fmt.Sprintf("already a Windows username of Octopus user %s%s; not added to user %s",
					other.ID, paren(other.Name()), u.ID), pos, h)
			}
		}
	}
	if m.TooLong {
		return r.conflictOf(person, ConflictFieldTooLong, fmt.Sprintf("the merged list would be %d characters; the field holds %d (--max-length)",
			m.Length, r.opts.MaxLength), pos)
	}
	r.changes = append(r.changes, Change{UserID: u.ID, UserName: u.Name(), ExternalID: u.ExternalID, Match: rule,
		Before: u.WindowsUsernames, After: m.After, Added: m.Added, Replaced: m.Replaced, Removed: m.Removed,
		Person: reported(person), Notes: r.renameNotes(pos, person, upn, &m)})
	r.withdrawn = append(r.withdrawn, false)
	return refOutcome{"change", len(r.changes) - 1}
}

// renameNotes is L7.
func (r *refPlanner) renameNotes(pos int, person *Person, upn string, m *Merge) []string {
	o := r.owners[NormalizeGUID(person.GUID)]
	if o == nil {
		return nil
	}
	u := &r.users[pos]
	before, after := SplitEntries(u.WindowsUsernames), SplitEntries(m.After)
	var notes []string
	for _, e := range o.entries {
		entry := r.users[e.user].Owned[e.k].Entry
		if strings.EqualFold(entry, upn) {
			continue
		}
		if e.user != pos {
			other := &r.users[e.user]
			notes = append(notes, fmt.Sprintf("upnsync added %s for this person to Octopus user %s%s earlier; it is left there",
				entry, other.ID, paren(other.Name())))
			owned := false
			for _, uo := range u.Owned {
				owned = owned || strings.EqualFold(uo.Entry, entry)
			}
			if indexFold(after, entry) >= 0 && !owned {
				notes = append(notes, fmt.Sprintf("%s, an earlier UPN of this person, is in this list as a manual entry (upnsync did not add it here); it is kept", entry))
			}
			continue
		}
		if indexFold(before, entry) < 0 {
			notes = append(notes, fmt.Sprintf("upnsync added %s for this person earlier; someone has removed it from the list since", entry))
		} else if indexFold(after, entry) >= 0 {
			notes = append(notes, fmt.Sprintf("%s, this person's previous UPN, is in the list a second time; that copy is kept", entry))
		}
	}
	for _, old := range m.Removed {
		if len(m.Replaced) > 0 {
			notes = append(notes, fmt.Sprintf("%s, another earlier UPN upnsync added for this person, is taken out", old))
		} else {
			notes = append(notes, fmt.Sprintf("%s replaced by %s, which someone had already added to the list: %s is taken out", old, upn, old))
		}
	}
	return notes
}

func (r *refPlanner) conflictOf(person *Person, reason, detail string, users ...int) refOutcome {
	return r.conflict(Conflict{Reason: reason, UPN: person.UPN, Detail: detail, Users: r.ids(users), People: []string{person.Label()}})
}

func (r *refPlanner) conflict(c Conflict) refOutcome {
	r.conflicts = append(r.conflicts, c)
	return refOutcome{"conflict", len(r.conflicts) - 1}
}

func (r *refPlanner) ids(users []int) []string {
	var out []string
	for _, i := range users {
		out = append(out, r.users[i].ID)
	}
	return out
}

// duplicate is C3.
func (r *refPlanner) duplicate(i int, person *Person, users []int) {
	first := r.upns[i].out
	if first.kind == "conflict" && r.conflicts[first.i].Reason == ConflictDuplicateUPN {
		c := &r.conflicts[first.i]
		c.People = append(c.People, person.Label())
		c.Users = appendNew(c.Users, r.ids(users)...)
		c.Detail = fmt.Sprintf("%d directory users have this UPN; none is written", len(c.People))
		return
	}
	people := []string{r.label(first), person.Label()}
	ids := appendNew(r.outcomeUsers(first), r.ids(users)...)
	r.withdraw(first)
	r.upns[i].out = r.conflict(Conflict{Reason: ConflictDuplicateUPN, UPN: person.UPN,
		Detail: "2 directory users have this UPN; neither is written", Users: ids, People: people})
}

// claimedTwice is C4.
func (r *refPlanner) claimedTwice(pos int, prev refOutcome, person *Person, rule MatchRule) {
	u := &r.users[pos]
	if prev.kind == "conflict" && r.conflicts[prev.i].Reason == ConflictAmbiguousMatch {
		c := &r.conflicts[prev.i]
		c.People = append(c.People, person.Label())
		c.Detail = fmt.Sprintf("Octopus user %s%s is matched by %d directory users; none is written", u.ID, paren(u.Name()), len(c.People))
		return
	}
	people := []string{r.label(prev), person.Label()}
	r.withdraw(prev)
	r.claims[pos] = r.conflict(Conflict{Reason: ConflictAmbiguousMatch, UPN: person.UPN,
		Detail: fmt.Sprintf("Octopus user %s%s is matched by 2 directory users (the second by %s); none is written", u.ID, paren(u.Name()), rule),
		Users:  []string{u.ID}, People: people})
}

// withdraw takes back the outcome of a person a later conflict involves.
func (r *refPlanner) withdraw(o refOutcome) {
	switch o.kind {
	case "change":
		r.withdrawn[o.i] = true
	case "unmatched":
		r.unmatchedGone[o.i] = true
	case "unchanged":
		if !r.unchangedGone[o.i] {
			r.unchangedGone[o.i] = true
			r.stats.Unchanged--
		}
	}
}

func (r *refPlanner) label(o refOutcome) string {
	switch o.kind {
	case "change":
		return r.changes[o.i].Person.Label()
	case "unmatched":
		return r.unmatched[o.i].Label()
	case "conflict":
		if c := r.conflicts[o.i]; len(c.People) > 0 {
			return c.People[0]
		}
	case "unchanged":
		return "the directory user already in Octopus user " + r.users[o.i].ID
	}
	return "another directory user"
}

func (r *refPlanner) outcomeUsers(o refOutcome) []string {
	switch o.kind {
	case "change":
		return []string{r.changes[o.i].UserID}
	case "unchanged":
		return []string{r.users[o.i].ID}
	case "conflict":
		return append([]string(nil), r.conflicts[o.i].Users...)
	}
	return nil
}

// Departed lists the owners a GUIDLocator is asked about.
func (r *refPlanner) Departed() []string {
	var out []string
	for g, o := range r.owners {
		if !o.seen && !o.disabled && !o.deleted && o.where == nil && (!r.partial || o.unselected) {
			out = append(out, g)
		}
	}
	sort.Strings(out)
	return out
}

func (r *refPlanner) Locate(guid string, w Whereabouts) {
	if o := r.owners[NormalizeGUID(guid)]; o != nil {
		o.where = &w
	}
}

// departures is D1 to D3.
func (r *refPlanner) departures(read ReadResult) []Departure {
	var guids []string
	for g, o := range r.owners {
		if !o.seen && (!read.Partial || o.deleted || o.disabled || o.unselected) {
			guids = append(guids, g)
		}
	}
	sort.Strings(guids)
	deps := []Departure{}
	for _, g := range guids {
		o := r.owners[g]
		d := Departure{GUID: g}
		if o.disabled {
			d.Whereabouts = Whereabouts{Reason: DepartedDisabled, Detail: "the account is disabled and --skip-disabled leaves it out"}
		} else if o.where != nil {
			d.Whereabouts = *o.where
		}
		for _, e := range o.entries {
			u := &r.users[e.user]
			if entry := u.Owned[e.k].Entry; indexFold(SplitEntries(u.WindowsUsernames), entry) >= 0 {
				d.Entries = append(d.Entries, DepartedEntry{UserID: u.ID, UserName: u.Name(), Entry: entry})
			}
		}
		switch {
		case len(d.Entries) == 0:
			d.Kept = "nothing left to remove: the entries upnsync added are no longer in the lists"
		case !r.opts.RemoveDeparted:
			d.Kept = "kept: --remove-departed not given"
		case !read.Complete:
			d.Kept = "kept: the directory read was not proven complete"
		case d.Reason == DepartedUnknown:
			d.Kept = "kept: the directory could not tell why this person is gone"
		case d.Reason == DepartedNotFound:
			d.Kept = "kept: not finding a person is no evidence that they left; " + NotFoundCheck
		case !d.Reason.Removable():
			d.Kept = "kept: " + string(d.Reason)
		case r.opts.HoldRemovals != "":
			d.Kept = "kept: " + r.opts.HoldRemovals
		default:
			d.Kept = r.removeDeparted(o, &d)
			d.Removed = d.Kept == ""
		}
		deps = append(deps, d)
	}
	return deps
}

// removeDeparted is D4 and D5.
func (r *refPlanner) removeDeparted(o *refOwner, d *Departure) string {
	var kept []string
	for _, e := range o.entries {
		u := &r.users[e.user]
		entry := u.Owned[e.k].Entry
		if indexFold(SplitEntries(u.WindowsUsernames), entry) < 0 {
			continue
		}
		if i := r.seenUPN(entry); i >= 0 {
			kept = append(kept, fmt.Sprintf("%s is now the UPN of %s", entry, r.label(r.upns[i].out)))
			continue
		}
		claim, claimed := r.claims[e.user]
		if claimed && claim.kind == "conflict" {
			kept = append(kept, fmt.Sprintf("user %s has a conflict", u.ID))
			continue
		}
		i, ok := r.removals[e.user]
		if !ok && claimed && claim.kind == "change" && !r.withdrawn[claim.i] {
			i, ok = claim.i, true
		}
		if !ok {
			r.changes = append(r.changes, Change{UserID: u.ID, UserName: u.Name(), ExternalID: u.ExternalID,
				Before: u.WindowsUsernames, After: u.WindowsUsernames, Person: Person{GUID: d.GUID, DN: d.DN}, Departed: d.Reason})
			r.withdrawn = append(r.withdrawn, false)
			i = len(r.changes) - 1
		}
		r.removals[e.user] = i
		c := &r.changes[i]
		entries := SplitEntries(c.After)
		k := indexFold(entries, entry)
		if k < 0 {
			continue
		}
		c.Removed = append(c.Removed, entries[k])
		c.After = JoinEntries(append(entries[:k], entries[k+1:]...))
		if c.Departed == "" {
			c.Notes = append(c.Notes, fmt.Sprintf("%s is taken out: upnsync added it for %s, who is gone (%s)", entry, d.GUID, d.Reason))
		}
		r.stats.Removals++
	}
	if len(kept) > 0 {
		return "kept: " + strings.Join(kept, "; ")
	}
	return ""
}

func (r *refPlanner) Plan(read ReadResult) Plan {
	plan := Plan{Read: read, Conflicts: r.conflicts, Skipped: r.skipped, Departures: r.departures(read)}
	plan.PinnedMissing, r.stats.PinnedMissing = r.pinnedMissing(read)
	var changes []Change
	for i, c := range r.changes {
		if !r.withdrawn[i] {
			changes = append(changes, c)
		}
	}
	sort.SliceStable(changes, func(i, j int) bool { return lessID(changes[i].UserID, changes[j].UserID) })
	plan.Changes = ChangesOf(changes...)
	for i, p := range r.unmatched {
		if !r.unmatchedGone[i] {
			plan.Unmatched = append(plan.Unmatched, p)
		}
	}
	plan.Stats = r.stats
	plan.Stats.Changes, plan.Stats.Conflicts = plan.Changes.Len(), len(plan.Conflicts)
	plan.Stats.Unmatched, plan.Stats.Skipped = len(plan.Unmatched), len(plan.Skipped)
	plan.Stats.Departed = len(plan.Departures)
	for _, d := range plan.Departures {
		if d.Reason == DepartedNotFound {
			plan.Stats.NotFound++
		}
	}
	return plan
}

// reported is what a plan keeps of a person.
func reported(p *Person) Person {
	return Person{GUID: p.GUID, UPN: p.UPN, SAMAccountName: p.SAMAccountName, DN: p.DN, Disabled: p.Disabled}
}
