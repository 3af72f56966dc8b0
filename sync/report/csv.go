package report

import (
	"bufio"
	"encoding/csv"
	"io"
	"strconv"
	"strings"

	upnsync "github.com/upnsync/upnsync/sync"
)

// CSVHeader is the CSV report's header: one row per change, conflict,
// unmatched and skipped person and departure, like a staging export of
// pending changes, and a not-listed row for each list the plan cut short.
var CSVHeader = []string{"kind", "user_id", "name", "match", "upn", "before", "after",
	"added", "replaced", "reason", "detail", "users", "people", "dn", "guid", "removed", "notes"}

// csvColumns numbers the columns of CSVHeader.
var csvColumns = func() map[string]int {
	m := make(map[string]int, len(CSVHeader))
	for i, h := range CSVHeader {
		m[h] = i
	}
	return m
}()

// CSV writes the report as RFC 4180 CSV.
func CSV(out io.Writer, plan *upnsync.Plan, _ Meta) error {
	bw := bufio.NewWriterSize(out, writeBuffer)
	w := csv.NewWriter(bw) // writes through bw, which is large enough
	// row writes one record: its kind, then the cells named, given as
	// column name and value pairs; the other cells are empty. One record
	// is reused, since csv.Writer does not keep it.
	rec := make([]string, len(CSVHeader))
	row := func(kind string, cells ...string) {
		clear(rec)
		rec[0] = kind
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
			"upn", c.UPN, "reason", c.Reason, "detail", c.Detail,
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
		row("not-listed", "reason", "unmatched", "detail", strconv.Itoa(n)+" more unmatched directory users are counted but not listed")
	}
	if n := skippedCount(plan) - len(plan.Skipped); n > 0 {
		row("not-listed", "reason", "skipped", "detail", strconv.Itoa(n)+" more skipped directory users are counted but not listed")
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
	w.Flush()
	if err := w.Error(); err != nil {
		return err
	}
	return bw.Flush()
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
