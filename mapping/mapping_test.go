package mapping

import (
	"bytes"
	"errors"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the add-upn golden files from the current output")

const dir = "../testdata/mapping"

func td(name string) string { return filepath.Join(dir, name) }

func read(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// defaultEntries are the entries of the shipped default file, in order.
var defaultEntries = []Attribute{
	{LDAP: "sAMAccountName", Octopus: "Name", Line: 9},
	{LDAP: "GivenName", Octopus: "FirstName", Line: 10},
	{LDAP: "sn", Octopus: "LastName", Line: 11},
	{LDAP: "Mail", Octopus: "EMailAddress", Line: 12},
	{LDAP: "Title", Octopus: "Title", Line: 13},
	{LDAP: "TelephoneNumber", Octopus: "TelephoneNumber", Separator: "x", Index: 0, HasIndex: true, Line: 15},
	{LDAP: "TelephoneNumber", Octopus: "TelephoneNumberExtension", Separator: "x", Index: 1, HasIndex: true, Line: 16},
	{LDAP: "Mobile", Octopus: "TelephoneMobile", Line: 17},
	{LDAP: "distinguishedName", Octopus: "ActiveDirectoryKey", Line: 18},
}

var employeeEntries = []Attribute{
	{LDAP: "sAMAccountName", Octopus: "Name", Line: 5},
	{LDAP: "givenName", Octopus: "FirstName", Line: 6},
	{LDAP: "sn", Octopus: "LastName", Line: 7},
	{LDAP: "mail", Octopus: "Email", Line: 8},
	{LDAP: "telephoneNumber", Octopus: "TelephoneNumber", Separator: "x", Index: 0, HasIndex: true, Line: 9},
	{LDAP: "telephoneNumber", Octopus: "TelephoneNumberExtension", Separator: "x", Index: 1, HasIndex: true, Line: 10},
}

func withUPN(entries []Attribute, line int) []Attribute {
	out := append([]Attribute{}, entries...)
	return append(out, Attribute{LDAP: "userPrincipalName", Octopus: "UPN", Line: line})
}

func TestParseGoodFiles(t *testing.T) {
	bomEntries := []Attribute{
		{LDAP: "sAMAccountName", Octopus: "Name", Line: 9},
		{LDAP: "givenName", Octopus: "FirstName", Line: 10},
		{LDAP: "sn", Octopus: "LastName", Line: 11},
		{LDAP: "mail", Octopus: "EMailAddress", Line: 12},
		{LDAP: "telephoneNumber", Octopus: "TelephoneNumber", Separator: "x", Index: 0, HasIndex: true, Line: 13},
		{LDAP: "telephoneNumber", Octopus: "TelephoneNumberExtension", Separator: "x", Index: 1, HasIndex: true, Line: 14},
	}
	tests := []struct {
		file    string
		name    string
		line    int
		others  []string
		entries []Attribute
	}{
		{"ADSIReaderLDAPMappings.xml", "User", 8, []string{"Computer"}, defaultEntries},
		{"ADSIReaderLDAPMappings-upn.xml", "User", 8, []string{"Computer"}, withUPN(defaultEntries, 19)},
		{"employee.xml", "Employee", 4, []string{"Computer", "Printer"}, employeeEntries},
		{"add-upn/employee.xml", "Employee", 4, []string{"Computer", "Printer"}, withUPN(employeeEntries, 11)},
		{"bom-crlf-tabs.xml", "User", 8, []string{"Computer"}, bomEntries},
		{"add-upn/bom-crlf-tabs.xml", "User", 8, []string{"Computer"}, withUPN(bomEntries, 15)},
		{"utf16le-bom.xml", "User", 8, []string{"Computer"}, defaultEntries},
		{"add-upn/utf16le-bom.xml", "User", 8, []string{"Computer"}, withUPN(defaultEntries, 19)},
		{"utf16be-nobom.xml", "Employee", 4, []string{"Computer", "Printer"}, employeeEntries},
		{"empty-mapping.xml", "User", 6, []string{"Computer"}, nil},
		{"add-upn/empty-mapping.xml", "User", 6, []string{"Computer"}, withUPN(nil, 7)},
		{"self-closing-mapping.xml", "User", 2, nil, nil},
		{"add-upn/self-closing-mapping.xml", "User", 2, nil, withUPN(nil, 3)},
		{"comment-inside-mapping.xml", "User", 2, nil, nil},
		{"one-line.xml", "User", 1, nil, []Attribute{{LDAP: "sAMAccountName", Octopus: "Name", Line: 1}}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			path := td(tt.file)
			m, err := Parse(path, read(t, path))
			if err != nil {
				t.Fatal(err)
			}
			if m.File != path || m.Name != tt.name || m.Line != tt.line {
				t.Errorf("got File %q Name %q Line %d, want %q %q %d", m.File, m.Name, m.Line, path, tt.name, tt.line)
			}
			if !reflect.DeepEqual(m.Others, tt.others) {
				t.Errorf("Others = %q, want %q", m.Others, tt.others)
			}
			if !reflect.DeepEqual(m.Attributes, tt.entries) {
				t.Errorf("Attributes =\n%+v\nwant\n%+v", m.Attributes, tt.entries)
			}
			_, hasUPN := m.UPN()
			err = m.Validate()
			if hasUPN != (err == nil) {
				t.Errorf("UPN entry present %v but Validate() = %v", hasUPN, err)
			}
		})
	}
}

// The case-insensitivity and layout rules, each on a minimal document.
func TestParseForms(t *testing.T) {
	tests := []struct {
		name, doc string
		want      []Attribute
	}{
		{"lower-case names", `<mappings><mapping name="user"><attribute ldapattribute="mail" octopusattribute="upn"/></mapping></mappings>`,
			[]Attribute{{LDAP: "mail", Octopus: "upn", Line: 1}}},
		{"upper-case names", "<MAPPINGS>\n<MAPPING NAME=\"EMPLOYEE\">\n<ATTRIBUTE LDAPATTRIBUTE=\"mail\" OCTOPUSATTRIBUTE=\"UPN\" INDEX=\"2\" SEPARATOR=\"@\"></ATTRIBUTE>\n</MAPPING>\n</MAPPINGS>",
			[]Attribute{{LDAP: "mail", Octopus: "UPN", Separator: "@", Index: 2, HasIndex: true, Line: 3}}},
		{"blanks trimmed but separator kept", "<mappings>\n\t<mapping Name=\" User \">\r\n\t\t<attribute LDAPAttribute=\" displayName \" OctopusAttribute=\" FirstName \" Index=\" 0 \" Separator=\" \"/>\r\n</mapping></mappings>",
			[]Attribute{{LDAP: "displayName", Octopus: "FirstName", Separator: " ", Index: 0, HasIndex: true, Line: 3}}},
		{"separator without index", `<mappings><mapping Name="User"><attribute LDAPAttribute="telephoneNumber" OctopusAttribute="TelephoneNumber" Separator="x"/></mapping></mappings>`,
			[]Attribute{{LDAP: "telephoneNumber", Octopus: "TelephoneNumber", Separator: "x", Line: 1}}},
		{"unknown attributes and namespaces ignored", `<mappings xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" Version="2"><mapping Name="User" Description="people"><attribute LDAPAttribute="cn" OctopusAttribute="Name" Comment="x" xsi:type="y"/></mapping></mappings>`,
			[]Attribute{{LDAP: "cn", Octopus: "Name", Line: 1}}},
		{"options and OIDs", `<mappings><mapping Name="User"><attribute LDAPAttribute="userCertificate;binary" OctopusAttribute="A"/><attribute LDAPAttribute="2.5.4.4" OctopusAttribute="B"/></mapping></mappings>`,
			[]Attribute{{LDAP: "userCertificate;binary", Octopus: "A", Line: 1}, {LDAP: "2.5.4.4", Octopus: "B", Line: 1}}},
		{"comments, CDATA and PIs around", "<?xml version=\"1.0\"?>\n<!-- a -->\n<?app x?>\n<mappings><![CDATA[ ]]><!-- b --><mapping Name=\"User\"><!-- c --></mapping></mappings>\n<!-- d -->\n",
			nil},
		{"other root children ignored", `<mappings><settings><x/></settings><mapping Name="User"/><mapping/></mappings>`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Parse("f.xml", []byte(tt.doc))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(m.Attributes, tt.want) {
				t.Errorf("Attributes = %+v, want %+v", m.Attributes, tt.want)
			}
		})
	}
}

