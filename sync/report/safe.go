package report

import (
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	upnsync "github.com/upnsync/upnsync/sync"
)

// forTerminal returns the plan and meta with every text made safe to print
// on a terminal. UPNs, names and DNs come from the directory and the store,
// and whoever can edit an account there can put control characters in
// them: an escape sequence would rewrite the administrator's screen (hide
// a line, fake a result), a newline would add a line of its own to the
// report. Such characters, bidirectional overrides and invalid UTF-8 are
// shown escaped (\x1b, \u202e). The changes are escaped one by one as the
// report reads them (a first run plans hundreds of thousands: they are
// neither scanned nor copied beforehand); the rest of the plan is copied
// only when something in it needs escaping.
func forTerminal(plan *upnsync.Plan, meta Meta) (*upnsync.Plan, Meta) {
	p := *plan
	p.Changes = p.Changes.Map(escapeChange)
	if !planNeedsEscape(plan, &meta) {
		return &p, meta
	}
	p.Conflicts = slices.Clone(p.Conflicts)
	for i := range p.Conflicts {
		c := &p.Conflicts[i]
		c.Reason, c.UPN, c.Detail = escape(c.Reason), escape(c.UPN), escape(c.Detail)
		c.Users, c.People = escapeAll(c.Users), escapeAll(c.People)
	}
	p.Unmatched = slices.Clone(p.Unmatched)
	for i := range p.Unmatched {
		p.Unmatched[i] = escapePerson(p.Unmatched[i])
	}
	p.Skipped = slices.Clone(p.Skipped)
	for i := range p.Skipped {
		p.Skipped[i].DN, p.Skipped[i].Reason = escape(p.Skipped[i].DN), escape(p.Skipped[i].Reason)
	}
	p.Read.Why = escape(p.Read.Why)
	p.Read.Bases = slices.Clone(p.Read.Bases)
	for i := range p.Read.Bases {
		p.Read.Bases[i].Base = escape(p.Read.Bases[i].Base)
	}
	meta.Directory, meta.Store, meta.Stopped, meta.ApplyHint = escape(meta.Directory), escape(meta.Store), escape(meta.Stopped), escape(meta.ApplyHint)
	meta.RunID, meta.MappingFile, meta.NetBIOS = escape(meta.RunID), escape(meta.MappingFile), escape(meta.NetBIOS)
	meta.NetBIOSSource = escape(meta.NetBIOSSource)
	if meta.Applied != nil {
		a := *meta.Applied
		a.RunID, a.Written = escape(a.RunID), escapeAll(a.Written)
		a.Stale = slices.Clone(a.Stale)
		for i := range a.Stale {
			a.Stale[i].UserID = escape(a.Stale[i].UserID) // Expected and Found are printed with %q
		}
		meta.Applied = &a
	}
	return &p, meta
}

// escapeChange escapes one change: its lists are replaced, not written
// to, when an entry needs escaping (they are the plan's).
func escapeChange(ch upnsync.Change) upnsync.Change {
	c := &ch
	c.UserID, c.UserName, c.ExternalID = escape(c.UserID), escape(c.UserName), escape(c.ExternalID)
	c.Before, c.After = escape(c.Before), escape(c.After)
	c.Added, c.Removed, c.Notes = escapeSome(c.Added), escapeSome(c.Removed), escapeSome(c.Notes)
	if slices.ContainsFunc(c.Replaced, func(r upnsync.Replacement) bool { return needsEscape(r.Old) || needsEscape(r.New) }) {
		c.Replaced = slices.Clone(c.Replaced)
		for j := range c.Replaced {
			c.Replaced[j].Old, c.Replaced[j].New = escape(c.Replaced[j].Old), escape(c.Replaced[j].New)
		}
	}
	c.Person = escapePerson(c.Person)
	return ch
}

// escapeSome is escapeAll, returning list itself when nothing in it needs
// escaping.
func escapeSome(list []string) []string {
	if !slices.ContainsFunc(list, needsEscape) {
		return list
	}
	return escapeAll(list)
}

func escapePerson(p upnsync.Person) upnsync.Person {
	p.DN, p.UPN, p.SAMAccountName, p.GUID = escape(p.DN), escape(p.UPN), escape(p.SAMAccountName), escape(p.GUID)
	p.GivenName, p.Surname, p.Mail = escape(p.GivenName), escape(p.Surname), escape(p.Mail)
	return p
}

func escapeAll(list []string) []string {
	if list == nil {
		return nil
	}
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = escape(s)
	}
	return out
}

// unsafeRune is a character that must not reach a terminal as it is.
func unsafeRune(r rune) bool {
	return unicode.IsControl(r) || r == utf8.RuneError ||
		r >= 0x202a && r <= 0x202e || r >= 0x2066 && r <= 0x2069 // bidirectional embeddings, overrides, isolates
}

func needsEscape(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f {
			return strings.IndexFunc(s, unsafeRune) >= 0 || !utf8.ValidString(s)
		}
	}
	return false
}

// escape writes unsafe characters as Go escapes.
func escape(s string) string {
	if !needsEscape(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n <= 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case unsafeRune(r) && r < 0x100:
			fmt.Fprintf(&b, `\x%02x`, r)
		case unsafeRune(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// planNeedsEscape reports whether anything in the plan but its changes
// (escapeChange escapes those as they are read), or in meta, needs
// escaping.
func planNeedsEscape(plan *upnsync.Plan, meta *Meta) bool {
	has := func(list ...string) bool { return slices.ContainsFunc(list, needsEscape) }
	person := func(p *upnsync.Person) bool {
		return has(p.DN, p.UPN, p.SAMAccountName, p.GUID, p.GivenName, p.Surname, p.Mail)
	}
	for i := range plan.Conflicts {
		c := &plan.Conflicts[i]
		if has(c.Reason, c.UPN, c.Detail) || has(c.Users...) || has(c.People...) {
			return true
		}
	}
	for i := range plan.Unmatched {
		if person(&plan.Unmatched[i]) {
			return true
		}
	}
	for _, s := range plan.Skipped {
		if has(s.DN, s.Reason) {
			return true
		}
	}
	for _, b := range plan.Read.Bases {
		if has(b.Base) {
			return true
		}
	}
	if has(plan.Read.Why, meta.Directory, meta.Store, meta.Stopped, meta.ApplyHint, meta.RunID, meta.MappingFile, meta.NetBIOS) {
		return true
	}
	if a := meta.Applied; a != nil {
		if has(a.RunID) || has(a.Written...) {
			return true
		}
		for _, st := range a.Stale {
			if has(st.UserID) {
				return true
			}
		}
	}
	return false
}
