package report

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"

	pl "github.com/upnsync/upnsync/internal/plural"
	upnsync "github.com/upnsync/upnsync/sync"
)

// TextListLimit caps the unmatched and skipped lists in the text report: a
// large directory has many people with no Octopus user, and the JSON and
// CSV reports carry them all.
const TextListLimit = 100

// Text writes the report for people.
func Text(out io.Writer, plan *upnsync.Plan, meta Meta) error {
	plan, meta = forTerminal(plan, meta)
	w := bufio.NewWriterSize(out, writeBuffer)
	title := "upnsync dry run"
	if meta.Mode == ModeApply {
		title = "upnsync apply"
	}
	if !meta.Started.IsZero() {
		title += ", " + meta.Started.UTC().Format("2006-01-02 15:04:05 UTC")
	}
	fmt.Fprintln(w, title)
	// The summary comes first too: a report can run to megabytes, and
	// `head` should tell what the run did.
	fmt.Fprintln(w, "Summary: "+SummaryLine(plan, meta))
	if meta.Source != "" {
		fmt.Fprintf(w, "Source:    %s\n", meta.Source)
	} else {
		fmt.Fprintf(w, "Directory: %s (%s)\n", meta.Directory, readLine(&plan.Read))
		if m := meta.Read; m != nil {
			fmt.Fprintf(w, "Read mode: %s\n", readModeLine(m))
		}
	}
	for _, b := range plan.Read.Bases {
		refs := ""
		if b.Referrals > 0 {
			refs = ", " + plural(b.Referrals, "referral") + " skipped"
		}
		fmt.Fprintf(w, "           %s: %s, %s%s\n", baseName(b.Base), plural(b.Entries, "entry"), plural(b.Pages, "page"), refs)
	}
	if nb := NetBIOSText(meta); nb != "" {
		fmt.Fprintf(w, "NetBIOS:   %s\n", nb)
	}
	fmt.Fprintf(w, "Store:     %s (%s)\n", meta.Store, plural(plan.Stats.StoreUsers, "user"))
	// A dry run says what it would do, an apply what it did.
	dry := meta.Mode != ModeApply

	section(w, "Changes", plan.Changes.Len())
	for _, c := range plan.Changes.All() {
		switch {
		case c.Departed != "":
			fmt.Fprintf(w, "  user %s%s: %s is gone (%s)\n", c.UserID, nameSuffix(c.UserName), c.Person.Label(), c.Departed)
		case c.Match != "":
			fmt.Fprintf(w, "  user %s%s, matched by %s to %s\n", c.UserID, nameSuffix(c.UserName), c.Match, c.Person.Label())
		default:
			fmt.Fprintf(w, "  user %s%s\n", c.UserID, nameSuffix(c.UserName))
		}
		fmt.Fprintf(w, "    before:   %s\n", orEmpty(c.Before))
		fmt.Fprintf(w, "    after:    %s\n", orEmpty(c.After))
		if len(c.Added) > 0 {
			fmt.Fprintf(w, "    added:    %s\n", strings.Join(c.Added, ", "))
		}
		if len(c.Replaced) > 0 {
			fmt.Fprintf(w, "    replaced: %s\n", joinReplaced(c.Replaced))
		}
		if len(c.Removed) > 0 && dry {
			fmt.Fprintf(w, "    would remove: %s\n", strings.Join(c.Removed, ", "))
		} else if len(c.Removed) > 0 {
			fmt.Fprintf(w, "    removed:  %s\n", strings.Join(c.Removed, ", "))
		}
		for _, n := range c.Notes {
			fmt.Fprintf(w, "    note:     %s\n", n)
		}
	}

	// A report whose changes did not come from a read (an undo, a saved
	// plan applied) lists its conflicts when it has some (a store's
	// refusals) and has no unmatched or skipped people.
	read := meta.Source == ""
	if read || len(plan.Conflicts) > 0 {
		section(w, "Conflicts (nothing written for these)", len(plan.Conflicts))
	}
	for _, c := range plan.Conflicts {
		fmt.Fprintf(w, "  %s  %s: %s\n", c.Reason, c.UPN, c.Detail)
		if len(c.Users) > 0 {
			fmt.Fprintf(w, "    Octopus users: %s\n", usersWithNames(c))
		}
		for _, p := range c.People {
			fmt.Fprintf(w, "    directory:     %s\n", p)
		}
	}
	if read {
		writeUnmatchedAndSkipped(w, plan)
	}

	if len(plan.Departures) > 0 {
		section(w, "Departed (upnsync added their UPN; they were not in this read)", len(plan.Departures))
		for i, d := range plan.Departures {
			if i == TextListLimit {
				fmt.Fprintf(w, "  ... and %d more (the JSON and CSV reports list them all)\n", len(plan.Departures)-i)
				break
			}
			who := d.DN
			if who == "" {
				who = "objectGUID " + d.GUID
			}
			reason := string(d.Reason)
			if reason == "" {
				reason = "not classified"
			}
			fmt.Fprintf(w, "  %s: %s", who, reason)
			if d.Detail != "" && d.Detail != who {
				fmt.Fprintf(w, " (%s)", d.Detail)
			}
			fmt.Fprintln(w)
			for _, e := range d.Entries {
				fmt.Fprintf(w, "    user %s%s: %s\n", e.UserID, nameSuffix(e.UserName), e.Entry)
			}
			if d.Removed && dry {
				fmt.Fprintln(w, "    would be removed")
			} else if d.Removed {
				fmt.Fprintln(w, "    removed")
			} else if d.Kept != "" {
				fmt.Fprintf(w, "    %s\n", d.Kept)
			}
		}
	}

	pinnedSection(w, plan)

	if len(meta.Guards) > 0 {
		title := "Safety guards tripped (nothing written)"
		if meta.Forced {
			title = "Safety guards tripped, let through by --force"
		}
		section(w, title, len(meta.Guards))
		for _, g := range meta.Guards {
			fmt.Fprintf(w, "  %s\n", g.Message)
		}
	}

	fmt.Fprintf(w, "\nSummary: %s\n", SummaryLine(plan, meta))
	for _, n := range meta.Notes {
		fmt.Fprintf(w, "Note: %s\n", n)
	}
	fmt.Fprintln(w, closing(plan, meta))
	if len(meta.NextSteps) > 0 {
		fmt.Fprintln(w, "\nNext steps:")
		for i, step := range meta.NextSteps {
			fmt.Fprintf(w, "  %d. %s\n", i+1, step)
		}
	}
	return w.Flush()
}