func TestLoadBadFiles(t *testing.T) {
	tests := []struct {
		file string
		line int
		msg  string
	}{
		{"empty.xml", 1, "the file is empty: copy ADSIReaderLDAPMappings.xml from the Octopus installation folder"},
		{"blank.xml", 1, "the file is empty"},
		{"not-xml.xml", 1, `not an XML file: found text "This is not XML."`},
		{"malformed.xml", 7, "not well-formed XML: element <attribute> closed by </mapping>; the element was opened at line 5"},
		{"unquoted.xml", 3, "not well-formed XML: unquoted or missing attribute value"},
		{"undefined-entity.xml", 4, "invalid character entity &nbsp;"},
		{"truncated.xml", 5, "the file ends before the element opened at line 3 is closed"},
		{"second-root.xml", 6, "a second top-level element <mappings>"},
		{"wrong-root.xml", 3, "the top element is <configuration>, not <mappings>"},
		{"no-user-mapping.xml", 2, `no user mapping: <mappings> has no <mapping Name="User"> (older files call it Name="Employee"); the mappings found are "Computer", "Printer"`},
		{"no-mapping-at-all.xml", 1, "no user mapping: <mappings> has no <mapping Name=\"User\"> (older files call it Name=\"Employee\"); it holds no <mapping> element at all"},
		{"two-user-mappings.xml", 6, `a second user mapping <mapping Name="User">; the first is <mapping Name="Employee"> at line 3`},
		{"missing-ldap.xml", 4, "<attribute> has no LDAPAttribute (it has LDAPAtribute, OctopusAttribute)"},
		{"missing-octopus.xml", 4, "<attribute> has no OctopusAttribute (it has LDAPAttribute)"},
		{"empty-ldap.xml", 3, "LDAPAttribute is empty"},
		{"empty-octopus.xml", 3, "OctopusAttribute is empty"},
		{"bad-ldap-name.xml", 3, `LDAPAttribute "user Principal Name" is not an LDAP attribute name`},
		{"duplicate-attribute.xml", 4, "<attribute> gives LDAPAttribute twice (also as ldapattribute: letter case does not matter here): keep one"},
		{"unexpected-element.xml", 4, `unexpected element <atribute> in <mapping Name="User">`},
		{"index-not-integer.xml", 4, `Index "first" is not a whole number`},
		{"index-negative.xml", 4, "Index -1 is negative"},
		{"index-without-separator.xml", 4, "Index without Separator"},
		{"no-upn.xml", 2, "UPN sync is off: <mapping Name=\"User\"> has no entry with OctopusAttribute=\"UPN\"; run `upnsync mapping add-upn " + td("bad/no-upn.xml") + "` to add"},
		{"upn-disagree.xml", 5, "a second UPN entry reads mail, but the one at line 3 reads userPrincipalName: keep one of them"},
		{"doctype.xml", 2, "DOCTYPE not allowed"},
		{"too-deep.xml", 2, "elements nested more than 100 deep"},
		{"nul-byte.xml", 3, "NUL byte"},
		{"invalid-utf8.xml", 3, "invalid UTF-8 (byte 0xE9)"},
		{"utf16-odd-length.xml", 3, "odd number of bytes"},
		{"utf16-lone-surrogate.xml", 2, "invalid UTF-16 (a lone surrogate 0xD800)"},
		{"utf32.xml", 1, "saved as UTF-32"},
		{"utf8-declared-1252.xml", 1, `the XML declaration says encoding="Windows-1252" but the file is saved as UTF-8 (line 4 has 'é' written as UTF-8): change the declaration to encoding="UTF-8", or save the file as Windows-1252`},
		{"bom-declared-1252.xml", 1, `the XML declaration says encoding="Windows-1252" but it starts with a UTF-8 byte order mark, so the file is UTF-8: change the declaration to encoding="UTF-8"`},
		{"utf16-declared-utf8.xml", 1, `the file is saved as UTF-16 (it starts with a UTF-16 byte order mark) but its XML declaration says encoding="utf-8": change the declaration to encoding="UTF-16", or save the file as utf-8`},
		{"unknown-encoding.xml", 1, `the XML declaration says encoding="Shift_JIS", which upnsync does not read (it reads UTF-8, UTF-16, Windows-1252, ISO-8859-1 and ISO-8859-15)`},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		seen[tt.file] = true
		t.Run(tt.file, func(t *testing.T) {
			path := td("bad/" + tt.file)
			m, err := Load(path)
			if err == nil {
				t.Fatalf("Load succeeded: %+v", m)
			}
			checkError(t, err, path, tt.line, tt.msg)
		})
	}
	// Every bad file must be covered by a case above.
	files, _ := filepath.Glob(td("bad/*"))
	for _, f := range files {
		if !seen[filepath.Base(f)] {
			t.Errorf("%s has no test case", f)
		}
	}
}

