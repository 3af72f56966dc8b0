package main

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/upnsync/upnsync/internal/testenv"
)

// A run against the real directory with --log-file-path writes a log that
// holds its settings, the ldapsearch command equal to each search, one line
// per change and conflict, and the summary; never the password.
func TestLogFileOfRealRunHoldsSearchChangesSummaryAndNoPassword(t *testing.T) {
	env := testenv.LDAP(t)
	dir := t.TempDir()
	store := "sqlite:" + filepath.Join(dir, "octopus.db")
	if code, _, errOut := cli(t, nil, "store", "import", "--store", store, env.OctopusCSV); code != 0 {
		t.Fatal(errOut)
	}
	logs := filepath.Join(dir, "logs") + string(filepath.Separator)
	code, out, errOut := cli(t, map[string]string{"UPNSYNC_PASSWORD": env.Password},
		"--config-file-path", filepath.Join("..", "..", "testdata", "mapping", "ADSIReaderLDAPMappings-upn.xml"),
		"--directory", env.LDAPSURL, "--ca-file", env.CAFile, "--login", env.BindDN, "--domain", env.Base,
		"--store", store, "--report", "json", "--log-file-path", logs)
	plan := parseReport(t, out)
	if code != exitPending || len(plan.Changes) == 0 {
		t.Fatalf("exit %d, %d changes\n%s", code, len(plan.Changes), errOut)
	}
	files, _ := filepath.Glob(filepath.Join(logs, "upnsync_*.log"))
	if len(files) != 1 {
		t.Fatalf("log files: %v", files)
	}
	data, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	log := string(data)
	if strings.Contains(log, env.Password) {
		t.Fatal("the log holds the password")
	}

	wantSearch := "LDAPTLS_CACERT=" + env.CAFile + " ldapsearch -H " + env.LDAPSURL + " -x -D " + env.BindDN + " -W -b " + env.Base +
		` -s sub -E pr=1000/noprompt '(&(objectCategory=person)(objectClass=user))' objectGUID sAMAccountName userAccountControl userPrincipalName`
	if !strings.Contains(log, `msg=search base="`+env.Base+`" ldapsearch="`+wantSearch) {
		t.Errorf("the log lacks the ldapsearch command %q:\n%.3000s", wantSearch, log)
	}
	for _, c := range plan.Changes {
		if !strings.Contains(log, "msg=change user="+c.UserID+" ") {
			t.Errorf("the log lacks the change of user %s", c.UserID)
		}
	}
	if n := strings.Count(log, "msg=change "); n != len(plan.Changes) {
		t.Errorf("%d change lines for %d changes", n, len(plan.Changes))
	}
	if n := strings.Count(log, "msg=conflict "); n != len(plan.Conflicts) {
		t.Errorf("%d conflict lines for %d conflicts", n, len(plan.Conflicts))
	}
	summary := regexp.MustCompile(`msg="upnsync finished" exit_code=2 result=changes-pending mode=dry-run elapsed=[0-9.]+m?s read=` +
		itoa(env.Users) + ` pages=[0-9]+ complete=true changes=[0-9]+ conflicts=[0-9]+ unmatched=[0-9]+ skipped=[0-9]+ departed=[0-9]+ removals=[0-9]+ peak_memory="[0-9.]+ MiB"`)
	if !summary.MatchString(log) {
		t.Errorf("the log lacks the summary line:\n%s", lastLines(log, 3))
	}
	for _, want := range []string{`settings.password="environment variable UPNSYNC_PASSWORD"`, "settings.directory=" + env.LDAPSURL} {
		if !strings.Contains(log, want) {
			t.Errorf("the log lacks %q", want)
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// --log-format json writes one JSON object per line, to the file and to
// standard error, with the same records; the password is in neither.
func TestJSONLogFormat(t *testing.T) {
	d := newDemo(t)
	logFile := filepath.Join(d.dir, "run.log")
	code, _, errOut := cli(t, map[string]string{"UPNSYNC_PASSWORD": "Sup3r-s3cret"}, d.gnu("--log-file-path", logFile, "--log-format", "json")...)
	if code != exitPending {
		t.Fatalf("exit %d", code)
	}
	data, _ := os.ReadFile(logFile)
	if strings.Contains(string(data)+errOut, "Sup3r-s3cret") {
		t.Fatal("the password was logged")
	}
	for name, text := range map[string]string{"file": string(data), "stderr": errOut} {
		var msgs []string
		sc := bufio.NewScanner(strings.NewReader(text))
		for sc.Scan() {
			var rec map[string]any
			if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
				t.Fatalf("%s: not a JSON line: %q", name, sc.Text())
			}
			msgs = append(msgs, rec["msg"].(string))
			if rec["msg"] == "upnsync finished" && (rec["exit_code"] != 2.0 || rec["read"] != 31.0) {
				t.Errorf("%s: summary %v", name, rec)
			}
		}
		if !slices.Contains(msgs, "upnsync starting") || !slices.Contains(msgs, "change") || !slices.Contains(msgs, "upnsync finished") {
			t.Errorf("%s: messages %q", name, msgs)
		}
	}
}

// --log-keep deletes the oldest of upnsync's own log files, never anything
// else in the folder.
func TestLogKeepDeletesOnlyTheOldestLogs(t *testing.T) {
	d := newDemo(t)
	logs := filepath.Join(d.dir, "logs")
	if err := os.Mkdir(logs, 0o755); err != nil {
		t.Fatal(err)
	}
	old := []string{"upnsync_20240101_010000.log", "upnsync_20240102_010000.log", "upnsync_20240102_010000_2.log",
		"upnsync_20240102_010000_10.log", "upnsync_20240103_010000.log"}
	others := []string{"notes.txt", "upnsync_backup.log", "upnsync_2024.log"}
	for _, name := range append(slices.Clone(old), others...) {
		if err := os.WriteFile(filepath.Join(logs, name), []byte("x\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if code, _, errOut := cli(t, nil, d.gnu("--log-file-path", logs, "--log-keep", "3")...); code != exitPending {
		t.Fatalf("exit %d %s", code, errOut)
	}
	entries, _ := os.ReadDir(logs)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	today := time.Now().Format("upnsync_20060102_")
	var kept []string
	for _, n := range names {
		if strings.HasPrefix(n, today) {
			kept = append(kept, "new")
		}
	}
	for _, n := range []string{"upnsync_20240102_010000_10.log", "upnsync_20240103_010000.log"} {
		if !slices.Contains(names, n) {
			t.Errorf("%s was deleted; it is among the newest 3", n)
		}
	}
	for _, n := range old[:3] {
		if slices.Contains(names, n) {
			t.Errorf("%s was kept; it is older than the newest 3", n)
		}
	}
	for _, n := range others {
		if !slices.Contains(names, n) {
			t.Errorf("%s, not upnsync's log, was deleted", n)
		}
	}
	if len(kept) != 1 {
		t.Errorf("the new log is not there: %v", names)
	}
}
