package sync

// The rulebook: everything upnsync decides, in the order it decides it.
// Each rule carries the number docs/design.md gives it, and the design
// says why each rule is what it is:
//
//   - P1 to P5: which people take part (Add);
//   - M1 to M6: which Octopus user a person is (match);
//   - C1 to C6: the conflicts, in the order they are checked (Add,
//     settle, duplicate, claimedTwice); C7 is the store's (Plan.Withdraw);
//   - L1 to L7: the merge of a UPN into a list of Windows usernames
//     (settle, MergeUPN, renameNotes; ValidateUPN is C2);
//   - C8: an ExternalIdentifier in the wrong byte order (byteOrder),
//     checked between M1 and M2;
//
// and, in rules_after.go, the rules applied once the read is over:
//
//   - M7: the users pinned to an object the read did not return
//     (pinnedMissing);
//   - D1 to D5: people who are gone, and removing what upnsync added for
//     them (departures, removeDeparted);
//   - G2 to G5, G7, G8: the guards (Limits.Check, Limits.CheckRead). G1,
//     the completeness guard, and G6, --force, belong to the run.
//
// The rules ask questions and record answers; they never deal with memory
// layout. What answers quickly at a million users lives elsewhere: the
// store's snapshot and its lookups (index.go, index_tables.go, keys.go),
// the UPNs of this read (seen.go), the objectGUIDs that own entries
// (owners.go), the planner's record of outcomes (planner.go) and the
// packed changes (pending.go). The reference planner (planner_ref_test.go)
// implements the same rules by brute force, and the tests want the same
// plan from both.

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Add applies the rules to one directory person.
func (p *Planner) Add(person Person) {
	owner := p.owners.find(person.GUID)
	// P1: a change feed's notice that an object was deleted or left the
	// scope is not a person.
	if person.Deleted || person.Unselected {
		p.goneNotice(owner, &person)
		return
	}
	// P2: a person read is present, unless --skip-disabled skips it.
	p.stats.Read++
	if !p.pinned.guids && strings.TrimSpace(person.GUID) != "" {
		p.pinned.guids = true // M7 can tell who is missing
	}
	if owner >= 0 {
		o := &p.owners.list[owner]
		if o.deleted || o.unselected {
			// Reported gone and then read again in the same delta
			// (restored, moved back): present after all.
			o.deleted, o.unselected, o.where = false, false, 0
		}
		if p.opts.SkipDisabled && person.Disabled {
			o.disabled = true
		} else {
			o.seen = true
		}
	}
	// P3: --skip-disabled.
	if p.opts.SkipDisabled && person.Disabled {
		p.skipRead(&person, "account disabled (--skip-disabled)")
		return
	}
	// P4: a person the source leaves out on purpose (an Entra ID guest).
	if person.Skip != "" {
		p.skipRead(&person, person.Skip)
		return
	}
	// P5: no UPN, unless --implicit-upn derives one.
	upn := person.UPN
	if upn == "" {
		if !p.opts.ImplicitUPN {
			p.skipRead(&person, "no userPrincipalName; --implicit-upn derives sAMAccountName@domain")
			return
		}
		if person.SAMAccountName == "" || person.DNSDomain == "" {
			p.skipRead(&person, "no userPrincipalName, and no sAMAccountName and DNS domain to derive one")
			return
		}
		upn = person.SAMAccountName + "@" + person.DNSDomain
		person.UPN = upn
	}

	users, rule := p.ix.match(&person, upn, p.buf)
	p.buf = users[:0]
	p.notePinned(&person, users)
	// C8: a user's ExternalIdentifier is the person's objectGUID in the
	// wrong byte order.
	if rule == matchByteOrder {
		p.byteOrder(&person, users)
		return
	}
	// C1: the person matches several users.
	if len(users) > 1 {
		p.conflictOf(&person, ConflictAmbiguousMatch,
			fmt.Sprintf("matches %d Octopus users by %s; none is written", len(users), rule), users...)
		return
	}
	// C2: the UPN cannot be written.
	if why := ValidateUPN(upn); why != "" {
		p.conflictOf(&person, ConflictInvalidUPN, "userPrincipalName cannot be written: "+why, users...)
		return
	}
	// C3: an earlier person of this read has the UPN.
	seen := p.lookupUPN(upn)
	if seen.found() {
		p.duplicate(seen, &person, users)
		return
	}
	// M6: nobody matches: unmatched, nothing is written.
	if len(users) == 0 {
		p.addUnmatched(&person, seen)
		return
	}
	pos := users[0]
	p.countMatch(rule)
	// C4: an earlier person of this read matched the user.
	if prev := p.claim(pos); prev.kind != refNone {
		p.claimedTwice(pos, prev, &person, rule)
		p.remember(seen, p.claim(pos))
		return
	}
	// The merge, C5 and C6.
	r := p.settle(pos, &person, upn, rule, owner)
	p.remember(seen, r)
	p.setClaim(pos, r)
}

