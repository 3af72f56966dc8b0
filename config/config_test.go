package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
	"unsafe"
)

func noenv(string) string { return "" }

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func mustParse(t *testing.T, args []string, getenv func(string) string) *Settings {
	t.Helper()
	s, err := Parse(args, getenv)
	if err != nil {
		t.Fatalf("Parse(%q): %v", args, err)
	}
	return s
}

// Both spellings must give the same settings.
func TestGNUAndWindowsSpellingsAgree(t *testing.T) {
	gnu := mustParse(t, []string{
		"--config-file-path", `C:\Octopus config\map.xml`, "--directory=ldap://dc1.corp.example.com",
		"--store", "sqlite:o.db", "--report", "json", "--apply", "--domain", "OU=A,DC=corp",
		"--domain=corp.example.com", "--page-size", "500", "--implicit-upn", "--skip-disabled",
		"--max-length", "50", "--timeout", "30s", "--report-file", "r.json", "--login", "svc@corp",
		"--start-tls", "--ca-file", "ca.pem", "--user-filter", "(objectClass=inetOrgPerson)",
	}, noenv)
	win := mustParse(t, []string{
		`/ConfigFilePath:"C:\Octopus config\map.xml"`, "/directory:ldap://dc1.corp.example.com",
		"/STORE:sqlite:o.db", "/Report:json", "/Apply", "/Domain:OU=A,DC=corp",
		"/Domain:corp.example.com", "/PageSize:500", "/ImplicitUPN", "/skipdisabled",
		"/MaxLength:50", "/Timeout:30s", "/ReportFilePath:r.json", "/Login:svc@corp",
		"/StartTLS", "/CAFile:ca.pem", "/UserFilter:(objectClass=inetOrgPerson)",
	}, noenv)
	gnu.from, win.from = nil, nil
	gnu.source, win.source = nil, nil
	if !reflect.DeepEqual(gnu, win) {
		t.Fatalf("GNU and Windows spellings differ:\n%+v\n%+v", gnu, win)
	}
	if gnu.ConfigFile != `C:\Octopus config\map.xml` || !gnu.Apply || gnu.PageSize != 500 ||
		!reflect.DeepEqual(gnu.Domains, []string{"OU=A,DC=corp", "corp.example.com"}) || gnu.Timeout != 30*time.Second {
		t.Fatalf("settings = %+v", gnu)
	}
}

func TestDefaults(t *testing.T) {
	s := mustParse(t, []string{"--config-file-path", "m.xml", "--directory", "ldif:x"}, noenv)
	if s.Command != "sync" || s.Store != DefaultStore || s.PageSize != 1000 || s.Timeout != 2*time.Minute ||
		s.MaxLength != 250 || s.Report != "text" || s.Apply {
		t.Fatalf("defaults = %+v", s)
	}
	s = mustParse(t, []string{"--config-file-path", "m.xml", "--directory", "ldaps://dc1", "--page-size", "0"}, noenv)
	if s.PageSize != 0 {
		t.Fatalf("--page-size 0 must disable paging, got %d", s.PageSize)
	}
}

