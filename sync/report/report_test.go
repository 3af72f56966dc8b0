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
		Changes: upnsync.ChangesOf(upnsync.Change{
			UserID: "12", UserName: "Jane Doe", ExternalID: "3f2504e0-4f89-11d3-9a0c-0305e82c3301",
			Match: upnsync.MatchExternalID, Before: "jdoe", After: "jdoe;jane@corp.example.com",
			Added:  []string{"jane@corp.example.com"},
			Person: upnsync.Person{DN: "CN=Jane Doe,DC=corp", UPN: "jane@corp.example.com", GUID: "3f2504e0-4f89-11d3-9a0c-0305e82c3301"},
		}, upnsync.Change{
			UserID: "13", UserName: "Bob Roe", Match: upnsync.MatchEmail, Before: "bob;bob.old@corp.example.com",
			After:    "bob;bob@corp.example.com",
			Replaced: []upnsync.Replacement{{Old: "bob.old@corp.example.com", New: "bob@corp.example.com"}},
			Person:   upnsync.Person{DN: "CN=Bob Roe,DC=corp", UPN: "bob@corp.example.com"},
		}),
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
	// The byte order mark is Excel's; the rows come after it.
	rows, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(buf.Bytes(), []byte("\xef\xbb\xbf")))).ReadAll()
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
	if err == nil || !strings.Contains(err.Error(), "use text, json, csv or html") {
		t.Fatalf("err = %v", err)
	}
}

// Renames, removals, notes, departures and guards reach all three reports.
func TestSafetyInAllReports(t *testing.T) {
	plan := samplePlan()
	changes := plan.Changes.Slice()
	changes[1].Notes = []string{"bob.old@corp.example.com, an earlier UPN of this person, is in this list as a manual entry"}
	plan.Changes = upnsync.ChangesOf(changes...)
	plan.Changes.Append(upnsync.Change{UserID: "14", UserName: "Ann", Before: "ann;ann@corp.example.com",
		After: "ann", Removed: []string{"ann@corp.example.com"}, Departed: upnsync.DepartedMoved,
		Person: upnsync.Person{GUID: "g-ann", DN: "CN=Ann,OU=Elsewhere,DC=corp"}})
	plan.Departures = []upnsync.Departure{
		{GUID: "g-ann", Whereabouts: upnsync.Whereabouts{Reason: upnsync.DepartedMoved, DN: "CN=Ann,OU=Elsewhere,DC=corp", Detail: "now at CN=Ann,OU=Elsewhere,DC=corp, outside the searched bases"},
			Entries: []upnsync.DepartedEntry{{UserID: "14", UserName: "Ann", Entry: "ann@corp.example.com"}}, Removed: true},
		{GUID: "g-eve", Entries: []upnsync.DepartedEntry{{UserID: "15", Entry: "eve@corp.example.com"}}, Kept: "kept: --remove-departed not given"},
	}
	plan.Stats.Departed, plan.Stats.Removals = 2, 1
	meta := sampleMeta()
	meta.Guards = []upnsync.GuardStop{{Guard: "max-removals", Count: 1, Threshold: 0, Option: "--max-removals", Message: "1 entry of departed people to remove exceed the removal limit of 0 (--max-removals 0); ... --force (/Force)"}}
	meta.Forced = true

	var text, js, cs bytes.Buffer
	if err := Text(&text, plan, meta); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"replaced: bob.old@corp.example.com -> bob@corp.example.com",
		"note:     bob.old@corp.example.com, an earlier UPN",
		"user 14 (Ann): CN=Ann,OU=Elsewhere,DC=corp is gone (moved-out-of-scope)",
		"would remove: ann@corp.example.com",
		"    would be removed\n",
		"Departed (upnsync added their UPN; they were not in this read): 2",
		"objectGUID g-eve: not classified",
		"kept: --remove-departed not given",
		"Safety guards tripped, let through by --force: 1",
		"departed 2, removals 1",
	} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, text.String())
		}
	}

	// An apply says what it did.
	meta.Mode = ModeApply
	var applied bytes.Buffer
	if err := Text(&applied, plan, meta); err != nil {
		t.Fatal(err)
	}
	if a := applied.String(); !strings.Contains(a, "    removed:  ann@corp.example.com\n") || !strings.Contains(a, "    removed\n") ||
		strings.Contains(a, "would") {
		t.Errorf("apply text:\n%s", a)
	}
	meta.Mode = ModeDryRun

	if err := JSON(&js, plan, meta); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Summary map[string]int
		Changes []struct {
			Replaced []map[string]string
			Removed  []string
			Departed string
			Notes    []string
		}
		Departures []struct {
			GUID, Reason, DN, Kept string
			Removed                bool
			Entries                []map[string]string
		}
		Guards []map[string]any
		Forced bool
	}
	if err := json.Unmarshal(js.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if r := got.Changes[1].Replaced; len(r) != 1 || r[0]["old"] != "bob.old@corp.example.com" || r[0]["new"] != "bob@corp.example.com" {
		t.Errorf("JSON replaced = %v", r)
	}
	if c := got.Changes[2]; c.Departed != "moved-out-of-scope" || len(c.Removed) != 1 || got.Changes[0].Removed == nil || len(got.Changes[1].Notes) != 1 {
		t.Errorf("JSON changes = %+v", got.Changes)
	}
	if len(got.Departures) != 2 || got.Departures[0].Reason != "moved-out-of-scope" || !got.Departures[0].Removed ||
		got.Departures[1].Reason != "unknown" || got.Departures[1].Entries[0]["entry"] != "eve@corp.example.com" ||
		got.Summary["removals"] != 1 || got.Summary["departed"] != 2 || !got.Forced || got.Guards[0]["guard"] != "max-removals" {
		t.Errorf("JSON = %s", js.String())
	}

	if err := CSV(&cs, plan, meta); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&cs).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	var sawRename, sawRemoval, sawDeparture bool
	for _, r := range rows[1:] {
		switch {
		case r[0] == "change" && r[col["replaced"]] == "bob.old@corp.example.com -> bob@corp.example.com":
			sawRename = true
		case r[0] == "change" && r[col["removed"]] == "ann@corp.example.com" && r[col["reason"]] == "moved-out-of-scope":
			sawRemoval = true
		case r[0] == "departure" && r[col["guid"]] == "g-eve" && r[col["upn"]] == "eve@corp.example.com" && strings.Contains(r[col["detail"]], "--remove-departed"):
			sawDeparture = true
		}
	}
	if !sawRename || !sawRemoval || !sawDeparture {
		t.Errorf("CSV rename %t removal %t departure %t:\n%v", sawRename, sawRemoval, sawDeparture, rows)
	}
}

