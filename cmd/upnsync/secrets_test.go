package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/upnsync/upnsync/internal/testenv"
)

// Secret hygiene: however the password is given, it reaches the directory
// (the bind works, or fails as a wrong password) and nothing else: not the
// log file, not a report in any format, not an error or warning, not the
// store. The process's command line is in secrets_linux_test.go.

type secretRoute struct {
	name string
	// give returns the arguments and environment that pass secret.
	give func(t *testing.T, dir, secret string) ([]string, map[string]string)
}

func writeFile(t *testing.T, path, data string, mode os.FileMode) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), mode); err != nil {
		t.Fatal(err)
	}
	return path
}

var secretRoutes = []secretRoute{
	{"--password VALUE", func(t *testing.T, dir, secret string) ([]string, map[string]string) {
		return []string{"--password", secret}, nil
	}},
	{"--password=VALUE", func(t *testing.T, dir, secret string) ([]string, map[string]string) {
		return []string{"--password=" + secret}, nil
	}},
	{"/Password:VALUE", func(t *testing.T, dir, secret string) ([]string, map[string]string) {
		return []string{"/Password:" + secret}, nil
	}},
	{`/Password:"VALUE"`, func(t *testing.T, dir, secret string) ([]string, map[string]string) {
		return []string{`/Password:"` + secret + `"`}, nil
	}},
	{"UPNSYNC_PASSWORD", func(t *testing.T, dir, secret string) ([]string, map[string]string) {
		return nil, map[string]string{"UPNSYNC_PASSWORD": secret}
	}},
	{"--password-file", func(t *testing.T, dir, secret string) ([]string, map[string]string) {
		return []string{"--password-file", writeFile(t, filepath.Join(dir, "pw"), secret+"\n", 0o600)}, nil
	}},
	{"/PasswordFile: from UPNSYNC_SETTINGS", func(t *testing.T, dir, secret string) ([]string, map[string]string) {
		pw := writeFile(t, filepath.Join(dir, "pw"), secret, 0o600)
		settings := writeFile(t, filepath.Join(dir, "upnsync.conf"), "password-file = "+pw+"\n", 0o644)
		return nil, map[string]string{"UPNSYNC_SETTINGS": settings}
	}},
}

func randomSecret(t *testing.T, prefix string) string {
	b := make([]byte, 9)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return prefix + hex.EncodeToString(b)
}

// everything gathers what a run left behind that someone could read.
func everything(t *testing.T, dir string, outputs ...string) string {
	t.Helper()
	var b strings.Builder
	for _, o := range outputs {
		b.WriteString(o)
	}
	filepath.Walk(dir, func(path string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() && filepath.Base(path) != "pw" {
			data, _ := os.ReadFile(path)
			b.Write(data)
		}
		return nil
	})
	return b.String()
}