func checkError(t *testing.T, err error, file string, line int, msg string) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not a *mapping.Error", err, err)
	}
	if e.File != file || e.Line != line {
		t.Errorf("error at %s:%d, want %s:%d: %v", e.File, e.Line, file, line, err)
	}
	prefix := file + ": "
	if line > 0 {
		prefix = file + ":" + strconv.Itoa(line) + ": "
	}
	if !strings.HasPrefix(err.Error(), prefix) {
		t.Errorf("error %q does not start with %q", err, prefix)
	}
	if !strings.Contains(err.Error(), msg) {
		t.Errorf("error %q does not contain %q", err, msg)
	}
	if strings.Contains(err.Error(), "EOF") || strings.Contains(err.Error(), "goroutine") {
		t.Errorf("error %q leaks EOF or a stack", err)
	}
}

func TestLoadFileErrors(t *testing.T) {
	tmp := t.TempDir()
	missing := filepath.Join(tmp, "nope.xml")
	_, err := Load(missing)
	checkError(t, err, missing, 0, "no such file: copy ADSIReaderLDAPMappings.xml from the Octopus installation folder and pass its path")
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("errors.Is(%v, fs.ErrNotExist) = false", err)
	}

	_, err = Load(tmp)
	checkError(t, err, tmp, 0, "is a folder, not a file")
	if strings.Contains(err.Error(), "e.g.") {
		t.Errorf("suggests a file that does not exist: %v", err)
	}
	os.WriteFile(filepath.Join(tmp, DefaultFileName), read(t, td("ADSIReaderLDAPMappings-upn.xml")), 0o644)
	_, err = Load(tmp)
	checkError(t, err, tmp, 0, "is a folder, not a file: pass the path of the mapping file itself, e.g. "+filepath.Join(tmp, DefaultFileName))

	big := filepath.Join(tmp, "big.xml")
	data := bytes.Repeat([]byte(" "), maxFileSize+1)
	copy(data, "<mappings>")
	os.WriteFile(big, data, 0o644)
	_, err = Load(big)
	checkError(t, err, big, 0, "the file is 10.0 MiB, and a mapping file is a few kilobytes (upnsync reads at most 10 MiB)")
	_, err = Parse(big, data)
	checkError(t, err, big, 0, "upnsync reads at most 10 MiB")
	_, _, err = AddUPN(big, data)
	checkError(t, err, big, 0, "upnsync reads at most 10 MiB")

	if runtime.GOOS != "windows" && os.Geteuid() != 0 {
		locked := filepath.Join(tmp, "locked.xml")
		os.WriteFile(locked, []byte("<mappings/>"), 0)
		_, err = Load(locked)
		checkError(t, err, locked, 0, "permission denied")
	}
}

