package octopus

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	upnsync "github.com/upnsync/upnsync/sync"
)

func TestParseURL(t *testing.T) {
	tests := []struct {
		in, kind, loc, err string
	}{
		{in: "sqlite:octopus-users.db", kind: KindSQLite, loc: "octopus-users.db"},
		{in: "SQLite:data/x.sqlite", kind: KindSQLite, loc: "data/x.sqlite"},
		{in: `sqlite:C:\data\octopus.db`, kind: KindSQLite, loc: `C:\data\octopus.db`},
		{in: "sqlite:///var/lib/upnsync/o.db", kind: KindSQLite, loc: "/var/lib/upnsync/o.db"},
		{in: "sqlite://C:/data/o.db", kind: KindSQLite, loc: "C:/data/o.db"},
		{in: "sqlite:store", kind: KindSQLite, loc: "store"},
		{in: "octopus.db", kind: KindSQLite, loc: "octopus.db"},
		{in: `C:\Octopus data\users.SQLITE3`, kind: KindSQLite, loc: `C:\Octopus data\users.SQLITE3`},
		{in: "/srv/o.sqlite", kind: KindSQLite, loc: "/srv/o.sqlite"},
		{in: "postgres://u:p@db/octopus", kind: KindPostgres, loc: "postgres://u:p@db/octopus"},
		{in: "postgresql://db/octopus", kind: KindPostgres, loc: "postgresql://db/octopus"},
		{in: "dataimporter:out.xlsx", kind: KindDataImporter, loc: "out.xlsx"},
		{in: "", err: "no store given: use --store sqlite:PATH (for example sqlite:octopus-users.db)"},
		{in: "sqlite:", err: `store "sqlite:" names no file: use sqlite:PATH, for example sqlite:octopus-users.db`},
		{in: "mysql://db/x", err: `unknown store kind "mysql" in "mysql://db/x": use sqlite:PATH, postgres://... or dataimporter:OUT.xlsx`},
		{in: "octopus", err: `cannot tell what kind of store "octopus" is: write sqlite:octopus for an SQLite file (or use postgres://... or dataimporter:OUT.xlsx)`},
		{in: `C:\data\octopus`, err: `cannot tell what kind of store "C:\\data\\octopus" is: write sqlite:C:\data\octopus for an SQLite file (or use postgres://... or dataimporter:OUT.xlsx)`},
	}
	for _, tt := range tests {
		kind, loc, err := ParseURL(tt.in)
		if tt.err != "" {
			if err == nil || err.Error() != tt.err {
				t.Errorf("ParseURL(%q) error = %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || kind != tt.kind || loc != tt.loc {
			t.Errorf("ParseURL(%q) = %q, %q, %v; want %q, %q", tt.in, kind, loc, err, tt.kind, tt.loc)
		}
	}
}

func TestSlashURI(t *testing.T) {
	tests := map[string]string{
		"/tmp/o.db":            "file:///tmp/o.db",
		"/tmp/a b?c#d%e.db":    "file:///tmp/a b%3Fc%23d%25e.db",
		"C:/data/octopus.db":   "file:///C:/data/octopus.db",
		"//server/share/o.db":  "file:////server/share/o.db",
		"/home/émilie/o.db":    "file:///home/émilie/o.db",
		"/tmp/ünïcödé?&=x.db":  "file:///tmp/ünïcödé%3F&=x.db",
		"/tmp/semi;colon/o.db": "file:///tmp/semi;colon/o.db",
	}
	for in, want := range tests {
		if got := slashURI(in); got != want {
			t.Errorf("slashURI(%q) = %q, want %q", in, got, want)
		}
	}
}

// Characters that mean something in a URI still name the file they say.
func TestOpenOddPath(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "Octopus data #1")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	name := "users#100%.db"
	if runtime.GOOS != "windows" { // '?' is not allowed in Windows file names
		name = "users?#100%.db"
	}
	path := filepath.Join(dir, name)
	s := openT(t, path, Options{Create: true})
	importFileT(t, s, "users.csv")
	s.Close()
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("store file not where it was asked: %v", err)
	}
	s = openT(t, path, Options{ReadOnly: true})
	if n := len(usersT(t, s)); n != 12 {
		t.Errorf("%d users, want 12", n)
	}
}