func TestCommands(t *testing.T) {
	tests := []struct {
		args []string
		cmd  string
		pos  []string
	}{
		{[]string{"demo"}, "demo", nil},
		{[]string{"mapping", "check", "/etc/upnsync/map.xml"}, "mapping", []string{"check", "/etc/upnsync/map.xml"}},
		{[]string{"mapping", "add-upn", "in.xml", "out.xml"}, "mapping", []string{"add-upn", "in.xml", "out.xml"}},
		{[]string{"store", "import", "--store", "sqlite:x.db", "users.csv"}, "store", []string{"import", "users.csv"}},
		{[]string{"report", "html", "saved.json", "out.html"}, "report", []string{"html", "saved.json", "out.html"}},
		{[]string{"REPORT", "HTML", "plan.json", "out.html"}, "report", []string{"HTML", "plan.json", "out.html"}},
		{[]string{"version"}, "version", nil},
		{[]string{"--help"}, "help", nil},
		{[]string{"/?"}, "help", nil},
		{[]string{"-h"}, "help", nil},
		{[]string{"sync", "--help"}, "help", nil},
		{[]string{"help"}, "help", nil},
		{[]string{"--", "demo"}, "demo", nil},
	}
	for _, tt := range tests {
		s := mustParse(t, tt.args, noenv)
		if s.Command != tt.cmd || !reflect.DeepEqual(s.Args, tt.pos) {
			t.Errorf("Parse(%q) = %s %q, want %s %q", tt.args, s.Command, s.Args, tt.cmd, tt.pos)
		}
	}
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--directory", "ldif:x"}, "no mapping file: give --config-file-path FILE (or /ConfigFilePath:FILE)"},
		{[]string{"--config-file-path", "m.xml"}, "no directory: give --directory URL (or /Directory:URL)"},
		{[]string{"--config-file-path", "m.xml", "--domain", "O=Corp"}, "or --domain corp.example.com to find the domain controllers through DNS"},
		{[]string{"--config-file-pth", "m.xml"}, "unknown option --config-file-pth"},
		{[]string{"--aply"}, "unknown option --aply (did you mean --apply?); see upnsync --help"},
		{[]string{"/Aply"}, "unknown option /Aply (did you mean /Apply?)"},
		{[]string{"--store"}, "--store needs a value (URL)"},
		{[]string{"/ConfigFilePath"}, "/ConfigFilePath needs a value: /ConfigFilePath:FILE"},
		{[]string{"--page-size", "ten"}, `--page-size: "ten" is not a whole number`},
		{[]string{"--page-size", "-1"}, "--page-size: -1 is below the minimum 0"},
		{[]string{"/PageSize:-5"}, "/PageSize: -5 is below the minimum 0"},
		{[]string{"--max-length", "0"}, "--max-length: 0 is below the minimum 1"},
		{[]string{"--timeout", "5"}, `--timeout: "5" is not a positive duration`},
		{[]string{"--apply=maybe"}, `--apply: "maybe" is not true or false`},
		{[]string{"--report", "xml", "demo"}, "--report xml: use text, json, csv or html"},
		{[]string{"--report", "html", "--config-file-path", "m.xml", "--directory", "ldif:x"},
			"--report html writes a page for a browser, not for the terminal: give --report-file FILE.html too (or /ReportFilePath:FILE.html)"},
		{[]string{"/Report:HTML", "plan", "--out", "p.json", "--config-file-path", "m.xml", "--directory", "ldif:x"}, "--report html writes a page for a browser"},
		{[]string{"undo", "r1", "--report", "html"}, "give --report-file FILE.html"},
		{[]string{"demo", "--report", "html"}, "upnsync demo writes the HTML report of its dry run to a file of its own and says where"},
		{[]string{"report"}, "report needs a subcommand: upnsync report html IN OUT.html"},
		{[]string{"report", "htm", "a", "b"}, `unknown report subcommand "htm" (did you mean html?)`},
		{[]string{"report", "html", "in.json"}, "usage: upnsync report html IN OUT.html"},
		{[]string{"report", "html", "in.json", "out.html", "--store", "sqlite:x.db"}, "--store applies to upnsync"},
		{[]string{"-x"}, "unknown option -x"},
		{[]string{"frobnicate", "--config-file-path", "m", "--directory", "ldif:x"}, `unexpected argument "frobnicate"`},
		{[]string{"--anonymous", "--login", "x", "--config-file-path", "m", "--directory", "ldaps://dc1"}, "--anonymous cannot be combined with --login"},
	}
	for _, tt := range tests {
		_, err := Parse(tt.args, noenv)
		var ue *UsageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Parse(%q) = %v, want a usage error containing %q", tt.args, err, tt.want)
		}
	}
}

