package sync

// The rules applied after the read (the rulebook's second half; rules.go
// holds the first, applied to each person as it is read, and says how both
// are numbered): which pinned users the read did not name (M7), the people
// who are gone and what may be removed for them (D1 to D5), and the guards
// that stop a run before it writes (G2 to G5, G7, G8).

import (
	"fmt"
	"strconv"
	"strings"
)

// pinnedMissing is M7: after a complete full read of people with
// objectGUIDs, the users whose ExternalIdentifier holds an objectGUID that
// no person of the read has (in either byte order) and whom no person
// matched, each with the first person who would have matched them by M2 or
// M3 but for M5. A user no one of the read would match is listed only when
// the read was of the whole directory (ReadResult.Whole): outside it, the
// object may simply be out of scope. At most Options.ListLimit are listed;
// all are counted.
func (p *Planner) pinnedMissing(read ReadResult) ([]Pinned, int) {
	if !read.Complete || read.Partial || p.ix.pinnedN == 0 || !p.pinned.guids {
		return nil, 0
	}
	var out []Pinned
	n := 0
	for pos := range p.ix.n {
		if !p.ix.isPinned(pos) || p.pinned.isNamed(pos) {
			continue
		}
		if _, ok := p.pinned.candidates[pos]; !ok && !read.Whole {
			continue
		}
		if n++; p.opts.ListLimit >= 0 && len(out) >= p.opts.ListLimit {
			continue
		}
		u := p.ix.user(pos)
		pn := p.pinned.candidates[pos]
		pn.UserID, pn.UserName, pn.ExternalID = strings.Clone(u.ID), strings.Clone(u.Name()), strings.Clone(u.ExternalID)
		out = append(out, pn)
	}
	return out, n
}

// departures lists the people who are gone (D1), with why (D2), and plans
// the removal of their entries where D3 allows it. It needs the snapshot:
// call it before the snapshot goes.
func (p *Planner) departures(read ReadResult) []Departure {
	gone := p.owners.guids(func(o *owner) bool {
		// D1: owners this read did not see; after a partial read only
		// those a change feed reported or --skip-disabled skipped.
		return !o.seen && (!read.Partial || o.deleted || o.disabled || o.unselected)
	})
	deps := make([]Departure, 0, len(gone))
	for _, g := range gone {
		ow := &p.owners.list[g.i]
		d := Departure{GUID: g.guid}
		switch { // D2
		case ow.disabled:
			d.Whereabouts = Whereabouts{Reason: DepartedDisabled, Detail: "the account is disabled and --skip-disabled leaves it out"}
		case ow.where != 0:
			d.Whereabouts = p.owners.wheres[ow.where-1]
		}
		for ref := range p.owners.entries(g.i) {
			u := p.ix.user(ref.pos)
			entry := u.Owned[ref.k].Entry
			if indexFold(SplitEntries(u.WindowsUsernames), entry) < 0 {
				continue // someone removed it already
			}
			// Copies: the plan outlives the snapshot.
			d.Entries = append(d.Entries, DepartedEntry{UserID: strings.Clone(u.ID),
				UserName: strings.Clone(u.Name()), Entry: strings.Clone(entry)})
		}
		switch { // D3
		case len(d.Entries) == 0:
			d.Kept = "nothing left to remove: the entries upnsync added are no longer in the lists"
		case !p.opts.RemoveDeparted:
			d.Kept = "kept: --remove-departed not given"
		case !read.Complete:
			d.Kept = "kept: the directory read was not proven complete"
		case d.Reason == DepartedUnknown:
			d.Kept = "kept: the directory could not tell why this person is gone"
		case d.Reason == DepartedNotFound:
			d.Kept = "kept: not finding a person is no evidence that they left; " + NotFoundCheck
		case !d.Reason.Removable():
			d.Kept = "kept: " + string(d.Reason)
		case p.opts.HoldRemovals != "":
			d.Kept = "kept: " + p.opts.HoldRemovals
		default:
			d.Kept = p.removeDeparted(g.i, &d)
			d.Removed = d.Kept == ""
		}
		deps = append(deps, d)
	}
	return deps
}

// removeDeparted plans the removal of a departed person's entries, user by
// user (D4, D5). It returns why something was kept, or "".
func (p *Planner) removeDeparted(owner int32, d *Departure) string {
	var kept []string
	for ref := range p.owners.entries(owner) {
		u := p.ix.user(ref.pos)
		entry := u.Owned[ref.k].Entry
		if indexFold(SplitEntries(u.WindowsUsernames), entry) < 0 {
			continue
		}
		// D4
		if seen := p.lookupUPN(entry); seen.found() {
			kept = append(kept, fmt.Sprintf("%s is now the UPN of %s", entry, p.label(p.holder(seen))))
			continue
		}
		if c := p.claim(ref.pos); c.kind == refConflict {
			kept = append(kept, fmt.Sprintf("user %s has a conflict", u.ID))
			continue
		}
		// D5: one write per user.
		c := p.removalChange(ref.pos, &u, d)
		if !c.remove(entry) {
			continue // the change planned for the user took it out already
		}
		if !c.departedOnly() {
			c.note(fmt.Sprintf("%s is taken out: upnsync added it for %s, who is gone (%s)", entry, d.GUID, d.Reason))
		}
		p.stats.Removals++
	}
	if len(kept) > 0 {
		return "kept: " + strings.Join(kept, "; ")
	}
	return ""
}