func TestLoadGood(t *testing.T) {
	m, err := Load(td("ADSIReaderLDAPMappings-upn.xml"))
	if err != nil {
		t.Fatal(err)
	}
	if a, ok := m.UPN(); !ok || a.LDAP != "userPrincipalName" || a.Line != 19 {
		t.Errorf("UPN() = %+v, %v", a, ok)
	}
}

func TestNoUPNMessageQuotesPath(t *testing.T) {
	path := `C:\Octopus config\ADSIReaderLDAPMappings.xml`
	m, err := Parse(path, read(t, td("ADSIReaderLDAPMappings.xml")))
	if err != nil {
		t.Fatal(err)
	}
	err = m.Validate()
	checkError(t, err, path, 8, "run `upnsync mapping add-upn \""+path+"\"` to add "+upnElement)
}

func TestValidateBuiltInCode(t *testing.T) {
	upn := Attribute{LDAP: "userPrincipalName", Octopus: "UPN", Line: 3}
	tests := []struct {
		name string
		a    Attribute
		line int
		msg  string
	}{
		{"ok", Attribute{LDAP: "telephoneNumber", Octopus: "Phone", Separator: "x", Index: 1, HasIndex: true, Line: 4}, 0, ""},
		{"no ldap", Attribute{Octopus: "Name", Line: 4}, 4, "LDAPAttribute is empty"},
		{"no octopus", Attribute{LDAP: "cn", Line: 5}, 5, "OctopusAttribute is empty"},
		{"negative", Attribute{LDAP: "cn", Octopus: "Name", Separator: "x", Index: -2, HasIndex: true, Line: 6}, 6, "Index -2 is negative"},
		{"index without separator", Attribute{LDAP: "cn", Octopus: "Name", Index: 1, HasIndex: true, Line: 7}, 7, "Index without Separator"},
		{"same UPN twice agrees", Attribute{LDAP: "USERPRINCIPALNAME", Octopus: "upn", Line: 8}, 0, ""},
		{"UPN part of mail", Attribute{LDAP: "userPrincipalName", Octopus: "UPN", Separator: "@", Index: 0, HasIndex: true, Line: 9}, 9,
			"a second UPN entry reads userPrincipalName part 0 split on \"@\", but the one at line 3 reads userPrincipalName"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &Mapping{File: "m.xml", Name: "User", Line: 2, Attributes: []Attribute{upn, tt.a}}
			err := m.Validate()
			if tt.msg == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			checkError(t, err, "m.xml", tt.line, tt.msg)
		})
	}
}