func TestPasswordNeverLeaks(t *testing.T) {
	e := testenv.LDAP(t)
	wrong := randomSecret(t, "Wr0ng-")
	for _, route := range secretRoutes {
		for _, tt := range []struct {
			name   string
			secret string
			code   int
			want   string
		}{
			{"right password", e.Password, exitPending, ""},
			{"wrong password", wrong, exitError, "wrong user name or password"},
		} {
			t.Run(route.name+"/"+tt.name, func(t *testing.T) {
				dir := t.TempDir()
				db := filepath.Join(dir, "octopus.db")
				if code, _, errOut := cli(t, nil, "store", "import", "--store", "sqlite:"+db, e.OctopusCSV); code != 0 {
					t.Fatal(errOut)
				}
				args, env := route.give(t, dir, tt.secret)
				base := append([]string{"--config-file-path", filepath.Join("..", "..", "testdata", "mapping", "ADSIReaderLDAPMappings-upn.xml"),
					"--directory", e.LDAPSURL, "--ca-file", e.CAFile, "--login", e.BindDN, "--domain", e.Base,
					"--store", "sqlite:" + db, "--log-file-path", filepath.Join(dir, "logs") + string(filepath.Separator),
					"--retries", "0"}, args...)
				var outputs []string
				for _, format := range []string{"text", "json", "csv", "html"} {
					if format != "html" { // a page goes to a file only
						code, out, errOut := cli(t, env, append(base, "--report", format)...)
						if code != tt.code || !strings.Contains(errOut, tt.want) {
							t.Fatalf("%s report: exit %d, want %d\n%s", format, code, tt.code, errOut)
						}
						outputs = append(outputs, out, errOut)
					}
					code, _, errOut := cli(t, env, append(base, "--report", format, "--report-file", filepath.Join(dir, "report."+format))...)
					if code != tt.code {
						t.Fatalf("%s report file: exit %d\n%s", format, code, errOut)
					}
					outputs = append(outputs, errOut)
				}
				if tt.code == exitPending {
					// The page was written (and is searched below with the rest).
					if page, err := os.ReadFile(filepath.Join(dir, "report.html")); err != nil || !strings.Contains(string(page), "<!DOCTYPE html>") {
						t.Fatalf("no HTML report: %v", err)
					}
					code, out, errOut := cli(t, env, append(base, "--apply")...)
					if code != exitOK && code != exitConflicts {
						t.Fatalf("apply: exit %d\n%s", code, errOut)
					}
					outputs = append(outputs, out, errOut)
				}
				all := everything(t, dir, outputs...)
				if strings.Contains(all, tt.secret) {
					t.Fatalf("the password appears in an output, the log, a report or the store")
				}
				logs, _ := filepath.Glob(filepath.Join(dir, "logs", "upnsync_*.log"))
				if len(logs) == 0 || !strings.Contains(everything(t, filepath.Join(dir, "logs")), "settings.password=") {
					t.Fatalf("no log saying where the password came from: %v", logs)
				}
			})
		}
	}
}

// Where a password is refused, the refusal does not repeat it.
func TestRefusedPasswordIsNotRepeated(t *testing.T) {
	secret := randomSecret(t, "S3cret-")
	dir := t.TempDir()
	settings := writeFile(t, filepath.Join(dir, "upnsync.conf"), "directory = ldaps://dc1.corp.example.com\npassword = "+secret+"\n", 0o644)
	openFile := writeFile(t, filepath.Join(dir, "open.pw"), secret, 0o644)
	storeSettings := writeFile(t, filepath.Join(dir, "store.conf"), "store = postgres://octo:"+secret+"@db.corp.example.com/octopus\n", 0o644)
	mappingFile := filepath.Join("..", "..", "testdata", "mapping", "ADSIReaderLDAPMappings-upn.xml")
	for _, tt := range []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"in a settings file", []string{"--settings", settings, "--config-file-path", mappingFile}, nil,
			settings + ":2: a password does not belong in a settings file; use password-file = FILE"},
		{"in a settings file from UPNSYNC_SETTINGS", []string{"--config-file-path", mappingFile}, map[string]string{"UPNSYNC_SETTINGS": settings},
			settings + ":2: a password does not belong in a settings file"},
		{"a password file others can read", []string{"--config-file-path", mappingFile, "--directory", "ldaps://dc1", "--password-file", openFile}, nil,
			"can be read by other users (mode 0644)"},
		{"both a password and a password file", []string{"--config-file-path", mappingFile, "--directory", "ldaps://dc1", "--password", secret, "--password-file", openFile}, nil,
			"give the password either with --password-file or with --password, not both"},
		{"in the directory URL", []string{"--config-file-path", mappingFile, "--directory", "ldaps://svc:" + secret + "@127.0.0.1:1", "--store", "sqlite:" + filepath.Join(dir, "none.db")}, nil,
			"the database file"},
		{"in the directory URL, store present", []string{"--config-file-path", mappingFile, "--directory", "ldaps://svc:" + secret + "@127.0.0.1:1", "--store", "sqlite:" + seedStore(t, dir)}, nil,
			"holds credentials: put none in the URL"},
		{"a store URL with a password in a settings file", []string{"--settings", storeSettings, "--config-file-path", mappingFile}, nil,
			storeSettings + ":1: a password does not belong in a settings file; use store-password-file = FILE"},
		{"a store password file others can read", []string{"--config-file-path", mappingFile, "--store", "postgres://octo@db/octopus", "--store-password-file", openFile}, nil,
			"--store-password-file: password file " + openFile + " can be read by other users (mode 0644)"},
		{"a --password option typed wrong", []string{"--passwort=" + secret}, nil, "unknown option"},
		{"/Password: without a value", []string{"/Password"}, nil, "/Password needs a value"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := cli(t, tt.env, tt.args...)
			if code != exitError || !strings.Contains(errOut, tt.want) {
				t.Fatalf("exit %d\n%s\nwant %q", code, errOut, tt.want)
			}
			if strings.Contains(out+errOut, secret) {
				t.Fatalf("the refusal repeats the password:\n%s", errOut)
			}
		})
	}
}

