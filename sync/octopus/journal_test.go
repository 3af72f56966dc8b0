package octopus

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	upnsync "github.com/upnsync/upnsync/sync"
)

type journalStore interface {
	upnsync.Store
	upnsync.Journal
}

func runsT(t *testing.T, j upnsync.Journal) []upnsync.RunInfo {
	t.Helper()
	var out []upnsync.RunInfo
	if err := j.Runs(context.Background(), func(r upnsync.RunInfo) error { out = append(out, r); return nil }); err != nil {
		t.Fatalf("Runs: %v", err)
	}
	return out
}

// undoT reverses a run through the store's own Apply, as `upnsync undo`
// does: each journal entry's inverse, a compare-and-swap on its after value.
func undoT(t *testing.T, s journalStore, runID, undoID string) upnsync.Applied {
	t.Helper()
	var inverse []upnsync.Change
	if _, err := s.RunJournal(context.Background(), runID, func(e upnsync.JournalEntry) error {
		inverse = append(inverse, e.Inverse())
		return nil
	}); err != nil {
		t.Fatalf("RunJournal(%s): %v", runID, err)
	}
	a, err := s.Apply(context.Background(), upnsync.Run{ID: undoID, Kind: upnsync.RunUndo, Undoes: runID}, upnsync.ChangesOf(inverse...))
	if err != nil {
		t.Fatalf("undo: %v", err)
	}
	return a
}

func ownedOf(t *testing.T, s upnsync.Store, id string) []upnsync.Owned {
	t.Helper()
	var out []upnsync.Owned
	found := false
	s.Users(context.Background(), func(u upnsync.User) error {
		if u.ID == id {
			out, found = u.Owned, true
		}
		return nil
	})
	if !found {
		t.Fatalf("user %s not found", id)
	}
	return out
}

func valueOf(t *testing.T, s upnsync.Store, id string) string {
	t.Helper()
	var v string
	s.Users(context.Background(), func(u upnsync.User) error {
		if u.ID == id {
			v = u.WindowsUsernames
		}
		return nil
	})
	return v
}

