package report

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/upnsync/upnsync/internal/csvfile"
	pl "github.com/upnsync/upnsync/internal/plural"
	upnsync "github.com/upnsync/upnsync/sync"
)

// CSVHeader is the CSV report's header: one row per change, conflict,
// unmatched and skipped person and departure, like a staging export of
// pending changes, and a not-listed row for each list the plan cut short.
// The last three columns say which run every row belongs to (the same on
// each row, so that a spreadsheet or a script sees them whatever it keeps
// of the file, and a dry run's CSV and an apply's cannot be mistaken):
// run_id, mode (dry-run or apply) and started (RFC 3339, UTC). They come
// last so that a script that reads the first columns by position reads
// what it read before.
var CSVHeader = []string{"kind", "user_id", "name", "match", "upn", "before", "after",
	"added", "replaced", "reason", "detail", "users", "people", "dn", "guid", "removed", "notes",
	"run_id", "mode", "started"}

// csvColumns numbers the columns of CSVHeader.
var csvColumns = func() map[string]int {
	m := make(map[string]int, len(CSVHeader))
	for i, h := range CSVHeader {
		m[h] = i
	}
	return m
}()

// CSV writes the report as RFC 4180 CSV, in the form internal/csvfile
// gives every CSV upnsync writes (UTF-8 with a byte order mark, CRLF,
// meta.CSVSeparator between values), so that Excel opens it in any locale.
func CSV(out io.Writer, plan *upnsync.Plan, meta Meta) error {
	bw := bufio.NewWriterSize(out, writeBuffer)
	w, err := csvfile.NewWriter(bw, meta.CSVSeparator) // writes through bw, which is large enough
	if err != nil {
		return err
	}
	started := ""
	if !meta.Started.IsZero() {
		started = meta.Started.UTC().Format(time.RFC3339)
	}
	id, iid, imode, istarted := runID(meta), csvColumns["run_id"], csvColumns["mode"], csvColumns["started"]
	// row writes one record: its kind, then the cells named, given as
	// column name and value pairs; the other cells are empty but for the
	// run's columns. One record is reused, since csv.Writer does not keep it.
	rec := make([]string, len(CSVHeader))
	row := func(kind string, cells ...string) {
		clear(rec)
		rec[0] = kind
		rec[iid], rec[imode], rec[istarted] = safeCell(id), safeCell(meta.Mode), started
		for i := 0; i+1 < len(cells); i += 2 {
			col, ok := csvColumns[cells[i]]
			if !ok || col == 0 {
				panic("report: no CSV column " + cells[i])
			}
			rec[col] = safeCell(cells[i+1])
		}
		_ = w.Write(rec)
	}
	_ = w.Write(CSVHeader)
	for _, c := range plan.Changes.All() {
		row("change",
			"user_id", c.UserID, "name", c.UserName, "match", string(c.Match), "upn", c.Person.UPN,
			"before", c.Before, "after", c.After, "added", strings.Join(c.Added, ";"),
			"replaced", joinReplaced(c.Replaced), "dn", c.Person.DN, "guid", c.Person.GUID,
			"removed", strings.Join(c.Removed, ";"), "reason", string(c.Departed), "notes", strings.Join(c.Notes, " | "))
	}
	for _, c := range plan.Conflicts {
		row("conflict",
			"upn", c.UPN, "reason", c.Reason, "detail", c.Detail, "name", strings.Join(c.UserNames, ";"),
			"users", strings.Join(c.Users, ";"), "people", strings.Join(c.People, "|"))
	}
	for _, p := range plan.Unmatched {
		row("unmatched", "upn", p.UPN, "dn", p.DN, "guid", p.GUID)
	}
	for _, s := range plan.Skipped {
		row("skipped", "dn", s.DN, "reason", s.Reason)
	}
	// People the plan counted but did not list (upnsync.Options.ListLimit):
	// one row each kind, so that a program summing rows is not misled.
	if n := unmatchedCount(plan) - len(plan.Unmatched); n > 0 {
		row("not-listed", "reason", "unmatched", "detail", notListed(n, "unmatched directory user"))
	}
	if n := skippedCount(plan) - len(plan.Skipped); n > 0 {
		row("not-listed", "reason", "skipped", "detail", notListed(n, "skipped directory user"))
	}
	for _, d := range plan.Departures {
		var users, entries []string
		for _, e := range d.Entries {
			users = append(users, e.UserID)
			entries = append(entries, e.Entry)
		}
		reason := string(d.Reason)
		if reason == "" {
			reason = "unknown"
		}
		detail := d.Detail
		if d.Kept != "" {
			detail = strings.TrimPrefix(strings.TrimSpace(detail+"; "+d.Kept), "; ")
		}
		where := "upn"
		if d.Removed {
			where = "removed"
		}
		row("departure", "reason", reason, "detail", detail, "users", strings.Join(users, ";"),
			"dn", d.DN, "guid", d.GUID, where, strings.Join(entries, ";"))
	}
	for _, pn := range plan.PinnedMissing {
		detail := "the ExternalIdentifier " + pn.ExternalID + " names no one in this read"
		if pn.Match != "" {
			detail += "; the person in dn would match by " + string(pn.Match) + ": if it is the same person, store " + pn.Candidate.GUID + " as the ExternalIdentifier"
		}
		row("pinned-missing", "user_id", pn.UserID, "name", pn.UserName, "match", string(pn.Match),
			"reason", "pinned-to-a-missing-object", "detail", detail, "dn", pn.Candidate.DN, "upn", pn.Candidate.UPN, "guid", pn.Candidate.GUID)
	}
	if n := pinnedCount(plan) - len(plan.PinnedMissing); n > 0 {
		row("not-listed", "reason", "pinned-missing", "detail", notListed(n, "Octopus user pinned to a missing object"))
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return err
	}
	return bw.Flush()
}

// notListed says that n more of what are counted and not listed.
func notListed(n int, what string) string {
	noun, rest, _ := strings.Cut(what, " pinned")
	if rest != "" {
		rest = " pinned" + rest
	}
	return fmt.Sprintf("%d more %s%s %s counted but not listed", n, pl.Noun(n, noun), rest, map[bool]string{true: "is", false: "are"}[n == 1])
}

// safeCell keeps a spreadsheet from taking a directory value for a
// formula (CSV injection): values starting with = + - @ get a leading
// quote, as OWASP advises.
func safeCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