// seedStore makes a store from the demo users.
func seedStore(t *testing.T, dir string) string {
	t.Helper()
	db := filepath.Join(dir, "demo.db")
	if code, _, errOut := cli(t, nil, "store", "import", "--store", "sqlite:"+db, filepath.Join("..", "..", "testdata", "demo", "octopus-users.csv")); code != 0 {
		t.Fatal(errOut)
	}
	return db
}

// storeSecretRoutes give the PostgreSQL store its password: in the URL on
// the command line (warned about, and scrubbed from the process's command
// line: secrets_linux_test.go), a password file, the environment, or a
// password file named by a settings file.
var storeSecretRoutes = []struct {
	name string
	give func(t *testing.T, dir, rawURL, secret string) (storeURL string, args []string, env map[string]string)
}{
	{"in the --store URL", func(t *testing.T, dir, rawURL, secret string) (string, []string, map[string]string) {
		return urlWithPassword(t, rawURL, secret), nil, nil
	}},
	{"--store-password-file", func(t *testing.T, dir, rawURL, secret string) (string, []string, map[string]string) {
		return rawURL, []string{"--store-password-file", writeFile(t, filepath.Join(dir, "pw"), secret+"\n", 0o600)}, nil
	}},
	{"UPNSYNC_STORE_PASSWORD", func(t *testing.T, dir, rawURL, secret string) (string, []string, map[string]string) {
		return rawURL, nil, map[string]string{"UPNSYNC_STORE_PASSWORD": secret}
	}},
	{"store-password-file in a settings file", func(t *testing.T, dir, rawURL, secret string) (string, []string, map[string]string) {
		pw := writeFile(t, filepath.Join(dir, "pw"), secret, 0o600)
		return rawURL, []string{"--settings", writeFile(t, filepath.Join(dir, "upnsync.conf"), "store-password-file = "+pw+"\n", 0o644)}, nil
	}},
}

func urlWithPassword(t *testing.T, rawURL, secret string) string {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(u.User.Username(), secret)
	return u.String()
}