// journalContract is what `upnsync runs` and `upnsync undo` need of any
// store: run listing newest first, and a journal whose inverse restores
// the exact bytes and the provenance, skipping users edited since.
func journalContract(t *testing.T, s journalStore) {
	ctx := context.Background()
	const g1, g2, g3 = "11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222", "33333333-3333-4333-8333-333333333333"
	// Odd bytes on purpose: spaces, an empty entry, a trailing ";".
	before1 := " jdoe ;;CORP\\jdoe; "
	if a, err := s.Apply(ctx, upnsync.Run{ID: "typed", Started: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)},
		upnsync.ChangesOf(upnsync.Change{UserID: "1001", Before: valueOf(t, s, "1001"), After: before1})); err != nil || len(a.Written) != 1 {
		t.Fatalf("setup: %+v %v", a, err)
	}
	r1 := []upnsync.Change{
		{UserID: "1001", Before: before1, After: before1 + ";jane.old@corp.example.com", Added: []string{"jane.old@corp.example.com"}, Person: upnsync.Person{GUID: g1}},
		{UserID: "1003", Before: valueOf(t, s, "1003"), After: valueOf(t, s, "1003") + ";bob@corp.example.com", Added: []string{"bob@corp.example.com"}, Person: upnsync.Person{GUID: g2}},
		{UserID: "1004", Before: valueOf(t, s, "1004"), After: valueOf(t, s, "1004") + ";gone@corp.example.com", Added: []string{"gone@corp.example.com"}, Person: upnsync.Person{GUID: g3}},
	}
	if a, err := s.Apply(ctx, upnsync.Run{ID: "r1", Started: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Host: "h", User: "u", Command: "upnsync sync --apply"}, upnsync.ChangesOf(r1...)); err != nil || len(a.Written) != 3 {
		t.Fatalf("r1: %+v %v", a, err)
	}
	// r2: a rename, a departure's removal.
	r2 := []upnsync.Change{
		{UserID: "1001", Before: r1[0].After, After: before1 + ";jane.new@corp.example.com",
			Replaced: []upnsync.Replacement{{Old: "jane.old@corp.example.com", New: "jane.new@corp.example.com"}}, Person: upnsync.Person{GUID: g1}},
		{UserID: "1004", Before: r1[2].After, After: r1[2].Before, Removed: []string{"gone@corp.example.com"},
			Person: upnsync.Person{GUID: g3}, Departed: upnsync.DepartedDeleted},
	}
	if a, err := s.Apply(ctx, upnsync.Run{ID: "r2", Started: time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC), Forced: []string{"too many", "and more"},
		Kind: upnsync.RunPlan, PlanSHA256: "5e1f"}, upnsync.ChangesOf(r2...)); err != nil || len(a.Written) != 2 {
		t.Fatalf("r2: %+v %v", a, err)
	}
	if o := ownedOf(t, s, "1004"); len(o) != 0 {
		t.Fatalf("removal left provenance: %+v", o)
	}
	runs := runsT(t, s)
	if len(runs) != 3 || runs[0].ID != "r2" || runs[1].ID != "r1" || runs[1].Written != 3 || runs[1].Kind != upnsync.RunSync ||
		runs[1].Host != "h" || runs[1].User != "u" || runs[1].Command != "upnsync sync --apply" || runs[1].Forced != nil ||
		!reflect.DeepEqual(runs[0].Forced, []string{"too many", "and more"}) || runs[0].Kind != upnsync.RunPlan || runs[0].PlanSHA256 != "5e1f" ||
		runs[1].Finished.IsZero() || !runs[1].Started.Equal(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("runs = %+v", runs)
	}

	// Someone edits user 1003 after r1.
	edited := r1[1].After + ";typed"
	if a, err := s.Apply(ctx, upnsync.Run{ID: "manual-edit"}, upnsync.ChangesOf(upnsync.Change{UserID: "1003", Before: r1[1].After, After: edited})); err != nil || len(a.Written) != 1 {
		t.Fatalf("edit: %+v %v", a, err)
	}

	// Undo r2: the rename and the removal are reversed, provenance too.
	a := undoT(t, s, "r2", "u2")
	if len(a.Written) != 2 || len(a.Stale) != 0 {
		t.Fatalf("undo r2: %+v", a)
	}
	if v := valueOf(t, s, "1001"); v != r1[0].After {
		t.Fatalf("1001 = %q, want the exact bytes %q", v, r1[0].After)
	}
	if v := valueOf(t, s, "1004"); v != r1[2].After {
		t.Fatalf("1004 = %q, want %q", v, r1[2].After)
	}
	if o := ownedOf(t, s, "1001"); !reflect.DeepEqual(o, []upnsync.Owned{{Entry: "jane.old@corp.example.com", GUID: g1}}) {
		t.Fatalf("1001 owned after undo: %+v", o)
	}
	if o := ownedOf(t, s, "1004"); !reflect.DeepEqual(o, []upnsync.Owned{{Entry: "gone@corp.example.com", GUID: g3}}) {
		t.Fatalf("1004 owned after undo: %+v", o)
	}

	// Undo r1: 1003 was edited since, so it is skipped and reported; the
	// others get their exact bytes back.
	a = undoT(t, s, "r1", "u1")
	if len(a.Written) != 2 || len(a.Stale) != 1 || a.Stale[0].UserID != "1003" || a.Stale[0].Found != edited {
		t.Fatalf("undo r1: %+v", a)
	}
	if v := valueOf(t, s, "1001"); v != before1 {
		t.Fatalf("1001 = %q, want %q", v, before1)
	}
	if o := ownedOf(t, s, "1001"); len(o) != 0 {
		t.Fatalf("1001 owned after undoing everything: %+v", o)
	}
	if v := valueOf(t, s, "1003"); v != edited {
		t.Fatalf("the edited user was overwritten: %q", v)
	}
	runs = runsT(t, s)
	var undone []string
	for _, r := range runs {
		if r.ID == "r1" {
			undone = r.UndoneBy
		}
		if r.ID == "u1" && (r.Kind != upnsync.RunUndo || r.Undoes != "r1" || r.Stale != 1) {
			t.Errorf("undo run = %+v", r)
		}
	}
	if !reflect.DeepEqual(undone, []string{"u1"}) {
		t.Errorf("r1 undone by %q", undone)
	}
	if _, err := s.RunJournal(ctx, "nope", func(upnsync.JournalEntry) error { return nil }); err == nil || !strings.Contains(err.Error(), "run nope: no such run") {
		t.Errorf("unknown run: %v", err)
	}
}