// goneNotice is P1: a tombstone or an object the bases and the filter no
// longer select only says that the person who owns entries under its
// objectGUID may be gone, unless this read saw them. A tombstone says why
// (deleted); the directory is asked about the others (D2).
func (p *Planner) goneNotice(owner int32, person *Person) {
	if owner < 0 || p.owners.list[owner].seen {
		return
	}
	o := &p.owners.list[owner]
	if !person.Deleted {
		o.unselected = true
		return
	}
	o.deleted = true
	p.Locate(person.GUID, Whereabouts{Reason: DepartedDeleted, DN: person.DN,
		Detail: "deleted: the change feed (DirSync, Microsoft Graph's delta) reported a tombstone at " + person.DN})
}

// matchByteOrder is what match returns for C8: not a match rule.
const matchByteOrder MatchRule = ConflictExternalIDByteOrder

// match finds the Octopus users a person matches (M1 to M5); none is M6.
// M4: the first of M1 to M3 that finds anyone decides. Between M1 and M2,
// C8 looks for the objectGUID in the wrong byte order. ix.dropped are the
// pinned users M5 kept from M2 (before ix.byName) and M3.
func (ix *userIndex) match(p *Person, upn string, buf []int32) ([]int32, MatchRule) {
	ix.dropped, ix.byName = ix.dropped[:0], 0
	// NormalizeGUID of a GUID is empty only when it is blank.
	hasGUID := strings.TrimSpace(p.GUID) != ""
	// M1: the ExternalIdentifier is the person's objectGUID.
	if hasGUID {
		if got := ix.withExternalID(p.GUID, buf[:0]); len(got) > 0 {
			return got, MatchExternalID
		}
		// C8 (checked before M2: the user is this person's, whatever
		// another user's names say).
		if ix.pinnedN > 0 {
			if got := ix.withSwappedExternalID(p.GUID, buf[:0]); len(got) > 0 {
				return got, matchByteOrder
			}
		}
	}
	// M2: a Windows username is the account name, bare or DOMAIN\name, or
	// the UPN.
	got := buf[:0]
	if p.SAMAccountName != "" {
		got = ix.withEntry(got, "", p.SAMAccountName)
		if p.Domain != "" {
			got = ix.withEntry(got, p.Domain, p.SAMAccountName)
		}
	}
	if upn != "" {
		got = ix.withEntry(got, "", upn)
	}
	got = ix.unpinned(got, hasGUID)
	ix.byName = len(ix.dropped)
	if len(got) > 0 {
		return got, MatchWindowsUsername
	}
	// M3: the e-mail.
	if p.Mail != "" {
		if got = ix.unpinned(ix.withEmail(p.Mail, got[:0]), hasGUID); len(got) > 0 {
			return got, MatchEmail
		}
	}
	return nil, ""
}

// unpinned is M5: a person with an objectGUID never matches, by M2 or M3, a
// user whose ExternalIdentifier pins it to another directory object. It
// also lists each user once.
func (ix *userIndex) unpinned(list []int32, hasGUID bool) []int32 {
	out := list[:0]
	for _, p := range list {
		if hasGUID && ix.isPinned(p) {
			ix.dropped = append(ix.dropped, p)
			continue
		}
		if !containsPos(out, p) {
			out = append(out, p)
		}
	}
	return out
}

// settle decides for a person matched to exactly one user that nobody else
// in this read claimed: the merge (L1 to L7), then C5 and C6.
func (p *Planner) settle(pos int32, person *Person, upn string, rule MatchRule, owner int32) ref {
	// L2 for most people, answered from the snapshot as MergeUPN would.
	if p.inSync(pos, person, upn, owner) {
		p.stats.Unchanged++
		return ref{refUnchanged, pos}
	}
	u := p.ix.user(pos)
	m := MergeUPN(u.WindowsUsernames, upn, NormalizeGUID(person.GUID), u.Owned, p.opts.MaxLength)
	if m.Unchanged {
		p.stats.Unchanged++
		return ref{refUnchanged, pos}
	}
	// C5: another user's list holds the UPN. A change that only takes out
	// the person's old entry adds nothing another user could hold.
	if len(m.Added) > 0 || len(m.Replaced) > 0 {
		if h := p.otherHolder(upn, pos); h >= 0 {
			other := p.ix.user(h)
			return p.conflictOf(person, ConflictOwnedByOther,
				fmt.Sprintf("already a Windows username of Octopus user %s%s; not added to user %s",
					other.ID, paren(other.Name()), u.ID), pos, h)
		}
	}
	// C6: the list would not fit the field.
	if m.TooLong {
		return p.conflictOf(person, ConflictFieldTooLong,
			fmt.Sprintf("the merged list would be %d characters; the field holds %d (--max-length)",
				m.Length, p.opts.MaxLength), pos)
	}
	return p.addChange(pos, &u, person, rule, &m, p.renameNotes(pos, &u, owner, upn, &m))
}

// ValidateUPN is C2: it says why upn cannot be written to the field, or
// returns "".
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