// With a --domain naming a DNS domain (or a DN with DC= parts), the
// domain controllers are found through DNS: no --directory needed. The
// new directory options have both spellings.
func TestLocatedDirectoryAndADOptions(t *testing.T) {
	for _, args := range [][]string{
		{"--config-file-path", "m.xml", "--domain", "corp.example.com"},
		{"/ConfigFilePath:m.xml", "/Domain:OU=Staff,DC=corp,DC=example,DC=com", "/GlobalCatalog", "/Filter:(department=Sales)"},
		{"--config-file-path", "m.xml", "--domain", "OU=Staff,DC=corp,DC=example,DC=com", "--global-catalog", "--filter", "(department=Sales)"},
	} {
		s := mustParse(t, args, noenv)
		if s.Directory != "" || len(s.Domains) != 1 {
			t.Errorf("Parse(%q): directory %q, domains %q", args, s.Directory, s.Domains)
		}
		if len(args) > 4 && (!s.GlobalCatalog || s.Filter != "(department=Sales)") {
			t.Errorf("Parse(%q): global catalog %t, filter %q", args, s.GlobalCatalog, s.Filter)
		}
	}
}

func TestUnixPathIsNotAnOption(t *testing.T) {
	s := mustParse(t, []string{"mapping", "check", "/store/map.xml"}, noenv)
	if !reflect.DeepEqual(s.Args, []string{"check", "/store/map.xml"}) {
		t.Fatalf("args = %q", s.Args)
	}
	// /Store:x is an option, /store/map.xml is a path.
	s = mustParse(t, []string{"/Store:sqlite:/data/o.db", "runs"}, noenv)
	if s.Store != "sqlite:/data/o.db" || s.Command != "runs" {
		t.Fatalf("settings = %+v", s)
	}
}

