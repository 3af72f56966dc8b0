package octopus

import (
	"bytes"
	"context"
	"encoding/csv"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	upnsync "github.com/upnsync/upnsync/sync"
)

func readAllCSV(t *testing.T, data, name string) ([]upnsync.User, []int, error) {
	t.Helper()
	var us []upnsync.User
	var lines []int
	err := ReadCSV(strings.NewReader(data), name, func(line int, u upnsync.User) error {
		us = append(us, u)
		lines = append(lines, line)
		return nil
	})
	return us, lines, err
}

func TestReadCSVQuoting(t *testing.T) {
	data := "ID,FirstName,LastName,Email,WindowsUsername,ExternalIdentifier,Active\n" +
		`7,"Robert ""Bob""","Smith, Jr.",bob@corp.example.com,"bsmith;CORP\bsmith;x,y",` + "g1,\n" +
		"8,\"multi\nline\",B,,,,No\n" +
		"9,A,B,,,,1\n"
	us, lines, err := readAllCSV(t, data, "q.csv")
	if err != nil {
		t.Fatal(err)
	}
	want := []upnsync.User{
		{ID: "7", FirstName: `Robert "Bob"`, LastName: "Smith, Jr.", Email: "bob@corp.example.com",
			WindowsUsernames: `bsmith;CORP\bsmith;x,y`, ExternalID: "g1", Active: true},
		{ID: "8", FirstName: "multi\nline", LastName: "B", Active: false},
		{ID: "9", FirstName: "A", LastName: "B", Active: true},
	}
	if !reflect.DeepEqual(us, want) {
		t.Errorf("users:\n got %+v\nwant %+v", us, want)
	}
	if !reflect.DeepEqual(lines, []int{2, 3, 5}) {
		t.Errorf("lines = %v, want [2 3 5]", lines)
	}
}

// The Excel-flavoured file (BOM, CRLF, shuffled columns and rows, header
// in odd letter case, Active as yes/no/1/0/empty) holds the same users as
// the canonical one.
func TestReadCSVExcelFlavour(t *testing.T) {
	read := func(file string) map[string]upnsync.User {
		f, err := os.Open(testdata + file)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		m := map[string]upnsync.User{}
		if err := ReadCSV(f, file, func(_ int, u upnsync.User) error { m[u.ID] = u; return nil }); err != nil {
			t.Fatal(err)
		}
		return m
	}
	canon, excel := read("users.csv"), read("users-excel.csv")
	if len(canon) != 12 {
		t.Fatalf("users.csv: %d users, want 12", len(canon))
	}
	if !reflect.DeepEqual(canon, excel) {
		t.Errorf("users-excel.csv differs from users.csv:\n%v\n%v", excel, canon)
	}
	// As a French Windows writes them: Excel's "CSV UTF-8 (délimité par
	// des points-virgules)" (BOM, ';', CRLF, Active as VRAI/FAUX/Oui/Non),
	// and PowerShell 5's Export-Csv -Encoding Unicode -UseCulture (UTF-16
	// LE with a BOM, #TYPE line, every value quoted, ';').
	for _, f := range []string{"users-excel-fr.csv", "users-ps5-unicode.csv"} {
		if got := read(f); !reflect.DeepEqual(canon, got) {
			t.Errorf("%s differs from users.csv:\n%v\n%v", f, got, canon)
		}
	}
	if u := canon["1012"]; u.WindowsUsernames != "amgagnon;Gagnon, Anne-Marie" {
		t.Errorf("1012 WindowsUsernames = %q", u.WindowsUsernames)
	}
	if canon["1005"].Active || canon["1011"].Active || !canon["1004"].Active {
		t.Errorf("Active wrong: 1005 %v 1011 %v 1004 %v", canon["1005"].Active, canon["1011"].Active, canon["1004"].Active)
	}
}