func TestFields(t *testing.T) {
	tests := []struct {
		name  string
		doc   string
		want  Fields
		attrs []string
	}{
		{"nothing mapped", `<mappings><mapping Name="User"/></mappings>`, DefaultFields,
			[]string{"objectGUID", "sAMAccountName", "userAccountControl", "userPrincipalName", "givenName", "sn", "mail"}},
		{"default file", string(read(t, td("ADSIReaderLDAPMappings-upn.xml"))),
			Fields{UPN: Source{LDAP: "userPrincipalName"}, FirstName: Source{LDAP: "GivenName"}, LastName: Source{LDAP: "sn"}, Email: Source{LDAP: "Mail"}},
			[]string{"objectGUID", "sAMAccountName", "userAccountControl", "userPrincipalName", "GivenName", "sn", "Mail"}},
		{"Email alias", string(read(t, td("employee.xml"))),
			Fields{UPN: Source{LDAP: "userPrincipalName"}, FirstName: Source{LDAP: "givenName"}, LastName: Source{LDAP: "sn"}, Email: Source{LDAP: "mail"}},
			[]string{"objectGUID", "sAMAccountName", "userAccountControl", "userPrincipalName", "givenName", "sn", "mail"}},
		{"index, separator, aliases, first wins", `<mappings><mapping Name="User">
			<attribute LDAPAttribute="displayName" OctopusAttribute="firstname" Index="0" Separator=" "/>
			<attribute LDAPAttribute="displayName" OctopusAttribute="LASTNAME" Index="1" Separator=" "/>
			<attribute LDAPAttribute="cn" OctopusAttribute="FirstName"/>
			<attribute LDAPAttribute="proxyAddresses" OctopusAttribute="EMail"/>
			<attribute LDAPAttribute="otherMailbox" OctopusAttribute="EMailAddress"/>
			<attribute LDAPAttribute="mail" OctopusAttribute="upn"/>
			</mapping></mappings>`,
			Fields{
				UPN:       Source{LDAP: "mail"},
				FirstName: Source{LDAP: "displayName", Separator: " ", Index: 0},
				LastName:  Source{LDAP: "displayName", Separator: " ", Index: 1},
				Email:     Source{LDAP: "otherMailbox"},
			},
			[]string{"objectGUID", "sAMAccountName", "userAccountControl", "mail", "displayName", "otherMailbox"}},
		{"sAMAccountName as UPN is not requested twice", `<mappings><mapping Name="User"><attribute LDAPAttribute="SAMACCOUNTNAME" OctopusAttribute="UPN"/></mapping></mappings>`,
			Fields{UPN: Source{LDAP: "SAMACCOUNTNAME"}, FirstName: DefaultFields.FirstName, LastName: DefaultFields.LastName, Email: DefaultFields.Email},
			[]string{"objectGUID", "sAMAccountName", "userAccountControl", "givenName", "sn", "mail"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Parse("f.xml", []byte(tt.doc))
			if err != nil {
				t.Fatal(err)
			}
			f := m.Fields()
			if f != tt.want {
				t.Errorf("Fields() = %+v, want %+v", f, tt.want)
			}
			if got := f.Attributes(); !reflect.DeepEqual(got, tt.attrs) {
				t.Errorf("Attributes() = %q, want %q", got, tt.attrs)
			}
		})
	}
	// Fields must not alias DefaultFields.
	m := &Mapping{Attributes: []Attribute{{LDAP: "x", Octopus: "UPN"}}}
	_ = m.Fields()
	if DefaultFields.UPN.LDAP != "userPrincipalName" {
		t.Fatal("Fields() changed DefaultFields")
	}
}

