package octopus

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/upnsync/upnsync/internal/runlock"
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
	// open opens a store of this backend (Open when nil).
	open func(ctx context.Context, url string, opts Options) (Store, error)
	// lock takes the store's run lock (LockRun when nil).
	lock func(ctx context.Context, url string, opts Options, me runlock.Holder, wait time.Duration) (*RunLock, error)
	// lockChild is the environment of a child process (lockChildMain)
	// that takes the same lock: secrets go there, never in its arguments.
	lockChild func(url string, opts Options) []string
}

func (b backend) openStore(ctx context.Context, url string, opts Options) (Store, error) {
	if b.open != nil {
		return b.open(ctx, url, opts)
	}
	return Open(ctx, url, opts)
}

func (b backend) openT(t testing.TB, url string, opts Options) Store {
	t.Helper()
	s, err := b.openStore(context.Background(), url, opts)
	if err != nil {
		t.Fatalf("open %s: %v", url, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func (b backend) lockRun(ctx context.Context, url string, opts Options, me runlock.Holder, wait time.Duration) (*RunLock, error) {
	if b.lock != nil {
		return b.lock(ctx, url, opts, me, wait)
	}
	return LockRun(ctx, url, opts, me, wait)
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
	if _, err := s.ExportCSV(context.Background(), csv.NewWriter(&buf)); err != nil {
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
	s := b.openT(t, url, o)
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
		s := b.openT(t, url, opts)
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
		a, err := s.Apply(ctx, upnsync.Run{ID: "run-1", Directory: "ldaps://dc1.corp.example.com"}, upnsync.ChangesOf(changes...))
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
		if _, err := s.Apply(ctx, upnsync.Run{ID: "run-1"}, upnsync.Changes{}); err == nil || !strings.Contains(err.Error(), "run run-1 is already recorded") {
			t.Errorf("rerun: %v", err)
		}
	})

	t.Run("Replacement", func(t *testing.T) {
		s, url := seeded(t, b, Options{})
		guid := "9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d"
		if _, err := s.Apply(ctx, upnsync.Run{ID: "r1"}, upnsync.ChangesOf(
			change("1002", "elefevre", "elefevre;emilie.lefevre@corp.example.com", guid, "emilie.lefevre@corp.example.com"),
		)); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Apply(ctx, upnsync.Run{ID: "r2"}, upnsync.ChangesOf(upnsync.Change{
			UserID: "1002", Before: "elefevre;emilie.lefevre@corp.example.com", After: "elefevre;emilie.gagnon@corp.example.com",
			Replaced: []upnsync.Replacement{{Old: "Emilie.Lefevre@corp.example.com", New: "emilie.gagnon@corp.example.com"}},
			Person:   upnsync.Person{GUID: guid},
		})); err != nil {
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
		a, err := s.Apply(ctx, upnsync.Run{ID: "r1"}, upnsync.ChangesOf(
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
		for _, st := range a.Stale {
			if st.AlreadyApplied() {
				t.Errorf("%s: a user changed otherwise (or gone) counts as already applied", st.UserID)
			}
		}
		// The same change applied twice (a saved plan applied again): the
		// second finds the planned value already there.
		again := change("1006", `pnatarajan;TORONTO\pnatarajan`, `pnatarajan;TORONTO\pnatarajan;priya.natarajan@corp.example.com`, "g6", "priya.natarajan@corp.example.com")
		a, err = s.Apply(ctx, upnsync.Run{ID: "r2"}, upnsync.ChangesOf(again))
		if err != nil || len(a.Written) != 0 || len(a.Stale) != 1 || !a.Stale[0].AlreadyApplied() || a.Stale[0].Found != again.After {
			t.Errorf("applied twice: %+v %v", a, err)
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
		a, err := s.Apply(ctx, upnsync.Run{ID: "r1"}, upnsync.ChangesOf(changes...))
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
		if a, err := s.Apply(ctx, upnsync.Run{ID: "r2"}, upnsync.ChangesOf(rest...)); err != nil || len(a.Written) != 7 {
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
		a, err := s.Apply(cctx, upnsync.Run{ID: "r1"}, upnsync.ChangesOf(changes...))
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
		if _, err := s.Apply(ctx, upnsync.Run{ID: "r1"}, upnsync.ChangesOf(planEvery(t, s)[:3]...)); err != nil {
			t.Fatal(err)
		}
		before := exportBytesT(t, s)
		_, opts := b.fresh(t)
		opts.ReadOnly = true
		ro := b.openT(t, url, opts)
		us := allUsersT(t, ro)
		if len(us) != 12 || len(us[0].Owned) != 1 {
			t.Fatalf("users: %d, owned of first %v", len(us), us[0].Owned)
		}
		_, err := ro.Apply(ctx, upnsync.Run{ID: "r2"}, upnsync.ChangesOf(planEvery(t, ro)[3:4]...))
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
			_, err := b.openStore(ctx, url, opts)
			if err == nil || !strings.Contains(err.Error(), "upnsync store import --store") {
				t.Errorf("read-only %v: a missing store opened, or without the way out: %v", ro, err)
			}
		}
	})

	t.Run("Journal", func(t *testing.T) {
		s, _ := seeded(t, b, Options{})
		j, ok := s.(journalStore)
		if !ok {
			t.Fatalf("%T keeps no journal: `upnsync runs` and `upnsync undo` cannot work on it", s)
		}
		journalContract(t, j)
	})

	t.Run("RemoveOwnedOnly", func(t *testing.T) {
		s, url := seeded(t, b, Options{})
		const g1, g2 = "11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222"
		r1 := []upnsync.Change{
			change("1001", `jdoe;CORP\jdoe`, `jdoe;CORP\jdoe;jane@corp.example.com`, g1, "jane@corp.example.com"),
			change("1002", "elefevre", "elefevre;jane@corp.example.com", g1, "jane@corp.example.com"),
			change("1004", "kobrien", "kobrien;kate@corp.example.com", g2, "kate@corp.example.com"),
		}
		if a, err := s.Apply(ctx, upnsync.Run{ID: "r1"}, upnsync.ChangesOf(r1...)); err != nil || len(a.Written) != 3 {
			t.Fatalf("r1: %+v %v", a, err)
		}
		// A departure removes what upnsync added for that person from one
		// user (named in another letter case, as UPNs compare); someone
		// edited 1004 meanwhile, so its removal is stale and nothing of
		// its provenance goes.
		b.setWU(t, url, "1004", "kobrien;kate@corp.example.com;typed")
		r2 := []upnsync.Change{
			{UserID: "1001", Before: r1[0].After, After: r1[0].Before, Removed: []string{"JANE@corp.example.com"},
				Person: upnsync.Person{GUID: g1}, Departed: upnsync.DepartedDeleted},
			{UserID: "1004", Before: r1[2].After, After: r1[2].Before, Removed: []string{"kate@corp.example.com"},
				Person: upnsync.Person{GUID: g2}, Departed: upnsync.DepartedDeleted},
		}
		a, err := s.Apply(ctx, upnsync.Run{ID: "r2"}, upnsync.ChangesOf(r2...))
		if err != nil || !reflect.DeepEqual(a.Written, []string{"1001"}) || len(a.Stale) != 1 || a.Stale[0].UserID != "1004" {
			t.Fatalf("r2: %+v %v", a, err)
		}
		if u := oneUserT(t, s, "1001"); u.WindowsUsernames != `jdoe;CORP\jdoe` || u.Owned != nil {
			t.Errorf("1001 after the removal = %q owned %+v", u.WindowsUsernames, u.Owned)
		}
		if o := oneUserT(t, s, "1002").Owned; !reflect.DeepEqual(o, []upnsync.Owned{{Entry: "jane@corp.example.com", GUID: g1}}) {
			t.Errorf("another user's provenance of the same entry went too: %+v", o)
		}
		if o := oneUserT(t, s, "1004").Owned; !reflect.DeepEqual(o, []upnsync.Owned{{Entry: "kate@corp.example.com", GUID: g2}}) {
			t.Errorf("a stale removal changed provenance: %+v", o)
		}
		if n := b.ownedCount(t, url); n != 2 {
			t.Errorf("%d provenance rows, want 2", n)
		}
		var got []upnsync.JournalEntry
		if _, err := s.(upnsync.Journal).RunJournal(ctx, "r2", func(e upnsync.JournalEntry) error { got = append(got, e); return nil }); err != nil {
			t.Fatal(err)
		}
		want := []upnsync.JournalEntry{{Seq: 1, UserID: "1001", Before: r1[0].After, After: r1[0].Before, GUID: g1, Removed: []string{"JANE@corp.example.com"}}}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("journal of the removal:\n got %+v\nwant %+v", got, want)
		}
	})

	t.Run("Lock", func(t *testing.T) {
		url, opts := b.fresh(t)
		opts.Create = true
		s := b.openT(t, url, opts)
		importT(t, s, "users.csv")
		lockContract(t, b, url, opts)
	})
}

func TestContractSQLite(t *testing.T) {
	testContract(t, sqliteBackend())
}

// TestContractStateDB runs the contract against a store without tables of
// its own wrapped in its state database, as a DataImporter workbook is
// opened: provenance, journal and runs come from the state database, the
// lock is a file beside it.
func TestContractStateDB(t *testing.T) {
	testContract(t, stateBackend())
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
		lockChild: func(url string, _ Options) []string {
			return []string{lockChildEnv + "=" + lockChildSpec{URL: url}.String()}
		},
	}
}

// ownerless is a store without tables of its own: it writes
// (compare-and-swap, through the real SQLite store underneath) but reports
// no provenance, as a DataImporter workbook does.
type ownerless struct{ *sqliteStore }

func (o ownerless) Users(ctx context.Context, fn func(upnsync.User) error) error {
	return o.sqliteStore.Users(ctx, func(u upnsync.User) error { u.Owned = nil; return fn(u) })
}

// stateBackend is an ownerless store in an SQLite file, wrapped in its
// state database beside it. Edits behind the store's back go to the
// store's file; the record is read from the state database.
func stateBackend() backend {
	b := sqliteBackend()
	store := b
	statePath := func(url string) string { return strings.TrimPrefix(url, "sqlite:") + StateSuffix }
	record := func(url string) string { return "sqlite:" + statePath(url) }
	b.name = "state"
	b.open = func(ctx context.Context, url string, opts Options) (Store, error) {
		inner, err := Open(ctx, url, opts)
		if err != nil {
			return nil, err
		}
		st, err := OpenState(ctx, statePath(url), opts.ReadOnly)
		if err != nil {
			inner.Close()
			return nil, err
		}
		return WithState(ownerless{inner.(*sqliteStore)}, st), nil
	}
	b.lock = func(ctx context.Context, url string, _ Options, me runlock.Holder, wait time.Duration) (*RunLock, error) {
		st := State{Path: statePath(url)}
		return lockFile(ctx, url, st.Path, st.LockPath(), me, wait)
	}
	b.lockChild = func(url string, _ Options) []string {
		return []string{lockChildEnv + "=" + lockChildSpec{URL: url, File: State{Path: statePath(url)}.LockPath()}.String()}
	}
	b.journal = func(t *testing.T, url, runID string) []string { return store.journal(t, record(url), runID) }
	b.run = func(t *testing.T, url, runID string) (int, int, bool) { return store.run(t, record(url), runID) }
	b.ownedRun = func(t *testing.T, url, id, entry string) string { return store.ownedRun(t, record(url), id, entry) }
	b.ownedCount = func(t *testing.T, url string) int { return store.ownedCount(t, record(url)) }
	b.addOwned = func(t *testing.T, url, id, entry, guid string) {
		// The state database exists once a run recorded something.
		st, err := OpenState(context.Background(), statePath(url), false)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.ensure(context.Background()); err != nil {
			t.Fatal(err)
		}
		st.Close()
		store.addOwned(t, record(url), id, entry, guid)
	}
	return b
}

// demoReports runs the core's merge scenarios (the demo data) through a
// store of backend b: the dry run, the apply, and the run after it; then a
// rename (Jane Doe's UPN changes) and two departures with
// --remove-departed (Maria Garcia, whose UPN upnsync added, and John
// Smith, whose UPN was typed by a person and must stay): dry run, apply,
// and the run after it. Each is rendered as the JSON report with the times
// and the store's name normalised. Every store must give the same reports.
func demoReports(t *testing.T, b backend, edited string) []string {
	t.Helper()
	ctx := context.Background()
	url, opts := b.fresh(t)
	opts.Create = true
	s := b.openT(t, url, opts)
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
	scenario := func(dir upnsync.Directory, o upnsync.Options, runID string) {
		plan := planDemoWith(t, s, dir, o)
		out = append(out, render(&plan, report.Meta{Mode: report.ModeDryRun}))
		a, err := s.Apply(ctx, upnsync.Run{ID: runID}, plan.Changes)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, render(&plan, report.Meta{Mode: report.ModeApply, Applied: &a}))
		again := planDemoWith(t, s, dir, o)
		out = append(out, render(&again, report.Meta{Mode: report.ModeDryRun}))
	}
	scenario(demoDirectory(t), upnsync.Options{}, "demo-run")
	if !strings.Contains(out[0], `"changes": 9`) || !strings.Contains(out[1], `"written": 9`) || !strings.Contains(out[2], `"changes": 0`) {
		t.Errorf("%s: the demo did not plan, write and settle as expected:\n%s", b.name, strings.Join(out, "\n"))
	}

	scenario(demoDirectoryAt(t, edited), upnsync.Options{RemoveDeparted: true}, "demo-run-2")
	for _, want := range []string{`"old": "jane.doe@corp.example.com"`, `"new": "jane.smith@corp.example.com"`,
		`"removed": [
        "maria.garcia@corp.example.com"`, `"departed": 1`, `"removals": 1`} {
		if !strings.Contains(out[3], want) {
			t.Errorf("%s: the rename and departures plan lacks %s:\n%s", b.name, want, out[3])
		}
	}
	if !strings.Contains(out[4], `"written": 2`) || !strings.Contains(out[5], `"changes": 0`) {
		t.Errorf("%s: the rename and removal did not write and settle as expected:\n%s\n%s", b.name, out[4], out[5])
	}
	if u := oneUserT(t, s, "1002"); u.WindowsUsernames != "jsmith;john.smith@corp.example.com" {
		t.Errorf("%s: a departed person's manual entry was removed: %q", b.name, u.WindowsUsernames)
	}
	return out
}

// The core's merge scenarios, a rename and departures give identical JSON
// reports through SQLite, PostgreSQL and a store wrapped in its state
// database.
func TestContractDemoReportsIdentical(t *testing.T) {
	testenv.Postgres(t)
	edited := renamedAndDeparted(t)
	sqlite := demoReports(t, sqliteBackend(), edited)
	for _, b := range []backend{pgBackend(), stateBackend()} {
		other := demoReports(t, b, edited)
		for i, name := range []string{"dry run", "apply", "second run", "rename and departures: dry run", "rename and departures: apply", "rename and departures: run after"} {
			if sqlite[i] != other[i] {
				t.Errorf("%s: %s: the reports differ:\n%s", b.name, name, lineDiff(sqlite[i], other[i]))
			}
		}
	}
}

// renamedAndDeparted writes the demo directory after Jane Doe's UPN
// changed and Maria Garcia and John Smith left.
func renamedAndDeparted(t *testing.T) string {
	t.Helper()
	ldif, err := os.ReadFile("../../testdata/demo/directory.ldif")
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(ldif), "userPrincipalName: jane.doe@corp.example.com", "userPrincipalName: jane.smith@corp.example.com", 1)
	for _, dn := range []string{"CN=Maria Garcia,OU=Sales,OU=Staff,DC=corp,DC=example,DC=com", "CN=John Smith,OU=Staff,DC=corp,DC=example,DC=com"} {
		re := regexp.MustCompile(`(?ms)^dn: ` + regexp.QuoteMeta(dn) + `\n.*?\n\n`)
		if !re.MatchString(edited) {
			t.Fatalf("the demo directory has no %s", dn)
		}
		edited = re.ReplaceAllString(edited, "")
	}
	path := filepath.Join(t.TempDir(), "directory.ldif")
	if err := os.WriteFile(path, []byte(edited), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// lineDiff shows the lines of two reports that differ, with their line
// numbers.
func lineDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	var out []string
	for i := range max(len(al), len(bl)) {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			out = append(out, fmt.Sprintf("%d:\n  sqlite: %s\n  other:  %s", i+1, x, y))
		}
	}
	return strings.Join(out, "\n")
}