func TestOpenMissing(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "missing.db")
	for _, opts := range []Options{{ReadOnly: true}, {}, {ReadOnly: true, Create: true}} {
		_, err := Open(context.Background(), "sqlite:"+path, opts)
		want := fmt.Sprintf("store sqlite:%s: the database file %s does not exist; create it with `upnsync store import --store sqlite:%s FILE.csv`", path, path, path)
		if err == nil || err.Error() != want {
			t.Errorf("%+v: %v\nwant %s", opts, err, want)
		}
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("a failed open created %s", path)
	}

	// A relative path is also shown absolute: a scheduled task rarely runs
	// in the folder the administrator thinks of.
	_, err := Open(context.Background(), "sqlite:no-such-store.db", Options{ReadOnly: true})
	abs, _ := filepath.Abs("no-such-store.db")
	if err == nil || !strings.Contains(err.Error(), "no-such-store.db ("+abs+") does not exist") {
		t.Errorf("relative: %v", err)
	}

	_, err = Open(context.Background(), "sqlite:"+filepath.Join(dir, "nodir", "o.db"), Options{Create: true})
	if err == nil || !strings.Contains(err.Error(), "the folder "+filepath.Join(dir, "nodir")+" does not exist; create it first") {
		t.Errorf("missing folder: %v", err)
	}
	_, err = Open(context.Background(), "sqlite:"+dir, Options{ReadOnly: true})
	if err == nil || !strings.Contains(err.Error(), "is a folder, not a database file") {
		t.Errorf("folder: %v", err)
	}

	// With Create the file appears with the first write, not before.
	s := openT(t, path, Options{Create: true})
	if n := len(usersT(t, s)); n != 0 {
		t.Errorf("%d users in a new store", n)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("reading a new store created %s", path)
	}
	importFileT(t, s, "users.csv")
	if _, err := os.Stat(path); err != nil {
		t.Error(err)
	}
}

func TestOpenNotAStore(t *testing.T) {
	dir := t.TempDir()
	text := filepath.Join(dir, "notes.db")
	os.WriteFile(text, []byte("this is not a database, just some text that is long enough to look like a header\n"), 0o644)
	_, err := Open(context.Background(), "sqlite:"+text, Options{ReadOnly: true})
	if err == nil || !strings.Contains(err.Error(), text+" is not an SQLite database") {
		t.Errorf("text file: %v", err)
	}

	other := filepath.Join(dir, "other.db")
	execT(t, rawT(t, other), `CREATE TABLE things(x)`)
	_, err = Open(context.Background(), "sqlite:"+other, Options{ReadOnly: true})
	want := fmt.Sprintf("store sqlite:%s: %s has no users table, so it is not an upnsync store; create one with `upnsync store import --store sqlite:%s FILE.csv`", other, other, other)
	if err == nil || err.Error() != want {
		t.Errorf("other: %v\nwant %s", err, want)
	}

	_, path := newStore(t, "users.csv", Options{})
	execT(t, rawT(t, path), `UPDATE upnsync_meta SET value = '7' WHERE key = 'schema_version'`)
	_, err = Open(context.Background(), "sqlite:"+path, Options{ReadOnly: true})
	if err == nil || !strings.Contains(err.Error(), "was written by a newer upnsync (schema version 7, this one knows 2)") {
		t.Errorf("newer schema: %v", err)
	}
}