func writeUnmatchedAndSkipped(w io.Writer, plan *upnsync.Plan) {
	section(w, "Unmatched directory users (no Octopus user found)", unmatchedCount(plan))
	for i, p := range plan.Unmatched {
		if i == TextListLimit {
			break
		}
		fmt.Fprintf(w, "  %s  %s\n", p.Label(), p.UPN)
	}
	more(w, unmatchedCount(plan), len(plan.Unmatched))

	section(w, "Skipped", skippedCount(plan))
	for i, s := range plan.Skipped {
		if i == TextListLimit {
			break
		}
		fmt.Fprintf(w, "  %s: %s\n", s.DN, s.Reason)
	}
	more(w, skippedCount(plan), len(plan.Skipped))
}

// usersWithNames lists a conflict's Octopus users, each with its name when
// the plan knows it: 1010 (Sam Lee), 1011.
func usersWithNames(c upnsync.Conflict) string {
	parts := make([]string, len(c.Users))
	for i, id := range c.Users {
		parts[i] = id
		if i < len(c.UserNames) {
			parts[i] += nameSuffix(c.UserNames[i])
		}
	}
	return strings.Join(parts, ", ")
}

// pinnedSection lists the Octopus users pinned to an object the read did
// not return (rule M7), with who would match them.
func pinnedSection(w io.Writer, plan *upnsync.Plan) {
	n := max(plan.Stats.PinnedMissing, len(plan.PinnedMissing))
	if n == 0 {
		return
	}
	section(w, "Octopus users pinned to a missing object (their ExternalIdentifier names no one in this read)", n)
	for i, pn := range plan.PinnedMissing {
		if i == TextListLimit {
			break
		}
		fmt.Fprintf(w, "  user %s%s: ExternalIdentifier %s\n", pn.UserID, nameSuffix(pn.UserName), pn.ExternalID)
		if pn.Match != "" {
			fmt.Fprintf(w, "    matches by %s: %s (objectGUID %s): if this is the same person, store %s as the ExternalIdentifier\n",
				pn.Match, pn.Candidate.Label(), pn.Candidate.GUID, pn.Candidate.GUID)
		}
	}
	more(w, n, len(plan.PinnedMissing))
}

// more closes a list the text report cut at TextListLimit. The plan itself
// may list fewer people than it counts (upnsync.Options.ListLimit).
func more(w io.Writer, total, listed int) {
	shown := min(listed, TextListLimit)
	switch {
	case total <= shown:
	case listed == total:
		fmt.Fprintf(w, "  ... and %d more (the JSON and CSV reports list them all)\n", total-shown)
	case listed > shown:
		fmt.Fprintf(w, "  ... and %d more (the JSON and CSV reports list %d of them; the other %d are only counted)\n",
			total-shown, listed-shown, total-listed)
	default:
		fmt.Fprintf(w, "  ... and %d more (only counted: a plan lists at most %d)\n", total-shown, listed)
	}
}