// A read-only open of a missing state database is an empty record, and
// opening one for writing creates nothing until a run records something.
func TestStateDBOpensWithoutWriting(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "none.db")
	for _, ro := range []bool{true, false} {
		st, err := OpenState(ctx, path, ro)
		if err != nil {
			t.Fatal(err)
		}
		if owned, err := st.Owned(ctx); err != nil || len(owned) != 0 {
			t.Fatalf("empty state: %v %v", owned, err)
		}
		if runs := runsT(t, st); len(runs) != 0 {
			t.Fatalf("runs of an empty state: %+v", runs)
		}
		err = st.BeginRun(ctx, upnsync.Run{ID: "x"})
		if ro && (err == nil || !strings.Contains(err.Error(), "opened read-only (dry run); nothing was written")) {
			t.Fatalf("write to a read-only state: %v", err)
		}
		if _, serr := os.Stat(path); ro != os.IsNotExist(serr) {
			t.Fatalf("read-only %v: the file exists = %v after BeginRun (%v)", ro, serr == nil, err)
		}
		st.Close()
	}
	if _, err := OpenState(ctx, filepath.Join(t.TempDir(), "missing", "s.db"), false); err == nil || !strings.Contains(err.Error(), "does not exist; create it or give --state another path") {
		t.Fatalf("missing folder: %v", err)
	}
}

func TestStateOf(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		url, state string
		want       State
		err        string
	}{
		{url: "sqlite:" + filepath.Join(dir, "o.db"), want: State{Path: filepath.Join(dir, "o.db"), Own: true}},
		{url: "sqlite:" + filepath.Join(dir, "o.db"), state: "x.db", err: "--state is for stores without tables of their own"},
		{url: "dataimporter:" + filepath.Join(dir, "out.xlsx"), want: State{Path: filepath.Join(dir, "out.xlsx.upnsync-state.db")}},
		{url: "dataimporter:" + filepath.Join(dir, "out.xlsx"), state: filepath.Join(dir, "s.db"), want: State{Path: filepath.Join(dir, "s.db")}},
		{url: "postgres://u@db/octopus", want: State{Own: true, InDatabase: true}},
		{url: "postgres://u:secret@db/octopus", state: "x.db", err: "takes its run lock there; --state is for stores without tables of their own"},
	}
	for _, tt := range tests {
		got, err := StateOf(tt.url, tt.state)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("StateOf(%s, %s) = %v, want error %q", tt.url, tt.state, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("StateOf(%s, %s) = %+v %v, want %+v", tt.url, tt.state, got, err, tt.want)
		}
	}
	if (State{Path: "/x/o.db"}).LockPath() != "/x/o.db.lock" || (State{Own: true, InDatabase: true}).LockPath() != "" {
		t.Error("LockPath")
	}
	if _, err := StateOf("postgres://u:secret@db/octopus", "x.db"); err == nil || strings.Contains(err.Error(), "secret") {
		t.Errorf("the password in an error: %v", err)
	}
}