func TestSourceValue(t *testing.T) {
	m, err := Parse("f.xml", read(t, td("ADSIReaderLDAPMappings.xml")))
	if err != nil {
		t.Fatal(err)
	}
	raw := "555-1234 x56"
	want := map[string]string{"TelephoneNumber": "555-1234", "TelephoneNumberExtension": "56", "Title": raw}
	for _, a := range m.Attributes {
		if w, ok := want[a.Octopus]; ok {
			if got := a.Source().Value(raw); got != w {
				t.Errorf("%s: Value(%q) = %q, want %q", a.Octopus, raw, got, w)
			}
		}
	}
}

func TestLDAPName(t *testing.T) {
	for name, want := range map[string]bool{
		"givenName": true, "sn": true, "msDS-UserPasswordExpiryTimeComputed": true, "extensionAttribute1": true,
		"userCertificate;binary": true, "2.5.4.3": true, "cn;lang-fr": true,
		"": false, "1abc": false, "given name": false, "given_name": false, "cn;": false, "cn;;x": false,
		"2.5": true, "2": false, "2..5": false, "02.5": false, "mail@": false, "é": false,
	} {
		if got := validLDAPName(name); got != want {
			t.Errorf("validLDAPName(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestWriteListing(t *testing.T) {
	tests := []struct {
		file string
		want []string
	}{
		{"ADSIReaderLDAPMappings-upn.xml", []string{
			"File:              " + td("ADSIReaderLDAPMappings-upn.xml") + "\n",
			"User mapping:      <mapping Name=\"User\"> at line 8\n",
			"Ignored mappings:  \"Computer\"\n",
			"\nLINE  LDAP ATTRIBUTE     OCTOPUS ATTRIBUTE         INDEX  SEPARATOR\n",
			"9     sAMAccountName     Name\n",
			"15    TelephoneNumber    TelephoneNumber           0      \"x\"\n",
			"16    TelephoneNumber    TelephoneNumberExtension  1      \"x\"\n",
			"19    userPrincipalName  UPN\n\n",
			"UPN sync: on (line 19: userPrincipalName -> UPN)\n",
			"LDAP attributes read: objectGUID, sAMAccountName, userAccountControl, userPrincipalName, GivenName, sn, Mail\n",
		}},
		{"ADSIReaderLDAPMappings.xml", []string{
			"UPN sync: off: run `upnsync mapping add-upn " + td("ADSIReaderLDAPMappings.xml") + "` to add " + upnElement + "\n",
		}},
		{"self-closing-mapping.xml", []string{"-     (no entries)\n"}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			m, err := Parse(td(tt.file), read(t, td(tt.file)))
			if err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			if err := m.WriteListing(&b); err != nil {
				t.Fatal(err)
			}
			out := b.String()
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("listing lacks %q:\n%s", w, out)
				}
			}
			if strings.Contains(out, " \n") {
				t.Errorf("listing has trailing blanks:\n%s", out)
			}
		})
	}
}