func TestReadCSVErrors(t *testing.T) {
	const hdr = "ID,FirstName,LastName,Email,WindowsUsername,ExternalIdentifier,Active\n"
	cols := "ID,FirstName,LastName,Email,WindowsUsername,ExternalIdentifier,Active"
	tests := []struct {
		name, data, want string
	}{
		{"empty", "", "f.csv: the file is empty; its first line must be the header " + cols},
		{"bom only", "\xEF\xBB\xBF", "f.csv: the file is empty; its first line must be the header " + cols},
		{"missing header", "1001,Jane,Doe,jane@x,jdoe,,true\n",
			"f.csv:1: the first line is not a header; add the header line " + cols + " (any order, any letter case)"},
		{"unknown column", "ID,FirstName,Department\n1,a,b\n",
			`f.csv:1: unknown column "Department"; the columns are ` + cols},
		{"empty column name", "ID,FirstName,\n1,a,\n",
			"f.csv:1: column 3 of the header has no name (a trailing separator?); the columns are " + cols},
		{"duplicate column", "ID,Email,FirstName,email\n1,a,b,c\n",
			"f.csv:1: column Email appears twice (columns 2 and 4); keep one"},
		{"no ID column", "FirstName,LastName\na,b\n",
			"f.csv:1: the header has no ID column; every user needs one"},
		{"duplicate ID", hdr + "1,a,b,,,,\n2,c,d,,,,\n 1 ,e,f,,,,\n",
			`f.csv:4: ID "1" is also on line 2; each ID must appear once`},
		{"empty ID", hdr + "1,a,b,,,,\n  ,c,d,,,,\n",
			"f.csv:3: ID is empty; every user needs a unique ID"},
		{"bad Active", hdr + "1,a,b,,,,maybe\n",
			`f.csv:2: Active must be true/false, yes/no, oui/non, vrai/faux or 1/0, or empty (meaning true), not "maybe"`},
		{"invalid UTF-8", hdr + "1,a,b,,,,\n2,J\xE9r\xF4me,b,,,,\n",
			`f.csv:3: column FirstName is not valid UTF-8: the file is probably saved as ANSI; save it as "CSV UTF-8" (Excel: Save As, CSV UTF-8), or export it again in UTF-8 (PowerShell: Export-Csv -Encoding UTF8; csvde: -u, which writes UTF-16)`},
		{"invalid UTF-8 in a later line of a multi-line value", hdr + "1,\"a\nb\xff\",b,,,,\n",
			`f.csv:2: column FirstName is not valid UTF-8: the file is probably saved as ANSI; save it as "CSV UTF-8" (Excel: Save As, CSV UTF-8), or export it again in UTF-8 (PowerShell: Export-Csv -Encoding UTF8; csvde: -u, which writes UTF-16)`},
		{"NUL byte", hdr + "1,a,b,x\x00y,,,\n",
			`f.csv:2: column Email contains a NUL byte: this is not a text file, or a UTF-16 file without its byte order mark; save it as "CSV UTF-8"`},
		{"field count", hdr + "1,a,b,,,,\n2,Smith, Jr.,b,,,,\n",
			"f.csv:3: this line has a different number of values than the header's 7 columns: put values that contain a comma in double quotes"},
		{"bare quote", hdr + "1,Robert \"Bob\",b,,,,\n",
			"f.csv:2: column 10: a double quote inside a value that does not start with one: put the whole value in double quotes and double each quote inside it (\"\")"},
		{"unclosed quote", hdr + "1,\"Robert,b,,,,\n2,a,b,,,,\n",
			"f.csv:2: a quoted value starting on this line is not closed properly (seen up to line 3): close it with a double quote and double each quote inside it (\"\")"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := readAllCSV(t, tt.data, "f.csv")
			if err == nil {
				t.Fatalf("no error, want %q", tt.want)
			}
			if err.Error() != tt.want {
				t.Errorf("error:\n got %q\nwant %q", err, tt.want)
			}
		})
	}
}

func TestReadCSVFewColumns(t *testing.T) {
	us, _, err := readAllCSV(t, "id , EMAIL\r\n 42 ,a@b\r\n", "f.csv")
	if err != nil {
		t.Fatal(err)
	}
	want := []upnsync.User{{ID: "42", Email: "a@b", Active: true}}
	if !reflect.DeepEqual(us, want) {
		t.Errorf("got %+v, want %+v", us, want)
	}
}

func TestImportGood(t *testing.T) {
	s, _ := newStore(t, "", Options{})
	res := importFileT(t, s, "users.csv")
	if want := (ImportResult{Read: 12, Created: 12}); res != want {
		t.Errorf("result = %+v, want %+v", res, want)
	}
	us := usersT(t, s)
	if len(us) != 12 || us[0].ID != "1001" || us[11].ID != "1012" {
		t.Fatalf("users: %d, first %s", len(us), us[0].ID)
	}
	u := userT(t, s, "1004")
	want := upnsync.User{ID: "1004", FirstName: `Kathleen "Kate"`, LastName: "O'Brien", Email: "kate.obrien@corp.example.com",
		WindowsUsernames: "kobrien", ExternalID: "6ec0bd7f-11c0-43da-975e-2a8ad9ebae0b", Active: true}
	if !reflect.DeepEqual(u, want) {
		t.Errorf("1004:\n got %+v\nwant %+v", u, want)
	}
	if u := userT(t, s, "1005"); u.Active || u.WindowsUsernames != "" || u.ExternalID != "" {
		t.Errorf("1005 = %+v", u)
	}
	// Importing the same file again changes nothing.
	res = importFileT(t, s, "users.csv")
	if want := (ImportResult{Read: 12, Unchanged: 12}); res != want {
		t.Errorf("second import = %+v, want %+v", res, want)
	}
}

