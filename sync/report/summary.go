package report

import (
	"fmt"
	"strings"

	upnsync "github.com/upnsync/upnsync/sync"
)

// SummaryLine is the report's summary in one line, as the text report
// gives it first and last (after "Summary: ") and the console line of a
// quiet run, or of a run whose report went to a file, prints it: the counts of the
// read (read, matched, unchanged, changes, conflicts, unmatched, skipped,
// and departed and removals when there are any); for a report whose
// changes did not come from a read (an undo, a saved plan applied: Source
// is set), the changes and conflicts only; then what an apply wrote, or
// that the run stopped before writing.
func SummaryLine(plan *upnsync.Plan, meta Meta) string {
	st := plan.Stats
	var b strings.Builder
	if meta.Source != "" {
		fmt.Fprintf(&b, "changes %d", plan.Changes.Len())
		if n := max(st.Conflicts, len(plan.Conflicts)); n > 0 {
			fmt.Fprintf(&b, ", conflicts %d", n)
		}
	} else {
		fmt.Fprintf(&b, "read %d, matched %d, unchanged %d, changes %d, conflicts %d, unmatched %d, skipped %d",
			st.Read, st.Matched, st.Unchanged, st.Changes, st.Conflicts, st.Unmatched, st.Skipped)
		if st.Departed > 0 {
			fmt.Fprintf(&b, ", departed %d, removals %d", st.Departed, st.Removals)
		}
		if st.NotFound > 0 {
			fmt.Fprintf(&b, ", not found %d", st.NotFound)
		}
		if st.PinnedMissing > 0 {
			fmt.Fprintf(&b, ", pinned to a missing object %d", st.PinnedMissing)
		}
	}
	switch a := meta.Applied; {
	case a != nil:
		fmt.Fprintf(&b, "; written %d", len(a.Written))
		if len(a.Stale) > 0 {
			fmt.Fprintf(&b, ", left as they are %d", len(a.Stale))
		}
		if meta.Stopped != "" {
			b.WriteString(", then stopped")
		}
	case meta.Stopped != "":
		b.WriteString("; stopped, nothing written")
	}
	return b.String()
}
