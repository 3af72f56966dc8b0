package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The directory and store of each kind, as a command line gives them.
var (
	walkDirs = []struct {
		k    dirSet
		args []string
	}{
		{dLDAP, []string{"--directory", "ldap://dc1.corp.example.com"}},
		{dLDAPS, []string{"--directory", "ldaps://dc1.corp.example.com"}},
		{dDC, []string{"--domain", "corp.example.com"}},
		{dLDIF, []string{"--directory", "ldif:people.ldif"}},
		{dCSV, []string{"--directory", "csv:people.csv"}},
		{dXLSX, []string{"--directory", "xlsx:people.xlsx"}},
		{dEntra, []string{"--directory", "entra:contoso.onmicrosoft.com"}},
	}
	walkStores = []struct {
		k   storeSet
		url string
	}{
		{sSQLite, "sqlite:octopus.db"},
		{sPostgres, "postgres://upnsync@db.corp.example.com/octopus"},
		{sDataImporter, "dataimporter:upn-import.xlsx"},
	}
)

// walkValue is a value each option accepts, with what it needs besides.
func walkValue(t *testing.T, o *option, dir string) (value string, extra []string) {
	t.Helper()
	switch o.long {
	case "password-file", "store-password-file", "client-secret-file":
		p := filepath.Join(dir, "pw")
		if err := os.WriteFile(p, []byte("s3cret\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return p, nil
	case "settings":
		p := filepath.Join(dir, "empty.conf")
		if err := os.WriteFile(p, []byte("# nothing\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return p, nil
	case "run-now":
		return "", []string{"--schedule", "@daily"}
	case "client-certificate-password-file":
		p := filepath.Join(dir, "pfx.pw")
		if err := os.WriteFile(p, []byte("s3cret\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return p, []string{"--client-certificate", "app.pfx"}
	case "user-filter", "filter":
		return "(department=Sales)", nil
	case "report":
		return "json", nil
	case "log-format":
		return "json", nil
	case "metrics-file":
		return "upnsync.prom", nil
	case "domain":
		return "OU=Staff,DC=corp,DC=example,DC=com", nil
	case "columns":
		return "upn=Email", nil
	case "csv-separator":
		return ";", nil
	}
	switch o.kind {
	case kBool:
		return "", nil
	case kInt:
		return "5", nil
	case kDuration:
		return "90s", nil
	}
	return "x", nil
}

// walkBase is what a command needs to parse at all: its arguments, and
// for sync and plan the mapping file, the directory and (plan) --out.
func walkBase(c *command, dirArgs []string, store string, skip string) []string {
	args := strings.Fields(c.name)
	for range c.minArgs {
		args = append(args, "arg")
	}
	if c.readsDirectory() {
		if skip != "config-file-path" && c.id != cDoctor {
			args = append(args, "--config-file-path", "m.xml")
		}
		if !(skip == "directory" && dirArgs[0] == "--directory") && !(skip == "domain" && dirArgs[0] == "--domain") {
			args = append(args, dirArgs...)
		} else if skip == "domain" {
			args = append(args, "--domain", "corp.example.com")
		}
	}
	if c.id == cPlan && skip != "out" {
		args = append(args, "--out", "p.json")
	}
	if c.opensStore() && skip != "store" {
		args = append(args, "--store", store)
	}
	return args
}

// TestEveryOptionAgainstEveryCommandAndKind walks the whole table: each
// option, given on the command line (in both spellings) to each command
// and each kind of directory and store, is accepted where the table says
// it applies and refused elsewhere with the option named as typed; from
// the environment, where it does not apply it is dropped with a warning
// that names it.
func TestEveryOptionAgainstEveryCommandAndKind(t *testing.T) {
	dir := t.TempDir()
	checked := 0
	for _, o := range options {
		if o.long == "help" || o.long == "version" || o.envOnly {
			continue
		}
		for _, c := range commands {
			if c.id == cHelp || c.id == cVersion {
				continue
			}
			dirs := walkDirs
			if !c.readsDirectory() {
				dirs = walkDirs[:1]
			}
			stores := walkStores
			if !c.opensStore() {
				stores = walkStores[:1]
			}
			for _, d := range dirs {
				for _, st := range stores {
					value, extra := walkValue(t, o, dir)
					switch o.long {
					case "directory":
						if d.args[0] != "--directory" {
							continue
						}
						value = d.args[1]
					case "store":
						value = st.url
					}
					applies := o.cmds&c.id != 0 &&
						(o.dirs == 0 || !c.readsDirectory() || o.dirs&d.k != 0) &&
						(o.stores == 0 || !c.opensStore() || o.stores&st.k != 0)
					if !applies {
						extra = nil // --run-now's --schedule would be refused first
					}
					base := walkBase(c, d.args, st.url, o.long)
					where := c.name + " " + strings.Join(d.args, " ") + " " + st.url
					checked++
					for _, spelling := range []struct{ name, arg []string }{
						{[]string{"--" + o.long}, gnuArg(o, value)},
						{[]string{"/" + o.win}, winArg(o, value)},
					} {
						args := append(append(append([]string{}, base...), extra...), spelling.arg...)
						s, err := Parse(args, noenv)
						switch {
						case applies && err != nil:
							t.Errorf("%s %s: refused where it applies: %v", spelling.name[0], where, err)
						case !applies && err == nil:
							t.Errorf("%s %s: accepted where it does not apply (%+v)", spelling.name[0], where, s.Args)
						case !applies && !strings.Contains(err.Error(), spelling.name[0]):
							t.Errorf("%s %s: the error does not name it as typed: %v", spelling.name[0], where, err)
						}
					}
					if o.cliOnly || o.secret {
						continue
					}
					env := envOf(map[string]string{o.env(): orTrue(value)})
					s, err := Parse(append(append([]string{}, base...), extra...), env)
					if err != nil {
						t.Errorf("%s %s: %v", o.env(), where, err)
						continue
					}
					warned := strings.Contains(strings.Join(s.Warnings, "\n"), o.env())
					switch {
					case !c.takesSettings():
						// mapping takes no option: it reads no environment.
						if warned || s.given(o.long) {
							t.Errorf("%s %s: read by a command that takes no option", o.env(), where)
						}
					case applies && (warned || !s.given(o.long)):
						t.Errorf("%s %s: applies, but warned %t, given %t", o.env(), where, warned, s.given(o.long))
					case !applies && (!warned || s.given(o.long)):
						t.Errorf("%s %s: does not apply, but warned %t, still given %t: %q", o.env(), where, warned, s.given(o.long), s.Warnings)
					}
				}
			}
		}
	}
	if checked < 1000 {
		t.Fatalf("only %d combinations checked", checked)
	}
}

func gnuArg(o *option, value string) []string {
	if o.kind == kBool {
		return []string{"--" + o.long}
	}
	return []string{"--" + o.long, value}
}

func winArg(o *option, value string) []string {
	if o.kind == kBool {
		return []string{"/" + o.win}
	}
	return []string{"/" + o.win + ":" + value}
}

func orTrue(v string) string {
	if v == "" {
		return "true"
	}
	return v
}

// The messages say why, in the brief's words.
func TestNotApplyingMessages(t *testing.T) {
	for args, want := range map[string]string{
		"--config-file-path m --directory csv:people.csv --start-tls":           "--start-tls applies to ldap:// directories and domain controllers found through DNS; csv:people.csv is a CSV export (a file)",
		"--config-file-path m --directory csv:people.csv /starttls":             "/starttls applies to ldap:// directories",
		"--config-file-path m --directory ldaps://dc1 --columns upn=Email":      "--columns applies to csv: and xlsx: exports; ldaps://dc1 is an ldaps:// directory",
		"--config-file-path m --domain corp.example.com --allow-plaintext-bind": "--allow-plaintext-bind applies to ldap:// directories; this run finds its domain controllers through DNS",
		"--config-file-path m --directory ldif:x --store-table t":               "--store-table applies to postgres:// stores; sqlite:octopus-users.db (the default store) is an SQLite store",
		"--config-file-path m --directory ldif:x --page-size 10":                "--page-size applies to LDAP directories (ldap://, ldaps:// or found through DNS); ldif:x is an LDIF export (a file)",
		"runs --directory ldaps://dc1":                                          "--directory applies to upnsync sync, plan and doctor; upnsync runs does not take it",
		"apply p.json --domain OU=x,DC=y":                                       "upnsync apply applies the saved plan exactly as it was made, to the store it names: --domain cannot change it",
		"mapping check m.xml --quiet":                                           "--quiet applies to upnsync sync, plan, apply, undo, doctor and store import; upnsync mapping check does not take it",
		"--config-file-path m --directory ldaps://u:pw@dc1 --columns x=y":       "ldaps://dc1 is an ldaps:// directory",
	} {
		_, err := Parse(strings.Fields(args), noenv)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", args, err, want)
		}
		if err != nil && strings.Contains(err.Error(), "pw@") {
			t.Errorf("%s: the error shows the URL's credentials: %v", args, err)
		}
	}
}

// A shared environment (a scheduled task's account, a container) serves
// several commands: what one command does not take is not used, and one
// warning per source names it; a password from the environment that
// does not apply is named, never shown.
func TestSharedEnvironment(t *testing.T) {
	env := envOf(map[string]string{
		"UPNSYNC_CONFIG_FILE_PATH": "m.xml", "UPNSYNC_DIRECTORY": "csv:people.csv", "UPNSYNC_START_TLS": "true",
		"UPNSYNC_PASSWORD": "hunter2", "UPNSYNC_STORE_PASSWORD": "hunter3", "UPNSYNC_DOMAIN": "OU=Staff,DC=corp,DC=example,DC=com",
	})
	s := mustParse(t, nil, env)
	all := strings.Join(s.Warnings, "\n")
	for _, want := range []string{
		"UPNSYNC_START_TLS (environment) is not used: --start-tls applies to ldap:// directories",
		"UPNSYNC_PASSWORD is not used: --password applies to LDAP directories",
		"UPNSYNC_STORE_PASSWORD is not used: --store-password applies to postgres:// stores",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("warnings lack %q:\n%s", want, all)
		}
	}
	if s.StartTLS || !s.Password.IsZero() || !s.StorePassword.IsZero() || strings.Contains(all, "hunter") {
		t.Errorf("values not dropped, or a password shown: %+v\n%s", s, all)
	}
	// --domain applies to a csv: export: honoured (by sync/directory).
	if len(s.Domains) != 1 {
		t.Errorf("domains %q", s.Domains)
	}
	s = mustParse(t, []string{"runs"}, env)
	if len(s.Warnings) != 3 || !strings.Contains(s.Warnings[0], "not used by upnsync runs, which does not take them: UPNSYNC_CONFIG_FILE_PATH, UPNSYNC_DIRECTORY, UPNSYNC_DOMAIN, UPNSYNC_START_TLS (from the environment)") ||
		s.Directory != "" || s.ConfigFile != "" {
		t.Errorf("runs: %q, directory %q", s.Warnings, s.Directory)
	}
	// A settings file the same way, naming the file and line.
	file := filepath.Join(t.TempDir(), "upnsync.conf")
	if err := os.WriteFile(file, []byte("config-file-path = m.xml\ndirectory = ldif:x.ldif\nstart-tls = true\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s = mustParse(t, []string{"--settings", file}, noenv)
	if len(s.Warnings) != 1 || !strings.Contains(s.Warnings[0], "start-tls ("+file+":3) is not used: --start-tls applies to ldap://") {
		t.Errorf("settings file: %q", s.Warnings)
	}
	s = mustParse(t, []string{"undo", "r1", "--settings", file}, noenv)
	if len(s.Warnings) != 1 || !strings.Contains(s.Warnings[0], "config-file-path, directory, start-tls (from the settings file "+file+")") {
		t.Errorf("undo with a settings file: %q", s.Warnings)
	}
}

// upnsync apply learns its store from the plan: CheckStore checks the
// options against it then.
func TestCheckStoreOfAPlan(t *testing.T) {
	pw := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pw, []byte("x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := mustParse(t, []string{"apply", "p.json", "/StorePasswordFile:" + pw}, noenv)
	if _, err := s.CheckStore("postgres://db/octopus"); err != nil {
		t.Errorf("postgres plan: %v", err)
	}
	if _, err := s.CheckStore("sqlite:octopus.db"); err == nil || !strings.Contains(err.Error(), "/StorePasswordFile applies to postgres:// stores; the plan's store sqlite:octopus.db is an SQLite store") {
		t.Errorf("sqlite plan: %v", err)
	}
	s = mustParse(t, []string{"apply", "p.json"}, envOf(map[string]string{"UPNSYNC_STORE_PASSWORD_FILE": pw}))
	w, err := s.CheckStore("sqlite:octopus.db")
	if err != nil || len(w) != 1 || !strings.Contains(w[0], "UPNSYNC_STORE_PASSWORD_FILE (environment) is not used") || s.StorePasswordFile != "" {
		t.Errorf("sqlite plan, environment: %v %q", err, w)
	}
}

// The log's settings line lists what is set and applies, secrets masked;
// the plan's settings are the plan-shaping options of the table.
func TestEffectiveSettings(t *testing.T) {
	s, err := Parse([]string{"--config-file-path", "m.xml", "--directory", "ldaps://dc1", "--password", "hunter2",
		"--incremental", "--ntlm", "--anonymous=false", "--global-catalog"}, envOf(map[string]string{"UPNSYNC_NETBIOS_DOMAIN": "CORP"}))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, a := range s.LogAttrs() {
		got[a.Key] = a.Value.String()
	}
	for k, v := range map[string]string{"incremental": "true", "ntlm": "true", "anonymous": "false", "netbios-domain": "CORP",
		"password": "command line", "page-size": "1000", "directory": "ldaps://dc1", "from-environment": "netbios-domain",
		"global-catalog": "true", "store": DefaultStore} {
		if got[k] != v {
			t.Errorf("log %s = %q, want %q (all: %v)", k, got[k], v, got)
		}
	}
	for _, k := range []string{"columns", "out", "max-plan-age", "dirsync", "start-tls", "help"} {
		if _, ok := got[k]; ok {
			t.Errorf("log lists %s, which is unset or does not apply", k)
		}
	}
	for _, v := range got {
		if strings.Contains(v, "hunter2") {
			t.Fatal("the log's settings hold the password")
		}
	}
	p := s.PlanSettings()
	for _, o := range options {
		if _, ok := p[o.long]; ok != o.plan {
			t.Errorf("plan settings: %s present %t, shapes a plan %t", o.long, ok, o.plan)
		}
	}
	if p["netbios-domain"] != "CORP" || p["global-catalog"] != "true" || p["max-changes"] != "-1" || p["store-table"] != "" {
		t.Errorf("plan settings = %v", p)
	}
	s = mustParse(t, []string{"--config-file-path", "m", "--directory", "ldif:x", "--store", "postgres://u:hunter2@db/o"}, noenv)
	if strings.Contains(s.PlanSettings()["store"], "hunter2") {
		t.Error("the plan's settings hold the store's password")
	}
}