// Several bases: each has its line in the text report and its counts in
// the JSON report, referrals included; the Global Catalog's empty base is
// named.
func TestPerBaseCounts(t *testing.T) {
	p := samplePlan()
	p.Read = upnsync.ReadResult{Complete: true, Pages: 3, Entries: 6, Referrals: 3, Bases: []upnsync.BaseCount{
		{Base: "OU=Staff,DC=corp", Entries: 4, Pages: 2},
		{Base: "DC=corp", Entries: 2, Pages: 1, Referrals: 3},
		{Base: "", Entries: 0, Pages: 0},
	}}
	var text, js bytes.Buffer
	if err := Text(&text, p, sampleMeta()); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"(complete: 6 entries, 3 pages, 3 referrals skipped)",
		"\n           OU=Staff,DC=corp: 4 entries, 2 pages\n",
		"\n           DC=corp: 2 entries, 1 page, 3 referrals skipped\n",
		"\n           the whole forest: 0 entries, 0 pages\n",
	} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text report lacks %q:\n%s", want, text.String())
		}
	}
	if err := JSON(&js, p, sampleMeta()); err != nil {
		t.Fatal(err)
	}
	var r struct {
		Read struct {
			Referrals int
			Bases     []struct {
				Base                      string
				Entries, Pages, Referrals int
			}
		}
	}
	if err := json.Unmarshal(js.Bytes(), &r); err != nil {
		t.Fatal(err)
	}
	if r.Read.Referrals != 3 || len(r.Read.Bases) != 3 || r.Read.Bases[0].Base != "OU=Staff,DC=corp" || r.Read.Bases[0].Entries != 4 ||
		r.Read.Bases[1].Referrals != 3 || r.Read.Bases[1].Pages != 1 || r.Read.Bases[2].Base != "" {
		t.Errorf("JSON read: %+v\n%s", r.Read, js.String())
	}
}

