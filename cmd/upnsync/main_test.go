package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// cli runs the command in-process, as main does, and returns its exit code
// and output.
func cli(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, &stdout, &stderr, func(k string) string { return env[k] })
	return code, stdout.String(), stderr.String()
}

// demoFiles copies the demo data into a fresh folder and seeds a store
// there through `store import`, as an administrator would.
type demoFiles struct {
	dir, mapping, ldif, csv, db, store string
}

func newDemo(t *testing.T) demoFiles {
	t.Helper()
	dir := t.TempDir()
	d := demoFiles{dir: dir,
		mapping: filepath.Join(dir, "ADSIReaderLDAPMappings.xml"),
		ldif:    filepath.Join(dir, "directory.ldif"),
		csv:     filepath.Join(dir, "octopus-users.csv"),
		db:      filepath.Join(dir, "octopus users.db"),
	}
	d.store = "sqlite:" + d.db
	for src, dst := range map[string]string{
		"ADSIReaderLDAPMappings.xml": d.mapping, "directory.ldif": d.ldif, "octopus-users.csv": d.csv,
	} {
		data, err := os.ReadFile(filepath.Join("..", "..", "testdata", "demo", src))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	code, out, errOut := cli(t, nil, "store", "import", "--store", d.store, d.csv)
	if code != 0 || !strings.Contains(out, "32 users read, 32 created") {
		t.Fatalf("store import: %d %s %s", code, out, errOut)
	}
	return d
}

func (d demoFiles) gnu(extra ...string) []string {
	return append([]string{"--config-file-path", d.mapping, "--directory", "ldif:" + d.ldif, "--store", d.store}, extra...)
}

func fileHash(t *testing.T, path string) [32]byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(data)
}

// usersDump is an SQLite store's users and what upnsync added to them, as
// text to compare.
func usersDump(t *testing.T, path string) string {
	t.Helper()
	db := openDB(t, path)
	var b strings.Builder
	for _, q := range []string{`SELECT id, windows_usernames, coalesce(external_id, '') FROM users ORDER BY id`,
		`SELECT user_id, entry, guid FROM upnsync_owned ORDER BY user_id, entry`} {
		rows, err := db.Query(q)
		if err != nil {
			if strings.Contains(err.Error(), "no such table") {
				continue
			}
			t.Fatal(err)
		}
		for rows.Next() {
			var a, c, e string
			if err := rows.Scan(&a, &c, &e); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&b, "%q %q %q\n", a, c, e)
		}
		rows.Close()
	}
	return b.String()
}

// stamps are what differs between two runs of the same plan: their times
// and their ids.
var stamps = regexp.MustCompile(`"(started|finished|run_id)": "[^"]*"`)

func withoutTimes(s string) string { return stamps.ReplaceAllString(s, `"$1": "-"`) }

func TestGNUAndWindowsSpellingsGiveIdenticalJSON(t *testing.T) {
	d := newDemo(t)
	c1, gnu, e1 := cli(t, nil, d.gnu("--report", "json")...)
	c2, win, e2 := cli(t, nil,
		`/ConfigFilePath:"`+d.mapping+`"`, "/Directory:ldif:"+d.ldif, `/Store:"`+d.store+`"`, "/Report:json")
	c3, lower, _ := cli(t, nil,
		"/configfilepath:"+d.mapping, "/DIRECTORY:ldif:"+d.ldif, "/store:"+d.store, "/report:JSON")
	if c1 != exitPending || c2 != exitPending || c3 != exitPending {
		t.Fatalf("exit codes %d %d %d, want %d:\n%s\n%s", c1, c2, c3, exitPending, e1, e2)
	}
	if withoutTimes(gnu) != withoutTimes(win) || withoutTimes(gnu) != withoutTimes(lower) {
		t.Fatalf("JSON differs between spellings:\n%s\n---\n%s", gnu, win)
	}
	if !strings.Contains(gnu, `"mode": "dry-run"`) || !json.Valid([]byte(gnu)) {
		t.Fatalf("not a JSON dry-run report:\n%s", gnu)
	}
}