// The PostgreSQL store's password, by every route, reaches the server and
// nothing else: not the reports (text, JSON, CSV, to the terminal or a
// file), the log, the summary and metrics files, a saved plan, `upnsync
// runs`, doctor, the warnings and errors (a wrong password included), nor
// upnsync's own tables in the database (runs, journal, provenance, the
// run lock's record).
func TestStorePasswordNeverLeaks(t *testing.T) {
	env := testenv.Postgres(t)
	for _, route := range storeSecretRoutes {
		t.Run(route.name, func(t *testing.T) {
			d := newDemo(t)
			table := pgTable(t, env)
			dir := filepath.Join(d.dir, "out")
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			store, args, penv := route.give(t, d.dir, env.URL, env.Password)
			pg := func(extra ...string) []string {
				return append(append([]string{"--store", store, "--store-table", table}, args...), extra...)
			}
			sync := func(extra ...string) []string {
				return pg(append([]string{"--config-file-path", d.mapping, "--directory", "ldif:" + d.ldif}, extra...)...)
			}
			var outputs []string
			run := func(want int, a ...string) string {
				t.Helper()
				code, out, errOut := cli(t, penv, a...)
				outputs = append(outputs, out, errOut)
				if code != want {
					t.Fatalf("%v: exit %d, want %d\n%s\n%s", a, code, want, out, errOut)
				}
				return out
			}
			run(exitOK, append([]string{"store", "import"}, pg(d.csv)...)...)
			for _, format := range []string{"text", "json", "csv", "html"} {
				if format == "html" { // a page goes to a file only
					run(exitPending, sync("--report", format, "--report-file", filepath.Join(dir, "report.html"))...)
					continue
				}
				run(exitPending, sync("--report", format)...)
			}
			if page, err := os.ReadFile(filepath.Join(dir, "report.html")); err != nil || !strings.Contains(string(page), "<!DOCTYPE html>") {
				t.Fatalf("no HTML report: %v", err)
			}
			if strings.Contains(route.name, "URL") {
				// A saved plan never holds a password: refused, and the
				// refusal does not repeat it.
				run(exitError, append([]string{"plan", "--out", filepath.Join(dir, "plan.json")}, sync()...)...)
			} else {
				run(exitPending, append([]string{"plan", "--out", filepath.Join(dir, "plan.json")}, sync()...)...)
			}
			run(exitConflicts, sync("--apply", "--report", "json", "--report-file", filepath.Join(dir, "report.json"),
				"--log-file-path", filepath.Join(dir, "logs")+string(filepath.Separator),
				"--summary-file", filepath.Join(dir, "summary.json"), "--metrics-file", filepath.Join(dir, "upnsync.prom"))...)
			run(exitOK, append([]string{"runs"}, pg()...)...)
			run(exitOK, append([]string{"runs", "--report", "json"}, pg()...)...)
			run(exitOK, append([]string{"doctor", "--apply"}, sync()...)...)

			all := everything(t, dir, outputs...)
			if i := strings.Index(all, env.Password); i >= 0 {
				t.Fatalf("the password appears in an output, the log, a report, the summary, the metrics or the plan: ...%s...",
					strings.ReplaceAll(all[max(0, i-300):min(len(all), i+100)], env.Password, "<the password>"))
			}
			if _, err := os.Stat(filepath.Join(dir, "summary.json")); err != nil {
				t.Fatalf("no summary file: %v", err)
			}
			logs, _ := filepath.Glob(filepath.Join(dir, "logs", "upnsync_*.log"))
			if len(logs) != 1 || !strings.Contains(everything(t, filepath.Join(dir, "logs")), "settings.store-password=") {
				t.Fatalf("no log saying where the store password came from: %v", logs)
			}
			if tables := pgDump(t, env, table); strings.Contains(tables, env.Password) || !strings.Contains(tables, "upnsync sync --apply") {
				t.Fatalf("upnsync's tables hold the password, or not the run:\n%s", tables)
			}

			// A wrong password: refused by the server, repeated nowhere.
			wrong := randomSecret(t, "Wr0ng-")
			store, args, penv = route.give(t, t.TempDir(), env.URL, wrong)
			code, out, errOut := cli(t, penv, sync("--apply", "--log-file-path", filepath.Join(dir, "wrong.log"))...)
			if code != exitError || !strings.Contains(errOut, "password authentication failed") {
				t.Fatalf("wrong password: exit %d\n%s", code, errOut)
			}
			if strings.Contains(out+errOut+everything(t, dir), wrong) {
				t.Fatal("the wrong password appears in the output or the log")
			}
		})
	}
}

// pgDump is every row upnsync keeps about a table, as text.
func pgDump(t *testing.T, env testenv.PostgresEnv, table string) string {
	t.Helper()
	cfg, err := pgx.ParseConfig(env.URL)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Password = env.Password
	c, err := pgx.ConnectConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	schema, _, _ := strings.Cut(table, ".")
	var b strings.Builder
	for _, q := range []string{`SELECT row_to_json(r)::text FROM upnsync.runs r WHERE tbl = $1`, `SELECT row_to_json(j)::text FROM upnsync.journal j WHERE tbl = $1`,
		`SELECT row_to_json(o)::text FROM upnsync.owned o WHERE tbl = $1`} {
		rows, err := c.Query(context.Background(), q, `"`+schema+`"."users"`)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var s string
			rows.Scan(&s)
			b.WriteString(s + "\n")
		}
		rows.Close()
	}
	rows, err := c.Query(context.Background(), `SELECT row_to_json(l)::text FROM upnsync.locks l`)
	if err == nil {
		for rows.Next() {
			var s string
			rows.Scan(&s)
			b.WriteString(s + "\n")
		}
		rows.Close()
	}
	return b.String()
}