// Issue 13 in every format: a departure the directory could not find
// (kept, counted, with what to check), a user pinned to a missing object
// with the person who would match, and the byte-order conflict's meaning.
func TestEvidenceInAllReports(t *testing.T) {
	plan := samplePlan()
	plan.Departures = []upnsync.Departure{{GUID: "g-hid", Whereabouts: upnsync.Whereabouts{Reason: upnsync.DepartedNotFound,
		Detail: "no object with this objectGUID, and no tombstone of one, is visible to the account upnsync binds as"},
		Entries: []upnsync.DepartedEntry{{UserID: "21", Entry: "hid@corp.example.com"}},
		Kept:    "kept: not finding a person is no evidence that they left; " + upnsync.NotFoundCheck}}
	plan.PinnedMissing = []upnsync.Pinned{{UserID: "31", UserName: "Old Jane", ExternalID: "0badc0de-0000-4000-8000-000000000000",
		Match: upnsync.MatchWindowsUsername, Candidate: upnsync.Person{GUID: "3f2504e0-4f89-11d3-9a0c-0305e82c3301", DN: "CN=Jane,DC=corp"}}}
	plan.Stats.Departed, plan.Stats.NotFound, plan.Stats.PinnedMissing = 1, 1, 2
	meta := sampleMeta()

	var text, js, cs bytes.Buffer
	if err := Text(&text, plan, meta); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"objectGUID g-hid: not-found (no object with this objectGUID",
		"kept: not finding a person is no evidence that they left; check that the account upnsync binds as may read",
		"Octopus users pinned to a missing object (their ExternalIdentifier names no one in this read): 2",
		"  user 31 (Old Jane): ExternalIdentifier 0badc0de-0000-4000-8000-000000000000",
		"matches by windows-username: CN=Jane,DC=corp (objectGUID 3f2504e0-4f89-11d3-9a0c-0305e82c3301): if this is the same person, store 3f2504e0-4f89-11d3-9a0c-0305e82c3301 as the ExternalIdentifier",
		"  ... and 1 more (only counted: a plan lists at most 1)",
		", not found 1, pinned to a missing object 2",
	} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, text.String())
		}
	}
	if err := JSON(&js, plan, meta); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Summary       map[string]int
		PinnedMissing []map[string]string `json:"pinned_missing"`
		NotListed     int                 `json:"pinned_missing_not_listed"`
		Departures    []struct{ Reason, Kept string }
	}
	if err := json.Unmarshal(js.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if got.Summary["not_found"] != 1 || got.Summary["pinned_missing"] != 2 || got.NotListed != 1 || len(got.PinnedMissing) != 1 ||
		got.PinnedMissing[0]["user_id"] != "31" || got.PinnedMissing[0]["guid"] != "3f2504e0-4f89-11d3-9a0c-0305e82c3301" ||
		got.PinnedMissing[0]["match"] != "windows-username" || got.Departures[0].Reason != "not-found" {
		t.Errorf("JSON = %s", js.String())
	}
	// Read back, the same report.
	p, m, err := ReadJSON(bytes.NewReader(js.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	var again bytes.Buffer
	if err := JSON(&again, p, m); err != nil || again.String() != js.String() {
		t.Errorf("read back: %v\n%s", err, again.String())
	}
	if err := CSV(&cs, plan, meta); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"departure,,,,hid@corp.example.com,,,,,not-found,", "pinned-missing,31,Old Jane,windows-username,,,,,,pinned-to-a-missing-object,",
		"store 3f2504e0-4f89-11d3-9a0c-0305e82c3301 as the ExternalIdentifier", "not-listed,,,,,,,,,pinned-missing,1 more Octopus user pinned to a missing object is counted but not listed"} {
		if !strings.Contains(cs.String(), want) {
			t.Errorf("CSV lacks %q:\n%s", want, cs.String())
		}
	}
	page := renderHTML(t, plan, meta)
	for _, want := range []string{`<section id="pinned"`, `data-list="pinned_missing"`, "<code>not-found</code> Not found", "not found (kept)",
		"Pinned to a missing object <span class=\"n\">2</span>"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
}
