package octopus

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/xml"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/xuri/excelize/v2"

	"github.com/upnsync/upnsync/mapping"
	upnsync "github.com/upnsync/upnsync/sync"
	"github.com/upnsync/upnsync/sync/directory"
)

// octopusExport writes the demo's Octopus users as an export with other
// headers (as Octopus's own list export or Excel would have them), an
// EmployeeID for some users, a column upnsync does not use, and edits.
func octopusExport(t *testing.T, edit func(rec []string)) string {
	t.Helper()
	f, err := os.Open("../../testdata/demo/octopus-users.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	buf.WriteString("\xef\xbb\xbf")
	w := csv.NewWriter(&buf)
	w.Comma = ';'
	w.Write([]string{"ID", "First name", "Last name", "E-mail", "Windows username", "External identifier", "Active", "Employee ID", "Department"})
	for _, r := range recs[1:] {
		emp := ""
		if r[0] <= "1005" {
			emp = "E" + r[0]
		}
		active := "Yes"
		if r[6] == "false" {
			active = "No"
		}
		rec := []string{r[0], r[1], r[2], r[3], r[4], r[5], active, emp, "IT"}
		if edit != nil {
			edit(rec)
		}
		w.Write(rec)
	}
	w.Flush()
	path := filepath.Join(t.TempDir(), "octopus-export.csv")
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func demoDirectory(t *testing.T) upnsync.Directory {
	t.Helper()
	return demoDirectoryAt(t, "../../testdata/demo/directory.ldif")
}

// demoDirectoryAt reads an LDIF file with the demo's mapping.
func demoDirectoryAt(t *testing.T, ldif string) upnsync.Directory {
	t.Helper()
	m, err := mapping.Load("../../testdata/demo/ADSIReaderLDAPMappings.xml")
	if err != nil {
		t.Fatal(err)
	}
	d, err := directory.Open(directory.Options{URL: "ldif:" + ldif, Fields: m.Fields()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// planDemo plans the demo directory against store, as a run does: the
// engine's plan, then the store's refusals as conflicts.
func planDemo(t *testing.T, s upnsync.Store) upnsync.Plan {
	t.Helper()
	return planDemoWith(t, s, demoDirectory(t), upnsync.Options{})
}

func planDemoWith(t *testing.T, s upnsync.Store, dir upnsync.Directory, o upnsync.Options) upnsync.Plan {
	t.Helper()
	plan, err := upnsync.BuildPlan(context.Background(), s, dir, o)
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := s.(Vetter); ok {
		plan.Withdraw(v.Vet(plan.Changes))
	}
	return plan
}

// The workbook upnsync writes, read back with excelize: one sheet per
// identification method, DataImporter's columns in its order, only users
// with a change, every value within DataImporter's limits; the XML
// configuration is well-formed and each source names one of the sheets.
func TestDataImporterWorkbook(t *testing.T) {
	long := strings.Repeat("Ä", 101)
	export := octopusExport(t, func(rec []string) {
		switch rec[0] {
		case "1003": // a first name over DataImporter's limit
			rec[1] = long
		case "1018": // several Windows usernames, no EmployeeID, a shared name
			rec[1], rec[2], rec[4] = "Kim", "Nguyen", `wfang;CORP\wfang`
		}
	})
	out := filepath.Join(t.TempDir(), "upn import.xlsx")
	s := openStoreT(t, "dataimporter:"+out, Options{OctopusExport: export})
	plan := planDemo(t, s)

	reasons := map[string]string{}
	for _, c := range plan.Conflicts {
		for _, u := range c.Users {
			reasons[u] = c.Reason
		}
	}
	if reasons["1003"] != ConflictStoreLimit || reasons["1018"] != ConflictStoreIdentify {
		t.Errorf("conflicts: %+v", plan.Conflicts)
	}
	if plan.Changes.Len() == 0 {
		t.Fatal("no changes left to write")
	}
	want := map[string]upnsync.Change{}
	for _, c := range plan.Changes.All() {
		want[c.UserID] = c
	}

	a, err := s.Apply(context.Background(), upnsync.Run{ID: "run-7"}, plan.Changes)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Written) != plan.Changes.Len() || len(a.Stale) != 0 {
		t.Errorf("applied %+v", a)
	}

	f, err := excelize.OpenFile(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ex, err := readExport(export)
	if err != nil {
		t.Fatal(err)
	}
	byEmp, byWin, byName := map[string]*exportUser{}, map[string]*exportUser{}, map[string]*exportUser{}
	for i := range ex.users {
		u := &ex.users[i]
		byEmp[u.EmployeeID] = u
		byWin[strings.ToLower(u.WindowsUsernames)] = u
		byName[u.FirstName+" "+u.LastName] = u
	}
	wantHeaders := map[string][]string{
		"UPN by ID":               {"FirstName", "Surname", "EmployeeID", "UPN", "Active"},
		"UPN by Windows username": {"FirstName", "Surname", "WindowsUsername", "UPN", "Active"},
		"UPN by name":             {"FirstName", "Surname", "UPN", "Active"},
	}
	limits := map[string]int{"FirstName": 100, "Surname": 100, "EmployeeID": 50, "WindowsUsername": 250, "UPN": 250}
	seen := map[string]bool{}
	for _, sheet := range f.GetSheetList() {
		rows, err := f.GetRows(sheet)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(rows[0], wantHeaders[sheet]) {
			t.Errorf("sheet %q header %v, want %v", sheet, rows[0], wantHeaders[sheet])
		}
		for _, row := range rows[1:] {
			v := map[string]string{}
			for i, h := range rows[0] {
				if i < len(row) {
					v[h] = row[i]
				}
				if n := utf8.RuneCountInString(v[h]); limits[h] > 0 && n > limits[h] {
					t.Errorf("sheet %q: %s has %d characters, over DataImporter's %d", sheet, h, n, limits[h])
				}
			}
			var u *exportUser
			switch sheet {
			case "UPN by ID":
				u = byEmp[v["EmployeeID"]]
			case "UPN by Windows username":
				u = byWin[strings.ToLower(v["WindowsUsername"])] // the user's whole list is this one entry
			case "UPN by name":
				u = byName[v["FirstName"]+" "+v["Surname"]]
			}
			if u == nil {
				t.Errorf("sheet %q: row %v finds no user of the export", sheet, row)
				continue
			}
			c, ok := want[u.ID]
			if !ok || seen[u.ID] {
				t.Errorf("sheet %q: user %s is not a change of the plan, or is written twice", sheet, u.ID)
				continue
			}
			seen[u.ID] = true
			if v["UPN"] != c.Added[0] || v["FirstName"] != u.FirstName || v["Surname"] != u.LastName || v["Active"] != yesNo(u.Active) {
				t.Errorf("sheet %q: row %v for user %s (adds %s)", sheet, row, u.ID, c.Added[0])
			}
		}
	}
	if len(seen) != len(want) {
		t.Errorf("%d of %d changes in the workbook", len(seen), len(want))
	}

	// The configuration: well-formed, one source per sheet, each naming it.
	data, err := os.ReadFile(strings.TrimSuffix(out, ".xlsx") + ".xml")
	if err != nil {
		t.Fatal(err)
	}
	dec := xml.NewDecoder(bytes.NewReader(data))
	for {
		if _, err := dec.Token(); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("configuration is not well-formed XML: %v\n%s", err, data)
		}
	}
	var conf xmlSources
	if err := xml.Unmarshal(data, &conf); err != nil {
		t.Fatal(err)
	}
	sheets := f.GetSheetList()
	if len(conf.Sources) != len(sheets) {
		t.Errorf("%d sources for %d sheets:\n%s", len(conf.Sources), len(sheets), data)
	}
	for i, src := range conf.Sources {
		if src.ViewName != "["+sheets[i]+"$]" || src.Content != "User" ||
			!strings.Contains(src.ConnectionString, "Data Source="+out+";") ||
			src.UserIdentificationMethod != map[string]string{"UPN by ID": UserByID, "UPN by Windows username": UserByWindowsUsername, "UPN by name": UserByName}[sheets[i]] {
			t.Errorf("source %d: %+v (sheet %q)", i, src, sheets[i])
		}
	}

	steps := s.(Guide).NextSteps(&a)
	if len(steps) != 3 || !strings.Contains(steps[1], strings.TrimSuffix(out, ".xlsx")+".xml") || !strings.Contains(steps[1], "DataImporter") {
		t.Errorf("next steps: %q", steps)
	}
}

// Without --apply nothing is written; an export without an Active column
// is refused, since DataImporter would make those users active.
func TestDataImporterRefusals(t *testing.T) {
	export := octopusExport(t, nil)
	out := filepath.Join(t.TempDir(), "out.xlsx")
	ro := openStoreT(t, "dataimporter:"+out, Options{OctopusExport: export, ReadOnly: true})
	plan := planDemo(t, ro)
	if _, err := ro.Apply(context.Background(), upnsync.Run{ID: "r"}, plan.Changes); err == nil || !strings.Contains(err.Error(), "read-only (dry run); nothing was written") {
		t.Errorf("dry run apply: %v", err)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Error("a dry run wrote the workbook")
	}
	if _, err := os.Stat(out + StateSuffix); !os.IsNotExist(err) {
		t.Error("a dry run created the state database")
	}

	noActive := filepath.Join(t.TempDir(), "no-active.csv")
	os.WriteFile(noActive, []byte("ID,FirstName,LastName,WindowsUsername\n1,A,B,ab\n"), 0o600)
	_, err := Open(context.Background(), "dataimporter:"+out, Options{OctopusExport: noActive})
	if err == nil || !strings.Contains(err.Error(), "has no Active column") {
		t.Errorf("no Active column: %v", err)
	}
	_, err = Open(context.Background(), "dataimporter:"+out, Options{})
	if err == nil || !strings.Contains(err.Error(), "--octopus-export") {
		t.Errorf("no export: %v", err)
	}
	_, err = Open(context.Background(), "dataimporter:out.xls", Options{OctopusExport: export})
	if err == nil || !strings.Contains(err.Error(), "name an .xlsx workbook") {
		t.Errorf("not xlsx: %v", err)
	}
	dup := filepath.Join(t.TempDir(), "dup.csv")
	os.WriteFile(dup, []byte("ID;First name;Last name;Active\n1;A;B;Yes\n1;C;D;No\n"), 0o600)
	_, err = Open(context.Background(), "dataimporter:"+out, Options{OctopusExport: dup})
	if err == nil || !strings.Contains(err.Error(), dup+`:3: ID "1" is also on row 2`) {
		t.Errorf("duplicate id: %v", err)
	}

	// A rename cannot be carried out by DataImporter's UPN column.
	s := openStoreT(t, "dataimporter:"+out, Options{OctopusExport: export})
	refused := s.(Vetter).Vet(upnsync.ChangesOf(upnsync.Change{UserID: "1001", Before: "jdoe;a@x.example", After: "jdoe;b@x.example",
		Replaced: []upnsync.Replacement{{Old: "a@x.example", New: "b@x.example"}}}))
	if refused[0].Reason != ConflictStoreCannotEdit {
		t.Errorf("rename: %+v", refused)
	}
}

// store import/export work for a DataImporter store too: its users are
// the Octopus export, read from .csv or .xlsx.
func TestDataImporterImportExport(t *testing.T) {
	for _, ext := range []string{".csv", ".xlsx"} {
		t.Run(ext, func(t *testing.T) {
			export := filepath.Join(t.TempDir(), "octopus"+ext)
			url := "dataimporter:" + filepath.Join(t.TempDir(), "out.xlsx")
			s := openStoreT(t, url, Options{OctopusExport: export, Create: true})
			if res := importT(t, s, "users.csv"); res != (ImportResult{Read: 12, Created: 12}) {
				t.Errorf("import = %+v", res)
			}
			s = openStoreT(t, url, Options{OctopusExport: export, ReadOnly: true})
			canon, _ := os.ReadFile(testdata + "users.csv")
			if got := exportBytesT(t, s); !bytes.Equal(got, canon) {
				t.Errorf("export differs from users.csv:\n%s", got)
			}
			s = openStoreT(t, url, Options{OctopusExport: export})
			if res := importT(t, s, "users-update.csv"); res != (ImportResult{Read: 4, Created: 1, Updated: 2, Unchanged: 1}) {
				t.Errorf("update import = %+v", res)
			}
			if u := oneUserT(t, s, "1010"); u.Email != "sofia.rossi@corp.example.com" || u.WindowsUsernames != "srossi" {
				t.Errorf("1010 = %+v", u)
			}
		})
	}
	// An Octopus export with columns upnsync does not keep is not rewritten.
	export := octopusExport(t, nil)
	s := openStoreT(t, "dataimporter:"+filepath.Join(t.TempDir(), "out.xlsx"), Options{OctopusExport: export})
	_, err := s.ImportCSV(context.Background(), strings.NewReader("ID\n1\n"), "x.csv")
	if err == nil || !strings.Contains(err.Error(), "columns upnsync does not keep (Department)") {
		t.Errorf("import into a foreign export: %v", err)
	}
}

// The UPNs written to the workbook are recorded in the state database as
// upnsync's. Once DataImporter has imported them (here: a new export with
// the planned values), a rename and a departure are planned from that
// record, and Vet refuses both, since DataImporter can only add: the
// report says what to edit by hand. An undo of the run is refused the same
// way.
func TestDataImporterProvenanceThroughStateDB(t *testing.T) {
	ctx := context.Background()
	out := filepath.Join(t.TempDir(), "out.xlsx")
	s := openStoreT(t, "dataimporter:"+out, Options{OctopusExport: octopusExport(t, nil)})
	plan := planDemo(t, s)
	a, err := s.Apply(ctx, upnsync.Run{ID: "r1"}, plan.Changes)
	if err != nil || len(a.Written) == 0 {
		t.Fatalf("apply: %+v %v", a, err)
	}
	after := map[string]string{}
	for _, c := range plan.Changes.All() {
		after[c.UserID] = c.After
	}
	if after["1001"] == "" || after["1003"] == "" {
		t.Fatalf("the demo plan writes neither 1001 nor 1003: %v", after)
	}

	// DataImporter imported the workbook; Octopus is exported again.
	imported := octopusExport(t, func(rec []string) {
		if v, ok := after[rec[0]]; ok {
			rec[4] = v
		}
	})
	s = openStoreT(t, "dataimporter:"+out, Options{OctopusExport: imported})
	if o := oneUserT(t, s, "1001").Owned; len(o) != 1 || o[0].Entry != "jane.doe@corp.example.com" {
		t.Fatalf("1001 owned = %+v: the state database did not record the UPN written to the workbook", o)
	}
	if p := planDemo(t, s); p.Changes.Len() != 0 {
		t.Fatalf("after the import: %d changes", p.Changes.Len())
	}

	raw, err := upnsync.BuildPlan(ctx, s, demoDirectoryAt(t, renamedAndDeparted(t)), upnsync.Options{RemoveDeparted: true})
	if err != nil {
		t.Fatal(err)
	}
	byUser := map[string]upnsync.Change{}
	for _, c := range raw.Changes.All() {
		byUser[c.UserID] = c
	}
	if len(byUser["1001"].Replaced) != 1 || len(byUser["1003"].Removed) != 1 {
		t.Fatalf("the engine did not plan the rename and the removal from the record: %+v", raw.Changes)
	}
	refused := s.(Vetter).Vet(raw.Changes)
	for i, c := range raw.Changes.All() {
		conf, ok := refused[i]
		var want []string
		switch c.UserID {
		case "1001":
			want = []string{"jane.doe@corp.example.com -> jane.smith@corp.example.com", "DataImporter can only add", "replace the old entry by hand"}
		case "1003":
			want = []string{"maria.garcia@corp.example.com should be removed", "gone from the directory (not-in-export)", "DataImporter can only add", "remove it by hand"}
		default:
			continue
		}
		if !ok || conf.Reason != ConflictStoreCannotEdit {
			t.Errorf("user %s: %+v, want %s", c.UserID, conf, ConflictStoreCannotEdit)
			continue
		}
		for _, w := range want {
			if !strings.Contains(conf.Detail, w) {
				t.Errorf("user %s: detail %q lacks %q", c.UserID, conf.Detail, w)
			}
		}
	}

	// Undoing r1 would remove what it added: refused the same way.
	var inverse []upnsync.Change
	if _, err := s.(upnsync.Journal).RunJournal(ctx, "r1", func(e upnsync.JournalEntry) error {
		inverse = append(inverse, e.Inverse())
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if refused := s.(Vetter).Vet(upnsync.ChangesOf(inverse...)); len(inverse) == 0 || len(refused) != len(inverse) {
		t.Errorf("undo: %d of %d reversals refused", len(refused), len(inverse))
	}
}