// A users table made by another tool, without our tables, can be read;
// its first write adds our tables.
func TestForeignStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "foreign.db")
	raw := rawT(t, path)
	execT(t, raw, `CREATE TABLE users(id TEXT PRIMARY KEY, first_name TEXT, last_name TEXT, email TEXT,
		windows_usernames TEXT, external_id TEXT, active INTEGER)`)
	execT(t, raw, `INSERT INTO users(id, first_name, windows_usernames) VALUES ('1', NULL, 'a'), ('2', 'B', NULL)`)
	raw.Close()

	s := openT(t, path, Options{ReadOnly: true})
	us := usersT(t, s)
	want := []upnsync.User{{ID: "1", WindowsUsernames: "a", Active: true}, {ID: "2", FirstName: "B", Active: true}}
	if !reflect.DeepEqual(us, want) {
		t.Errorf("got %+v, want %+v", us, want)
	}
	s.Close()

	s = openT(t, path, Options{})
	// User 2's list is NULL, which Users reads as empty: the
	// compare-and-swap must see it as the empty list the plan saw, not
	// call the user changed since.
	a, err := s.Apply(context.Background(), upnsync.Run{ID: "r1"}, upnsync.ChangesOf(
		upnsync.Change{UserID: "1", Before: "a", After: "a;a@corp.example.com", Added: []string{"a@corp.example.com"}},
		upnsync.Change{UserID: "2", Before: "", After: "b@corp.example.com", Added: []string{"b@corp.example.com"}},
	))
	if err != nil || len(a.Written) != 2 || len(a.Stale) != 0 {
		t.Fatalf("Apply: %+v, %v", a, err)
	}
	if u := userT(t, s, "1"); len(u.Owned) != 1 {
		t.Errorf("owned = %+v", u.Owned)
	}
	if u := userT(t, s, "2"); u.WindowsUsernames != "b@corp.example.com" {
		t.Errorf("user 2's list %q, want b@corp.example.com", u.WindowsUsernames)
	}
}

func change(id, before, after string, guid string, added ...string) upnsync.Change {
	return upnsync.Change{UserID: id, Before: before, After: after, Added: added,
		Person: upnsync.Person{GUID: guid, UPN: added[0]}}
}

