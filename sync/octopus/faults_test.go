package octopus

import (
	"context"
	"fmt"
	"strings"
	"testing"

	upnsync "github.com/upnsync/upnsync/sync"
)

// bigStore is a store of n users (IDs u0001...), for faults that need
// several batches.
func bigStore(t *testing.T, n int, opts Options) (*sqliteStore, string) {
	t.Helper()
	s, path := newStore(t, "", opts)
	var csv strings.Builder
	csv.WriteString("ID,FirstName,LastName,WindowsUsername\n")
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&csv, "u%04d,User,Number %d,user%d\n", i, i, i)
	}
	if _, err := s.ImportCSV(context.Background(), strings.NewReader(csv.String()), "big.csv"); err != nil {
		t.Fatal(err)
	}
	return s, path
}

func pragmaInt(t *testing.T, s *sqliteStore, name string) int64 {
	t.Helper()
	var n int64
	if err := s.db.QueryRow(`PRAGMA ` + name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// The disk fills up during batch 2 (SQLite's max_page_count on the
// store's connection keeps the file from growing; free pages inside it
// hold about 60% of what the apply needs): SQLITE_FULL is named as a full
// disk, batch 2 is rolled back whole, batch 1 stays and is journaled; with
// room again, the rest is written.
func TestApplyDiskFull(t *testing.T) {
	const n = 1200
	// How many pages the apply needs, on a store of its own.
	calib, _ := bigStore(t, n, Options{BatchSize: 500})
	before := pragmaInt(t, calib, "page_count")
	if _, err := calib.Apply(context.Background(), upnsync.Run{ID: "calibration"}, upnsync.ChangesOf(planAll(t, calib)...)); err != nil {
		t.Fatal(err)
	}
	need := pragmaInt(t, calib, "page_count") - before

	s, path := bigStore(t, n, Options{BatchSize: 500})
	changes := planAll(t, s)
	pageSize := pragmaInt(t, s, "page_size")
	for _, q := range []string{
		`CREATE TABLE filler (x BLOB)`,
		fmt.Sprintf(`WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < %d) INSERT INTO filler SELECT zeroblob(%d) FROM k`, need*6/10, pageSize-200),
		`DROP TABLE filler`,
		fmt.Sprintf(`PRAGMA max_page_count = %d`, pragmaInt(t, s, "page_count")),
	} {
		if _, err := s.db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}

	a, err := s.Apply(context.Background(), upnsync.Run{ID: "r1"}, upnsync.ChangesOf(changes...))
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		"the disk is full; free some space and retry",
		"apply stopped in batch 2 of 3 (changes 501 to 1000)",
		"that batch was rolled back; 500 users written before it stay written (run r1)",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if len(a.Written) != 500 || a.Written[0] != "u0001" || a.Written[499] != "u0500" {
		t.Fatalf("written %d: %v...", len(a.Written), a.Written[:min(3, len(a.Written))])
	}
	raw := rawT(t, path)
	var journal, first, last, owned, changed int
	raw.QueryRow(`SELECT count(*), min(CAST(substr(user_id, 2) AS INTEGER)), max(CAST(substr(user_id, 2) AS INTEGER)) FROM upnsync_journal WHERE run_id = 'r1'`).Scan(&journal, &first, &last)
	raw.QueryRow(`SELECT count(*) FROM upnsync_owned`).Scan(&owned)
	raw.QueryRow(`SELECT count(*) FROM users WHERE windows_usernames LIKE '%@corp.example.com'`).Scan(&changed)
	if journal != 500 || first != 1 || last != 500 || owned != 500 || changed != 500 {
		t.Fatalf("journal %d rows (users %d to %d), owned %d, users changed %d; want 500 each, users 1 to 500", journal, first, last, owned, changed)
	}

	if _, err := s.db.Exec(`PRAGMA max_page_count = 4294967294`); err != nil {
		t.Fatal(err)
	}
	var rest []upnsync.Change
	for _, c := range planAll(t, s) {
		if !strings.HasSuffix(c.Before, "@corp.example.com") {
			rest = append(rest, c)
		}
	}
	a, err = s.Apply(context.Background(), upnsync.Run{ID: "r2"}, upnsync.ChangesOf(rest...))
	if err != nil || len(a.Written) != 700 {
		t.Fatalf("with room again: %d written, %v", len(a.Written), err)
	}
}