// readModeLine says how a run with --incremental or --dirsync read, from
// which watermark to which, and whether the watermark advanced.
func readModeLine(m *upnsync.ReadMode) string {
	var s string
	switch m.Mode {
	case upnsync.ReadFull:
		s = "full, because " + m.FullReason + "; up to " + m.To
	default:
		s = m.Mode + ", only what changed after " + m.From + " up to " + m.To
	}
	if m.Advanced {
		return s + "; watermark advanced"
	}
	if m.NotAdvanced != "" {
		return s + "; watermark not advanced: " + m.NotAdvanced
	}
	return s
}

func readLine(r *upnsync.ReadResult) string {
	if !r.Complete {
		why := r.Why
		if why == "" {
			why = "the read was not proven complete"
		}
		return "INCOMPLETE: " + why
	}
	s := fmt.Sprintf("complete: %s, %s", plural(r.Entries, "entry"), plural(r.Pages, "page"))
	if r.Partial {
		s = fmt.Sprintf("complete delta: %s changed", plural(r.Entries, "entry"))
		var of []string
		if r.Tombstones > 0 {
			of = append(of, fmt.Sprintf("%d deleted", r.Tombstones))
		}
		if r.Unselected > 0 {
			of = append(of, fmt.Sprintf("%d not selected by the bases and filter", r.Unselected))
		}
		if len(of) > 0 {
			s += " (" + strings.Join(of, ", ") + ")"
		}
	}
	if r.Referrals > 0 {
		s += ", " + plural(r.Referrals, "referral") + " skipped"
	}
	return s
}

// closing tells the administrator what happened and what to do next.
func closing(plan *upnsync.Plan, meta Meta) string {
	switch {
	case meta.Stopped != "":
		return "Stopped before writing anything: " + meta.Stopped
	case meta.Applied != nil:
		a := meta.Applied
		s := fmt.Sprintf("Applied: %s written (run %s).", plural(len(a.Written), "user"), a.RunID)
		if a.RunID == "" {
			s = "Applied: nothing to write."
		}
		if len(a.Stale) > 0 {
			s += fmt.Sprintf(" %s changed since the plan and %s left as %s:", plural(len(a.Stale), "user"),
				map[bool]string{true: "was", false: "were"}[len(a.Stale) == 1], map[bool]string{true: "it is", false: "they are"}[len(a.Stale) == 1])
			for _, st := range a.Stale {
				if st.Missing {
					s += fmt.Sprintf("\n  user %s no longer exists", st.UserID)
				} else if st.AlreadyApplied() {
					s += fmt.Sprintf("\n  user %s already holds %s", st.UserID, quoted(st.Found))
				} else {
					s += fmt.Sprintf("\n  user %s now holds %s (the plan saw %s)", st.UserID, quoted(st.Found), quoted(st.Expected))
				}
			}
			if meta.Source == "" {
				s += "\nRun again to plan them anew."
			}
		}
		return s
	case plan.Changes.Len() == 0 && len(plan.Conflicts) > 0:
		if len(plan.Conflicts) == 1 {
			return "Nothing to change that upnsync may write; the conflict above needs a person to resolve it."
		}
		return fmt.Sprintf("Nothing to change that upnsync may write; the %s above need a person to resolve them.",
			plural(len(plan.Conflicts), "conflict"))
	case plan.Changes.Len() == 0:
		return "Nothing to change: the store is in sync with the directory."
	}
	hint := meta.ApplyHint
	if hint == "" {
		hint = "run the same command with --apply"
	}
	return fmt.Sprintf("Dry run: nothing was written. To apply %s, %s.", plural(plan.Changes.Len(), "change"), hint)
}

func section(w io.Writer, title string, n int) {
	fmt.Fprintf(w, "\n%s: %d\n", title, n)
}

func nameSuffix(name string) string {
	if name == "" {
		return ""
	}
	return " (" + name + ")"
}

func orEmpty(s string) string {
	if s == "" {
		return "(empty)"
	}
	return s
}

// quoted is a value in quotes, or (empty).
func quoted(s string) string {
	if s == "" {
		return "(empty)"
	}
	return strconv.Quote(s)
}

// plural spells a count with its noun: 1 page, 2 pages, 3 entries.
func plural(n int, noun string) string { return pl.Count(n, noun) }

// baseName names a search base; the empty one is the whole forest (a read
// of the Global Catalog).
func baseName(base string) string {
	if base == "" {
		return "the whole forest"
	}
	return base
}
