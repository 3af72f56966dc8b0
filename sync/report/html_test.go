package report

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	upnsync "github.com/upnsync/upnsync/sync"
	"github.com/upnsync/upnsync/sync/planfile"
)

// Hostile values a directory or store may hold: each must reach the page
// as text.
const (
	hostileImg    = `<img src=x onerror="window.__xss='img'">`
	hostileScript = `</script><script>window.__xss='script'</script>`
	hostileLink   = `javascript:window.__xss='link'`
	hostileQuote  = `"'&amp;<!--`
	hostileLS     = "line\u2028separator\u2029paragraph"
)

// fullPlan has every kind of row the reports show: additions, renames,
// removals, notes, every conflict kind and an unknown one, unmatched,
// skipped, departures and hostile values in store and directory names.
func fullPlan(n int) (*upnsync.Plan, Meta) {
	p := samplePlan()
	changes := p.Changes.Slice()
	changes[1].Notes = []string{"bob.old@corp.example.com, an earlier UPN of this person, is in this list as a manual entry"}
	p.Changes = upnsync.ChangesOf(changes...)
	p.Changes.Append(
		upnsync.Change{UserID: "14", UserName: "Ann", Before: "ann;ann@corp.example.com", After: "ann",
			Removed: []string{"ann@corp.example.com"}, Departed: upnsync.DepartedMoved,
			Person: upnsync.Person{GUID: "g-ann", DN: "CN=Ann,OU=Elsewhere,DC=corp"}},
		upnsync.Change{UserID: "15", UserName: hostileImg, Match: upnsync.MatchWindowsUsername,
			Before: hostileScript, After: hostileScript + ";" + hostileLink + "@corp",
			Added:  []string{hostileLink + "@corp"},
			Person: upnsync.Person{DN: "CN=" + hostileQuote + ",OU=R&D,DC=corp", UPN: hostileLink + "@corp", GUID: hostileLS}},
	)
	for i := 0; i < n; i++ {
		p.Changes.Append(upnsync.Change{UserID: fmt.Sprint(1000 + i), UserName: fmt.Sprintf("Person %05d", i),
			Match: upnsync.MatchEmail, Before: fmt.Sprintf("p%d", i), After: fmt.Sprintf("p%d;p%d@corp.example.com", i, i),
			Added:  []string{fmt.Sprintf("p%d@corp.example.com", i)},
			Person: upnsync.Person{DN: fmt.Sprintf("CN=Person %05d,OU=Staff,DC=corp", i), UPN: fmt.Sprintf("p%d@corp.example.com", i)}})
	}
	p.Conflicts = append(p.Conflicts,
		upnsync.Conflict{Reason: upnsync.ConflictOwnedByOther, UPN: "anna@corp", Detail: "already a Windows username of Octopus user 20",
			Users: []string{"12", "20"}, People: []string{"CN=Anna,DC=corp"}},
		upnsync.Conflict{Reason: upnsync.ConflictInvalidUPN, UPN: hostileImg, Detail: "it contains white space",
			Users: []string{"16"}, People: []string{hostileScript}},
		upnsync.Conflict{Reason: upnsync.ConflictInvalidUPN, UPN: "eve adams@corp", Detail: "it contains white space",
			Users: []string{"17"}, People: []string{"CN=Eve,DC=corp"}},
		upnsync.Conflict{Reason: "from-the-future", UPN: "f@corp", Detail: "a kind this version does not know"},
	)
	p.Unmatched = append(p.Unmatched, upnsync.Person{DN: "CN=" + hostileImg + ",DC=corp", UPN: hostileLink, GUID: "g2"})
	p.Skipped = append(p.Skipped, upnsync.Skip{DN: hostileScript, Reason: "no userPrincipalName"})
	p.Departures = []upnsync.Departure{
		{GUID: "g-ann", Whereabouts: upnsync.Whereabouts{Reason: upnsync.DepartedMoved, DN: "CN=Ann,OU=Elsewhere,DC=corp", Detail: "outside the searched bases"},
			Entries: []upnsync.DepartedEntry{{UserID: "14", UserName: "Ann", Entry: "ann@corp.example.com"}}, Removed: true},
		{GUID: "g-eve", Entries: []upnsync.DepartedEntry{{UserID: "15", Entry: "eve@corp.example.com"}}, Kept: "kept: --remove-departed not given"},
	}
	p.Stats = upnsync.Stats{Read: 40 + n, Matched: 30 + n, Unchanged: 9, Changes: p.Changes.Len(), Conflicts: len(p.Conflicts),
		Unmatched: len(p.Unmatched) + 5, Skipped: len(p.Skipped), Departed: 2, Removals: 1, StoreUsers: 50 + n,
		ByRule: map[upnsync.MatchRule]int{upnsync.MatchEmail: n + 1, upnsync.MatchExternalID: 1}}
	p.Read.Bases = []upnsync.BaseCount{{Base: "OU=Staff,DC=corp", Entries: 30, Pages: 1}, {Base: "OU=R&D <x>,DC=corp", Entries: 10, Pages: 1, Referrals: 1}}
	m := sampleMeta()
	m.Store = "sqlite:" + hostileScript + ".db"
	m.MappingFile = `C:\upnsync\ADSIReaderLDAPMappings.xml`
	m.NetBIOS = "CORP"
	m.RunID = "20261126T010203Z-a1b2c3"
	m.Limits = &upnsync.Limits{MaxChanges: -1, MaxChangePercent: -1, MaxRemovals: 0, MaxRemovalPercent: 10}
	m.Guards = []upnsync.GuardStop{{Guard: upnsync.GuardMaxRemovals, Count: 1, Threshold: 0, Option: "--max-removals",
		Message: "1 entry of departed people to remove exceeds the removal limit of 0"}}
	m.Forced = true
	m.Notes = []string{"a note with " + hostileImg}
	m.NextSteps = []string{"import the workbook"}
	m.DirectoryKind, m.StoreKind = "ldif", "sqlite"
	return p, m
}