// MergeUPN merges upn into the list before, by rules L1 to L6 of
// docs/design.md: a UPN already there in any letter case means nothing to
// do, but for the person's old UPNs upnsync added, which go; else an entry
// upnsync added earlier for the same person is replaced in place, only that
// one, and any other old UPN upnsync added for the person goes; else the
// UPN is appended. No entry upnsync did not add is ever removed or
// rewritten. guid is the person's objectGUID (normalized), owned what
// upnsync added to this list earlier, each with the objectGUID of the
// person it was added for, and maxLen the field's size (C6).
func MergeUPN(before, upn, guid string, owned []Owned, maxLen int) Merge {
	entries := SplitEntries(before) // L1
	var m Merge
	// L2: already there in some letter case. L5: what upnsync added for
	// the person's older UPNs goes.
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
		// L3: a rename replaces, in place, the entry upnsync added for the
		// person's previous UPN; L5: any other old UPN of theirs goes.
		old := entries[i]
		m.Replaced = []Replacement{{Old: old, New: upn}}
		entries[i] = upn
		entries, m.Removed = dropOwned(entries, owned, guid, upn, old)
	} else {
		// L4
		m.Added = []string{upn}
		entries = append(entries, upn)
	}
	m.After = JoinEntries(entries)
	m.Length = utf8.RuneCountInString(m.After)
	if maxLen <= 0 {
		maxLen = DefaultMaxLength
	}
	m.TooLong = m.Length > maxLen // C6
	return m
}

// renamedEntry finds, for L3, the entry upnsync added earlier for this
// person (same objectGUID) that is still in the list and differs from upn.
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

// dropOwned is L5 and L6: it takes out of entries the first copy of each
// entry upnsync added for this person (same objectGUID) other than upn and
// than kept (the entry a rename replaced: another copy of it was typed by
// someone, as upnsync adds an entry once). It returns the entries left and
// those taken out; nothing upnsync did not add is ever taken out.
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

// renameNotes is L7: it tells what provenance knows about this person's
// earlier UPNs that the merge leaves alone (an entry upnsync added for them
// to another user, one someone removed, a manual copy of one: never
// touched) and what the merge took out.
func (p *Planner) renameNotes(pos int32, u *User, owner int32, upn string, m *Merge) []string {
	if owner < 0 {
		return nil
	}
	before := SplitEntries(u.WindowsUsernames)
	after := SplitEntries(m.After)
	var notes []string
	for ref := range p.owners.entries(owner) {
		entry := p.ownedEntry(ref)
		if strings.EqualFold(entry, upn) {
			continue
		}
		if ref.pos != pos {
			other := p.ix.user(ref.pos)
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
			notes = append(notes, fmt.Sprintf("%s, another earlier UPN upnsync added for this person, is taken out", r))
			continue
		}
		notes = append(notes, fmt.Sprintf("%s replaced by %s, which someone had already added to the list: %s is taken out", r, upn, r))
	}
	return notes
}

func ownsEntry(u *User, entry string) bool {
	for _, o := range u.Owned {
		if strings.EqualFold(o.Entry, entry) {
			return true
		}
	}
	return false
}

// duplicate is C3: a UPN an earlier person of this read has too. Neither
// is written; a third and later people join the same conflict.
func (p *Planner) duplicate(seen seenUPN, person *Person, users []int32) {
	retain(person)
	first := p.holder(seen)
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
	p.reassign(seen, p.conflict(Conflict{
		Reason: ConflictDuplicateUPN, UPN: person.UPN,
		Detail: "2 directory users have this UPN; neither is written",
		Users:  ids, People: people,
	}))
}

// claimedTwice is C4: a second person matches a user another person of
// this read matched. Neither writes; a third and later people join the
// same conflict.
func (p *Planner) claimedTwice(pos int32, prev ref, person *Person, rule MatchRule) {
	retain(person)
	u := p.ix.user(pos)
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
	p.setClaim(pos, p.conflict(Conflict{
		Reason: ConflictAmbiguousMatch, UPN: person.UPN,
		Detail: fmt.Sprintf("Octopus user %s%s is matched by 2 directory users (the second by %s); none is written",
			u.ID, paren(u.Name()), rule),
		Users: []string{p.userID(pos)}, People: people,
	}))
}

// byteOrder is C8: the person's objectGUID, its first three groups
// byte-swapped, is the ExternalIdentifier of the users at users. Nothing
// is written for the person; the conflict says what to store.
func (p *Planner) byteOrder(person *Person, users []int32) {
	var held []string
	for _, pos := range users {
		u := p.ix.user(pos)
		held = append(held, fmt.Sprintf("%s of Octopus user %s%s", u.ExternalID, u.ID, paren(u.Name())))
	}
	p.conflictOf(person, ConflictExternalIDByteOrder,
		fmt.Sprintf("the ExternalIdentifier %s is this person's objectGUID with the bytes of its first three groups in the wrong order (written from the raw bytes without AD's byte order); store %s there instead; nothing is written until then",
			strings.Join(held, " and "), NormalizeGUID(person.GUID)), users...)
}
