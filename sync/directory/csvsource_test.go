package directory

import (
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding/unicode"

	"github.com/upnsync/upnsync/mapping"
	upnsync "github.com/upnsync/upnsync/sync"
)

func demoFields(t *testing.T) mapping.Fields {
	t.Helper()
	m, err := mapping.Load("../../testdata/demo/ADSIReaderLDAPMappings.xml")
	if err != nil {
		t.Fatal(err)
	}
	return m.Fields()
}

func readPeople(t *testing.T, opts Options) ([]upnsync.Person, upnsync.ReadResult, error) {
	t.Helper()
	d, err := Open(opts)
	if err != nil {
		return nil, upnsync.ReadResult{}, err
	}
	defer d.Close()
	var out []upnsync.Person
	res, err := d.Read(context.Background(), func(p upnsync.Person) error {
		out = append(out, p)
		return nil
	})
	return out, res, err
}

// A Get-ADUser export as Windows PowerShell 5.1 writes it with `>` or
// Out-File (UTF-16 LE with BOM, CRLF, a #TYPE line, every value quoted)
// gives the same people as the LDIF export of the same domain.
func TestPowerShell5UTF16ExportEqualsLDIF(t *testing.T) {
	fields := demoFields(t)
	fromLDIF, _, err := readPeople(t, Options{URL: "ldif:../../testdata/demo/directory.ldif", Fields: fields})
	if err != nil {
		t.Fatal(err)
	}
	fromCSV, res, err := readPeople(t, Options{URL: "csv:../../testdata/exports/get-aduser-ps5-utf16le.csv", Fields: fields})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Complete || res.Entries != 31 || len(fromCSV) != 31 {
		t.Fatalf("read %+v, %d people", res, len(fromCSV))
	}
	if !reflect.DeepEqual(fromCSV, fromLDIF) {
		for i := range fromCSV {
			if i < len(fromLDIF) && !reflect.DeepEqual(fromCSV[i], fromLDIF[i]) {
				t.Errorf("person %d:\n csv  %+v\n ldif %+v", i, fromCSV[i], fromLDIF[i])
			}
		}
	}
}

// The Entra admin center's "Download users": UTF-8 with BOM, camelCase
// headers, objectId (a cloud id, not an objectGUID), accountEnabled.
func TestEntraDownloadUsers(t *testing.T) {
	people, res, err := readPeople(t, Options{URL: "csv:../../testdata/exports/entra-download-users.csv", Fields: demoFields(t)})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Complete || len(people) != 30 {
		t.Fatalf("read %+v, %d people", res, len(people))
	}
	want := upnsync.Person{UPN: "jane.doe@corp.example.com", GivenName: "Jane", Surname: "Doe", Mail: "jane.doe@corp.example.com"}
	if !reflect.DeepEqual(people[0], want) {
		t.Errorf("first person:\n got %+v\nwant %+v", people[0], want)
	}
	for _, p := range people {
		if p.GUID != "" {
			t.Errorf("%s: Entra's objectId taken as an objectGUID: %s", p.UPN, p.GUID)
		}
		if p.UPN == "priya.patel@corp.example.com" && !p.Disabled {
			t.Error("accountEnabled False not read as disabled")
		}
	}
}

