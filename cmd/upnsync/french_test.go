package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// An administrator on a French Windows: the Octopus users saved by Excel as
// "CSV UTF-8 (délimité par des points-virgules)" (';', BOM, Active as
// VRAI/FAUX/Oui/Non) or by PowerShell 5 as UTF-16 with a #TYPE line are
// imported; what upnsync writes back (store export, the CSV report) opens
// in that Excel: BOM, CRLF and, with --csv-separator ';', semicolons.
func TestFrenchWindowsCSV(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"users-excel-fr.csv", "users-ps5-unicode.csv"} {
		store := "sqlite:" + filepath.Join(dir, f+".db")
		code, out, errOut := cli(t, nil, "store", "import", "--store", store, filepath.Join("..", "..", "testdata", "octopus", f))
		if code != 0 || !strings.Contains(out, "12 users read, 12 created") {
			t.Fatalf("store import %s: %d %s %s", f, code, out, errOut)
		}
	}
	store := "sqlite:" + filepath.Join(dir, "users-excel-fr.csv.db")
	export := filepath.Join(dir, "export.csv")
	if code, _, errOut := cli(t, nil, "store", "export", "--store", store, "/CsvSeparator:;", export); code != 0 {
		t.Fatalf("store export: %d %s", code, errOut)
	}
	data, err := os.ReadFile(export)
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	if !strings.HasPrefix(text, "\xef\xbb\xbfID;FirstName;LastName;Email;WindowsUsername;ExternalIdentifier;Active\r\n") ||
		!strings.Contains(text, "\r\n1002;Émilie;Lefèvre;") || strings.Count(text, "\n") != strings.Count(text, "\r\n") {
		t.Errorf("export is not Excel's French CSV:\n%q", text[:min(len(text), 300)])
	}
	// Exported and imported again: the same users.
	again := "sqlite:" + filepath.Join(dir, "again.db")
	if code, out, errOut := cli(t, nil, "store", "import", "--store", again, export); code != 0 || !strings.Contains(out, "12 created") {
		t.Fatalf("import of the export: %d %s %s", code, out, errOut)
	}
	_, a, _ := cli(t, nil, "store", "export", "--store", store)
	_, b, _ := cli(t, nil, "store", "export", "--store", again)
	if a != b || !strings.HasPrefix(a, "\xef\xbb\xbfID,FirstName,") {
		t.Errorf("round trip differs, or the default separator is not ',':\n%q\n%q", a[:60], b[:60])
	}
	if code, _, errOut := cli(t, nil, "store", "export", "--store", store, "--csv-separator", "|"); code != exitError ||
		!strings.Contains(errOut, `"|" is not a CSV separator: use , or ;`) {
		t.Errorf("--csv-separator '|': %d %s", code, errOut)
	}

	// The CSV report of a dry run.
	d := newDemo(t)
	report := filepath.Join(d.dir, "dry-run.csv")
	if code, _, errOut := cli(t, nil, d.gnu("--report", "csv", "--report-file", report, "--csv-separator", "semicolon")...); code != exitPending {
		t.Fatalf("dry run: %d %s", code, errOut)
	}
	data, err = os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	if text := string(data); !strings.HasPrefix(text, "\xef\xbb\xbfkind;user_id;") || !strings.Contains(text, "\r\nchange;") {
		t.Errorf("CSV report is not Excel's French CSV:\n%q", text[:min(len(text), 200)])
	}
}