func TestApply(t *testing.T) {
	s, path := newStore(t, "users.csv", Options{})
	started := time.Date(2026, 3, 1, 2, 0, 0, 0, time.UTC)
	run := upnsync.Run{ID: "run-1", Started: started, Directory: "ldaps://dc1.corp.example.com"}
	changes := []upnsync.Change{
		change("1001", `jdoe;CORP\jdoe`, `jdoe;CORP\jdoe;Jane.Doe@corp.example.com`, "3f2504e0-4f89-11d3-9a0c-0305e82c3301", "Jane.Doe@corp.example.com"),
		change("1005", "", "marc.tremblay@corp.example.com", "g-1005", "marc.tremblay@corp.example.com"),
		change("1007", "svc-servicedesk", "svc-servicedesk;servicedesk@corp.example.com", "", "servicedesk@corp.example.com"),
	}
	a, err := s.Apply(context.Background(), run, upnsync.ChangesOf(changes...))
	if err != nil {
		t.Fatal(err)
	}
	if want := (upnsync.Applied{RunID: "run-1", Written: []string{"1001", "1005", "1007"}}); !reflect.DeepEqual(a, want) {
		t.Errorf("applied = %+v, want %+v", a, want)
	}
	if u := userT(t, s, "1005"); u.WindowsUsernames != "marc.tremblay@corp.example.com" {
		t.Errorf("1005 = %q", u.WindowsUsernames)
	}

	raw := rawT(t, path)
	var started2, finished, dir string
	var written, stale int
	if err := raw.QueryRow(`SELECT started, finished, directory, written, stale FROM upnsync_runs WHERE id = 'run-1'`).
		Scan(&started2, &finished, &dir, &written, &stale); err != nil {
		t.Fatal(err)
	}
	if started2 != "2026-03-01T02:00:00.000000000Z" || finished == "" || dir != "ldaps://dc1.corp.example.com" || written != 3 || stale != 0 {
		t.Errorf("run row: %s %s %s %d %d", started2, finished, dir, written, stale)
	}

	rows, err := raw.Query(`SELECT seq, user_id, "before", "after" FROM upnsync_journal WHERE run_id = 'run-1' ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	var journal []string
	for rows.Next() {
		var seq int
		var id, b, af string
		rows.Scan(&seq, &id, &b, &af)
		journal = append(journal, fmt.Sprintf("%d %s %q→%q", seq, id, b, af))
	}
	rows.Close()
	wantJ := []string{
		`1 1001 "jdoe;CORP\\jdoe"→"jdoe;CORP\\jdoe;Jane.Doe@corp.example.com"`,
		`2 1005 ""→"marc.tremblay@corp.example.com"`,
		`3 1007 "svc-servicedesk"→"svc-servicedesk;servicedesk@corp.example.com"`,
	}
	if !reflect.DeepEqual(journal, wantJ) {
		t.Errorf("journal:\n%s\nwant\n%s", strings.Join(journal, "\n"), strings.Join(wantJ, "\n"))
	}

	var runID, addedAt string
	if err := raw.QueryRow(`SELECT run_id, added_at FROM upnsync_owned WHERE user_id = '1001' AND entry = 'jane.doe@corp.example.com'`).
		Scan(&runID, &addedAt); err != nil {
		t.Fatalf("owned row (looked up in another letter case): %v", err)
	}
	if runID != "run-1" || addedAt == "" {
		t.Errorf("owned row: run %q added %q", runID, addedAt)
	}

	// Users reports what upnsync owns, with the letter case it wrote.
	if u := userT(t, s, "1001"); !reflect.DeepEqual(u.Owned, []upnsync.Owned{{Entry: "Jane.Doe@corp.example.com", GUID: "3f2504e0-4f89-11d3-9a0c-0305e82c3301"}}) {
		t.Errorf("1001 owned = %+v", u.Owned)
	}
	if u := userT(t, s, "1002"); u.Owned != nil {
		t.Errorf("1002 owned = %+v", u.Owned)
	}

	// The same run id again is refused before anything is written.
	_, err = s.Apply(context.Background(), run, upnsync.Changes{})
	if err == nil || !strings.Contains(err.Error(), "run run-1 is already recorded") {
		t.Errorf("rerun: %v", err)
	}
}

func TestApplyReplacement(t *testing.T) {
	s, path := newStore(t, "users.csv", Options{})
	ctx := context.Background()
	guid := "9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d"
	_, err := s.Apply(ctx, upnsync.Run{ID: "r1"}, upnsync.ChangesOf(
		change("1002", "elefevre", "elefevre;emilie.lefevre@corp.example.com", guid, "emilie.lefevre@corp.example.com"),
	))
	if err != nil {
		t.Fatal(err)
	}
	// The person's UPN changed in the directory: the owned entry is
	// replaced in place, and provenance follows it.
	_, err = s.Apply(ctx, upnsync.Run{ID: "r2"}, upnsync.ChangesOf(upnsync.Change{
		UserID: "1002", Before: "elefevre;emilie.lefevre@corp.example.com", After: "elefevre;emilie.gagnon@corp.example.com",
		Replaced: []upnsync.Replacement{{Old: "Emilie.Lefevre@corp.example.com", New: "emilie.gagnon@corp.example.com"}},
		Person:   upnsync.Person{GUID: guid},
	}))
	if err != nil {
		t.Fatal(err)
	}
	u := userT(t, s, "1002")
	if want := []upnsync.Owned{{Entry: "emilie.gagnon@corp.example.com", GUID: guid}}; !reflect.DeepEqual(u.Owned, want) {
		t.Errorf("owned = %+v, want %+v", u.Owned, want)
	}
	var runID string
	rawT(t, path).QueryRow(`SELECT run_id FROM upnsync_owned WHERE user_id = '1002'`).Scan(&runID)
	if runID != "r2" {
		t.Errorf("owned run_id = %q, want r2", runID)
	}
}

// A user changed or deleted between plan and apply is reported, never
// overwritten.
func TestApplyStale(t *testing.T) {
	s, path := newStore(t, "users.csv", Options{})
	raw := rawT(t, path)
	execT(t, raw, `UPDATE users SET windows_usernames = 'bsmith;robert.smith' WHERE id = '1003'`)
	execT(t, raw, `DELETE FROM users WHERE id = '1009'`)

	a, err := s.Apply(context.Background(), upnsync.Run{ID: "r1"}, upnsync.ChangesOf(
		change("1003", "bsmith;bob.smith@corp.example.com", "bsmith;bob.smith@corp.example.com;robert.smith@corp.example.com", "g3", "robert.smith@corp.example.com"),
		change("1006", `pnatarajan;TORONTO\pnatarajan`, `pnatarajan;TORONTO\pnatarajan;priya.natarajan@corp.example.com`, "g6", "priya.natarajan@corp.example.com"),
		change("1009", "oadeyemi", "oadeyemi;olumide.adeyemi@corp.example.com", "g9", "olumide.adeyemi@corp.example.com"),
	))
	if err != nil {
		t.Fatal(err)
	}
	want := upnsync.Applied{RunID: "r1", Written: []string{"1006"}, Stale: []upnsync.Stale{
		{UserID: "1003", Expected: "bsmith;bob.smith@corp.example.com", Found: "bsmith;robert.smith",
			Planned: "bsmith;bob.smith@corp.example.com;robert.smith@corp.example.com"},
		{UserID: "1009", Expected: "oadeyemi", Missing: true, Planned: "oadeyemi;olumide.adeyemi@corp.example.com"},
	}}
	if !reflect.DeepEqual(a, want) {
		t.Errorf("applied:\n got %+v\nwant %+v", a, want)
	}
	u := userT(t, s, "1003")
	if u.WindowsUsernames != "bsmith;robert.smith" || u.Owned != nil {
		t.Errorf("1003 = %q owned %+v", u.WindowsUsernames, u.Owned)
	}
	var n, stale int
	raw.QueryRow(`SELECT count(*) FROM upnsync_journal`).Scan(&n)
	raw.QueryRow(`SELECT stale FROM upnsync_runs WHERE id = 'r1'`).Scan(&stale)
	if n != 1 || stale != 2 {
		t.Errorf("journal rows %d (want 1), run stale %d (want 2)", n, stale)
	}
}

// planAll plans adding id@corp.example.com to every user of users.csv.
func planAll(t *testing.T, s *sqliteStore) []upnsync.Change {
	var out []upnsync.Change
	for _, u := range usersT(t, s) {
		upn := "u" + u.ID + "@corp.example.com"
		after := upn
		if u.WindowsUsernames != "" {
			after = u.WindowsUsernames + ";" + upn
		}
		out = append(out, change(u.ID, u.WindowsUsernames, after, "g"+u.ID, upn))
	}
	return out
}

// A failure inside a batch rolls back that batch whole; batches committed
// before it stay, and the error says how far the run got.
func TestApplyBatchAtomic(t *testing.T) {
	s, path := newStore(t, "users.csv", Options{BatchSize: 5})
	changes := planAll(t, s)
	raw := rawT(t, path)
	execT(t, raw, `CREATE TRIGGER refuse BEFORE UPDATE ON users WHEN NEW.id = '1008'
		BEGIN SELECT RAISE(ABORT, 'refused by a test trigger'); END`)

	a, err := s.Apply(context.Background(), upnsync.Run{ID: "r1"}, upnsync.ChangesOf(changes...))
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		`user "1008": cannot update the Windows usernames`,
		"refused by a test trigger",
		`apply stopped in batch 2 of 3 (changes 6 to 10) at user "1008"`,
		"that batch was rolled back; 5 users written before it stay written (run r1)",
		"run upnsync again to finish the job",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if want := []string{"1001", "1002", "1003", "1004", "1005"}; !reflect.DeepEqual(a.Written, want) {
		t.Errorf("written = %v, want %v", a.Written, want)
	}
	for _, u := range usersT(t, s) {
		changed := strings.Contains(u.WindowsUsernames, "u"+u.ID+"@")
		if inFirst := u.ID <= "1005"; changed != inFirst || (len(u.Owned) == 1) != inFirst {
			t.Errorf("user %s: changed %v, owned %v", u.ID, changed, u.Owned)
		}
	}
	var journal, owned, written int
	raw.QueryRow(`SELECT count(*) FROM upnsync_journal`).Scan(&journal)
	raw.QueryRow(`SELECT count(*) FROM upnsync_owned`).Scan(&owned)
	raw.QueryRow(`SELECT written FROM upnsync_runs WHERE id = 'r1'`).Scan(&written)
	if journal != 5 || owned != 5 || written != 5 {
		t.Errorf("journal %d, owned %d, run written %d; want 5 each", journal, owned, written)
	}

	// Once the cause is gone, a new plan and apply finishes the job.
	execT(t, raw, `DROP TRIGGER refuse`)
	var rest []upnsync.Change
	for _, c := range planAll(t, s) {
		if c.UserID > "1005" {
			rest = append(rest, c)
		}
	}
	a, err = s.Apply(context.Background(), upnsync.Run{ID: "r2"}, upnsync.ChangesOf(rest...))
	if err != nil || len(a.Written) != 7 {
		t.Errorf("second run: %+v %v", a, err)
	}
}

func TestApplyCancel(t *testing.T) {
	s, path := newStore(t, "users.csv", Options{BatchSize: 4})
	changes := planAll(t, s)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	testAfterBatch = func(b int) {
		if b == 1 {
			cancel()
		}
	}
	defer func() { testAfterBatch = nil }()
	a, err := s.Apply(ctx, upnsync.Run{ID: "r1"}, upnsync.ChangesOf(changes...))
	if err == nil || !strings.Contains(err.Error(), "apply interrupted before batch 2 of 3 (context canceled); 4 users written before it stay written (run r1); run upnsync again to finish the job") {
		t.Fatalf("err = %v", err)
	}
	if len(a.Written) != 4 {
		t.Errorf("written = %v", a.Written)
	}
	var written int
	var finished string
	rawT(t, path).QueryRow(`SELECT written, finished FROM upnsync_runs WHERE id = 'r1'`).Scan(&written, &finished)
	if written != 4 || finished == "" {
		t.Errorf("run row: written %d finished %q", written, finished)
	}
}

func TestUsersCancel(t *testing.T) {
	s, _ := newStore(t, "users.csv", Options{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	n := 0
	err := s.Users(ctx, func(upnsync.User) error {
		n++
		if n == 3 {
			cancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) || n != 3 {
		t.Errorf("n = %d, err = %v", n, err)
	}

	stop := errors.New("stop")
	if err := s.Users(context.Background(), func(upnsync.User) error { return stop }); err != stop {
		t.Errorf("fn's error not returned as is: %v", err)
	}
}

// A dry run must not change a byte of the store: read-only opens, reads
// and exports leave the file identical, and writes are refused.
func TestReadOnlyLeavesFileUnchanged(t *testing.T) {
	_, path := newStore(t, "users.csv", Options{})
	s := openT(t, path, Options{})
	if _, err := s.Apply(context.Background(), upnsync.Run{ID: "r1"}, upnsync.ChangesOf(planAll(t, s)[:3]...)); err != nil {
		t.Fatal(err)
	}
	s.Close()
	before := hashT(t, path)
	st, _ := os.Stat(path)

	s = openT(t, path, Options{ReadOnly: true})
	us := usersT(t, s)
	if len(us) != 12 || len(us[0].Owned) != 1 {
		t.Fatalf("users: %d, owned of first %v", len(us), us[0].Owned)
	}
	exportT(t, s)
	_, err := s.Apply(context.Background(), upnsync.Run{ID: "r2"}, upnsync.ChangesOf(planAll(t, s)[3:4]...))
	want := fmt.Sprintf("store sqlite:%s: cannot apply changes: the store was opened read-only (dry run); nothing was written", path)
	if err == nil || err.Error() != want {
		t.Errorf("Apply: %v\nwant %s", err, want)
	}
	_, err = s.ImportCSV(context.Background(), strings.NewReader("ID\n1\n"), "x.csv")
	if err == nil || !strings.Contains(err.Error(), "cannot import x.csv: the store was opened read-only") {
		t.Errorf("ImportCSV: %v", err)
	}
	s.Close()

	if hashT(t, path) != before {
		t.Error("read-only use changed the store file")
	}
	if st2, _ := os.Stat(path); !st2.ModTime().Equal(st.ModTime()) {
		t.Error("read-only use touched the store file's modification time")
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("files beside the store: %v", entries)
	}
}

// A write SQLite refuses as read-only (a write-protected file) says so.
func TestApplyReadOnlyFile(t *testing.T) {
	s, path := newStore(t, "users.csv", Options{})
	// One connection: the pragma holds for every statement the store runs,
	// as a write-protected file would (root ignores file permissions, so a
	// chmod would not do for the test).
	if _, err := s.db.Exec(`PRAGMA query_only = 1`); err != nil {
		t.Fatal(err)
	}
	_, err := s.Apply(context.Background(), upnsync.Run{ID: "r1"}, upnsync.ChangesOf(planAll(t, s)...))
	want := fmt.Sprintf("%s is read-only; make the file and its folder writable", path)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("err = %v\nwant it to contain %s", err, want)
	}
}

// Another process holding the store locked makes us wait, then fail with
// words that say so.
func TestLocked(t *testing.T) {
	s, path := newStore(t, "users.csv", Options{BusyTimeout: 100 * time.Millisecond})
	plan := planAll(t, s)[:1]
	raw := rawT(t, path)
	conn, err := raw.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(context.Background(), `BEGIN EXCLUSIVE`); err != nil {
		t.Fatal(err)
	}
	_, err = s.Apply(context.Background(), upnsync.Run{ID: "r1"}, upnsync.ChangesOf(plan...))
	conn.ExecContext(context.Background(), `ROLLBACK`)
	if err == nil || !strings.Contains(err.Error(), "the database is locked by another process (waited 100ms); retry when it has finished") {
		t.Errorf("err = %v", err)
	}

	// Released within the busy timeout: the apply waits and goes through.
	s2 := openT(t, path, Options{})
	plan = planAll(t, s2)[:2]
	if _, err := conn.ExecContext(context.Background(), `BEGIN EXCLUSIVE`); err != nil {
		t.Fatal(err)
	}
	go func() {
		time.Sleep(200 * time.Millisecond)
		conn.ExecContext(context.Background(), `ROLLBACK`)
	}()
	a, err := s2.Apply(context.Background(), upnsync.Run{ID: "r2"}, upnsync.ChangesOf(plan...))
	if err != nil || len(a.Written) != 2 {
		t.Errorf("after the lock was released: %+v %v", a, err)
	}
}

// Owned entries are merged into the users as both are read in id order;
// entries of users that are gone are skipped wherever they fall.
func TestUsersOwnedMerge(t *testing.T) {
	s, path := newStore(t, "users.csv", Options{})
	raw := rawT(t, path)
	for _, r := range [][3]string{
		{"0999", "gone-before@corp.example.com", "g0"},
		{"1001", "jane.doe@corp.example.com", "g1"},
		{"1001", "Jane.Doe@old.example.com", "g1"},
		{"1005a", "gone-between@corp.example.com", "g5a"},
		{"1006", "priya@corp.example.com", "g6"},
		{"2000", "gone-after@corp.example.com", "g2000"},
	} {
		execT(t, raw, `INSERT INTO upnsync_owned(user_id, entry, guid) VALUES (?, ?, ?)`, r[0], r[1], r[2])
	}
	got := map[string][]upnsync.Owned{}
	for _, u := range usersT(t, s) {
		if u.Owned != nil {
			got[u.ID] = u.Owned
		}
	}
	want := map[string][]upnsync.Owned{
		"1001": {{Entry: "jane.doe@corp.example.com", GUID: "g1"}, {Entry: "Jane.Doe@old.example.com", GUID: "g1"}},
		"1006": {{Entry: "priya@corp.example.com", GUID: "g6"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("owned:\n got %+v\nwant %+v", got, want)
	}
}
