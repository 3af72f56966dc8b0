package octopus

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/upnsync/upnsync/internal/testenv"
	upnsync "github.com/upnsync/upnsync/sync"
	"github.com/upnsync/upnsync/sync/report"
)

// backend is one kind of store under the store contract: how to make a new
// empty one, and how another connection (another process, an administrator
// with a SQL client) reads and edits it behind the store's back.
type backend struct {
	name string
	// fresh returns the URL and options of a new, empty store.
	fresh func(t *testing.T) (url string, opts Options)
	// setWU and deleteUser edit a user on another connection.
	setWU      func(t *testing.T, url, id, value string)
	deleteUser func(t *testing.T, url, id string)
	// refuseUpdates makes the database refuse any update of user id (a
	// trigger), until allowUpdates.
	refuseUpdates func(t *testing.T, url, id string)
	allowUpdates  func(t *testing.T, url string)
	// journal lists a run's journal as "seq user before→after".
	journal func(t *testing.T, url, runID string) []string
	// run reads a run's summary row.
	run func(t *testing.T, url, runID string) (written, stale int, finished bool)
	// ownedRun is the run that added entry (looked up in any letter case)
	// to user id's list; ownedCount counts all provenance rows.
	ownedRun   func(t *testing.T, url, id, entry string) string
	ownedCount func(t *testing.T, url string) int
	// addOwned records provenance directly (as an earlier run would have).
	addOwned func(t *testing.T, url, id, entry, guid string)
}