func TestUnquote(t *testing.T) {
	for in, want := range map[string]string{
		`"C:\Octopus config\map.xml"`: `C:\Octopus config\map.xml`,
		`C:\dir\"`:                    `C:\dir\`,
		`plain`:                       `plain`,
		`"`:                           ``,
	} {
		if got := unquote(in); got != want {
			t.Errorf("unquote(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestEnvironmentAndPrecedence(t *testing.T) {
	env := envOf(map[string]string{
		"UPNSYNC_CONFIG_FILE_PATH": "env.xml", "UPNSYNC_DIRECTORY": "ldif:env.ldif",
		"UPNSYNC_APPLY": "yes", "UPNSYNC_PAGE_SIZE": "200",
	})
	s := mustParse(t, []string{"--directory", "ldaps://cli"}, env)
	if s.ConfigFile != "env.xml" || s.Directory != "ldaps://cli" || !s.Apply || s.PageSize != 200 || len(s.Warnings) != 0 {
		t.Fatalf("settings = %+v", s)
	}
	_, err := Parse(nil, envOf(map[string]string{"UPNSYNC_PAGE_SIZE": "x", "UPNSYNC_CONFIG_FILE_PATH": "m", "UPNSYNC_DIRECTORY": "d"}))
	if err == nil || !strings.Contains(err.Error(), `environment variable UPNSYNC_PAGE_SIZE: "x" is not a whole number`) {
		t.Fatalf("err = %v", err)
	}
}

func TestSettingsFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "upnsync.conf")
	write := func(s string) {
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("\ufeff# nightly sync\nconfig-file-path = \"C:\\Octopus config\\map.xml\"\r\ndirectory = ldif:file.ldif\n\nstore = sqlite:file.db\ndomain = OU=A,DC=x\ndomain = OU=B,DC=x\n")
	s := mustParse(t, []string{"--settings", path, "--store", "sqlite:cli.db"}, envOf(map[string]string{"UPNSYNC_DIRECTORY": "ldif:env.ldif"}))
	if s.ConfigFile != `C:\Octopus config\map.xml` || s.Directory != "ldif:env.ldif" || s.Store != "sqlite:cli.db" ||
		!reflect.DeepEqual(s.Domains, []string{"OU=A,DC=x", "OU=B,DC=x"}) {
		t.Fatalf("settings = %+v", s)
	}
	for content, want := range map[string]string{
		"directory ldif:x\n":                         path + ":1: expected name = value",
		"# c\nfrobnicate = 1\n":                      path + `:2: unknown setting "frobnicate"`,
		"password = hunter2\n":                       path + ":1: a password does not belong in a settings file; use password-file = FILE",
		"store-password = hunter2\n":                 path + ":1: a password does not belong in a settings file; use store-password-file = FILE",
		"page-size = x\n":                            path + `:1: page-size: "x" is not a whole number`,
		"store = a\nstore = b\n":                     path + ":2: store is already set on line 1",
		"help = true\n":                              path + ":1: help can only be given on the command line",
		"directory = \xff\xfe\n":                     path + ":1: not UTF-8 text",
		"config-file-path = m\ndirectory = d\x00\n":  path + ":2: not UTF-8 text",
		"config-file-path = m\ndirectory = d\nx=1\n": path + `:3: unknown setting "x"`,
	} {
		write(content)
		_, err := Parse([]string{"--settings", path}, noenv)
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("settings %q: err = %v, want %q", content, err, want)
		}
	}
	_, err := Parse([]string{"--settings", filepath.Join(dir, "none.conf")}, noenv)
	if err == nil || !strings.Contains(err.Error(), "none.conf does not exist") {
		t.Fatalf("missing settings file: %v", err)
	}
}

func TestPasswordSources(t *testing.T) {
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "pw")
	if err := os.WriteFile(pwFile, []byte("s3cret-file\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	base := []string{"--config-file-path", "m", "--directory", "ldaps://dc1"}

	s := mustParse(t, append(base, "--password-file", pwFile), noenv)
	if s.Password.Reveal() != "s3cret-file" || s.PasswordSource() != "password file "+pwFile || len(s.Warnings) != 0 {
		t.Fatalf("password file: %+v", s)
	}
	s = mustParse(t, base, envOf(map[string]string{"UPNSYNC_PASSWORD": "s3cret-env"}))
	if s.Password.Reveal() != "s3cret-env" || s.PasswordSource() != "environment variable UPNSYNC_PASSWORD" {
		t.Fatalf("env password: %+v", s)
	}
	s = mustParse(t, append(base, "/Password:s3cret-cli"), noenv)
	if s.Password.Reveal() != "s3cret-cli" || len(s.Warnings) != 1 ||
		!strings.Contains(s.Warnings[0], "/Password puts the password on the command line") ||
		strings.Contains(s.Warnings[0], "s3cret-cli") {
		t.Fatalf("command line password: %+v", s.Warnings)
	}

	if err := os.Chmod(pwFile, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Parse(append(base, "--password-file", pwFile), noenv)
	if err == nil || !strings.Contains(err.Error(), "can be read by other users (mode 0644): run chmod 600") {
		t.Fatalf("readable password file: %v", err)
	}
	_, err = Parse(append(base, "--password-file", filepath.Join(dir, "nope")), noenv)
	if err == nil || !strings.Contains(err.Error(), "nope does not exist") {
		t.Fatalf("missing password file: %v", err)
	}
	empty := filepath.Join(dir, "empty")
	_ = os.WriteFile(empty, []byte("\n"), 0o600)
	_, err = Parse(append(base, "--password-file", empty), noenv)
	if err == nil || !strings.Contains(err.Error(), "is empty") {
		t.Fatalf("empty password file: %v", err)
	}
}

// A secret never prints, whatever formatting touches it.
func TestSecretMasked(t *testing.T) {
	s := mustParse(t, []string{"--config-file-path", "m", "--directory", "d", "--password", "hunter2"}, noenv)
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "%v %+v %#v %s", s.Password, *s, s, s.Password)
	data, _ := json.Marshal(s)
	buf.Write(data)
	slog.New(slog.NewTextHandler(&buf, nil)).Info("settings", slog.GroupAttrs("settings", s.LogAttrs()...))
	if strings.Contains(buf.String(), "hunter2") {
		t.Fatalf("secret leaked: %s", buf.String())
	}
	if !strings.Contains(buf.String(), `settings.password="command line"`) {
		t.Fatalf("Describe should name the source: %s", buf.String())
	}
}

func TestSafetyOptions(t *testing.T) {
	base := []string{"--config-file-path", "m.xml", "--directory", "ldif:x"}
	s := mustParse(t, base, noenv)
	if s.MaxChanges != -1 || s.MaxChangePercent != -1 || s.MaxRemovals != 500 || s.MaxRemovalPercent != 10 ||
		s.Force || s.RemoveDeparted || s.MaxPlanAge != 7*24*time.Hour || s.WaitLock != 0 {
		t.Fatalf("safety defaults: %+v", s)
	}
	di := []string{"--store", "dataimporter:out.xlsx", "--octopus-export", "users.csv"}
	gnu := mustParse(t, append(append(base, di...), "--remove-departed", "--max-changes", "20", "--max-change-percent", "2.5%",
		"--max-removals", "off", "--max-removal-percent", "5", "--force", "--wait-lock", "10m", "--state", "s.db"), noenv)
	win := mustParse(t, append(append(base, di...), "/RemoveDeparted", "/MaxChanges:20", "/MaxChangePercent:2.5",
		"/maxremovals:none", "/MaxRemovalPercent:5%", "/Force", "/WaitLock:10m", "/State:s.db"), noenv)
	if gnu.MaxChanges != 20 || gnu.MaxChangePercent != 2.5 || gnu.MaxRemovals != -1 || gnu.MaxRemovalPercent != 5 ||
		!gnu.Force || !gnu.RemoveDeparted || gnu.WaitLock != 10*time.Minute || gnu.State != "s.db" {
		t.Fatalf("gnu: %+v", gnu)
	}
	gnu.from, win.from, gnu.source, win.source = nil, nil, nil, nil
	if !reflect.DeepEqual(gnu, win) {
		t.Fatalf("spellings differ:\n%+v\n%+v", gnu, win)
	}
	// --force lets one run through: it cannot come from the environment
	// or a settings file, where it would let every run through.
	if s := mustParse(t, base, envOf(map[string]string{"UPNSYNC_FORCE": "true"})); s.Force {
		t.Fatal("UPNSYNC_FORCE was honoured")
	}
	file := filepath.Join(t.TempDir(), "upnsync.conf")
	os.WriteFile(file, []byte("force = true\n"), 0o600)
	if _, err := Parse(append(base, "--settings", file), noenv); err == nil || !strings.Contains(err.Error(), "force can only be given on the command line") {
		t.Fatalf("force in a settings file: %v", err)
	}
	for args, want := range map[string]string{
		"--max-change-percent 101": `"101" is not a percentage from 0 to 100`,
		"--max-changes -3":         "below the minimum 0",
		"--wait-lock soon":         "not a positive duration",
	} {
		if _, err := Parse(append(base, strings.Fields(args)...), noenv); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", args, err, want)
		}
	}
}

func TestSafetyCommands(t *testing.T) {
	tests := []struct {
		args []string
		err  string
	}{
		{[]string{"plan", "--config-file-path", "m", "--directory", "ldif:x"}, "upnsync plan needs --out FILE"},
		{[]string{"plan", "--config-file-path", "m", "--directory", "ldif:x", "--out", "p.json", "--apply"}, "never writes to the store"},
		{[]string{"plan", "--config-file-path", "m", "--directory", "ldif:x", "--out", "p.json"}, ""},
		{[]string{"apply"}, "usage: upnsync apply PLAN-FILE"},
		{[]string{"apply", "p.json", "--store", "sqlite:x.db"}, "--store cannot change it"},
		{[]string{"apply", "p.json", "--report", "json", "--wait-lock", "1m"}, ""},
		{[]string{"runs", "x"}, "usage: upnsync runs"},
		{[]string{"runs", "--store", "sqlite:x.db", "--report", "json"}, ""},
		{[]string{"undo"}, "usage: upnsync undo RUN_ID"},
		{[]string{"undo", "20260101T000000Z-abcdef", "--apply"}, ""},
	}
	for _, tt := range tests {
		s, err := Parse(tt.args, noenv)
		if tt.err == "" {
			if err != nil || s.Command != tt.args[0] {
				t.Errorf("%q: %v", tt.args, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.err) {
			t.Errorf("%q: %v, want %q", tt.args, err, tt.err)
		}
	}
	// A settings file that names the store does not stop apply.
	if _, err := Parse([]string{"apply", "p.json"}, envOf(map[string]string{"UPNSYNC_STORE": "sqlite:x.db"})); err != nil {
		t.Errorf("apply with UPNSYNC_STORE set: %v", err)
	}
}

// The command scrubs a command-line password out of its own argument
// memory after parsing; a scheduler's Reload must still have it.
func TestReloadAfterArgumentsScrubbed(t *testing.T) {
	args := []string{"--config-file-path", "m", "--directory", "d", "--password", string([]byte("s3cret-pw"))}
	s := mustParse(t, args, noenv)
	b := unsafe.Slice(unsafe.StringData(args[5]), len(args[5]))
	for i := range b {
		b[i] = '*'
	}
	again, err := s.Reload()
	if err != nil {
		t.Fatal(err)
	}
	if s.Password.Reveal() != "s3cret-pw" || again.Password.Reveal() != "s3cret-pw" {
		t.Fatalf("password after scrubbing: %q, after reload: %q", s.Password.Reveal(), again.Password.Reveal())
	}
}

// --report html is accepted with a report file, in both spellings, by
// every command that writes a report.
func TestReportHTMLWithAFile(t *testing.T) {
	for _, args := range [][]string{
		{"--report", "html", "--report-file", "r.html", "--config-file-path", "m.xml", "--directory", "ldif:x"},
		{"/Report:HTML", "/ReportFilePath:r.html", "/ConfigFilePath:m.xml", "/Directory:ldif:x"},
		{"plan", "--out", "p.json", "--report", "html", "--report-file", "p.html", "--config-file-path", "m.xml", "--directory", "ldif:x"},
		{"apply", "p.json", "--report", "html", "--report-file", "r.html"},
		{"undo", "r1", "--report", "html", "--report-file", "r.html"},
	} {
		s := mustParse(t, args, noenv)
		if s.Report != "html" || s.ReportFile == "" {
			t.Errorf("Parse(%q): report %q to %q", args, s.Report, s.ReportFile)
		}
	}
}

// A quoted Windows value ending in a backslash takes in the rest of the
// line (\" is a quote inside the value): refused, with the fix, rather than
// losing /LogKeep and /Quiet without a word.
func TestValueThatSwallowedTheOptionsAfterIt(t *testing.T) {
	for _, args := range [][]string{
		// What Windows hands upnsync for
		// /LogFilePath:"C:\Octopus config\logs2\" /LogKeep:60 /Quiet
		{"sync", `/LogFilePath:C:\Octopus config\logs2" /LogKeep:60 /Quiet`},
		{"sync", `--log-file-path`, `C:\Octopus config\logs2" --log-keep 60`},
		{"sync", `/ReportFilePath:"C:\r\" /quiet`},
	} {
		_, err := Parse(args, func(string) string { return "" })
		if err == nil || !strings.Contains(err.Error(), "took in the options after it") ||
			!strings.Contains(err.Error(), "never end a quoted value with a backslash") {
			t.Errorf("%q: %v", args, err)
		}
	}
	err := func() error {
		_, err := Parse([]string{"sync", `/LogFilePath:C:\Octopus config\logs2" /LogKeep:60 /Quiet`}, func(string) string { return "" })
		return err
	}()
	if want := `/LogFilePath took in the options after it (/LogKeep:60...): Windows reads \" as a quote that belongs to the value; never end a quoted value with a backslash: write /LogFilePath:"C:\Octopus config\logs2", not /LogFilePath:"C:\Octopus config\logs2\"`; err == nil || err.Error() != want {
		t.Errorf("error\n %v\nwant\n %s", err, want)
	}
	// A quote in a value that is not followed by an option is the value's.
	if _, err := Parse([]string{"sync", `--filter`, `(description=say "hi" /now)`}, func(string) string { return "" }); err != nil && strings.Contains(err.Error(), "took in") {
		t.Errorf("a filter with quotes refused: %v", err)
	}
}