func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func utf16(t *testing.T, s string, big bool) []byte {
	order := unicode.LittleEndian
	if big {
		order = unicode.BigEndian
	}
	b, err := unicode.UTF16(order, unicode.UseBOM).NewEncoder().Bytes([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The encodings and separators administrators' tools produce all read the
// same people.
func TestCSVEncodingsAndSeparators(t *testing.T) {
	text := "UserPrincipalName,GivenName,Surname,ObjectGUID,SamAccountName,Enabled,DistinguishedName\r\n" +
		"jose.muller@corp.example.com,José,Müller,{CB6D1FE9-F8CE-4C39-A9C0-F215623B6BB3},jmuller,True,\"CN=Müller\\, José,OU=Staff,DC=corp,DC=example,DC=com\"\r\n" +
		",,,,,,\r\n" +
		"wang.fang@corp.example.com,芳,王,45ee8482ddfd4f228c86dabf0b08e36f,wfang,False,\r\n"
	want := []upnsync.Person{
		{GUID: "cb6d1fe9-f8ce-4c39-a9c0-f215623b6bb3", UPN: "jose.muller@corp.example.com", SAMAccountName: "jmuller",
			Domain: "CORP", DNSDomain: "corp.example.com", DN: `CN=Müller\, José,OU=Staff,DC=corp,DC=example,DC=com`, GivenName: "José", Surname: "Müller"},
		{GUID: "45ee8482-ddfd-4f22-8c86-dabf0b08e36f", UPN: "wang.fang@corp.example.com", SAMAccountName: "wfang",
			GivenName: "芳", Surname: "王", Disabled: true},
	}
	// Excel's "CSV" where the list separator is ';' (quotes keep the DN's commas).
	semi := "UserPrincipalName;GivenName;Surname;ObjectGUID;SamAccountName;Enabled;DistinguishedName\r\n" +
		"jose.muller@corp.example.com;José;Müller;{CB6D1FE9-F8CE-4C39-A9C0-F215623B6BB3};jmuller;True;\"CN=Müller\\, José,OU=Staff,DC=corp,DC=example,DC=com\"\r\n" +
		";;;;;;\r\n" +
		"wang.fang@corp.example.com;芳;王;45ee8482ddfd4f228c86dabf0b08e36f;wfang;False;\r\n"
	for name, data := range map[string][]byte{
		"utf-8":             []byte(text),
		"utf-8 bom":         append([]byte("\xef\xbb\xbf"), text...),
		"utf-16le bom":      utf16(t, text, false),
		"utf-16be bom":      utf16(t, text, true),
		"utf-16le no bom":   utf16(t, text, false)[2:],
		"semicolons":        []byte(semi),
		"#TYPE line":        append([]byte("#TYPE Microsoft.ActiveDirectory.Management.ADUser\r\n"), text...),
		"lf and utf-16 #TY": utf16(t, "#TYPE Selected.Microsoft.Graph.PowerShell.Models.MicrosoftGraphUser\n"+strings.ReplaceAll(text, "\r\n", "\n"), false),
	} {
		t.Run(name, func(t *testing.T) {
			got, res, err := readPeople(t, Options{URL: "csv:" + writeFile(t, "users.csv", data)})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) || res.Entries != 2 || !res.Complete {
				t.Errorf("got %+v (%+v)\nwant %+v", got, res, want)
			}
		})
	}
}

// Get-MgUser | Export-Csv: Id is Entra's object id (not used), and
// OnPremisesImmutableId is the base64 of the on-premises objectGUID's bytes.
func TestGetMgUserImmutableID(t *testing.T) {
	raw, _ := GUIDBytes("892bf23f-8c00-480e-80a1-b6f7a77dc536")
	imm := base64.StdEncoding.EncodeToString(raw)
	data := "\"Id\",\"UserPrincipalName\",\"Mail\",\"AccountEnabled\",\"OnPremisesImmutableId\",\"OnPremisesSamAccountName\",\"OnPremisesDomainName\"\n" +
		"\"0b5e4c1c-4b70-4f3e-8d2b-0f1b8f0a9d11\",\"jane.doe@corp.example.com\",\"jane.doe@corp.example.com\",\"True\",\"" + imm + "\",\"jdoe\",\"corp.example.com\"\n" +
		"\"7d1c7c52-3f0e-4f53-9a8c-1c7b1f5e2b10\",\"cloud.only@corp.onmicrosoft.com\",\"\",\"True\",\"\",\"\",\"\"\n"
	got, _, err := readPeople(t, Options{URL: "csv:" + writeFile(t, "mg.csv", []byte(data))})
	if err != nil {
		t.Fatal(err)
	}
	want := []upnsync.Person{
		{GUID: "892bf23f-8c00-480e-80a1-b6f7a77dc536", UPN: "jane.doe@corp.example.com", SAMAccountName: "jdoe",
			Domain: "CORP", DNSDomain: "corp.example.com", Mail: "jane.doe@corp.example.com"},
		{UPN: "cloud.only@corp.onmicrosoft.com"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
}

// --columns maps headers that are not the usual names.
func TestCSVColumnsOption(t *testing.T) {
	data := "Email Address,Object ID,Login,Display Name\nkim@corp.example.com,c9bf9e57-1685-4c89-bafb-ff5af830be8a,knguyen,Kim\n"
	path := writeFile(t, "hr.csv", []byte(data))
	got, _, err := readPeople(t, Options{URL: "csv:" + path, Columns: "upn=Email Address, guid=Object ID, sam=login"})
	if err != nil {
		t.Fatal(err)
	}
	// "Email Address" is a usual name for the e-mail as well.
	want := []upnsync.Person{{UPN: "kim@corp.example.com", GUID: "c9bf9e57-1685-4c89-bafb-ff5af830be8a", SAMAccountName: "knguyen", Mail: "kim@corp.example.com"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
	_, _, err = readPeople(t, Options{URL: "csv:" + path})
	if err == nil || !strings.Contains(err.Error(), path+":1: no UPN column: the header has Email Address, Object ID, Login, Display Name; name the column with --columns upn=COLUMN") {
		t.Errorf("no UPN column: %v", err)
	}
	_, _, err = readPeople(t, Options{URL: "csv:" + path, Columns: "upn=E-mail"})
	if err == nil || !strings.Contains(err.Error(), "--columns upn=E-mail: the file has no such column") {
		t.Errorf("missing column: %v", err)
	}
}

// Errors name the file, the line and the column, and say what to do.
func TestCSVErrors(t *testing.T) {
	for name, tt := range map[string]struct{ data, want string }{
		"bad guid": {"UserPrincipalName,ObjectGUID\na@corp.example.com,3f2504e0\n",
			`:2: column ObjectGUID: "3f2504e0" is not an objectGUID`},
		"bad enabled": {"#TYPE x\nUserPrincipalName,Enabled\na@corp.example.com,maybe\n",
			`:3: column Enabled: "maybe" is neither True nor False`},
		"ansi": {"UserPrincipalName,GivenName\na@corp.example.com,Jos\xe9\n",
			":2: column GivenName is not valid UTF-8: the file is probably saved as ANSI; save it as \"CSV UTF-8\" (Excel: Save As, CSV UTF-8), or export it again in UTF-8 (PowerShell: Export-Csv -Encoding UTF8; csvde: -u, which writes UTF-16)"},
		"ascii question mark": {"UserPrincipalName\njos?.muller@corp.example.com\n",
			`:2: the UPN "jos?.muller@corp.example.com" contains '?': Windows PowerShell's Export-Csv writes ASCII by default`},
		"field count": {"UserPrincipalName,Mail\na@corp.example.com,a@corp.example.com,extra\n",
			":2: this line has a different number of values than the header"},
		"empty": {"", ": the file is empty"},
		"bad immutable id": {"UserPrincipalName,OnPremisesImmutableId\na@corp.example.com,bm90LWEtZ3VpZA==\n",
			`:2: column OnPremisesImmutableId: "bm90LWEtZ3VpZA==" is not the base64 of a 16-byte objectGUID`},
	} {
		t.Run(name, func(t *testing.T) {
			path := writeFile(t, "users.csv", []byte(tt.data))
			_, res, err := readPeople(t, Options{URL: "csv:" + path})
			if err == nil || !strings.Contains(err.Error(), path+tt.want) {
				t.Errorf("err = %v\nwant it to contain %s%s", err, path, tt.want)
			}
			if res.Complete {
				t.Error("a failed read is complete")
			}
		})
	}
	// With a byte order mark the '?' is genuine.
	got, _, err := readPeople(t, Options{URL: "csv:" + writeFile(t, "bom.csv", []byte("\xef\xbb\xbfUserPrincipalName\nwhat?@corp.example.com\n"))})
	if err != nil || len(got) != 1 {
		t.Errorf("UTF-8 with BOM: %v %v", got, err)
	}
}

func TestXLSXExport(t *testing.T) {
	f := excelize.NewFile()
	defer f.Close()
	f.SetSheetName("Sheet1", "Users")
	rows := [][]any{
		{"User principal name", "First name", "Last name", "Email", "Account enabled", "On-premises immutable ID"},
		{"jane.doe@corp.example.com", "Jane", "Doe", "jane.doe@corp.example.com", true, "P/IriQCMDkiAobb3p33FNg=="},
		{},
		{"priya.patel@corp.example.com", "Priya", "Patel", "", false},
	}
	for i, r := range rows {
		cell, _ := excelize.CoordinatesToCellName(1, i+2) // row 1 left empty
		if err := f.SetSheetRow("Users", cell, &r); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(t.TempDir(), "users.xlsx")
	if err := f.SaveAs(path); err != nil {
		t.Fatal(err)
	}
	got, res, err := readPeople(t, Options{URL: "xlsx:" + path})
	if err != nil {
		t.Fatal(err)
	}
	want := []upnsync.Person{
		{GUID: "892bf23f-8c00-480e-80a1-b6f7a77dc536", UPN: "jane.doe@corp.example.com", GivenName: "Jane", Surname: "Doe", Mail: "jane.doe@corp.example.com"},
		{UPN: "priya.patel@corp.example.com", GivenName: "Priya", Surname: "Patel", Disabled: true},
	}
	if !reflect.DeepEqual(got, want) || !res.Complete || res.Entries != 2 {
		t.Errorf("got %+v (%+v)\nwant %+v", got, res, want)
	}

	f.SetCellValue("Users", "E5", "perhaps")
	f.Save()
	_, _, err = readPeople(t, Options{URL: "xlsx:" + path})
	if err == nil || !strings.Contains(err.Error(), path+`: sheet "Users", cell E5 (Account enabled): "perhaps" is neither True nor False`) {
		t.Errorf("bad cell: %v", err)
	}
	_, _, err = readPeople(t, Options{URL: "xlsx:../../testdata/exports/entra-download-users.csv"})
	if err == nil || !strings.Contains(err.Error(), "is it an .xlsx file") {
		t.Errorf("CSV as xlsx: %v", err)
	}
}

func TestKind(t *testing.T) {
	for in, want := range map[string]string{"ldaps://dc1": "ldap", "LDAP://dc1": "ldap", "ldif:x": "ldif", "CSV:x.csv": "csv", "xlsx:y": "xlsx", "http://x": "", "x": ""} {
		if got := Kind(in); got != want {
			t.Errorf("Kind(%q) = %q, want %q", in, got, want)
		}
	}
}