// A store written by the previous version (ledger version 1) is read as it
// is by a dry run and upgraded by the first write, keeping its runs.
func TestLedgerUpgradeFromVersion1(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v1.db")
	raw := rawT(t, path)
	for _, q := range []string{
		usersSchema,
		`CREATE TABLE upnsync_owned (user_id TEXT NOT NULL, entry TEXT NOT NULL COLLATE NOCASE, guid TEXT NOT NULL DEFAULT '', run_id TEXT, added_at TEXT, PRIMARY KEY (user_id, entry)) WITHOUT ROWID`,
		`CREATE TABLE upnsync_runs (id TEXT PRIMARY KEY, started TEXT, finished TEXT, directory TEXT, written INTEGER NOT NULL DEFAULT 0, stale INTEGER NOT NULL DEFAULT 0)`,
		`CREATE TABLE upnsync_journal (run_id TEXT NOT NULL, seq INTEGER NOT NULL, user_id TEXT NOT NULL, "before" TEXT NOT NULL, "after" TEXT NOT NULL, PRIMARY KEY (run_id, seq))`,
		`CREATE TABLE upnsync_meta (key TEXT PRIMARY KEY, value TEXT)`,
		`INSERT INTO upnsync_meta VALUES ('schema_version', '1')`,
		`INSERT INTO users(id, windows_usernames) VALUES ('1', 'a;a@x')`,
		`INSERT INTO upnsync_owned VALUES ('1', 'a@x', 'g', 'old', '2025-01-01T00:00:00Z')`,
		`INSERT INTO upnsync_runs VALUES ('old', '2025-01-01T00:00:00Z', '2025-01-01T00:00:01Z', 'ldif:x', 1, 0)`,
		`INSERT INTO upnsync_journal VALUES ('old', 1, '1', 'a', 'a;a@x')`,
	} {
		execT(t, raw, q)
	}
	raw.Close()
	before := hashT(t, path)
	ro := openT(t, path, Options{ReadOnly: true})
	runs := runsT(t, ro)
	if len(runs) != 1 || runs[0].ID != "old" || runs[0].Kind != upnsync.RunSync {
		t.Fatalf("v1 runs = %+v", runs)
	}
	var entries []upnsync.JournalEntry
	if _, err := ro.RunJournal(context.Background(), "old", func(e upnsync.JournalEntry) error { entries = append(entries, e); return nil }); err != nil || len(entries) != 1 || entries[0].After != "a;a@x" {
		t.Fatalf("v1 journal: %+v %v", entries, err)
	}
	ro.Close()
	if hashT(t, path) != before {
		t.Fatal("reading a version 1 store changed it")
	}
	rw := openT(t, path, Options{})
	if _, err := rw.Apply(context.Background(), upnsync.Run{ID: "new", Kind: upnsync.RunUndo, Undoes: "old"},
		upnsync.ChangesOf(upnsync.Change{UserID: "1", Before: "a;a@x", After: "a", Removed: []string{"a@x"}})); err != nil {
		t.Fatal(err)
	}
	runs = runsT(t, rw)
	if len(runs) != 2 || runs[1].ID != "old" || !reflect.DeepEqual(runs[1].UndoneBy, []string{"new"}) {
		t.Fatalf("after upgrade: %+v", runs)
	}
	var v string
	rawT(t, path).QueryRow(`SELECT value FROM upnsync_meta WHERE key = 'schema_version'`).Scan(&v)
	if v != "2" {
		t.Fatalf("schema_version = %s", v)
	}
}

// The journal's lists are what json.Marshal writes, plain strings or not.
func TestJSONListMatchesMarshal(t *testing.T) {
	for _, list := range [][]string{{"a@x.example"}, {"a@x", "b@y"}, {`q"uote`}, {`back\slash`}, {"R&D <x>"}, {"tab\t"},
		{"Zoë@x"}, {"\x7f"}, {""}, {"a", ""}, {"bad\xff"}} {
		want, err := json.Marshal(list)
		if err != nil {
			t.Fatal(err)
		}
		if got := jsonList(list); got != string(want) {
			t.Errorf("jsonList(%q) = %s, want %s", list, got, want)
		}
	}
	if jsonList([]string(nil)) != "" || jsonList([]upnsync.Replacement{{Old: "a", New: "b"}}) != `[{"old":"a","new":"b"}]` {
		t.Error("empty lists or replacements")
	}
}
