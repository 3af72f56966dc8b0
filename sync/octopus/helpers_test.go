package octopus

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/csv"
	"os"
	"path/filepath"
	"testing"

	upnsync "github.com/upnsync/upnsync/sync"
)

const testdata = "../../testdata/octopus/"

// openT opens the SQLite store at path, failing the test on error.
func openT(t testing.TB, path string, opts Options) *sqliteStore {
	t.Helper()
	st, err := Open(context.Background(), "sqlite:"+path, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	s := st.(*sqliteStore)
	t.Cleanup(func() { s.Close() })
	return s
}

// newStore returns a store in a temporary folder filled from a testdata CSV
// file (none when file is "").
func newStore(t testing.TB, file string, opts Options) (*sqliteStore, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "octopus.db")
	opts.Create = true
	s := openT(t, path, opts)
	if file != "" {
		importFileT(t, s, file)
	}
	return s, path
}

func importFileT(t testing.TB, s *sqliteStore, file string) ImportResult {
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

func usersT(t testing.TB, s *sqliteStore) []upnsync.User {
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

func userT(t testing.TB, s *sqliteStore, id string) upnsync.User {
	t.Helper()
	for _, u := range usersT(t, s) {
		if u.ID == id {
			return u
		}
	}
	t.Fatalf("user %s not found", id)
	return upnsync.User{}
}

// rawT opens a second, independent connection to the file, as another
// process (or an administrator with sqlite3) would.
func rawT(t testing.TB, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func execT(t testing.TB, db *sql.DB, q string, args ...any) {
	t.Helper()
	if _, err := db.Exec(q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func hashT(t testing.TB, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

func exportT(t testing.TB, s *sqliteStore) []byte {
	t.Helper()
	var buf bytes.Buffer
	if _, err := s.ExportCSV(context.Background(), csv.NewWriter(&buf)); err != nil {
		t.Fatalf("ExportCSV: %v", err)
	}
	return buf.Bytes()
}
