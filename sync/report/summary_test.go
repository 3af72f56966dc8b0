package report

import (
	"bytes"
	"encoding/csv"
	"strings"
	"testing"

	upnsync "github.com/upnsync/upnsync/sync"
)

// The text report starts with its summary line, right after the title,
// and still ends with it; an apply's says what was written.
func TestTextStartsWithTheSummary(t *testing.T) {
	meta := sampleMeta()
	meta.Mode = ModeApply
	meta.Applied = &upnsync.Applied{RunID: "r1", Written: []string{"12", "13"}}
	var buf bytes.Buffer
	if err := Text(&buf, samplePlan(), meta); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(buf.String(), "\n"), "\n")
	const want = "Summary: read 6, matched 4, unchanged 1, changes 2, conflicts 1, unmatched 1, skipped 1; written 2"
	if lines[0] != "upnsync apply, 2026-11-26 01:02:03 UTC" || lines[1] != want {
		t.Errorf("the report starts with\n%s\n%s\nwant the title then %q", lines[0], lines[1], want)
	}
	if strings.Count(buf.String(), want+"\n") != 2 || lines[len(lines)-2] != want {
		t.Errorf("the summary line is not at the end too:\n%s", buf.String())
	}
}

// A report whose changes did not come from a read (an undo, a saved plan
// applied) has no read to sum up and no unmatched or skipped people: it
// shows the changes, the conflicts only when it lists some, and a summary
// of its changes.
func TestTextOfAnUndo(t *testing.T) {
	meta := sampleMeta()
	meta.Source = "undo of run r1"
	plan := &upnsync.Plan{Changes: upnsync.ChangesOf(upnsync.Change{UserID: "12", UserName: "Jane Doe", Before: "jdoe;jane@corp.example.com", After: "",
		Removed: []string{"jdoe", "jane@corp.example.com"}}), Stats: upnsync.Stats{StoreUsers: 20, Changes: 1}}
	var buf bytes.Buffer
	if err := Text(&buf, plan, meta); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, absent := range []string{"Conflicts", "Unmatched", "Skipped", "read 0", "Directory:"} {
		if strings.Contains(out, absent) {
			t.Errorf("an undo's report has %q:\n%s", absent, out)
		}
	}
	for _, want := range []string{"\nSummary: changes 1\n", "Source:    undo of run r1\n", "    after:    (empty)\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("an undo's report lacks %q:\n%s", want, out)
		}
	}
	// A store that refused a change lists it as a conflict, even there.
	plan.Conflicts = []upnsync.Conflict{{Reason: "store-cannot-replace", UPN: "x", Users: []string{"12"}, UserNames: []string{"Jane Doe"}}}
	buf.Reset()
	_ = Text(&buf, plan, meta)
	if !strings.Contains(buf.String(), "Conflicts (nothing written for these): 1") || !strings.Contains(buf.String(), "Octopus users: 12 (Jane Doe)") ||
		!strings.Contains(buf.String(), "Summary: changes 1, conflicts 1") {
		t.Errorf("an undo with a refused change:\n%s", buf.String())
	}
}

// The CSV report's rows each say which run they come from (run id, mode,
// start time), so a dry run's CSV and an apply's cannot be mistaken; a
// conflict row names its users.
func TestCSVSaysWhichRun(t *testing.T) {
	meta := sampleMeta()
	meta.RunID = "20261126T010203Z-a1b2c3"
	plan := samplePlan()
	plan.Conflicts[0].UserNames = []string{"Sam Lee", ""}
	var buf bytes.Buffer
	if err := CSV(&buf, plan, meta); err != nil {
		t.Fatal(err)
	}
	// Every CSV upnsync writes starts with a UTF-8 byte order mark.
	rows, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(buf.Bytes(), []byte("\xef\xbb\xbf")))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	head := strings.Join(rows[0], ",")
	if !strings.HasPrefix(head, "kind,user_id,name,") || !strings.HasSuffix(head, ",notes,run_id,mode,started") {
		t.Fatalf("header %s", head)
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	for _, r := range rows[1:] {
		if r[col["run_id"]] != meta.RunID || r[col["mode"]] != "dry-run" || r[col["started"]] != "2026-11-26T01:02:03Z" {
			t.Errorf("row %q lacks the run", r)
		}
		if r[0] == "conflict" && (r[col["users"]] != "1;2" || r[col["name"]] != "Sam Lee;") {
			t.Errorf("conflict row %q: want the users' names", r)
		}
	}
	// An apply's rows say so, with the id it was journaled under.
	meta.RunID, meta.Mode = "", ModeApply
	meta.Applied = &upnsync.Applied{RunID: "20261126T010203Z-ffffff"}
	buf.Reset()
	_ = CSV(&buf, plan, meta)
	rows, _ = csv.NewReader(&buf).ReadAll()
	if r := rows[1]; r[col["run_id"]] != "20261126T010203Z-ffffff" || r[col["mode"]] != "apply" {
		t.Errorf("apply row %q", r)
	}
}
