package run

import (
	"bytes"
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/upnsync/upnsync/config"
)

// demo is the demo's mapping, directory export and Octopus users in a
// folder of the test's own, with the users imported into a SQLite store.
type demo struct {
	dir, mapping, ldif, db, store string
	stdout, stderr                *bytes.Buffer
}

func newDemo(t *testing.T) *demo {
	t.Helper()
	dir := t.TempDir()
	d := &demo{dir: dir, mapping: filepath.Join(dir, "ADSIReaderLDAPMappings.xml"), ldif: filepath.Join(dir, "directory.ldif"),
		db: filepath.Join(dir, "octopus.db"), stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}}
	d.store = "sqlite:" + d.db
	for _, name := range []string{"ADSIReaderLDAPMappings.xml", "directory.ldif", "octopus-users.csv"} {
		data, err := os.ReadFile(filepath.Join("..", "..", "testdata", "demo", name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	csv := filepath.Join(dir, "octopus-users.csv")
	if res, _, err := ImportUsers(context.Background(), d.env(), d.settings(t, "store", "import", "--store", d.store, csv), csv); err != nil || res.Created != 32 {
		t.Fatalf("import: %+v %v", res, err)
	}
	return d
}

// onlyJane cuts the directory down to its first person, Jane Doe (user
// 1001, who needs her UPN added and is in no conflict).
func (d *demo) onlyJane(t *testing.T) {
	t.Helper()
	data, err := os.ReadFile(d.ldif)
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	end := strings.Index(text, "dn: CN=John Smith")
	if end < 0 {
		t.Fatal("the demo directory changed: John Smith no longer follows Jane Doe")
	}
	if err := os.WriteFile(d.ldif, []byte(text[:end]), 0o600); err != nil {
		t.Fatal(err)
	}
}

func (d *demo) env() Env {
	return Env{Stdout: d.stdout, Stderr: d.stderr, Build: Build{Version: "test", Commit: "none", Line: "upnsync test"}}
}

// settings parses a command line as upnsync does, with no environment.
func (d *demo) settings(t *testing.T, args ...string) *config.Settings {
	t.Helper()
	s, err := config.Parse(args, func(string) string { return "" })
	if err != nil {
		t.Fatalf("%q: %v", args, err)
	}
	return s
}

// sync parses a sync of the demo with extra options.
func (d *demo) sync(t *testing.T, extra ...string) *config.Settings {
	t.Helper()
	return d.settings(t, append([]string{"--config-file-path", d.mapping, "--directory", "ldif:" + d.ldif, "--store", d.store}, extra...)...)
}

func (d *demo) field(t *testing.T, id string) string {
	t.Helper()
	db := d.open(t)
	var v string
	if err := db.QueryRow(`SELECT windows_usernames FROM users WHERE id = ?`, id).Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

// setField changes a user's Windows usernames behind upnsync's back, as an
// administrator editing Octopus would.
func (d *demo) setField(t *testing.T, id, value string) {
	t.Helper()
	if _, err := d.open(t).Exec(`UPDATE users SET windows_usernames = ? WHERE id = ?`, value, id); err != nil {
		t.Fatal(err)
	}
}

func (d *demo) open(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", d.db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