func TestErrorText(t *testing.T) {
	if got := (&Error{File: "a.xml", Line: 3, Msg: "m"}).Error(); got != "a.xml:3: m" {
		t.Errorf("got %q", got)
	}
	if got := (&Error{File: "a.xml", Msg: "m"}).Error(); got != "a.xml: m" {
		t.Errorf("got %q", got)
	}
}

// Errors that need no file of their own: each on a small document.
func TestParseInlineErrors(t *testing.T) {
	tests := []struct {
		name, doc string
		line      int
		msg       string
	}{
		{"text after the document", "<mappings>\n<mapping Name=\"User\"/>\n</mappings>\n\nstray words\n", 5, `text "stray words" after the end of the document: delete it`},
		{"entity declaration without DOCTYPE", "<!ENTITY x \"y\">\n<mappings/>", 1, "<!ENTITY ...> declaration not allowed"},
		{"XML 1.1", "<?xml version=\"1.1\"?>\n<mappings/>", 1, `not well-formed XML: unsupported version "1.1"`},
		{"cut inside the first tag", "<?xml version=\"1.0\"?>\n<mappings", 2, "the file ends in the middle of a tag"},
		{"only a comment", "<!-- nothing -->\n", 1, "no XML element in the file"},
		{"control character", "<mappings>\n<mapping Name=\"User\x01\"/></mappings>", 2, "illegal character code U+0001"},
		{"case-sensitive end tag", "<mappings>\n<mapping Name=\"User\">\n</Mapping>\n</mappings>", 3, "element <mapping> closed by </Mapping>; the element was opened at line 2"},
		{"element inside an entry", "<mappings>\n<mapping Name=\"User\">\n<attribute LDAPAttribute=\"cn\" OctopusAttribute=\"Name\">\n<value/>\n</attribute>\n</mapping>\n</mappings>", 4, "unexpected element <value> inside <attribute>"},
		{"same attribute twice", "<mappings>\n<mapping Name=\"User\" Name=\"User\"/></mappings>", 2, "<mapping> gives Name twice: keep one"},
		{"huge index", "<mappings>\n<mapping Name=\"User\">\n<attribute LDAPAttribute=\"cn\" OctopusAttribute=\"Name\" Index=\"99999999999999999999\" Separator=\",\"/>\n</mapping>\n</mappings>", 3, "is not a whole number"},
		{"UTF-16 NUL", "\xff\xfe<\x00\x00\x00", 1, "NUL character"},
		{"BOM only", "\xef\xbb\xbf", 1, "the file is empty"},
		{"ANSI without a declaration", "<mappings>\n<!-- t\xe9l\xe9phone -->\n<mapping Name=\"User\"/></mappings>", 2, `invalid UTF-8 (byte 0xE9): the file is probably saved as ANSI (Windows-1252), and its XML declaration does not say so; save it as UTF-8, or make its first line <?xml version="1.0" encoding="Windows-1252"?>`},
		{"UTF-8 declaring UTF-16", "<?xml version=\"1.0\" encoding=\"utf-16\"?>\n<mappings/>", 1, `the XML declaration says encoding="utf-16" but the file is saved as 8-bit text`},
		{"declaration on line 2", "\n<?xml version='1.0'\n encoding='latin1'?>\n<!-- caf\xc3\xa9 -->\n<mappings/>", 3, `the XML declaration says encoding="latin1" but the file is saved as UTF-8 (line 4 has 'é'`},
		{"byte without a character in Windows-1252", "<?xml version=\"1.0\" encoding=\"Windows-1252\"?>\n<mappings>\n<!-- caf\xe9 \x90 -->\n</mappings>", 3, "byte 0x90 is not a character in Windows-1252"},
		{"NUL in ANSI", "<?xml version=\"1.0\" encoding=\"Windows-1252\"?>\n<mappings>\x00</mappings>", 2, "NUL byte"},
		{"HTML after a saved-from comment", "<!-- saved from url=(0014)about:internet -->\r\n<HTML><head></head></HTML>", 2, "this is an HTML page"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("f.xml", []byte(tt.doc))
			if err == nil {
				t.Fatal("Parse succeeded")
			}
			checkError(t, err, "f.xml", tt.line, tt.msg)
		})
	}
}