func TestDryRunWritesNothingApplyWritesRerunPlansNothing(t *testing.T) {
	d := newDemo(t)
	before := fileHash(t, d.db)
	code, out, errOut := cli(t, nil, d.gnu()...)
	if code != exitPending || !strings.Contains(out, "Changes: 9") || !strings.Contains(out, "Dry run: nothing was written") {
		t.Fatalf("dry run: exit %d\n%s\n%s", code, out, errOut)
	}
	if fileHash(t, d.db) != before {
		t.Fatal("the dry run changed the store file")
	}

	code, out, errOut = cli(t, nil, d.gnu("--apply", "--report", "json")...)
	var rep struct {
		Mode    string
		Summary map[string]int
		Applied struct {
			Written int
			RunID   string `json:"run_id"`
		}
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("apply report: %v\n%s", err, out)
	}
	// The demo has conflicts, so a successful apply still exits 4.
	if code != exitConflicts || rep.Mode != "apply" || rep.Applied.Written != 9 || rep.Applied.RunID == "" {
		t.Fatalf("apply: exit %d %+v\n%s", code, rep, errOut)
	}
	if fileHash(t, d.db) == before {
		t.Fatal("--apply did not change the store file")
	}

	code, out, _ = cli(t, nil, d.gnu("--report", "json")...)
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if code != exitConflicts || rep.Summary["changes"] != 0 || rep.Summary["conflicts"] != 5 || rep.Summary["unchanged"] != 21 {
		t.Fatalf("second run: exit %d, summary %v", code, rep.Summary)
	}

	// What was written is exactly what the plan said.
	code, out, _ = cli(t, nil, "store", "export", "--store", d.store)
	if code != 0 || !strings.Contains(out, "1001,Jane,Doe,jane.doe@corp.example.com,jdoe;CORP\\jdoe;jane.doe@corp.example.com,") ||
		!strings.Contains(out, "1013,Christopher,Wolfe,christopher.wolfe@corp.example.com,cwolfe;") {
		t.Fatalf("export after apply:\n%s", out)
	}
}

