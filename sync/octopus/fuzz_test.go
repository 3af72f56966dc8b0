package octopus

import (
	"bytes"
	"context"
	"encoding/csv"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	upnsync "github.com/upnsync/upnsync/sync"
)

// FuzzReadCSV feeds any bytes to the reader of `upnsync store import`: it
// never panics; it either accepts the file, with a unique, non-empty ID and
// clean UTF-8 text for every user, or refuses it with one line that starts
// with the file's name; and what it accepts imports into a store whose
// export reads back the same.
func FuzzReadCSV(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join(testdata, "*.csv"))
	more, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "bad", "csv", "*.csv"))
	for _, file := range append(files, more...) {
		if data, err := os.ReadFile(file); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte("ID\n1\n"))
	f.Add([]byte("\xef\xbb\xbfid,WINDOWSUSERNAME,active\r\n1,\"a;b\",no\r\n"))
	f.Add([]byte("ID,ID\n1,2\n"))
	f.Add([]byte("ID,Email\n\"1\n2\",x\n"))
	const name = "users.csv"
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		var users []upnsync.User
		seen := map[string]bool{}
		present, err := readCSV(bytes.NewReader(data), name, func(line int, u upnsync.User) error {
			if line < 2 {
				t.Fatalf("user %q on line %d, before the header ended", u.ID, line)
			}
			if u.ID == "" || u.ID != strings.TrimSpace(u.ID) || seen[u.ID] {
				t.Fatalf("ID %q: empty, untrimmed or twice", u.ID)
			}
			seen[u.ID] = true
			for _, v := range []string{u.ID, u.FirstName, u.LastName, u.Email, u.WindowsUsernames, u.ExternalID} {
				if !utf8.ValidString(v) || strings.IndexByte(v, 0) >= 0 {
					t.Fatalf("value %q is not clean text", v)
				}
			}
			users = append(users, u)
			return nil
		})
		if err != nil {
			msg := err.Error()
			if !strings.HasPrefix(msg, name+":") || strings.ContainsAny(msg, "\r\n") {
				t.Fatalf("error is not one line naming the file: %q", msg)
			}
			return
		}
		if !present[colID] {
			t.Fatal("accepted without an ID column")
		}
		// Through a real store: import, export, read back.
		path := filepath.Join(dir, "fuzz.db")
		os.Remove(path)
		st, err := Open(context.Background(), "sqlite:"+path, Options{Create: true})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		if _, err := st.ImportCSV(context.Background(), bytes.NewReader(data), name); err != nil {
			t.Fatalf("ReadCSV accepts the file, ImportCSV refuses it: %v", err)
		}
		var out bytes.Buffer
		if _, err := st.ExportCSV(context.Background(), csv.NewWriter(&out)); err != nil {
			t.Fatal(err)
		}
		back := map[string]upnsync.User{}
		if err := ReadCSV(&out, "export.csv", func(_ int, u upnsync.User) error { back[u.ID] = u; return nil }); err != nil {
			t.Fatalf("the export does not read back: %v\n%s", err, out.String())
		}
		if len(back) != len(users) {
			t.Fatalf("%d users read back, %d imported", len(back), len(users))
		}
		for _, a := range users {
			if b := back[a.ID]; a.FirstName != b.FirstName || a.LastName != b.LastName || a.Email != b.Email ||
				a.WindowsUsernames != b.WindowsUsernames || a.ExternalID != b.ExternalID || a.Active != b.Active {
				t.Fatalf("%+v read back as %+v", a, b)
			}
		}
	})
}

// FuzzOctopusExport feeds any bytes, as a .csv file, to the reader of a
// DataImporter store's --octopus-export: it never panics; it either
// refuses the file with one line that names it, or gives each user a
// unique, non-empty id (case-insensitively, as DataImporter compares them)
// and clean text, and a file cut before its last line break is refused.
func FuzzOctopusExport(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "bad", "export", "*.csv"))
	files = append(files, filepath.Join(testdata, "users.csv"), filepath.Join(testdata, "users-excel.csv"))
	for _, file := range files {
		if data, err := os.ReadFile(file); err == nil && len(data) < 64<<10 {
			f.Add(data)
		}
	}
	f.Add([]byte("First name;Surname;Windows username;Employee ID;Active\r\nJane;Doe;\"jdoe;CORP\\jdoe\";E1;Yes\r\n"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, "export.csv")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		ex, err := readExport(path)
		if err != nil {
			if msg := err.Error(); !strings.Contains(msg, path) || strings.ContainsAny(msg, "\r\n") {
				t.Fatalf("error is not one line naming the file: %q", msg)
			}
			return
		}
		seen := map[string]bool{}
		for _, u := range ex.users {
			id := strings.ToLower(u.ID)
			if u.ID == "" || seen[id] {
				t.Fatalf("user id %q: empty or twice", u.ID)
			}
			seen[id] = true
			for _, v := range []string{u.ID, u.FirstName, u.LastName, u.Email, u.WindowsUsernames, u.ExternalID, u.EmployeeID} {
				if !utf8.ValidString(v) || strings.IndexByte(v, 0) >= 0 {
					t.Fatalf("value %q is not clean text", v)
				}
			}
		}
		// Cut every line break after the last line (a file may end in
		// blank lines): what is left ends mid-line.
		cut := bytes.TrimRight(data, "\r\n")
		last := cut[bytes.LastIndexByte(cut, '\n')+1:]
		if len(cut) < len(data) && len(bytes.Trim(last, ",;\t \"\r\n")) > 0 {
			if err := os.WriteFile(path, cut, 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := readExport(path); err == nil {
				t.Fatalf("the export without its last line break was accepted")
			}
		}
	})
}