func TestParseFile(t *testing.T) {
	path := td("ADSIReaderLDAPMappings.xml")
	m, err := ParseFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := m.UPN(); ok || m.File != path || len(m.Attributes) != len(defaultEntries) {
		t.Errorf("ParseFile = %+v", m)
	}
	_, err = Load(path)
	checkError(t, err, path, 8, "UPN sync is off")
	missing := td("nope.xml")
	_, err = ParseFile(missing)
	checkError(t, err, missing, 0, "no such file")
	_, err = ParseFile(td("bad/malformed.xml"))
	checkError(t, err, td("bad/malformed.xml"), 7, "not well-formed XML")
}

// The declared encoding decodes the text: a Windows-1252 "é" (0xE9) is é,
// not an error and not a replacement character.
func TestParseDeclaredEncodings(t *testing.T) {
	for _, decl := range []string{"Windows-1252", "windows-1252", "cp1252", "ISO-8859-1", "latin1", "ISO-8859-15"} {
		doc := "<?xml version=\"1.0\" encoding=\"" + decl + "\"?>\r\n<mappings><mapping Name=\"User\">" +
			"<attribute LDAPAttribute=\"telephoneNumber\" OctopusAttribute=\"TelephoneNumber\" Index=\"0\" Separator=\"\xe9\"/>" +
			"<attribute LDAPAttribute=\"userPrincipalName\" OctopusAttribute=\"UPN\"/></mapping></mappings>\r\n"
		m, err := Parse("f.xml", []byte(doc))
		if err != nil {
			t.Fatalf("%s: %v", decl, err)
		}
		if got := m.Attributes[0].Separator; got != "é" {
			t.Errorf("%s: separator %q, want %q", decl, got, "é")
		}
	}
	m, err := ParseFile(td("windows-1252-crlf.xml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Attributes) != 6 {
		t.Errorf("%d entries, want 6", len(m.Attributes))
	}
}