func TestImportUpsert(t *testing.T) {
	s, _ := newStore(t, "users.csv", Options{})
	before := userT(t, s, "1005")
	res := importFileT(t, s, "users-update.csv")
	if want := (ImportResult{Read: 4, Created: 1, Updated: 2, Unchanged: 1}); res != want {
		t.Errorf("result = %+v, want %+v", res, want)
	}
	// The file has no WindowsUsername or ExternalIdentifier column: those
	// fields of existing users are left as they were.
	u := userT(t, s, "1005")
	if !u.Active || u.WindowsUsernames != before.WindowsUsernames {
		t.Errorf("1005 = %+v", u)
	}
	if u := userT(t, s, "1010"); u.Email != "sofia.rossi@corp.example.com" || u.WindowsUsernames != "srossi" {
		t.Errorf("1010 = %+v", u)
	}
	want := upnsync.User{ID: "1013", FirstName: "Chloé", LastName: "Roy", Email: "chloe.roy@corp.example.com", Active: true}
	if u := userT(t, s, "1013"); !reflect.DeepEqual(u, want) {
		t.Errorf("1013 = %+v, want %+v", u, want)
	}
	if n := len(usersT(t, s)); n != 13 {
		t.Errorf("%d users, want 13", n)
	}
}

// A bad line anywhere leaves the store exactly as it was.
func TestImportAllOrNothing(t *testing.T) {
	s, path := newStore(t, "users.csv", Options{})
	s.Close()
	sum := hashT(t, path)
	s = openT(t, path, Options{})
	data := "ID,Email\n1001,changed@corp.example.com\n2000,new@corp.example.com\n1002,x\x00\n"
	_, err := s.ImportCSV(context.Background(), strings.NewReader(data), "bad.csv")
	if err == nil || !strings.HasPrefix(err.Error(), "bad.csv:4: column Email contains a NUL byte") {
		t.Fatalf("err = %v", err)
	}
	s.Close()
	if hashT(t, path) != sum {
		t.Error("a failed import changed the store file")
	}

	// A store that did not exist is not created by a failed import.
	newPath := filepath.Join(t.TempDir(), "new.db")
	s = openT(t, newPath, Options{Create: true})
	if _, err := s.ImportCSV(context.Background(), strings.NewReader(data), "bad.csv"); err == nil {
		t.Fatal("no error")
	}
	if _, err := os.Stat(newPath); !os.IsNotExist(err) {
		t.Errorf("failed import left %s behind (%v)", newPath, err)
	}
}

// Export of an imported canonical file gives it back byte for byte, and
// the Excel flavour of the same users exports to the canonical file.
func TestExportRoundTrip(t *testing.T) {
	canon, err := os.ReadFile(testdata + "users.csv")
	if err != nil {
		t.Fatal(err)
	}
	for _, file := range []string{"users.csv", "users-excel.csv"} {
		t.Run(file, func(t *testing.T) {
			s, _ := newStore(t, file, Options{})
			got := exportT(t, s)
			if !bytes.Equal(got, canon) {
				t.Errorf("export differs from users.csv:\n%s", got)
			}
		})
	}
}

func TestExportEmptyStore(t *testing.T) {
	s := openT(t, filepath.Join(t.TempDir(), "none.db"), Options{Create: true})
	var buf bytes.Buffer
	n, err := s.ExportCSV(context.Background(), csv.NewWriter(&buf))
	if err != nil || n != 0 {
		t.Fatalf("n=%d err=%v", n, err)
	}
	if got, want := buf.String(), strings.Join(Columns, ",")+"\n"; got != want {
		t.Errorf("export = %q, want %q", got, want)
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, os.ErrPermission }

func TestExportWriteError(t *testing.T) {
	s, _ := newStore(t, "users.csv", Options{})
	_, err := s.ExportCSV(context.Background(), csv.NewWriter(failWriter{}))
	if err == nil || !strings.Contains(err.Error(), "cannot write the export") {
		t.Errorf("err = %v", err)
	}
}

// A users file takes the spellings an Octopus export takes
// (--octopus-export): the mapping file's EMailAddress, DataImporter's
// Surname, headings with spaces; what is none of them is still refused.
func TestReadCSVHeaderSpellings(t *testing.T) {
	data := "Id;First name;Surname;EMailAddress;Windows usernames;External identifier;Active\r\n" +
		"7;Hélène;Dupré;helene.dupre@corp.example.com;CORP\\hdupre;;Oui\r\n"
	us, _, err := readAllCSV(t, data, "fr.csv")
	want := []upnsync.User{{ID: "7", FirstName: "Hélène", LastName: "Dupré", Email: "helene.dupre@corp.example.com",
		WindowsUsernames: `CORP\hdupre`, Active: true}}
	if err != nil || !reflect.DeepEqual(us, want) {
		t.Fatalf("err %v\n got %+v\nwant %+v", err, us, want)
	}
	if _, _, err := readAllCSV(t, "ID,Courriel\n1,a@b\n", "x.csv"); err == nil || !strings.Contains(err.Error(), `x.csv:1: unknown column "Courriel"`) {
		t.Fatalf("an unknown column: %v", err)
	}
	if _, _, err := readAllCSV(t, "ID,Email,E-mail address\n1,a@b,c@d\n", "x.csv"); err == nil || !strings.Contains(err.Error(), "appears twice") {
		t.Fatalf("Email twice: %v", err)
	}
}
