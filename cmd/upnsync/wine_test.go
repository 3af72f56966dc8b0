package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/upnsync/upnsync/internal/testenv"
)

// The Windows binary, run: upnsync.exe, cross-built, under Wine's cmd with
// the Windows command lines an administrator writes (/Name:"value", paths
// with spaces under C:\, %VARIABLES% of a .cmd file), on the demo data and
// against the test slapd over ldaps with /CaFile. Each result is compared
// with the Linux build's on the same input. The scheduled task's .cmd
// (deploy/windows/upnsync-task.cmd, which README.md and docs/windows.md
// show) runs as written, its directory options aside. What Wine does not
// cover (SSPI, Task Scheduler itself, ACLs) is named in docs/windows.md.
//
// It needs the prefix scripts/wine.sh setup makes (.ci/run does): without
// one the test is skipped, and in CI it fails.
func TestWindowsBinaryUnderWine(t *testing.T) {
	w := testenv.Wine(t)
	ldap := testenv.LDAP(t)
	if testing.Short() {
		t.Skip("-short: the Windows build under Wine takes a minute")
	}
	exe := filepath.Join(t.TempDir(), "upnsync.exe")
	build := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-o", exe, ".")
	build.Env = append(os.Environ(), "GOOS=windows", "GOARCH=amd64", "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building upnsync.exe: %v\n%s", err, out)
	}
	driveC := filepath.Join(w.Prefix, "drive_c")
	conf := filepath.Join(driveC, "Octopus config")
	prog := filepath.Join(driveC, "Program Files", "upnsync")
	clean := func() {
		os.RemoveAll(conf)
		os.RemoveAll(prog)
	}
	clean()
	t.Cleanup(func() {
		clean()
		// The prefix's server lingers a few seconds after the last
		// program: stop it rather than leave it running.
		stop := exec.Command(w.Wineserver, "-k")
		stop.Env = append(os.Environ(), "WINEPREFIX="+w.Prefix)
		_ = stop.Run()
	})
	for _, dir := range []string{conf, prog} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	copyFile(t, exe, filepath.Join(prog, "upnsync.exe"))
	demo := func(name string) []byte { return getFile(t, filepath.Join("..", "..", "testdata", "demo", name)) }
	crlf := func(b []byte) []byte { return bytes.ReplaceAll(b, []byte("\n"), []byte("\r\n")) }
	upnLine := "    <attribute LDAPAttribute=\"userPrincipalName\" OctopusAttribute=\"UPN\"/>\n"
	mappingWithUPN := demo("ADSIReaderLDAPMappings.xml")
	if !bytes.Contains(mappingWithUPN, []byte(upnLine)) {
		t.Fatal("the demo mapping has no UPN line to take out")
	}
	putFile(t, filepath.Join(conf, "ADSIReaderLDAPMappings.xml"), crlf(bytes.Replace(mappingWithUPN, []byte(upnLine), nil, 1)))
	putFile(t, filepath.Join(conf, "directory.ldif"), demo("directory.ldif"))
	putFile(t, filepath.Join(conf, "octopus-users.csv"), demo("octopus-users.csv"))
	copyFile(t, ldap.CAFile, filepath.Join(conf, "ca.crt"))
	copyFile(t, ldap.PasswordFile, filepath.Join(conf, "upnsync.pw"))
	copyFile(t, ldap.OctopusCSV, filepath.Join(conf, "ldap-users.csv"))

	// cmd runs lines in a .cmd file under Wine's cmd.exe, which hands
	// each command line to the program as Windows does.
	n := 0
	cmd := func(lines ...string) (int, string) {
		t.Helper()
		n++
		name := filepath.Join(conf, "step"+string(rune('a'+n))+".cmd")
		text := "@echo off\r\nsetlocal\r\nset \"UPNSYNC=C:\\Program Files\\upnsync\\upnsync.exe\"\r\nset \"CONF=C:\\Octopus config\"\r\n" +
			strings.Join(lines, "\r\n") + "\r\nexit /b %ERRORLEVEL%\r\n"
		putFile(t, name, []byte(text))
		return wine(t, w, `C:\Octopus config\`+filepath.Base(name))
	}

	// The demo.
	if code, out := cmd(`"%UPNSYNC%" demo`); code != 0 || !strings.Contains(out, "How the result reaches Octopus") {
		t.Fatalf("demo: exit %d\n%s", code, out)
	}

	// mapping add-upn on a CRLF file: one line added, with CRLF.
	if code, out := cmd(`"%UPNSYNC%" mapping add-upn "%CONF%\ADSIReaderLDAPMappings.xml"`); code != 0 {
		t.Fatalf("mapping add-upn: exit %d\n%s", code, out)
	}
	if got := getFile(t, filepath.Join(conf, "ADSIReaderLDAPMappings.xml")); !bytes.Equal(got, crlf(mappingWithUPN)) {
		t.Errorf("mapping add-upn wrote\n%q\nwant\n%q", got, crlf(mappingWithUPN))
	}

	// A dry run and an apply, with /Name:"value" paths with spaces and a
	// log folder that does not exist yet; the same as the Linux build's.
	if code, out := cmd(`"%UPNSYNC%" store import /Store:sqlite:"%CONF%\octopus users.db" "%CONF%\octopus-users.csv"`); code != 0 || !strings.Contains(out, "32 users read, 32 created") {
		t.Fatalf("store import: exit %d\n%s", code, out)
	}
	run := `"%UPNSYNC%" sync /ConfigFilePath:"%CONF%\ADSIReaderLDAPMappings.xml" /Directory:ldif:"%CONF%\directory.ldif" /Store:sqlite:"%CONF%\octopus users.db" /Report:json /LogFilePath:"%CONF%\logs" /LogKeep:60`
	d := newDemo(t)
	for _, mode := range []struct{ name, win string }{{"dry-run", ""}, {"apply", " /Apply"}} {
		report := mode.name + ".json"
		code, out := cmd(run + mode.win + ` /ReportFilePath:"%CONF%\` + report + `"`)
		args := d.gnu("--report", "json")
		if mode.win != "" {
			args = append(args, "--apply")
		}
		linuxCode, linux, errOut := cli(t, nil, args...)
		if code != linuxCode {
			t.Fatalf("%s: exit %d, the Linux build's %d\n%s\n%s", mode.name, code, linuxCode, out, errOut)
		}
		sameRun(t, mode.name, getFile(t, filepath.Join(conf, report)), []byte(linux))
	}
	logs, _ := filepath.Glob(filepath.Join(conf, "logs", "upnsync_*.log"))
	if len(logs) != 2 {
		t.Errorf("log folder holds %q, want the two runs' logs", logs)
	}
	if code, out := cmd(`"%UPNSYNC%" runs /Store:sqlite:"%CONF%\octopus users.db"`); code != 0 || strings.Count(out, "written 9") != 1 {
		t.Errorf("runs: exit %d\n%s", code, out)
	}

	// The scheduled task's .cmd, as written, but for the directory it
	// reads: the test slapd over ldaps, trusted through /CaFile.
	task := taskCmd(t)
	connect := `/Directory:ldaps://dc1.corp.example.com /Domain:corp.example.com /Login:svc-upnsync@corp.example.com /PasswordFile:"%CONF%\upnsync.pw"`
	test := `/Directory:` + ldap.LDAPSURL + ` /Domain:` + ldap.Base + ` /Login:` + ldap.BindDN + ` /PasswordFile:"%CONF%\upnsync.pw" /CaFile:"%CONF%\ca.crt"`
	if strings.Count(task, connect) != 1 {
		t.Fatalf("upnsync-task.cmd no longer holds %s once", connect)
	}
	putFile(t, filepath.Join(prog, "upnsync-task.cmd"), []byte(strings.Replace(task, connect, test, 1)))
	if code, out := cmd(`"%UPNSYNC%" store import /Store:sqlite:"%CONF%\octopus-users.db" "%CONF%\ldap-users.csv"`); code != 0 {
		t.Fatalf("store import: exit %d\n%s", code, out)
	}
	code, out := wine(t, w, `C:\Program Files\upnsync\upnsync-task.cmd`, "doctor")
	if code != 0 || !strings.Contains(out, "bind") {
		t.Errorf("upnsync-task.cmd doctor: exit %d\n%s", code, out)
	}
	// The Linux build's dry run of the same read, for comparison.
	linuxStore := "sqlite:" + filepath.Join(t.TempDir(), "ldap.db")
	if code, _, errOut := cli(t, nil, "store", "import", "--store", linuxStore, ldap.OctopusCSV); code != 0 {
		t.Fatalf("store import: %s", errOut)
	}
	linuxCode, linux, errOut := cli(t, nil, "--config-file-path", d.mapping, "--directory", ldap.LDAPSURL, "--domain", ldap.Base,
		"--login", ldap.BindDN, "--password-file", ldap.PasswordFile, "--ca-file", ldap.CAFile,
		"--store", linuxStore, "--report", "json")
	if linuxCode == exitError {
		t.Fatalf("the Linux build's LDAP run: %s", errOut)
	}
	code, out = wine(t, w, `C:\Program Files\upnsync\upnsync-task.cmd`)
	type counts struct {
		Complete bool           `json:"complete"`
		Summary  map[string]int `json:"summary"`
		Read     struct {
			Entries int `json:"entries"`
		} `json:"read"`
		ExitCode int `json:"exit_code"`
	}
	var win, lin counts
	summary := getFile(t, filepath.Join(conf, "last-run.json"))
	if err := json.Unmarshal(summary, &win); err != nil {
		t.Fatalf("last-run.json: %v\n%s", err, summary)
	}
	if err := json.Unmarshal([]byte(linux), &lin); err != nil {
		t.Fatal(err)
	}
	// (What /Quiet prints on standard output is not checked here: the
	// log file and the summary are what a scheduled task leaves.)
	if code != win.ExitCode || !win.Complete || win.Read.Entries != ldap.Users {
		t.Errorf("upnsync-task.cmd: exit %d, summary %s", code, summary)
	}
	for _, k := range []string{"read", "matched", "unchanged", "changes", "conflicts", "unmatched", "skipped"} {
		if win.Summary[k] != lin.Summary[k] {
			t.Errorf("upnsync-task.cmd: %s %d, the Linux build's dry run %d", k, win.Summary[k], lin.Summary[k])
		}
	}
	// The next night: nothing left to write.
	if code, out = wine(t, w, `C:\Program Files\upnsync\upnsync-task.cmd`); code != 0 && code != exitConflicts {
		t.Errorf("upnsync-task.cmd, second run: exit %d\n%s", code, out)
	}
	logs, _ = filepath.Glob(filepath.Join(conf, "logs", "upnsync_*.log"))
	if len(logs) != 4 {
		t.Errorf("log folder holds %d logs, want 4", len(logs))
	}

	// Written with a trailing backslash, the log folder's quote takes in
	// the rest of the line (\" is a quote in the value): refused, with
	// the fix, nothing written.
	before := getFile(t, filepath.Join(conf, "octopus-users.db"))
	bad := strings.Replace(task, connect, test, 1)
	bad = strings.Replace(bad, `/LogFilePath:"%CONF%\logs"`, `/LogFilePath:"%CONF%\logs2\"`, 1)
	putFile(t, filepath.Join(prog, "upnsync-task.cmd"), []byte(bad))
	code, out = wine(t, w, `C:\Program Files\upnsync\upnsync-task.cmd`)
	if code != exitError || !strings.Contains(out, `/LogFilePath took in the options after it (/LogKeep:60...)`) ||
		!strings.Contains(out, `write /LogFilePath:"C:\Octopus config\logs2"`) {
		t.Errorf("trailing backslash: exit %d\n%s", code, out)
	}
	if _, err := os.Stat(filepath.Join(conf, "logs2")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("logs2 made: %v", err)
	}
	if !bytes.Equal(before, getFile(t, filepath.Join(conf, "octopus-users.db"))) {
		t.Error("the store changed")
	}
}

var runStamps = regexp.MustCompile(`"(started|finished|run_id|directory|store|mapping_file)": "[^"]*"`)

// sameRun compares two JSON reports but for times, ids and paths.
func sameRun(t *testing.T, what string, win, linux []byte) {
	t.Helper()
	var a, b any
	if err := json.Unmarshal(win, &a); err != nil {
		t.Fatalf("%s: the Windows report: %v\n%s", what, err, win)
	}
	if err := json.Unmarshal(linux, &b); err != nil {
		t.Fatalf("%s: the Linux report: %v\n%s", what, err, linux)
	}
	wa, _ := json.MarshalIndent(a, "", " ")
	lb, _ := json.MarshalIndent(b, "", " ")
	mask := func(b []byte) string {
		s := runStamps.ReplaceAllString(string(b), `"$1": "-"`)
		// The apply hint names the store by its path.
		return regexp.MustCompile(`"apply_hint": "[^"]*"`).ReplaceAllString(s, `"apply_hint": "-"`)
	}
	if mask(wa) != mask(lb) {
		t.Errorf("%s: the Windows build's report differs from the Linux build's:\n%s\n---\n%s", what, mask(wa), mask(lb))
	}
}

// taskCmd is deploy/windows/upnsync-task.cmd, checked to hold the line
// docs/windows.md shows.
func taskCmd(t *testing.T) string {
	t.Helper()
	task := string(getFile(t, filepath.Join("..", "..", "deploy", "windows", "upnsync-task.cmd")))
	doc := string(getFile(t, filepath.Join("..", "..", "docs", "windows.md")))
	for _, line := range strings.Split(task, "\r\n") {
		if strings.HasPrefix(line, `"%UPNSYNC%"`) || strings.HasPrefix(line, `set "UPNSYNC=`) || strings.HasPrefix(line, `set "CONF=`) {
			if !strings.Contains(doc, line+"\n") {
				t.Errorf("docs/windows.md does not show upnsync-task.cmd's line\n%s", line)
			}
		}
	}
	return task
}

// wine runs a .cmd file under Wine's cmd.exe and returns its exit code
// and what it printed.
func wine(t *testing.T, w testenv.WineEnv, script string, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c := exec.CommandContext(ctx, w.Wine, append([]string{"cmd", "/c", script}, args...)...)
	c.Env = append(os.Environ(), "WINEPREFIX="+w.Prefix, "WINEDEBUG=-all")
	out, err := c.CombinedOutput()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, string(out)
	case errors.As(err, &ee) && ctx.Err() == nil:
		return ee.ExitCode(), string(out)
	}
	t.Fatalf("wine cmd /c %s: %v\n%s", script, err, out)
	return 0, ""
}

func getFile(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func putFile(t *testing.T, p string, b []byte) {
	t.Helper()
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	putFile(t, to, getFile(t, from))
}