func openStoreT(t testing.TB, url string, opts Options) Store {
	t.Helper()
	s, err := Open(context.Background(), url, opts)
	if err != nil {
		t.Fatalf("Open(%s): %v", url, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func importT(t testing.TB, s Store, file string) ImportResult {
	t.Helper()
	f, err := os.Open(testdata + file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := s.ImportCSV(context.Background(), f, file)
	if err != nil {
		t.Fatalf("ImportCSV(%s): %v", file, err)
	}
	return res
}

func allUsersT(t testing.TB, s upnsync.Store) []upnsync.User {
	t.Helper()
	var out []upnsync.User
	if err := s.Users(context.Background(), func(u upnsync.User) error {
		out = append(out, u)
		return nil
	}); err != nil {
		t.Fatalf("Users: %v", err)
	}
	return out
}

func oneUserT(t testing.TB, s upnsync.Store, id string) upnsync.User {
	t.Helper()
	for _, u := range allUsersT(t, s) {
		if u.ID == id {
			return u
		}
	}
	t.Fatalf("user %s not found", id)
	return upnsync.User{}
}

func exportBytesT(t testing.TB, s Store) []byte {
	t.Helper()
	var buf bytes.Buffer
	if _, err := s.ExportCSV(context.Background(), &buf); err != nil {
		t.Fatalf("ExportCSV: %v", err)
	}
	return buf.Bytes()
}

// seeded returns a writable store filled from users.csv.
func seeded(t *testing.T, b backend, opts Options) (Store, string) {
	t.Helper()
	url, o := b.fresh(t)
	o.BatchSize = opts.BatchSize
	o.Create = true
	s := openStoreT(t, url, o)
	importT(t, s, "users.csv")
	return s, url
}

// planEvery plans adding u<ID>@corp.example.com to every user.
func planEvery(t *testing.T, s upnsync.Store) []upnsync.Change {
	var out []upnsync.Change
	for _, u := range allUsersT(t, s) {
		upn := "u" + u.ID + "@corp.example.com"
		after := upn
		if u.WindowsUsernames != "" {
			after = u.WindowsUsernames + ";" + upn
		}
		out = append(out, change(u.ID, u.WindowsUsernames, after, "g"+u.ID, upn))
	}
	return out
}

// testContract runs the store contract against one backend: every store
// must behave the same way for the engine and for `store import|export`.
func testContract(t *testing.T, b backend) {
	ctx := context.Background()

	t.Run("ImportExport", func(t *testing.T) {
		url, opts := b.fresh(t)
		opts.Create = true
		s := openStoreT(t, url, opts)
		if n := len(allUsersT(t, s)); n != 0 {
			t.Fatalf("%d users in a new store", n)
		}
		if got, want := string(exportBytesT(t, s)), strings.Join(Columns, ",")+"\n"; got != want {
			t.Errorf("export of an empty store = %q, want %q", got, want)
		}
		if res := importT(t, s, "users.csv"); res != (ImportResult{Read: 12, Created: 12}) {
			t.Errorf("import = %+v", res)
		}
		canon, _ := os.ReadFile(testdata + "users.csv")
		if got := exportBytesT(t, s); !bytes.Equal(got, canon) {
			t.Errorf("export differs from users.csv:\n%s", got)
		}
		want := upnsync.User{ID: "1004", FirstName: `Kathleen "Kate"`, LastName: "O'Brien", Email: "kate.obrien@corp.example.com",
			WindowsUsernames: "kobrien", ExternalID: "6ec0bd7f-11c0-43da-975e-2a8ad9ebae0b", Active: true}
		if u := oneUserT(t, s, "1004"); !reflect.DeepEqual(u, want) {
			t.Errorf("1004:\n got %+v\nwant %+v", u, want)
		}
		if res := importT(t, s, "users.csv"); res != (ImportResult{Read: 12, Unchanged: 12}) {
			t.Errorf("second import = %+v", res)
		}
		if res := importT(t, s, "users-update.csv"); res != (ImportResult{Read: 4, Created: 1, Updated: 2, Unchanged: 1}) {
			t.Errorf("update import = %+v", res)
		}
		if u := oneUserT(t, s, "1005"); !u.Active || u.WindowsUsernames != "" {
			t.Errorf("1005 = %+v", u)
		}
		if u := oneUserT(t, s, "1010"); u.Email != "sofia.rossi@corp.example.com" || u.WindowsUsernames != "srossi" {
			t.Errorf("1010 = %+v (columns absent from the file must be left alone)", u)
		}
		// A bad line anywhere leaves the store as it was.
		before := exportBytesT(t, s)
		_, err := s.ImportCSV(ctx, strings.NewReader("ID,Email\n1001,changed@corp.example.com\n2000,new@x\n1002,x\x00\n"), "bad.csv")
		if err == nil || !strings.HasPrefix(err.Error(), "bad.csv:4: column Email contains a NUL byte") {
			t.Errorf("bad import: %v", err)
		}
		if !bytes.Equal(exportBytesT(t, s), before) {
			t.Error("a failed import changed the store")
		}
	})

	t.Run("Apply", func(t *testing.T) {
		s, url := seeded(t, b, Options{})
		changes := []upnsync.Change{
			change("1001", `jdoe;CORP\jdoe`, `jdoe;CORP\jdoe;Jane.Doe@corp.example.com`, "3f2504e0-4f89-11d3-9a0c-0305e82c3301", "Jane.Doe@corp.example.com"),
			change("1005", "", "marc.tremblay@corp.example.com", "g-1005", "marc.tremblay@corp.example.com"),
			change("1007", "svc-servicedesk", "svc-servicedesk;servicedesk@corp.example.com", "", "servicedesk@corp.example.com"),
		}
		a, err := s.Apply(ctx, upnsync.Run{ID: "run-1", Directory: "ldaps://dc1.corp.example.com"}, changes)
		if err != nil {
			t.Fatal(err)
		}
		if want := (upnsync.Applied{RunID: "run-1", Written: []string{"1001", "1005", "1007"}}); !reflect.DeepEqual(a, want) {
			t.Errorf("applied = %+v, want %+v", a, want)
		}
		if u := oneUserT(t, s, "1005"); u.WindowsUsernames != "marc.tremblay@corp.example.com" {
			t.Errorf("1005 = %q", u.WindowsUsernames)
		}
		wantJ := []string{
			`1 1001 "jdoe;CORP\\jdoe"→"jdoe;CORP\\jdoe;Jane.Doe@corp.example.com"`,
			`2 1005 ""→"marc.tremblay@corp.example.com"`,
			`3 1007 "svc-servicedesk"→"svc-servicedesk;servicedesk@corp.example.com"`,
		}
		if j := b.journal(t, url, "run-1"); !reflect.DeepEqual(j, wantJ) {
			t.Errorf("journal:\n%s\nwant\n%s", strings.Join(j, "\n"), strings.Join(wantJ, "\n"))
		}
		if w, st, fin := b.run(t, url, "run-1"); w != 3 || st != 0 || !fin {
			t.Errorf("run row: written %d stale %d finished %v", w, st, fin)
		}
		if r := b.ownedRun(t, url, "1001", "jane.doe@corp.example.com"); r != "run-1" {
			t.Errorf("provenance of 1001 (looked up in another letter case): run %q", r)
		}
		want := []upnsync.Owned{{Entry: "Jane.Doe@corp.example.com", GUID: "3f2504e0-4f89-11d3-9a0c-0305e82c3301"}}
		if u := oneUserT(t, s, "1001"); !reflect.DeepEqual(u.Owned, want) {
			t.Errorf("1001 owned = %+v", u.Owned)
		}
		if u := oneUserT(t, s, "1002"); u.Owned != nil {
			t.Errorf("1002 owned = %+v", u.Owned)
		}
		if _, err := s.Apply(ctx, upnsync.Run{ID: "run-1"}, nil); err == nil || !strings.Contains(err.Error(), "run run-1 is already recorded") {
			t.Errorf("rerun: %v", err)
		}
	})

	t.Run("Replacement", func(t *testing.T) {
		s, url := seeded(t, b, Options{})
		guid := "9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d"
		if _, err := s.Apply(ctx, upnsync.Run{ID: "r1"}, []upnsync.Change{
			change("1002", "elefevre", "elefevre;emilie.lefevre@corp.example.com", guid, "emilie.lefevre@corp.example.com"),
		}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Apply(ctx, upnsync.Run{ID: "r2"}, []upnsync.Change{{
			UserID: "1002", Before: "elefevre;emilie.lefevre@corp.example.com", After: "elefevre;emilie.gagnon@corp.example.com",
			Replaced: []upnsync.Replacement{{Old: "Emilie.Lefevre@corp.example.com", New: "emilie.gagnon@corp.example.com"}},
			Person:   upnsync.Person{GUID: guid},
		}}); err != nil {
			t.Fatal(err)
		}
		if want := []upnsync.Owned{{Entry: "emilie.gagnon@corp.example.com", GUID: guid}}; !reflect.DeepEqual(oneUserT(t, s, "1002").Owned, want) {
			t.Errorf("owned = %+v, want %+v", oneUserT(t, s, "1002").Owned, want)
		}
		if r := b.ownedRun(t, url, "1002", "emilie.gagnon@corp.example.com"); r != "r2" {
			t.Errorf("owned run = %q, want r2", r)
		}
		if n := b.ownedCount(t, url); n != 1 {
			t.Errorf("%d provenance rows, want 1", n)
		}
	})

	t.Run("Stale", func(t *testing.T) {
		s, url := seeded(t, b, Options{})
		b.setWU(t, url, "1003", "bsmith;robert.smith")
		b.deleteUser(t, url, "1009")
		a, err := s.Apply(ctx, upnsync.Run{ID: "r1"}, []upnsync.Change{
			change("1003", "bsmith;bob.smith@corp.example.com", "bsmith;bob.smith@corp.example.com;robert.smith@corp.example.com", "g3", "robert.smith@corp.example.com"),
			change("1006", `pnatarajan;TORONTO\pnatarajan`, `pnatarajan;TORONTO\pnatarajan;priya.natarajan@corp.example.com`, "g6", "priya.natarajan@corp.example.com"),
			change("1009", "oadeyemi", "oadeyemi;olumide.adeyemi@corp.example.com", "g9", "olumide.adeyemi@corp.example.com"),
		})
		if err != nil {
			t.Fatal(err)
		}
		want := upnsync.Applied{RunID: "r1", Written: []string{"1006"}, Stale: []upnsync.Stale{
			{UserID: "1003", Expected: "bsmith;bob.smith@corp.example.com", Found: "bsmith;robert.smith"},
			{UserID: "1009", Expected: "oadeyemi", Missing: true},
		}}
		if !reflect.DeepEqual(a, want) {
			t.Errorf("applied:\n got %+v\nwant %+v", a, want)
		}
		if u := oneUserT(t, s, "1003"); u.WindowsUsernames != "bsmith;robert.smith" || u.Owned != nil {
			t.Errorf("1003 = %q owned %+v", u.WindowsUsernames, u.Owned)
		}
		if j := b.journal(t, url, "r1"); len(j) != 1 {
			t.Errorf("journal = %v", j)
		}
		if _, st, _ := b.run(t, url, "r1"); st != 2 {
			t.Errorf("run stale = %d, want 2", st)
		}
	})

	t.Run("BatchAtomic", func(t *testing.T) {
		s, url := seeded(t, b, Options{BatchSize: 5})
		changes := planEvery(t, s)
		b.refuseUpdates(t, url, "1008")
		a, err := s.Apply(ctx, upnsync.Run{ID: "r1"}, changes)
		if err == nil {
			t.Fatal("no error")
		}
		for _, want := range []string{
			`user "1008": cannot update the Windows usernames`,
			"refused by a test trigger",
			`apply stopped in batch 2 of 3 (changes 6 to 10) at user "1008"`,
			"that batch was rolled back; 5 users written before it stay written (run r1)",
		} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error lacks %q:\n%v", want, err)
			}
		}
		if want := []string{"1001", "1002", "1003", "1004", "1005"}; !reflect.DeepEqual(a.Written, want) {
			t.Errorf("written = %v, want %v", a.Written, want)
		}
		for _, u := range allUsersT(t, s) {
			changed := strings.Contains(u.WindowsUsernames, "u"+u.ID+"@")
			if inFirst := u.ID <= "1005"; changed != inFirst || (len(u.Owned) == 1) != inFirst {
				t.Errorf("user %s: changed %v, owned %v", u.ID, changed, u.Owned)
			}
		}
		if j, o := len(b.journal(t, url, "r1")), b.ownedCount(t, url); j != 5 || o != 5 {
			t.Errorf("journal %d, owned %d; want 5 each", j, o)
		}
		if w, _, fin := b.run(t, url, "r1"); w != 5 || !fin {
			t.Errorf("run row: written %d finished %v", w, fin)
		}
		b.allowUpdates(t, url)
		var rest []upnsync.Change
		for _, c := range planEvery(t, s) {
			if c.UserID > "1005" {
				rest = append(rest, c)
			}
		}
		if a, err := s.Apply(ctx, upnsync.Run{ID: "r2"}, rest); err != nil || len(a.Written) != 7 {
			t.Errorf("second run: %+v %v", a, err)
		}
	})

	t.Run("Cancel", func(t *testing.T) {
		s, url := seeded(t, b, Options{BatchSize: 4})
		changes := planEvery(t, s)
		cctx, cancel := context.WithCancel(ctx)
		defer cancel()
		testAfterBatch = func(n int) {
			if n == 1 {
				cancel()
			}
		}
		defer func() { testAfterBatch = nil }()
		a, err := s.Apply(cctx, upnsync.Run{ID: "r1"}, changes)
		if err == nil || !strings.Contains(err.Error(), "apply interrupted before batch 2 of 3 (context canceled); 4 users written before it stay written (run r1)") {
			t.Fatalf("err = %v", err)
		}
		if len(a.Written) != 4 {
			t.Errorf("written = %v", a.Written)
		}
		if w, _, fin := b.run(t, url, "r1"); w != 4 || !fin {
			t.Errorf("run row: written %d finished %v", w, fin)
		}
	})

	t.Run("UsersStreaming", func(t *testing.T) {
		s, url := seeded(t, b, Options{})
		for _, r := range [][3]string{
			{"0999", "gone-before@corp.example.com", "g0"},
			{"1001", "jane.doe@corp.example.com", "g1"},
			{"1001", "Jane.Doe@old.example.com", "g1"},
			{"1005a", "gone-between@corp.example.com", "g5a"},
			{"1006", "priya@corp.example.com", "g6"},
			{"2000", "gone-after@corp.example.com", "g2000"},
		} {
			b.addOwned(t, url, r[0], r[1], r[2])
		}
		got := map[string][]upnsync.Owned{}
		var ids []string
		for _, u := range allUsersT(t, s) {
			ids = append(ids, u.ID)
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
		if len(ids) != 12 || ids[0] != "1001" || ids[11] != "1012" {
			t.Errorf("users not in id order: %v", ids)
		}

		stop := fmt.Errorf("stop")
		if err := s.Users(ctx, func(upnsync.User) error { return stop }); err != stop {
			t.Errorf("fn's error not returned as is: %v", err)
		}
		cctx, cancel := context.WithCancel(ctx)
		defer cancel()
		n := 0
		err := s.Users(cctx, func(upnsync.User) error {
			if n++; n == 3 {
				cancel()
			}
			return nil
		})
		if err == nil || n >= 12 {
			t.Errorf("cancelled read: n = %d, err = %v", n, err)
		}
	})

	t.Run("ReadOnly", func(t *testing.T) {
		s, url := seeded(t, b, Options{})
		if _, err := s.Apply(ctx, upnsync.Run{ID: "r1"}, planEvery(t, s)[:3]); err != nil {
			t.Fatal(err)
		}
		before := exportBytesT(t, s)
		_, opts := b.fresh(t)
		opts.ReadOnly = true
		ro := openStoreT(t, url, opts)
		us := allUsersT(t, ro)
		if len(us) != 12 || len(us[0].Owned) != 1 {
			t.Fatalf("users: %d, owned of first %v", len(us), us[0].Owned)
		}
		_, err := ro.Apply(ctx, upnsync.Run{ID: "r2"}, planEvery(t, ro)[3:4])
		if want := "cannot apply changes: the store was opened read-only (dry run); nothing was written"; err == nil || !strings.HasSuffix(err.Error(), want) {
			t.Errorf("Apply: %v\nwant ...%s", err, want)
		}
		if _, err := ro.ImportCSV(ctx, strings.NewReader("ID\n1\n"), "x.csv"); err == nil || !strings.Contains(err.Error(), "cannot import x.csv: the store was opened read-only") {
			t.Errorf("ImportCSV: %v", err)
		}
		if !bytes.Equal(exportBytesT(t, ro), before) {
			t.Error("a read-only store changed")
		}
		if _, _, fin := b.run(t, url, "r2"); fin {
			t.Error("a refused apply recorded a run")
		}
	})

	t.Run("Missing", func(t *testing.T) {
		url, opts := b.fresh(t)
		for _, ro := range []bool{true, false} {
			opts.ReadOnly = ro
			_, err := Open(ctx, url, opts)
			if err == nil || !strings.Contains(err.Error(), "upnsync store import --store") {
				t.Errorf("read-only %v: a missing store opened, or without the way out: %v", ro, err)
			}
		}
	})
}

func TestContractSQLite(t *testing.T) {
	testContract(t, sqliteBackend())
}

func sqliteBackend() backend {
	path := func(url string) string { return strings.TrimPrefix(url, "sqlite:") }
	exec := func(t *testing.T, url, q string, args ...any) {
		t.Helper()
		execT(t, rawT(t, path(url)), q, args...)
	}
	return backend{
		name: "sqlite",
		fresh: func(t *testing.T) (string, Options) {
			return "sqlite:" + filepath.Join(t.TempDir(), "octopus.db"), Options{}
		},
		setWU: func(t *testing.T, url, id, v string) {
			exec(t, url, `UPDATE users SET windows_usernames = ? WHERE id = ?`, v, id)
		},
		deleteUser: func(t *testing.T, url, id string) { exec(t, url, `DELETE FROM users WHERE id = ?`, id) },
		refuseUpdates: func(t *testing.T, url, id string) {
			exec(t, url, `CREATE TRIGGER refuse BEFORE UPDATE ON users WHEN NEW.id = '`+id+`'
				BEGIN SELECT RAISE(ABORT, 'refused by a test trigger'); END`)
		},
		allowUpdates: func(t *testing.T, url string) { exec(t, url, `DROP TRIGGER refuse`) },
		journal: func(t *testing.T, url, runID string) []string {
			rows, err := rawT(t, path(url)).Query(`SELECT seq, user_id, "before", "after" FROM upnsync_journal WHERE run_id = ? ORDER BY seq`, runID)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			var out []string
			for rows.Next() {
				var seq int
				var id, b, a string
				rows.Scan(&seq, &id, &b, &a)
				out = append(out, fmt.Sprintf("%d %s %q→%q", seq, id, b, a))
			}
			return out
		},
		run: func(t *testing.T, url, runID string) (int, int, bool) {
			var w, st int
			var fin *string
			rawT(t, path(url)).QueryRow(`SELECT written, stale, finished FROM upnsync_runs WHERE id = ?`, runID).Scan(&w, &st, &fin)
			return w, st, fin != nil && *fin != ""
		},
		ownedRun: func(t *testing.T, url, id, entry string) string {
			var r string
			rawT(t, path(url)).QueryRow(`SELECT run_id FROM upnsync_owned WHERE user_id = ? AND entry = ?`, id, entry).Scan(&r)
			return r
		},
		ownedCount: func(t *testing.T, url string) int {
			var n int
			rawT(t, path(url)).QueryRow(`SELECT count(*) FROM upnsync_owned`).Scan(&n)
			return n
		},
		addOwned: func(t *testing.T, url, id, entry, guid string) {
			exec(t, url, `INSERT INTO upnsync_owned(user_id, entry, guid) VALUES (?, ?, ?)`, id, entry, guid)
		},
	}
}

// demoReports runs the core's merge scenarios (the demo data) through a
// store of backend b: the dry run, the apply, and the run after it, each
// rendered as the JSON report with the times and the store's name
// normalised. Every store must give the same three reports.
func demoReports(t *testing.T, b backend) []string {
	t.Helper()
	ctx := context.Background()
	url, opts := b.fresh(t)
	opts.Create = true
	s := openStoreT(t, url, opts)
	f, err := os.Open("../../testdata/demo/octopus-users.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := s.ImportCSV(ctx, f, "octopus-users.csv"); err != nil {
		t.Fatal(err)
	}
	render := func(plan *upnsync.Plan, meta report.Meta) string {
		meta.Directory, meta.Store = "ldif:directory.ldif", "-"
		var buf bytes.Buffer
		if err := report.JSON(&buf, plan, meta); err != nil {
			t.Fatal(err)
		}
		return buf.String()
	}
	var out []string
	plan := planDemo(t, s)
	out = append(out, render(&plan, report.Meta{Mode: report.ModeDryRun}))
	a, err := s.Apply(ctx, upnsync.Run{ID: "demo-run"}, plan.Changes)
	if err != nil {
		t.Fatal(err)
	}
	out = append(out, render(&plan, report.Meta{Mode: report.ModeApply, Applied: &a}))
	again := planDemo(t, s)
	out = append(out, render(&again, report.Meta{Mode: report.ModeDryRun}))
	if !strings.Contains(out[0], `"changes": 9`) || !strings.Contains(out[1], `"written": 9`) || !strings.Contains(out[2], `"changes": 0`) {
		t.Errorf("%s: the demo did not plan, write and settle as expected:\n%s", b.name, strings.Join(out, "\n"))
	}
	return out
}

// The core's merge scenarios give identical JSON reports through SQLite
// and PostgreSQL.
func TestContractDemoReportsIdentical(t *testing.T) {
	testenv.Postgres(t)
	sqlite := demoReports(t, sqliteBackend())
	pg := demoReports(t, pgBackend())
	for i, name := range []string{"dry run", "apply", "second run"} {
		if sqlite[i] != pg[i] {
			t.Errorf("%s: the reports differ\n--- sqlite\n%s\n--- postgres\n%s", name, sqlite[i], pg[i])
		}
	}
}
