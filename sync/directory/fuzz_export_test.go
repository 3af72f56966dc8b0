package directory

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/xuri/excelize/v2"

	upnsync "github.com/upnsync/upnsync/sync"
)

// checkExportRead reads an export at path and checks what every reader of
// a file owes: no panic; each person's text valid UTF-8 without NUL; a
// GUID canonical or empty; Entries counting what was delivered; either a
// complete read without error, or an incomplete one whose error names the
// file (one line, no bare EOF).
func checkExportRead(t *testing.T, d upnsync.Directory, path string) (upnsync.ReadResult, error) {
	t.Helper()
	n := 0
	res, err := d.Read(context.Background(), func(p upnsync.Person) error {
		n++
		for _, v := range []string{p.UPN, p.SAMAccountName, p.GivenName, p.Surname, p.Mail, p.DN, p.Domain, p.DNSDomain} {
			if !utf8.ValidString(v) || strings.IndexByte(v, 0) >= 0 {
				t.Errorf("person %d has a value that is not text: %q", n, v)
			}
		}
		if p.GUID != "" {
			if _, gerr := GUIDBytes(p.GUID); gerr != nil || len(p.GUID) != 36 {
				t.Errorf("GUID %q", p.GUID)
			}
		}
		return nil
	})
	if res.Entries != n {
		t.Errorf("Entries %d, delivered %d", res.Entries, n)
	}
	if err == nil {
		if !res.Complete || res.Why != "" {
			t.Errorf("no error but result %+v", res)
		}
		return res, nil
	}
	msg := err.Error()
	if res.Complete || res.Why != msg {
		t.Errorf("error %v but result %+v", err, res)
	}
	if !strings.Contains(msg, path) || strings.ContainsAny(msg, "\r\n") || strings.HasSuffix(msg, "EOF") {
		t.Errorf("error does not name the file in one line: %q", msg)
	}
	return res, err
}

// FuzzCSVExport feeds arbitrary files to the CSV export reader (Get-ADUser,
// Get-MgUser, Entra downloads): the contract of checkExportRead, and a
// complete export that loses its last line break is never read as complete.
func FuzzCSVExport(f *testing.F) {
	for _, s := range []string{"../../testdata/exports/entra-download-users.csv", "../../testdata/exports/get-aduser-ps5-utf16le.csv"} {
		if b, err := os.ReadFile(s); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("#TYPE Microsoft.ActiveDirectory.Management.ADUser\r\n\"UserPrincipalName\",\"ObjectGUID\",\"Enabled\"\r\n\"a@corp\",\"{3F2504E0-4F89-11D3-9A0C-0305E82C3301}\",\"True\"\r\n"))
	f.Add([]byte("upn;mail;OnPremisesImmutableId\na@corp;\"x;y\";4AQlP4lP0xGaDAMF6CwzAQ==\n"))
	f.Add([]byte("UserPrincipalName,GivenName\n\"a@corp\",\"multi\nline\"\n"))
	f.Add([]byte("\xef\xbb\xbfUserPrincipalName,UserPrincipalName\na,b\n"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, "fuzz.csv")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		d, err := openCSV(path, Options{})
		if err != nil {
			t.Fatal(err)
		}
		_, err = checkExportRead(t, d, path)
		if err == nil && bytes.HasSuffix(data, []byte("\n")) && !bytes.HasSuffix(data, []byte("\n\n")) && !bytes.HasSuffix(data, []byte("\n\r\n")) {
			// The last line is not blank (one line break ends the file): cut
			// its line break.
			if err := os.WriteFile(path, data[:len(data)-1], 0o600); err != nil {
				t.Fatal(err)
			}
			if res, err := d.Read(context.Background(), func(upnsync.Person) error { return nil }); err == nil || res.Complete {
				if !lastRecordBlank(data) {
					t.Errorf("the export without its last line break was read as complete: %+v", res)
				}
			}
		}
	})
}

// lastRecordBlank reports whether the last line holds only separators and
// spaces (",,,,"), which the reader skips wherever it is.
func lastRecordBlank(data []byte) bool {
	data = bytes.TrimRight(data, "\r\n")
	last := data[bytes.LastIndexByte(data, '\n')+1:]
	return len(bytes.Trim(last, ",;\t \"\r\x00")) == 0
}

// FuzzXLSXExport feeds arbitrary bytes to the workbook reader, seeded with
// real workbooks, so that the mutations reach the zip and XML parsing of
// excelize behind the bounds of internal/workbook: the contract of
// checkExportRead, whatever the file.
func FuzzXLSXExport(f *testing.F) {
	for _, rows := range [][][]any{
		{{"UserPrincipalName", "ObjectGUID", "Enabled"}, {"jane.doe@corp.example.com", "3f2504e0-4f89-11d3-9a0c-0305e82c3301", true}},
		{{"User principal name", "Surname"}, {"a@corp", "Müller"}, {}, {"b@corp", 42}},
	} {
		f.Add(workbookBytes(f, rows))
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, "fuzz.xlsx")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		d, err := openXLSX(path, Options{})
		if err != nil {
			t.Fatal(err)
		}
		checkExportRead(t, d, path)
	})
}

// workbookBytes is an .xlsx file with rows on its first sheet.
func workbookBytes(t testing.TB, rows [][]any) []byte {
	t.Helper()
	x := excelize.NewFile()
	defer x.Close()
	for i, r := range rows {
		cell, _ := excelize.CoordinatesToCellName(1, i+1)
		if err := x.SetSheetRow("Sheet1", cell, &r); err != nil {
			t.Fatal(err)
		}
	}
	var b bytes.Buffer
	if err := x.Write(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
