package report

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"
	"time"

	upnsync "github.com/upnsync/upnsync/sync"
)

func samplePlan() *upnsync.Plan {
	return &upnsync.Plan{
		Changes: []upnsync.Change{{
			UserID: "12", UserName: "Jane Doe", ExternalID: "3f2504e0-4f89-11d3-9a0c-0305e82c3301",
			Match: upnsync.MatchExternalID, Before: "jdoe", After: "jdoe;jane@corp.example.com",
			Added:  []string{"jane@corp.example.com"},
			Person: upnsync.Person{DN: "CN=Jane Doe,DC=corp", UPN: "jane@corp.example.com", GUID: "3f2504e0-4f89-11d3-9a0c-0305e82c3301"},
		}, {
			UserID: "13", UserName: "Bob Roe", Match: upnsync.MatchEmail, Before: "bob;bob.old@corp.example.com",
			After:    "bob;bob@corp.example.com",
			Replaced: []upnsync.Replacement{{Old: "bob.old@corp.example.com", New: "bob@corp.example.com"}},
			Person:   upnsync.Person{DN: "CN=Bob Roe,DC=corp", UPN: "bob@corp.example.com"},
		}},
		Conflicts: []upnsync.Conflict{{Reason: "duplicate-upn", UPN: "x@corp.example.com",
			Detail: "2 directory users have this UPN; neither is written",
			Users:  []string{"1", "2"}, People: []string{"CN=A,DC=corp", "CN=B,DC=corp"}}},
		Unmatched: []upnsync.Person{{DN: "CN=Nobody,DC=corp", UPN: "nobody@corp.example.com", GUID: "g"}},
		Skipped:   []upnsync.Skip{{DN: "CN=Old,DC=corp", Reason: "no userPrincipalName"}},
		Stats: upnsync.Stats{Read: 6, Matched: 4, Unchanged: 1, Changes: 2, Conflicts: 1, Unmatched: 1,
			Skipped: 1, StoreUsers: 20},
		Read: upnsync.ReadResult{Complete: true, Pages: 1, Entries: 6},
	}
}

func sampleMeta() Meta {
	t0 := time.Date(2026, 11, 26, 1, 2, 3, 0, time.UTC)
	return Meta{Mode: ModeDryRun, Directory: "ldif:dir.ldif", Store: "sqlite:o.db",
		Started: t0, Finished: t0.Add(2 * time.Second)}
}

// The JSON names are a contract with programs: check them literally.
func TestJSONNames(t *testing.T) {
	var buf bytes.Buffer
	if err := JSON(&buf, samplePlan(), sampleMeta()); err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"version", "mode", "directory", "store", "started", "finished", "complete",
		"summary", "changes", "conflicts", "unmatched", "skipped"} {
		if _, ok := got[k]; !ok {
			t.Errorf("JSON report lacks %q", k)
		}
	}
	if got["version"] != 1.0 || got["mode"] != "dry-run" || got["started"] != "2026-11-26T01:02:03Z" ||
		got["finished"] != "2026-11-26T01:02:05Z" || got["complete"] != true {
		t.Errorf("header = %v", got)
	}
	sum := got["summary"].(map[string]any)
	want := map[string]float64{"read": 6, "matched": 4, "unchanged": 1, "changes": 2, "conflicts": 1, "unmatched": 1, "skipped": 1}
	for k, v := range want {
		if sum[k] != v {
			t.Errorf("summary.%s = %v, want %v", k, sum[k], v)
		}
	}
	ch := got["changes"].([]any)[0].(map[string]any)
	for k, v := range map[string]any{"user_id": "12", "name": "Jane Doe", "external_id": "3f2504e0-4f89-11d3-9a0c-0305e82c3301",
		"match": "external-id", "before": "jdoe", "after": "jdoe;jane@corp.example.com"} {
		if ch[k] != v {
			t.Errorf("changes[0].%s = %v, want %v", k, ch[k], v)
		}
	}
	if a := ch["added"].([]any); len(a) != 1 || a[0] != "jane@corp.example.com" {
		t.Errorf("added = %v", a)
	}
	if r := ch["replaced"].([]any); len(r) != 0 {
		t.Errorf("replaced must be an empty list, got %v", r)
	}
	rep := got["changes"].([]any)[1].(map[string]any)["replaced"].([]any)[0].(map[string]any)
	if rep["old"] != "bob.old@corp.example.com" || rep["new"] != "bob@corp.example.com" {
		t.Errorf("replaced = %v", rep)
	}
	cf := got["conflicts"].([]any)[0].(map[string]any)
	if cf["reason"] != "duplicate-upn" || cf["upn"] != "x@corp.example.com" || len(cf["users"].([]any)) != 2 ||
		len(cf["people"].([]any)) != 2 || cf["detail"] == "" {
		t.Errorf("conflict = %v", cf)
	}
	um := got["unmatched"].([]any)[0].(map[string]any)
	if um["dn"] != "CN=Nobody,DC=corp" || um["upn"] != "nobody@corp.example.com" || um["guid"] != "g" {
		t.Errorf("unmatched = %v", um)
	}
	sk := got["skipped"].([]any)[0].(map[string]any)
	if sk["dn"] != "CN=Old,DC=corp" || sk["reason"] != "no userPrincipalName" {
		t.Errorf("skipped = %v", sk)
	}
}