// Each conflict kind, with the exact entry programs read from the JSON
// report.
func TestConflictEntriesInJSONReport(t *testing.T) {
	d := newDemo(t)
	_, out, _ := cli(t, nil, d.gnu("--report", "json")...)
	var rep struct {
		Conflicts []map[string]any
		Skipped   []map[string]string
		Unmatched []map[string]string
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	const base = ",DC=corp,DC=example,DC=com"
	want := []map[string]any{
		{"reason": "duplicate-upn", "upn": "sam.lee@corp.example.com",
			"users":  []any{"1010", "1011"},
			"people": []any{"CN=Sam Lee,OU=Staff" + base, "CN=Samuel Lee,OU=Contractors" + base},
			"detail": "2 directory users have this UPN; neither is written"},
		{"reason": "upn-owned-by-other-user", "upn": "anna.berg@corp.example.com",
			"users":  []any{"1012", "1020"},
			"people": []any{"CN=Anna Berg,OU=Staff" + base},
			"detail": "already a Windows username of Octopus user 1020 (Anna Berg (old account)); not added to user 1012"},
		{"reason": "field-too-long", "upn": "christopher.wolfe@corp.example.com",
			"users":  []any{"1013"},
			"people": []any{"CN=Christopher Wolfe,OU=Staff" + base},
			"detail": "the merged list would be 277 characters; the field holds 250 (--max-length)"},
		{"reason": "ambiguous-match", "upn": "kim.nguyen@corp.example.com",
			"users":  []any{"1014", "1015"},
			"people": []any{"CN=Kim Nguyen,OU=Support,OU=Staff" + base},
			"detail": "matches 2 Octopus users by email; none is written"},
		{"reason": "invalid-upn", "upn": "eve adams@corp.example.com",
			"users":  []any{"1016"},
			"people": []any{"CN=Eve Adams,OU=Staff" + base},
			"detail": "userPrincipalName cannot be written: it contains white space"},
	}
	if !reflect.DeepEqual(rep.Conflicts, want) {
		got, _ := json.MarshalIndent(rep.Conflicts, "", "  ")
		t.Fatalf("conflicts:\n%s", got)
	}
	if len(rep.Skipped) != 1 || rep.Skipped[0]["dn"] != "CN=Tom Brown,OU=Staff"+base ||
		rep.Skipped[0]["reason"] != "no userPrincipalName; --implicit-upn derives sAMAccountName@domain" {
		t.Fatalf("skipped = %v", rep.Skipped)
	}
	if len(rep.Unmatched) != 3 || rep.Unmatched[0]["upn"] != "ext.one@partner.example.net" || rep.Unmatched[0]["guid"] == "" {
		t.Fatalf("unmatched = %v", rep.Unmatched)
	}

	// --implicit-upn turns the skipped person into a change; --max-length
	// and --skip-disabled reach the engine.
	_, out, _ = cli(t, nil, d.gnu("--report", "json", "--implicit-upn", "--skip-disabled", "--max-length", "300")...)
	if !strings.Contains(out, `"after": "tbrown;tbrown@corp.example.com"`) ||
		!strings.Contains(out, `"reason": "account disabled (--skip-disabled)"`) ||
		strings.Contains(out, `"field-too-long"`) {
		t.Fatalf("flags did not reach the engine:\n%s", out)
	}
}

func TestCSVReport(t *testing.T) {
	d := newDemo(t)
	report := filepath.Join(d.dir, "pending.csv")
	code, out, _ := cli(t, nil, d.gnu("--report", "csv", "--report-file", report)...)
	if code != exitPending || !strings.HasSuffix(out, "; exit code 2 (dry run with changes pending); report in "+report+"\n") || strings.Count(out, "\n") != 1 {
		t.Fatalf("exit %d, stdout %q: want the summary line and where the report is", code, out)
	}
	data, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	// Excel's form: a UTF-8 byte order mark and CRLF (internal/csvfile).
	if n := strings.Count(string(data), "\r\nchange,"); n != 9 || !strings.HasPrefix(string(data), "\ufeffkind,user_id,") {
		t.Fatalf("%d change rows:\n%s", n, data)
	}
}

func TestBadMappingFilesExit1WithFileAndLine(t *testing.T) {
	d := newDemo(t)
	bad := filepath.Join("..", "..", "testdata", "mapping", "bad")
	tests := map[string]string{
		"not-xml.xml":      "not-xml.xml:1: ",
		"wrong-root.xml":   "wrong-root.xml:",
		"missing-ldap.xml": "missing-ldap.xml:",
		"no-upn.xml":       "run `upnsync mapping add-upn ",
		"malformed.xml":    "malformed.xml:7: not well-formed XML",
	}
	for file, want := range tests {
		before := fileHash(t, d.db)
		path := filepath.Join(bad, file)
		code, out, errOut := cli(t, nil, "--config-file-path", path, "--directory", "ldif:"+d.ldif, "--store", d.store, "--apply")
		if code != exitError || !strings.Contains(errOut, want) || !strings.Contains(errOut, path) {
			t.Errorf("%s: exit %d, stderr %q, want %q", file, code, errOut, want)
		}
		if strings.Contains(errOut, "goroutine") || strings.Contains(errOut, "panic") || out != "" {
			t.Errorf("%s: stack or output: %q %q", file, out, errOut)
		}
		if fileHash(t, d.db) != before {
			t.Errorf("%s: the store changed", file)
		}
	}
	code, _, errOut := cli(t, nil, "--config-file-path", filepath.Join(d.dir, "nope.xml"), "--directory", "ldif:"+d.ldif, "--store", d.store)
	if code != exitError || !strings.Contains(errOut, "nope.xml") || !strings.Contains(errOut, "copy ADSIReaderLDAPMappings.xml") {
		t.Errorf("missing file: %d %q", code, errOut)
	}
}

func TestUsageErrorsExit1NeverGoDefault2(t *testing.T) {
	for _, args := range [][]string{
		{"--no-such-flag"}, {"/NoSuchOption:1", "--config-file-path", "m"}, {"--config-file-path", "m"},
		{"--report", "yaml", "demo"}, {"mapping"}, {"mapping", "frob"}, {"store", "import"},
	} {
		code, out, errOut := cli(t, nil, args...)
		if code != exitError || !strings.HasPrefix(errOut, "upnsync: ") || out != "" {
			t.Errorf("%q: exit %d, stdout %q, stderr %q", args, code, out, errOut)
		}
	}
	code, out, _ := cli(t, nil, "--help")
	if code != 0 || !strings.Contains(out, "/ConfigFilePath:FILE") || !strings.Contains(out, "Exit codes:") {
		t.Errorf("--help: %d\n%s", code, out)
	}
	code, out, _ = cli(t, nil, "version")
	if code != 0 || !strings.HasPrefix(out, "upnsync ") {
		t.Errorf("version: %d %q", code, out)
	}
}

func TestDirectoryAndStoreErrorsExit1(t *testing.T) {
	d := newDemo(t)
	code, _, errOut := cli(t, nil, "--config-file-path", d.mapping, "--directory", "ldif:"+d.ldif, "--store", "sqlite:"+filepath.Join(d.dir, "missing.db"))
	if code != exitError || !strings.Contains(errOut, "missing.db") || !strings.Contains(errOut, "upnsync store import") {
		t.Errorf("missing store: %d %q", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(d.dir, "missing.db")); err == nil {
		t.Error("a dry run created the missing store")
	}
	code, _, errOut = cli(t, nil, "--config-file-path", d.mapping, "--directory", "ldif:"+filepath.Join(d.dir, "none.ldif"), "--store", d.store)
	if code != exitError || !strings.Contains(errOut, "none.ldif") {
		t.Errorf("missing LDIF: %d %q", code, errOut)
	}
	code, _, errOut = cli(t, map[string]string{"UPNSYNC_PASSWORD": "pw"}, "--config-file-path", d.mapping, "--directory", "ldaps://127.0.0.1:1", "--login", "x@corp", "--store", d.store,
		"--timeout", "3s", "--retry-delay", "10ms")
	if code != exitError || !strings.Contains(errOut, "127.0.0.1:1") || !strings.Contains(errOut, "gave up after 4 attempts (--retries 3)") {
		t.Errorf("unreachable directory: %d %q", code, errOut)
	}
}

// An LDIF cut off in the middle of a record is still a complete read of
// what it holds; an ldapsearch export that says the server stopped at its
// size limit is not, and nothing is written.
func TestIncompleteReadWritesNothing(t *testing.T) {
	d := newDemo(t)
	data, err := os.ReadFile(d.ldif)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(d.ldif, append(data, []byte("\n# search result\nsearch: 2\nresult: 4 Size limit exceeded\n")...), 0o600); err != nil {
		t.Fatal(err)
	}
	before := fileHash(t, d.db)
	code, out, errOut := cli(t, nil, d.gnu("--apply")...)
	if code != exitError && code != exitGuard {
		t.Fatalf("exit %d, want 1 or 3\n%s\n%s", code, out, errOut)
	}
	if !strings.Contains(out, "INCOMPLETE") || !strings.Contains(out, "Stopped before writing anything") {
		t.Fatalf("report does not say the read was incomplete:\n%s", out)
	}
	if fileHash(t, d.db) != before {
		t.Fatal("an incomplete read changed the store")
	}
}

func TestMappingCommands(t *testing.T) {
	dir := t.TempDir()
	src, err := os.ReadFile(filepath.Join("..", "..", "testdata", "mapping", "ADSIReaderLDAPMappings.xml"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "ADSIReaderLDAPMappings.xml")
	if err := os.WriteFile(path, src, 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := cli(t, nil, "mapping", "check", path)
	if code != exitError || !strings.Contains(out, "sAMAccountName") || !strings.Contains(errOut, "mapping add-upn") {
		t.Fatalf("check without UPN: %d\n%s\n%s", code, out, errOut)
	}
	code, out, _ = cli(t, nil, "mapping", "add-upn", path)
	if code != 0 || !strings.Contains(out, "Added") {
		t.Fatalf("add-upn: %d %s", code, out)
	}
	after, _ := os.ReadFile(path)
	code, out, _ = cli(t, nil, "mapping", "add-upn", path)
	again, _ := os.ReadFile(path)
	if code != 0 || !strings.Contains(out, "already has the UPN entry; nothing changed") || !bytes.Equal(after, again) {
		t.Fatalf("second add-upn: %d %s", code, out)
	}
	code, out, _ = cli(t, nil, "mapping", "check", path)
	if code != 0 || !strings.Contains(out, "is valid: UPN sync is on") {
		t.Fatalf("check with UPN: %d %s", code, out)
	}
}

func TestLogFileHoldsChangesAndNoPassword(t *testing.T) {
	d := newDemo(t)
	logs := filepath.Join(d.dir, "logs") + string(filepath.Separator)
	code, _, _ := cli(t, map[string]string{"UPNSYNC_PASSWORD": "Sup3r-s3cret"}, d.gnu("--log-file-path", logs)...)
	if code != exitPending {
		t.Fatalf("exit %d", code)
	}
	files, _ := filepath.Glob(filepath.Join(logs, "upnsync_*.log"))
	if len(files) != 1 {
		t.Fatalf("log files: %v", files)
	}
	data, _ := os.ReadFile(files[0])
	for _, want := range []string{"upnsync starting", "msg=change user=1001", "msg=conflict reason=duplicate-upn",
		"msg=\"upnsync finished\" exit_code=2",
		// An LDIF export binds to nothing: the password is not used, and
		// the log says so.
		"UPNSYNC_PASSWORD is not used: --password applies to LDAP directories"} {
		if !strings.Contains(string(data), want) {
			t.Errorf("log lacks %q:\n%s", want, data)
		}
	}
	if strings.Contains(string(data), "Sup3r-s3cret") {
		t.Fatal("the log holds the password")
	}
}

func TestDemoCommand(t *testing.T) {
	// The demo's page goes to the temporary folder: this test's own.
	tmp := t.TempDir()
	for _, v := range []string{"TMPDIR", "TMP", "TEMP"} {
		t.Setenv(v, tmp)
	}
	code, out, errOut := cli(t, nil, "demo")
	if code != 0 {
		t.Fatalf("demo exit %d\n%s\n%s", code, out, errOut)
	}
	page := filepath.Join(tmp, "upnsync-demo-report.html")
	if !strings.Contains(out, "\nThe same report as a page for reviewers (--report html): "+page+"\n") {
		t.Errorf("the demo does not say where its HTML report is:\n%s", out)
	}
	if html, err := os.ReadFile(page); err != nil || !strings.Contains(string(html), `data-card="changes"><a href="#changes"><span class="n" data-count="9"`) {
		t.Errorf("the demo's HTML report: %v\n%.2000s", err, html)
	}
	// At most 80 lines: the details once (each change and conflict on one
	// line), then each step's summary.
	if n := strings.Count(out, "\n"); n > 80 {
		t.Errorf("the demo prints %d lines, over 80:\n%s", n, out)
	}
	parts := strings.Split(out, "\n== ")
	if len(parts) != 4 {
		t.Fatalf("want the seeding and three passes, got %d parts:\n%s", len(parts), out)
	}
	for i, want := range []string{"Summary: read 31, matched 24, unchanged 12, changes 9", "Applied: 9 users written", "changes 0, conflicts 5"} {
		if !strings.Contains(parts[i+1], want) {
			t.Errorf("pass %d lacks %q:\n%s", i+1, want, parts[i+1])
		}
	}
	for _, kind := range []string{"invalid-upn", "duplicate-upn", "upn-owned-by-other-user", "field-too-long", "ambiguous-match"} {
		if strings.Count(out, kind) != 1 || !strings.Contains(parts[1], kind) {
			t.Errorf("the demo shows the %s conflict %d times, want once, in the dry run", kind, strings.Count(out, kind))
		}
	}
	if strings.Count(out, "jane.doe@corp.example.com") != 1 {
		t.Errorf("the demo shows Jane's change %d times, want once", strings.Count(out, "jane.doe@corp.example.com"))
	}
	if !strings.Contains(parts[0], "(removed at the end; --keep DIR keeps them)") {
		t.Errorf("the demo does not say its folder goes:\n%s", parts[0])
	}
	for _, want := range []string{"upnsync doctor ", "upnsync store export ", "dataimporter:", "DataImporter", "postgres://"} {
		if !strings.Contains(parts[3], want) {
			t.Errorf("the closing lines lack %q:\n%s", want, parts[3])
		}
	}

	// --verbose: each step's whole report.
	_, verbose, _ := cli(t, nil, "demo", "--verbose")
	if strings.Count(verbose, "  duplicate-upn  sam.lee@corp.example.com") != 3 || strings.Count(verbose, "    after:    jdoe;CORP\\jdoe;jane.doe@corp.example.com") != 2 {
		t.Errorf("--verbose does not show every step's report:\n%s", verbose)
	}

	// --keep DIR: the files stay, and the commands to go on are given;
	// they work there.
	keep := filepath.Join(t.TempDir(), "demo")
	code, out, errOut = cli(t, nil, "demo", "--keep", keep)
	if code != 0 || !strings.Contains(out, "in "+keep+" (kept)") || !strings.Contains(out, "  cd "+keep+"\n") {
		t.Fatalf("demo --keep: exit %d\n%s\n%s", code, out, errOut)
	}
	for _, name := range []string{"ADSIReaderLDAPMappings.xml", "directory.ldif", "octopus-users.csv", "octopus-users.db"} {
		if _, err := os.Stat(filepath.Join(keep, name)); err != nil {
			t.Errorf("demo --keep left no %s: %v", name, err)
		}
	}
	t.Chdir(keep)
	code, out, _ = cli(t, nil, "--config-file-path", "ADSIReaderLDAPMappings.xml", "--directory", "ldif:directory.ldif", "--store", "sqlite:octopus-users.db")
	if code != exitConflicts || !strings.Contains(out, "changes 0, conflicts 5") {
		t.Errorf("the kept demo's dry run: exit %d\n%s", code, out)
	}
	// A second demo there would find its work done: refused.
	if code, _, errOut := cli(t, nil, "demo", "--keep", keep); code != exitError || !strings.Contains(errOut, "already holds") {
		t.Errorf("a second demo --keep in the same folder: exit %d %s", code, errOut)
	}
}