func renderHTML(t testing.TB, plan *upnsync.Plan, meta Meta) string {
	t.Helper()
	var buf bytes.Buffer
	if err := Write(&buf, "html", plan, meta); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

var dataBlock = regexp.MustCompile(`(?s)<script type="application/json" id="upnsync-data">(.*?)</script>`)

// The data block is the JSON report of the plan (as the page shows it),
// and nothing in it can end the element or open a comment.
func TestHTMLDataBlock(t *testing.T) {
	plan, meta := fullPlan(3)
	page := renderHTML(t, plan, meta)
	m := dataBlock.FindStringSubmatch(page)
	if m == nil {
		t.Fatal("no data block")
	}
	block := m[1]
	for _, bad := range []string{"<", ">", "\u2028", "\u2029"} {
		if strings.Contains(block, bad) {
			t.Errorf("data block holds %q raw", bad)
		}
	}
	if strings.Count(page, "</script>") != 2 {
		t.Errorf("page has %d </script>, want 2 (data block and script)", strings.Count(page, "</script>"))
	}
	var got, want any
	if err := json.Unmarshal([]byte(block), &got); err != nil {
		t.Fatalf("data block is not JSON: %v", err)
	}
	var js bytes.Buffer
	p, mt := forTerminal(plan, meta)
	if err := JSON(&js, p, mt); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(js.Bytes(), &want); err != nil {
		t.Fatal(err)
	}
	gb, _ := json.Marshal(got)
	wb, _ := json.Marshal(want)
	if !bytes.Equal(gb, wb) {
		t.Errorf("data block differs from the JSON report:\n%s\n%s", gb, wb)
	}
}

// The Content-Security-Policy allows exactly the page's one stylesheet and
// one script, by hash, and nothing from anywhere.
func TestHTMLContentSecurityPolicy(t *testing.T) {
	plan, meta := fullPlan(0)
	page := renderHTML(t, plan, meta)
	csp := regexp.MustCompile(`<meta http-equiv="Content-Security-Policy" content="([^"]*)">`).FindStringSubmatch(page)
	if csp == nil {
		t.Fatal("no CSP meta")
	}
	policy := html.UnescapeString(csp[1])
	hash := func(s string) string {
		sum := sha256.Sum256([]byte(s))
		return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
	}
	style := regexp.MustCompile(`(?s)<style>(.*?)</style>`).FindAllStringSubmatch(page, -1)
	script := regexp.MustCompile(`(?s)<script>(.*?)</script>`).FindAllStringSubmatch(page, -1)
	if len(style) != 1 || len(script) != 1 {
		t.Fatalf("page has %d style and %d script elements, want 1 each", len(style), len(script))
	}
	for _, want := range []string{"default-src 'none'", "script-src " + hash(script[0][1]) + ";",
		"style-src " + hash(style[0][1]) + ";", "base-uri 'none'", "form-action 'none'"} {
		if !strings.Contains(policy, want) {
			t.Errorf("policy %q lacks %q", policy, want)
		}
	}
	if strings.Contains(policy, "unsafe") {
		t.Errorf("policy allows something unsafe: %q", policy)
	}
	markup := strings.ToLower(dataBlock.ReplaceAllString(page, ""))
	for _, bad := range []string{"http://", "https://", "url(", "@import"} {
		if strings.Contains(markup, bad) {
			t.Errorf("page refers to %q", bad)
		}
	}
	if m := regexp.MustCompile(`<[a-z]+[^>]*\s(on[a-z]+\s*=|src\s*=|style\s*=|href\s*=\s*"?javascript)`).FindString(markup); m != "" {
		t.Errorf("page has an inline handler, a source, a style attribute or a script link: %s", m)
	}
}

// The server-rendered header and cards escape values and show the facts.
func TestHTMLHeader(t *testing.T) {
	plan, meta := fullPlan(0)
	page := renderHTML(t, plan, meta)
	head := page[:strings.Index(page, `<script type="application/json"`)]
	for _, bad := range []string{hostileScript, hostileImg, "<script>window"} {
		if strings.Contains(head, bad) {
			t.Errorf("header holds %q unescaped", bad)
		}
	}
	for _, want := range []string{
		"sqlite:&lt;/script&gt;&lt;script&gt;window.__xss=&#39;script&#39;&lt;/script&gt;.db",
		`C:\upnsync\ADSIReaderLDAPMappings.xml`, "<dd>CORP</dd>", "20261126T010203Z-a1b2c3",
		"complete: 6 entries, 1 page", "OU=R&amp;D &lt;x&gt;,DC=corp: 10 entries, 1 page, 1 referral skipped",
		`data-card="changes"><a href="#changes"><span class="n" data-count="4"`, "Safety guards let through by --force",
		"<td><code>--max-removal-percent</code></td>", "<td>10%</td>", "tripped, let through by --force",
		"<code>from-the-future</code>", "What to do:", "a note with &lt;img",
		`data-kind="invalid-upn"`, `data-part="invalid-upn" data-count="2"`,
		"5 counted but not listed in this file",
	} {
		if !strings.Contains(head, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	// An incomplete read and a stop are said first.
	plan.Read = upnsync.ReadResult{Why: "page 3 failed: connection reset"}
	meta.Stopped = "the directory read failed"
	page = renderHTML(t, plan, meta)
	for _, want := range []string{"The directory read is not complete.</strong> page 3 failed: connection reset",
		"Stopped before writing anything.</strong> the directory read failed"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
}

// A JSON report reads back into the plan and meta it came from: written
// again, it is the same bytes. The demo's real report too.
func TestReadJSONRoundTrip(t *testing.T) {
	plan, meta := fullPlan(5)
	meta.Mode = ModeApply
	meta.Applied = &upnsync.Applied{RunID: "r1", Written: []string{"12", "13"}, Stale: []upnsync.Stale{
		{UserID: "14", Expected: "a", Found: "b", Planned: "c"},
		{UserID: "15", Expected: "a", Found: "c", Planned: "c"},
		{UserID: "16", Expected: "a", Missing: true}}}
	meta.Read = &upnsync.ReadMode{Mode: upnsync.ReadIncremental, From: "dc1 USN 5", To: "dc1 USN 9", Advanced: true}
	meta.ApplyHint = "upnsync apply plan.json"
	var first bytes.Buffer
	if err := JSON(&first, plan, meta); err != nil {
		t.Fatal(err)
	}
	demo, err := os.ReadFile("testdata/demo-dry-run.json")
	if err != nil {
		t.Fatal(err)
	}
	for name, in := range map[string][]byte{"full": first.Bytes(), "demo": demo} {
		p, m, err := ReadJSON(bytes.NewReader(in))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var again bytes.Buffer
		if err := JSON(&again, p, m); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(again.Bytes(), in) {
			t.Errorf("%s: JSON report read back and written again differs:\n%s\nwant\n%s", name, again.String(), in)
		}
	}
}

func TestReadJSONRefusesOthers(t *testing.T) {
	for in, want := range map[string]string{
		`{"version": 2, "mode": "dry-run"}`:          "version 2, written by a newer upnsync",
		`{"version": 1, "mode": "dry-run", "ch`:      "cut short",
		`{"name": "x"}`:                              `no "version" and "mode"`,
		`{"version": 1, "mode": "x", "changes": {}}`: `"changes" is not a list`,
		`[1]`: "not a JSON object",
		`{"version": 1, "mode": "x", "changes": [{"user_id": 3}]}`: "changes:",
	} {
		_, _, err := ReadJSON(strings.NewReader(in))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ReadJSON(%s) = %v, want an error with %q", in, err, want)
		}
	}
}

// `report html IN OUT` renders a saved JSON report or a saved plan; any
// other file is refused with its name.
func TestHTMLFromFile(t *testing.T) {
	dir := t.TempDir()
	plan, meta := fullPlan(2)
	var js bytes.Buffer
	if err := JSON(&js, plan, meta); err != nil {
		t.Fatal(err)
	}
	jsonPath := filepath.Join(dir, "report.json")
	if err := os.WriteFile(jsonPath, js.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	var fromJSON bytes.Buffer
	if err := HTMLFromFile(&fromJSON, jsonPath); err != nil {
		t.Fatal(err)
	}
	if direct := renderHTML(t, plan, meta); fromJSON.String() != direct {
		t.Error("the HTML of a saved JSON report differs from the run's own")
	}

	changes, deps, sum, read := planfile.FromPlan(plan)
	saved := &planfile.Plan{Created: time.Date(2026, 11, 26, 1, 0, 0, 0, time.UTC), CreatedBy: "upnsync test",
		Host: "host1", User: "admin", Store: "sqlite:/srv/o.db", Directory: "ldaps://dc1", Summary: sum, Read: read,
		Changes: changes, Departures: deps, Forced: []string{"1 entry exceeds the removal limit of 0"},
		Settings: map[string]string{"config-file-path": "map.xml", "netbios-domain": "CORP", "max-changes": "-1",
			"max-change-percent": "-1", "max-removals": "500", "max-removal-percent": "10"}}
	planPath := filepath.Join(dir, "plan.json")
	digest, err := planfile.Write(planPath, nil, saved)
	if err != nil {
		t.Fatal(err)
	}
	var fromPlan bytes.Buffer
	if err := HTMLFromFile(&fromPlan, planPath); err != nil {
		t.Fatal(err)
	}
	page := fromPlan.String()
	for _, want := range []string{digest, "upnsync test as admin on host1", "<dd>map.xml</dd>", "<dd>CORP (--netbios-domain)</dd>",
		"<td>500</td>", "run: upnsync apply " + planPath, `data-list="changes"`, `data-list="departures"`,
		fmt.Sprintf(`data-card="conflicts"><a href="#conflicts"><span class="n" data-count="%d"`, len(plan.Conflicts)),
		"counted but not listed in this file (a saved plan"} {
		if !strings.Contains(page, want) {
			t.Errorf("HTML of a saved plan lacks %q", want)
		}
	}
	m := dataBlock.FindStringSubmatch(page)
	var data struct {
		Changes    []map[string]any
		Departures []map[string]any
	}
	if err := json.Unmarshal([]byte(m[1]), &data); err != nil {
		t.Fatal(err)
	}
	if len(data.Changes) != plan.Changes.Len() || len(data.Departures) != len(plan.Departures) {
		t.Errorf("saved plan's page lists %d changes and %d departures, want %d and %d",
			len(data.Changes), len(data.Departures), plan.Changes.Len(), len(plan.Departures))
	}

	// A saved plan changed after it was written is refused as apply refuses it.
	b, _ := os.ReadFile(planPath)
	os.WriteFile(planPath, bytes.Replace(b, []byte("sqlite:/srv/o.db"), []byte("sqlite:/srv/x.db"), 1), 0o600)
	if err := HTMLFromFile(&bytes.Buffer{}, planPath); err == nil || !strings.Contains(err.Error(), "was changed after upnsync saved it") {
		t.Errorf("a changed plan: %v", err)
	}
	other := filepath.Join(dir, "other.json")
	os.WriteFile(other, []byte(`{"users": []}`), 0o600)
	for path, want := range map[string]string{
		other:                           other + " is neither a JSON report (--report json) nor a saved plan",
		filepath.Join(dir, "none.json"): "cannot read " + filepath.Join(dir, "none.json") + ": no such file",
		writeFile(t, dir, "cut.json", js.Bytes()[:len(js.Bytes())/2]): "cut.json: the JSON report is cut short",
	} {
		if err := HTMLFromFile(&bytes.Buffer{}, path); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("HTMLFromFile(%s) = %v, want %q", path, err, want)
		}
	}
}

func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// Every conflict and departure kind the engine has is explained.
func TestKindsExplained(t *testing.T) {
	for _, k := range []string{upnsync.ConflictInvalidUPN, upnsync.ConflictDuplicateUPN, upnsync.ConflictOwnedByOther,
		upnsync.ConflictFieldTooLong, upnsync.ConflictAmbiguousMatch} {
		if e := Explain(ConflictKinds, k); e.Title == k || e.Meaning == "" || e.Action == "" {
			t.Errorf("conflict kind %s is not explained: %+v", k, e)
		}
	}
	for _, k := range []upnsync.DepartureReason{upnsync.DepartedDisabled, upnsync.DepartedDeleted, upnsync.DepartedMoved,
		upnsync.DepartedFiltered, upnsync.DepartedNotInExport, upnsync.DepartedPresent, upnsync.DepartedLookupFailed} {
		if e := Explain(DepartureKinds, string(k)); e.Title == string(k) || e.Meaning == "" {
			t.Errorf("departure reason %s is not explained: %+v", k, e)
		}
	}
	if formatCount(100000) != "100,000" || formatCount(999) != "999" || formatCount(-1234) != "-1,234" {
		t.Error("formatCount")
	}
}
