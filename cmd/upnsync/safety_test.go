package main

import (
	"database/sql"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// safetyReport is the part of the JSON report these tests read.
type safetyReport struct {
	Mode     string
	Complete bool
	Stopped  string
	Summary  map[string]int
	Changes  []struct {
		UserID   string `json:"user_id"`
		Before   string
		After    string
		Added    []string
		Removed  []string
		Departed string
		Notes    []string
		Replaced []struct{ Old, New string }
	}
	Departures []struct {
		GUID, Reason, DN, Detail, Kept string
		Removed                        bool
	}
	Guards []struct {
		Guard            string
		Count, Threshold int
		Message          string
	}
	Forced  bool
	Notes   []string
	Applied *struct {
		RunID   string `json:"run_id"`
		Written int
		Stale   []struct {
			UserID         string `json:"user_id"`
			Found          string
			AlreadyApplied bool `json:"already_applied"`
		}
	}
}

func parseSafety(t *testing.T, out string) safetyReport {
	t.Helper()
	var r safetyReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("report: %v\n%s", err, out)
	}
	return r
}

func openDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// field reads a user's Windows usernames as stored, byte for byte.
func field(t *testing.T, dbPath, id string) string {
	t.Helper()
	var v string
	if err := openDB(t, dbPath).QueryRow(`SELECT windows_usernames FROM users WHERE id = ?`, id).Scan(&v); err != nil {
		t.Fatalf("user %s: %v", id, err)
	}
	return v
}

func setField(t *testing.T, dbPath, id, v string) {
	t.Helper()
	if _, err := openDB(t, dbPath).Exec(`UPDATE users SET windows_usernames = ? WHERE id = ?`, v, id); err != nil {
		t.Fatal(err)
	}
}

// allFields reads every user's Windows usernames.
func allFields(t *testing.T, dbPath string) map[string]string {
	t.Helper()
	rows, err := openDB(t, dbPath).Query(`SELECT id, windows_usernames FROM users`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var id, v string
		if err := rows.Scan(&id, &v); err != nil {
			t.Fatal(err)
		}
		out[id] = v
	}
	return out
}

