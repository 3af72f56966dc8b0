package report

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	upnsync "github.com/upnsync/upnsync/sync"
)

// Brief writes the text report in short, as the demo prints it: with
// lists, each change, conflict, unmatched and skipped person on one line
// (the text report's first TextListLimit of each); then the summary line,
// the notes and what to do next. Without lists, only the last three.
func Brief(out io.Writer, plan *upnsync.Plan, meta Meta, lists bool) error {
	plan, meta = forTerminal(plan, meta)
	w := bufio.NewWriter(out)
	if lists {
		briefLists(w, plan)
	}
	fmt.Fprintf(w, "Summary: %s\n", SummaryLine(plan, meta))
	for _, n := range meta.Notes {
		fmt.Fprintf(w, "Note: %s\n", n)
	}
	fmt.Fprintln(w, closing(plan, meta))
	return w.Flush()
}

func briefLists(w io.Writer, plan *upnsync.Plan) {
	list := func(title string, n int, line func(i int) string) {
		if n == 0 {
			return
		}
		fmt.Fprintf(w, "%s: %d\n", title, n)
		for i := range min(n, TextListLimit) {
			fmt.Fprintf(w, "  %s\n", line(i))
		}
		if n > TextListLimit {
			fmt.Fprintf(w, "  ... and %d more\n", n-TextListLimit)
		}
	}
	list("Changes", plan.Changes.Len(), func(i int) string {
		c := plan.Changes.At(i)
		var what []string
		for _, a := range c.Added {
			what = append(what, "+ "+a)
		}
		for _, r := range c.Replaced {
			what = append(what, r.Old+" -> "+r.New)
		}
		for _, r := range c.Removed {
			what = append(what, "- "+r)
		}
		s := fmt.Sprintf("user %s%s: %s", c.UserID, nameSuffix(c.UserName), strings.Join(what, ", "))
		if c.Match != "" {
			s += " (by " + string(c.Match) + ")"
		}
		return s
	})
	list("Conflicts (nothing written for these)", len(plan.Conflicts), func(i int) string {
		c := plan.Conflicts[i]
		return fmt.Sprintf("%s  %s: %s", c.Reason, c.UPN, c.Detail)
	})
	list("Unmatched directory users", len(plan.Unmatched), func(i int) string {
		return plan.Unmatched[i].UPN + "  " + plan.Unmatched[i].Label()
	})
	list("Skipped", len(plan.Skipped), func(i int) string {
		return plan.Skipped[i].DN + ": " + plan.Skipped[i].Reason
	})
}