func TestJSONEmptyListsAreLists(t *testing.T) {
	var buf bytes.Buffer
	if err := JSON(&buf, &upnsync.Plan{Read: upnsync.ReadResult{Complete: true}}, sampleMeta()); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{`"changes": []`, `"conflicts": []`, `"unmatched": []`, `"skipped": []`} {
		if !strings.Contains(buf.String(), k) {
			t.Errorf("JSON lacks %s:\n%s", k, buf.String())
		}
	}
}

func TestText(t *testing.T) {
	var buf bytes.Buffer
	meta := sampleMeta()
	meta.ApplyHint = "run: upnsync --apply ..."
	if err := Text(&buf, samplePlan(), meta); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		"upnsync dry run, 2026-11-26 01:02:03 UTC",
		"Directory: ldif:dir.ldif (complete: 6 entries, 1 page)",
		"Store:     sqlite:o.db (20 users)",
		"Changes: 2",
		"  user 12 (Jane Doe), matched by external-id to CN=Jane Doe,DC=corp",
		"    before:   jdoe\n    after:    jdoe;jane@corp.example.com\n    added:    jane@corp.example.com",
		"    replaced: bob.old@corp.example.com -> bob@corp.example.com",
		"Conflicts (nothing written for these): 1",
		"  duplicate-upn  x@corp.example.com: 2 directory users have this UPN; neither is written",
		"Unmatched directory users (no Octopus user found): 1",
		"  CN=Nobody,DC=corp  nobody@corp.example.com",
		"Skipped: 1\n  CN=Old,DC=corp: no userPrincipalName",
		"Summary: read 6, matched 4, unchanged 1, changes 2, conflicts 1, unmatched 1, skipped 1",
		"Dry run: nothing was written. To apply 2 changes, run: upnsync --apply ....",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("text report lacks %q:\n%s", want, out)
		}
	}
}

func TestTextIncompleteAndApplied(t *testing.T) {
	p := samplePlan()
	p.Read = upnsync.ReadResult{Why: "connection lost after page 2"}
	meta := sampleMeta()
	meta.Mode = ModeApply
	meta.Applied = &upnsync.Applied{RunID: "r1", Written: []string{"12"},
		Stale: []upnsync.Stale{{UserID: "13", Expected: "bob;bob.old@corp.example.com", Found: "bob"}}}
	var buf bytes.Buffer
	if err := Text(&buf, p, meta); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"INCOMPLETE: connection lost after page 2", "upnsync apply",
		"Applied: 1 user written (run r1). 1 user changed since the plan",
		`user 13 now holds "bob" (the plan saw "bob;bob.old@corp.example.com")`} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("lacks %q:\n%s", want, buf.String())
		}
	}
}

func TestTextCapsLongLists(t *testing.T) {
	p := &upnsync.Plan{Read: upnsync.ReadResult{Complete: true}}
	for i := 0; i < TextListLimit+5; i++ {
		p.Unmatched = append(p.Unmatched, upnsync.Person{DN: "CN=x"})
	}
	var buf bytes.Buffer
	_ = Text(&buf, p, sampleMeta())
	if !strings.Contains(buf.String(), "... and 5 more") || strings.Count(buf.String(), "CN=x") != TextListLimit {
		t.Fatalf("not capped:\n%s", buf.String())
	}
}

func TestCSV(t *testing.T) {
	p := samplePlan()
	p.Unmatched[0].DN = "=HYPERLINK(\"x\")"
	var buf bytes.Buffer
	if err := CSV(&buf, p, sampleMeta()); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 6 || strings.Join(rows[0], ",") != strings.Join(CSVHeader, ",") {
		t.Fatalf("rows = %q", rows)
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	if r := rows[1]; r[0] != "change" || r[col["user_id"]] != "12" || r[col["added"]] != "jane@corp.example.com" {
		t.Errorf("change row = %q", r)
	}
	if r := rows[2]; r[col["replaced"]] != "bob.old@corp.example.com -> bob@corp.example.com" {
		t.Errorf("replaced row = %q", r)
	}
	if r := rows[3]; r[0] != "conflict" || r[col["reason"]] != "duplicate-upn" || r[col["users"]] != "1;2" {
		t.Errorf("conflict row = %q", r)
	}
	if r := rows[4]; r[0] != "unmatched" || r[col["dn"]] != `'=HYPERLINK("x")` {
		t.Errorf("unmatched row (formula must be defused) = %q", r)
	}
	if r := rows[5]; r[0] != "skipped" || r[col["reason"]] != "no userPrincipalName" {
		t.Errorf("skipped row = %q", r)
	}
}

func TestWriteUnknownFormat(t *testing.T) {
	err := Write(&bytes.Buffer{}, "xml", samplePlan(), sampleMeta())
	if err == nil || !strings.Contains(err.Error(), "use text, json or csv") {
		t.Fatalf("err = %v", err)
	}
}