// Check returns the threshold guards the plan trips (G2 to G5), in a fixed
// order. A guard that trips stops the run before anything is written.
func (l Limits) Check(plan *Plan) []GuardStop {
	var stops []GuardStop
	users := plan.Stats.StoreUsers
	changes := plan.Changes.Len()
	removals := plan.Stats.Removals
	if l.MaxChanges >= 0 && changes > l.MaxChanges {
		stops = append(stops, stop(GuardMaxChanges, "MaxChanges", changes, l.MaxChanges,
			fmt.Sprintf("%s to write %s the limit of %d", count(changes, "user"), exceed(changes), l.MaxChanges),
			strconv.Itoa(l.MaxChanges), "N"))
	}
	if l.MaxChangePercent >= 0 {
		if max := share(l.MaxChangePercent, users); changes > max {
			stops = append(stops, stop(GuardMaxChangePercent, "MaxChangePercent", changes, max,
				fmt.Sprintf("%s to write (%s of the %d Octopus users) %s the limit of %s%% (%s)",
					count(changes, "user"), percent(changes, users), users, exceed(changes), fmtPercent(l.MaxChangePercent), count(max, "user")),
				fmtPercent(l.MaxChangePercent), "P"))
		}
	}
	if l.MaxRemovals >= 0 && removals > l.MaxRemovals {
		stops = append(stops, stop(GuardMaxRemovals, "MaxRemovals", removals, l.MaxRemovals,
			fmt.Sprintf("%s of departed people to remove %s the removal limit of %d", count(removals, "entry"), exceed(removals), l.MaxRemovals),
			strconv.Itoa(l.MaxRemovals), "N"))
	}
	if l.MaxRemovalPercent >= 0 {
		if max := share(l.MaxRemovalPercent, users); removals > max {
			stops = append(stops, stop(GuardMaxRemovalPercent, "MaxRemovalPercent", removals, max,
				fmt.Sprintf("%s of departed people to remove (%s of the %d Octopus users) %s the removal limit of %s%% (%d)",
					count(removals, "entry"), percent(removals, users), users, exceed(removals), fmtPercent(l.MaxRemovalPercent), max),
				fmtPercent(l.MaxRemovalPercent), "P"))
		}
	}
	return stops
}

// CheckRead returns the guards the read itself trips, after a complete full
// read (a delta reads only what changed): G8, nobody read while the store
// has users; else G7, a base that gave more than MaxReadDrop percent, and
// more than MinReadDrop, fewer people than in last, the last complete read
// of the same directory (nil: none yet). bases are the people read per base; scope names the bases and
// the filter for G8's message.
func (l Limits) CheckRead(plan *Plan, bases []BaseCount, last *LastRead, scope string) []GuardStop {
	if !plan.Read.Complete || plan.Read.Partial {
		return nil
	}
	users := plan.Stats.StoreUsers
	if plan.Stats.Read == 0 {
		if users == 0 || l.AllowEmptyRead {
			return nil
		}
		return []GuardStop{{Guard: GuardEmptyRead, Option: "--allow-empty-read",
			Message: fmt.Sprintf("the read found no one (%s) while the store has %s: a wrong --domain, --filter or --user-filter selects nobody, and everyone upnsync added entries for would look gone; upnsync doctor counts the people each of them selects; if the directory really holds no one, give --allow-empty-read (/AllowEmptyRead)",
				scope, count(users, "Octopus user"))}}
	}
	if l.MaxReadDrop < 0 || last == nil {
		return nil
	}
	var stops []GuardStop
	for _, b := range bases {
		before, ok := last.people(b.Base)
		if !ok || b.Entries >= before {
			continue
		}
		drop, max := before-b.Entries, max(share(l.MaxReadDrop, before), MinReadDrop)
		if drop <= max {
			continue
		}
		stops = append(stops, GuardStop{Guard: GuardMaxReadDrop, Count: drop, Threshold: max, Option: "--max-read-drop",
			Message: fmt.Sprintf("%s gave %s, %s (%s) fewer than the %d of the last complete read (%s), over the limit of %s%% (--max-read-drop %s); check that the account upnsync binds as still may read all of it and that the bases and filter are right, then let this one run through with --force (/Force) or raise --max-read-drop (/MaxReadDrop:P)",
				baseLabel(b.Base), count(b.Entries, "person"), strconv.Itoa(drop), percent(drop, before), before,
				last.Time.UTC().Format("2006-01-02 15:04 UTC"), fmtPercent(l.MaxReadDrop), fmtPercent(l.MaxReadDrop))})
	}
	return stops
}

// baseLabel names a base (or an export) in a guard's message.
func baseLabel(base string) string {
	switch {
	case base == "":
		return "the whole forest (Global Catalog)"
	case strings.Contains(base, "="):
		return "base " + base
	}
	return base
}