// editLDIF rewrites the demo directory: old → new, once.
func (d demoFiles) editLDIF(t *testing.T, old, new string) {
	t.Helper()
	data, err := os.ReadFile(d.ldif)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), old) {
		t.Fatalf("%s lacks %q", d.ldif, old)
	}
	if err := os.WriteFile(d.ldif, []byte(strings.Replace(string(data), old, new, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
}

// dropPerson removes a person's record from the demo directory.
func (d demoFiles) dropPerson(t *testing.T, dn string) {
	t.Helper()
	data, err := os.ReadFile(d.ldif)
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`(?ms)^dn: ` + regexp.QuoteMeta(dn) + `\n.*?\n\n`)
	if !re.Match(data) {
		t.Fatalf("%s has no record %s", d.ldif, dn)
	}
	if err := os.WriteFile(d.ldif, re.ReplaceAll(data, nil), 0o600); err != nil {
		t.Fatal(err)
	}
}

func (d demoFiles) applyOnce(t *testing.T) {
	t.Helper()
	if code, _, errOut := cli(t, nil, d.gnu("--apply")...); code != exitConflicts {
		t.Fatalf("first apply: exit %d %s", code, errOut)
	}
}

// A person's UPN changes in AD (same objectGUID): the entry upnsync added
// is replaced where it stands, the report says old -> new in all three
// formats, and the next run has nothing to do.
func TestRenameReplacedInPlace(t *testing.T) {
	d := newDemo(t)
	d.applyOnce(t)
	setField(t, d.db, "1001", "jdoe;jane.doe@corp.example.com;CORP\\jdoe") // someone reordered it
	d.editLDIF(t, "userPrincipalName: jane.doe@corp.example.com", "userPrincipalName: jane.smith@corp.example.com")

	code, out, errOut := cli(t, nil, d.gnu("--report", "json")...)
	rep := parseSafety(t, out)
	if code != exitPending || len(rep.Changes) != 1 {
		t.Fatalf("exit %d, changes %+v\n%s", code, rep.Changes, errOut)
	}
	c := rep.Changes[0]
	if c.UserID != "1001" || len(c.Replaced) != 1 || c.Replaced[0].Old != "jane.doe@corp.example.com" ||
		c.Replaced[0].New != "jane.smith@corp.example.com" || len(c.Added) != 0 ||
		c.After != "jdoe;jane.smith@corp.example.com;CORP\\jdoe" {
		t.Fatalf("rename = %+v", c)
	}
	_, text, _ := cli(t, nil, d.gnu()...)
	if !strings.Contains(text, "replaced: jane.doe@corp.example.com -> jane.smith@corp.example.com") {
		t.Fatalf("text report:\n%s", text)
	}
	_, csvOut, _ := cli(t, nil, d.gnu("--report", "csv")...)
	if !strings.Contains(csvOut, "jane.doe@corp.example.com -> jane.smith@corp.example.com") {
		t.Fatalf("CSV report:\n%s", csvOut)
	}

	if code, _, errOut := cli(t, nil, d.gnu("--apply")...); code != exitConflicts {
		t.Fatalf("apply: %d %s", code, errOut)
	}
	if got := field(t, d.db, "1001"); got != "jdoe;jane.smith@corp.example.com;CORP\\jdoe" {
		t.Fatalf("1001 = %q", got)
	}
	if code, out, _ := cli(t, nil, d.gnu("--report", "json")...); code != exitConflicts || parseSafety(t, out).Summary["changes"] != 0 {
		t.Fatalf("after the rename: exit %d\n%s", code, out)
	}
}

// --remove-departed removes only what upnsync added: a manual entry equal
// to a departed person's UPN stays, and so does every other manual entry.
func TestDepartedRemovesOnlyWhatUpnsyncAdded(t *testing.T) {
	d := newDemo(t)
	d.applyOnce(t)
	before := allFields(t, d.db)
	// Maria's UPN was added by upnsync (user 1003); John's was typed by
	// someone (user 1002 came with jsmith;john.smith@corp.example.com).
	d.dropPerson(t, "CN=Maria Garcia,OU=Sales,OU=Staff,DC=corp,DC=example,DC=com")
	d.dropPerson(t, "CN=John Smith,OU=Staff,DC=corp,DC=example,DC=com")

	// Without the option, the departure is reported and nothing removed.
	code, out, _ := cli(t, nil, d.gnu("--report", "json")...)
	rep := parseSafety(t, out)
	if code != exitConflicts || len(rep.Changes) != 0 || len(rep.Departures) != 1 ||
		!strings.Contains(rep.Departures[0].Kept, "--remove-departed not given") {
		t.Fatalf("without --remove-departed: exit %d %+v", code, rep)
	}

	code, out, errOut := cli(t, nil, d.gnu("--remove-departed", "--apply", "--report", "json")...)
	rep = parseSafety(t, out)
	if code != exitConflicts || len(rep.Changes) != 1 || rep.Changes[0].UserID != "1003" ||
		rep.Changes[0].Departed != "not-in-export" || rep.Departures[0].Reason != "not-in-export" || !rep.Departures[0].Removed {
		t.Fatalf("exit %d %+v\n%s", code, rep, errOut)
	}
	after := allFields(t, d.db)
	for id, v := range before {
		want := v
		if id == "1003" {
			want = "mgarcia"
		}
		if after[id] != want {
			t.Errorf("user %s: %q, want %q", id, after[id], want)
		}
	}
	if after["1002"] != "jsmith;john.smith@corp.example.com" {
		t.Fatalf("a manual entry was removed: %q", after["1002"])
	}
}

// Threshold guards stop before anything is written, naming the count, the
// threshold and the option that overrides it; --force lets one run
// through and is recorded; the next run is guarded again.
func TestThresholdGuardsAndForceOnce(t *testing.T) {
	d := newDemo(t)
	before := fileHash(t, d.db)
	code, out, errOut := cli(t, nil, d.gnu("--apply", "--max-changes", "5", "--report", "json")...)
	rep := parseSafety(t, out)
	if code != exitGuard || len(rep.Guards) != 1 || rep.Guards[0].Count != 9 || rep.Guards[0].Threshold != 5 {
		t.Fatalf("exit %d %+v\n%s", code, rep.Guards, errOut)
	}
	for _, want := range []string{"9 users to write exceed the limit of 5 (--max-changes 5)", "--force (/Force)", "/MaxChanges:N"} {
		if !strings.Contains(rep.Guards[0].Message, want) || !strings.Contains(errOut, want) || !strings.Contains(rep.Stopped, want) {
			t.Errorf("guard message lacks %q:\nreport %s\nstderr %s", want, rep.Guards[0].Message, errOut)
		}
	}
	code, _, errOut = cli(t, nil, d.gnu("--apply", "/MaxChangePercent:20")...) // 9 of 32 users is 28%
	if code != exitGuard || !strings.Contains(errOut, "9 users to write (28.1% of the 32 Octopus users) exceed the limit of 20% (6 users)") {
		t.Fatalf("percent guard: exit %d %s", code, errOut)
	}
	if fileHash(t, d.db) != before {
		t.Fatal("a guarded run changed the store")
	}

	logs := filepath.Join(d.dir, "force.log")
	code, out, errOut = cli(t, nil, d.gnu("--apply", "--max-changes", "5", "--force", "--report", "json", "--log-file-path", logs)...)
	rep = parseSafety(t, out)
	if code != exitConflicts || !rep.Forced || rep.Applied == nil || rep.Applied.Written != 9 {
		t.Fatalf("--force: exit %d %+v\n%s", code, rep, errOut)
	}
	if data, _ := os.ReadFile(logs); !strings.Contains(string(data), "--force lets this run through a safety guard") {
		t.Fatalf("--force is not logged:\n%s", data)
	}
	if _, runs, _ := cli(t, nil, "runs", "--store", d.store); !strings.Contains(runs, "forced") {
		t.Fatalf("runs do not record --force:\n%s", runs)
	}

	// The next run is guarded again: --force does not stick.
	if code, _, _ := cli(t, nil, "undo", rep.Applied.RunID, "--store", d.store, "--apply"); code != exitOK {
		t.Fatalf("undo: %d", code)
	}
	if code, _, _ := cli(t, nil, d.gnu("--apply", "--max-changes", "5")...); code != exitGuard {
		t.Fatalf("the run after --force was not guarded: exit %d", code)
	}

	// The removal guard is on by default.
	d.applyOnce(t)
	d.dropPerson(t, "CN=Maria Garcia,OU=Sales,OU=Staff,DC=corp,DC=example,DC=com")
	code, _, errOut = cli(t, nil, d.gnu("--apply", "--remove-departed", "--max-removals", "0")...)
	if code != exitGuard || !strings.Contains(errOut, "1 entry of departed people to remove exceeds the removal limit of 0 (--max-removals 0)") {
		t.Fatalf("removal guard: exit %d %s", code, errOut)
	}
	if field(t, d.db, "1003") != "mgarcia;maria.garcia@corp.example.com" {
		t.Fatal("a guarded removal was written")
	}
}

// A saved plan, applied after someone edited one of its users, writes all
// the others and skips that one (exit 4); a changed or old-format plan
// file is refused; applying it twice writes nothing more.
func TestSavedPlanSkipsEditedUserOnly(t *testing.T) {
	d := newDemo(t)
	planFile := filepath.Join(d.dir, "plan.json")
	before := fileHash(t, d.db)
	code, out, errOut := cli(t, nil, d.gnu("plan", "--out", planFile)...)
	if code != exitPending || !strings.Contains(out, "upnsync apply "+planFile) {
		t.Fatalf("plan: exit %d\n%s\n%s", code, out, errOut)
	}
	if fileHash(t, d.db) != before {
		t.Fatal("plan changed the store")
	}
	data, err := os.ReadFile(planFile)
	if err != nil {
		t.Fatal(err)
	}
	var saved struct {
		Format string
		Plan   struct {
			Store        string
			InputsSHA256 string `json:"inputs_sha256"`
			Changes      []struct {
				UserID string `json:"user_id"`
			}
		}
	}
	if err := json.Unmarshal(data, &saved); err != nil || saved.Format != "upnsync-plan" || len(saved.Plan.Changes) != 9 ||
		saved.Plan.Store != "sqlite:"+d.db || len(saved.Plan.InputsSHA256) != 64 {
		t.Fatalf("plan file: %v %+v", err, saved)
	}

	// Tampered and old-format files are refused before anything happens.
	tampered := filepath.Join(d.dir, "tampered.json")
	os.WriteFile(tampered, []byte(strings.Replace(string(data), `"after": "mgarcia;maria.garcia@corp.example.com"`, `"after": "mgarcia;admin@corp.example.com"`, 1)), 0o600)
	old := filepath.Join(d.dir, "old.json")
	os.WriteFile(old, []byte(strings.Replace(string(data), `"version": 1`, `"version": 0`, 1)), 0o600)
	for file, want := range map[string]string{tampered: "was changed after upnsync saved it", old: "a plan of an old format"} {
		if code, _, errOut := cli(t, nil, "apply", file); code != exitError || !strings.Contains(errOut, want) {
			t.Fatalf("%s: exit %d %s", filepath.Base(file), code, errOut)
		}
	}
	if fileHash(t, d.db) != before {
		t.Fatal("a refused plan changed the store")
	}

	// Someone edits user 1004 between plan and apply.
	setField(t, d.db, "1004", `CORP\akhan;ahmed@typed.example.com`)
	// From another folder, with no other option: the plan names its store.
	t.Chdir(t.TempDir())
	code, out, errOut = cli(t, nil, "apply", planFile, "--report", "json")
	rep := parseSafety(t, out)
	if code != exitConflicts || rep.Applied == nil || rep.Applied.Written != 8 || len(rep.Applied.Stale) != 1 ||
		rep.Applied.Stale[0].UserID != "1004" || rep.Applied.Stale[0].Found != `CORP\akhan;ahmed@typed.example.com` {
		t.Fatalf("apply: exit %d %+v\n%s", code, rep.Applied, errOut)
	}
	if got := field(t, d.db, "1004"); got != `CORP\akhan;ahmed@typed.example.com` {
		t.Fatalf("the edited user was overwritten: %q", got)
	}
	if got := field(t, d.db, "1003"); got != "mgarcia;maria.garcia@corp.example.com" {
		t.Fatalf("1003 = %q", got)
	}
	_, runs, _ := cli(t, nil, "runs", "--store", d.store)
	if !strings.HasPrefix(runs, rep.Applied.RunID+"  ") || !strings.Contains(runs, "apply-plan") {
		t.Fatalf("runs:\n%s", runs)
	}

	// Twice: every user already holds the planned value or was edited.
	code, out, _ = cli(t, nil, "apply", planFile)
	if code != exitConflicts || !strings.Contains(out, "this plan was already applied by run "+rep.Applied.RunID) ||
		!strings.Contains(out, "already holds") {
		t.Fatalf("second apply: exit %d\n%s", code, out)
	}
}

// undo restores the exact bytes each user held before the run (odd
// spacing included), skips a user edited since, and is itself a run that
// `upnsync runs` lists newest first.
func TestUndoRestoresExactBytes(t *testing.T) {
	d := newDemo(t)
	setField(t, d.db, "1001", " jdoe ;;CORP\\jdoe ; ") // as some tool left it
	before := allFields(t, d.db)
	code, out, _ := cli(t, nil, d.gnu("--apply", "--report", "json")...)
	rep := parseSafety(t, out)
	if code != exitConflicts || rep.Applied.Written != 9 {
		t.Fatalf("apply: %d %+v", code, rep.Applied)
	}
	runID := rep.Applied.RunID
	if got := field(t, d.db, "1001"); got != "jdoe;CORP\\jdoe;jane.doe@corp.example.com" {
		t.Fatalf("1001 after apply = %q", got)
	}
	setField(t, d.db, "1005", "wei.li;li.wei@corp.example.com;typed") // edited since

	// A dry run first: nothing written, the plan shown.
	mid := fileHash(t, d.db)
	code, out, _ = cli(t, nil, "undo", runID, "--store", d.store)
	if code != exitPending || !strings.Contains(out, "Changes: 8") || !strings.Contains(out, "user 1005 changed since the run") {
		t.Fatalf("undo dry run: exit %d\n%s", code, out)
	}
	if fileHash(t, d.db) != mid {
		t.Fatal("the undo dry run changed the store")
	}

	code, out, errOut := cli(t, nil, "undo", runID, "--store", d.store, "--apply", "--report", "json")
	undo := parseSafety(t, out)
	if code != exitConflicts || undo.Applied.Written != 8 || len(undo.Applied.Stale) != 1 || undo.Applied.Stale[0].UserID != "1005" {
		t.Fatalf("undo: exit %d %+v\n%s", code, undo.Applied, errOut)
	}
	after := allFields(t, d.db)
	for id, v := range before {
		want := v
		if id == "1005" {
			want = "wei.li;li.wei@corp.example.com;typed"
		}
		if after[id] != want {
			t.Errorf("user %s = %q, want the exact bytes %q", id, after[id], want)
		}
	}

	code, out, _ = cli(t, nil, "runs", "--store", d.store)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != exitOK || len(lines) != 2 || !strings.HasPrefix(lines[0], undo.Applied.RunID+"  ") ||
		!strings.Contains(lines[0], "undo  written 8  stale 1  undoes "+runID) ||
		!strings.HasPrefix(lines[1], runID+"  ") || !strings.Contains(lines[1], "undone by "+undo.Applied.RunID) {
		t.Fatalf("runs: exit %d\n%s", code, out)
	}
	code, out, _ = cli(t, nil, "runs", "--store", d.store, "--report", "json")
	var runs struct {
		Runs []struct {
			ID, Kind, Undoes string
			Written          int
		}
	}
	if err := json.Unmarshal([]byte(out), &runs); err != nil || code != exitOK || len(runs.Runs) != 2 ||
		runs.Runs[0].Kind != "undo" || runs.Runs[0].Undoes != runID || runs.Runs[1].Written != 9 {
		t.Fatalf("runs json: %v\n%s", err, out)
	}

	// The undo is itself undoable; undoing the first run again is refused,
	// and records nothing.
	code, out, errOut = cli(t, nil, "undo", runID, "--store", d.store, "--apply")
	if code != exitError || out != "" || !strings.Contains(errOut, "run "+runID+" was already undone by run "+undo.Applied.RunID) {
		t.Fatalf("second undo: exit %d\n%s%s", code, out, errOut)
	}
	if _, after, _ := cli(t, nil, "runs", "--store", d.store); strings.Count(after, "\n") != 2 {
		t.Fatalf("the refused undo was recorded:\n%s", after)
	}
	if code, _, errOut := cli(t, nil, "undo", "no-such-run", "--store", d.store); code != exitError || !strings.Contains(errOut, "run no-such-run: no such run") {
		t.Fatalf("unknown run: %d %s", code, errOut)
	}
}

// An LDIF export cut off, or holding nobody, never leads to removals: with
// --remove-departed, --force and the removal guards off, each is an error
// naming the file (and the line where it was cut), exit code 1, and the
// store is not touched. Read as complete, each would make everyone
// upnsync added an entry for look departed.
func TestCutOrEmptyExportRemovesNothing(t *testing.T) {
	d := newDemo(t)
	d.applyOnce(t)
	whole, err := os.ReadFile(d.ldif)
	if err != nil {
		t.Fatal(err)
	}
	text := string(whole)
	cut := strings.Index(text, "userPrincipalName: maria.garcia@") + len("userPrincipalName: mar")
	for _, tt := range []struct{ name, data, want string }{
		{"cut mid-record", text[:cut], `: the file ends in the middle of this line (in the entry "CN=Maria Garcia,`},
		{"empty", "", ": the export holds no entries"},
		{"no users", "version: 1\n\ndn: OU=Staff,DC=corp,DC=example,DC=com\nobjectClass: organizationalUnit\n", ": none of the export's 1 entries is a user"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if err := os.WriteFile(d.ldif, []byte(tt.data), 0o600); err != nil {
				t.Fatal(err)
			}
			before := fileHash(t, d.db)
			code, out, errOut := cli(t, nil, d.gnu("--remove-departed", "--apply", "--force", "--max-removals", "off", "--max-removal-percent", "off", "--report", "json")...)
			rep := parseSafety(t, out)
			if code != exitError || !regexp.MustCompile(regexp.QuoteMeta(d.ldif)+`(:\d+)?`+regexp.QuoteMeta(tt.want)).MatchString(errOut) || rep.Complete || rep.Applied != nil || rep.Summary["removals"] != 0 {
				t.Fatalf("exit %d, complete %v, %d removals, applied %+v\n%s", code, rep.Complete, rep.Summary["removals"], rep.Applied, errOut)
			}
			// Everyone upnsync added an entry for looks departed, and is
			// kept because the read is not complete.
			for _, dep := range rep.Departures {
				if dep.Removed || !strings.Contains(dep.Kept, "not proven complete") {
					t.Errorf("departure %+v", dep)
				}
			}
			if fileHash(t, d.db) != before {
				t.Fatal("the store changed")
			}
		})
	}
}
