package mapping

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// goldenCases are the inputs AddUPN is compared on, byte for byte, with
// the file each must become.
var goldenCases = []struct{ in, want string }{
	{"ADSIReaderLDAPMappings.xml", "ADSIReaderLDAPMappings-upn.xml"},
	{"employee.xml", "add-upn/employee.xml"},
	{"bom-crlf-tabs.xml", "add-upn/bom-crlf-tabs.xml"},
	{"utf16le-bom.xml", "add-upn/utf16le-bom.xml"},
	{"utf16be-nobom.xml", "add-upn/utf16be-nobom.xml"},
	{"empty-mapping.xml", "add-upn/empty-mapping.xml"},
	{"self-closing-mapping.xml", "add-upn/self-closing-mapping.xml"},
	{"comment-inside-mapping.xml", "add-upn/comment-inside-mapping.xml"},
	{"one-line.xml", "add-upn/one-line.xml"},
	// Notepad's "ANSI" with French comments, CRLF, declared Windows-1252.
	{"windows-1252-crlf.xml", "add-upn/windows-1252-crlf.xml"},
}

func TestAddUPNGolden(t *testing.T) {
	for _, tt := range goldenCases {
		t.Run(tt.in, func(t *testing.T) {
			in := read(t, td(tt.in))
			out, changed, err := AddUPN(td(tt.in), in)
			if err != nil {
				t.Fatal(err)
			}
			if !changed {
				t.Fatal("changed = false")
			}
			if *update {
				if err := os.WriteFile(td(tt.want), out, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if want := read(t, td(tt.want)); !bytes.Equal(out, want) {
				t.Errorf("output differs from %s:\n got %q\nwant %q", tt.want, out, want)
			}
			// Only an insertion: the input is a prefix plus a suffix of the output.
			if tt.in != "self-closing-mapping.xml" && !isInsertion(in, out) {
				t.Errorf("output is not the input plus inserted bytes")
			}
		})
	}
}

func isInsertion(in, out []byte) bool {
	p := 0
	for p < len(in) && in[p] == out[p] {
		p++
	}
	return len(out) > len(in) && bytes.Equal(in[p:], out[len(out)-(len(in)-p):])
}

// Small documents for what the golden files do not show.
func TestAddUPNInline(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"trailing comment stays with its entry",
			"<mappings>\n  <mapping Name=\"User\">\n    <attribute LDAPAttribute=\"sn\" OctopusAttribute=\"LastName\"/>  <!-- surname -->  \n  </mapping>\n</mappings>\n",
			"<mappings>\n  <mapping Name=\"User\">\n    <attribute LDAPAttribute=\"sn\" OctopusAttribute=\"LastName\"/>  <!-- surname -->  \n    <attribute LDAPAttribute=\"userPrincipalName\" OctopusAttribute=\"UPN\"/>\n  </mapping>\n</mappings>\n"},
		{"multi-line comment after the entry stays put",
			"<mappings>\n  <mapping Name=\"User\">\n    <attribute LDAPAttribute=\"sn\" OctopusAttribute=\"LastName\"/> <!-- a\n    b -->\n  </mapping>\n</mappings>\n",
			"<mappings>\n  <mapping Name=\"User\">\n    <attribute LDAPAttribute=\"sn\" OctopusAttribute=\"LastName\"/>\n    <attribute LDAPAttribute=\"userPrincipalName\" OctopusAttribute=\"UPN\"/> <!-- a\n    b -->\n  </mapping>\n</mappings>\n"},
		{"end tag on the entry's line",
			"<mappings>\n\t<mapping Name=\"User\">\n\t\t<attribute LDAPAttribute=\"sn\" OctopusAttribute=\"LastName\"/></mapping>\n</mappings>",
			"<mappings>\n\t<mapping Name=\"User\">\n\t\t<attribute LDAPAttribute=\"sn\" OctopusAttribute=\"LastName\"/>\n\t\t<attribute LDAPAttribute=\"userPrincipalName\" OctopusAttribute=\"UPN\"/></mapping>\n</mappings>"},
		{"entries side by side",
			"<mappings>\n <mapping Name=\"User\"><attribute LDAPAttribute=\"cn\" OctopusAttribute=\"Name\"/> <attribute LDAPAttribute=\"sn\" OctopusAttribute=\"LastName\"/>\n </mapping>\n</mappings>",
			"<mappings>\n <mapping Name=\"User\"><attribute LDAPAttribute=\"cn\" OctopusAttribute=\"Name\"/> <attribute LDAPAttribute=\"sn\" OctopusAttribute=\"LastName\"/> <attribute LDAPAttribute=\"userPrincipalName\" OctopusAttribute=\"UPN\"/>\n </mapping>\n</mappings>"},
		{"explicit end tags, Octopus first, odd spelling",
			"<mappings>\r\n  <mapping Name=\"User\">\r\n    <Attribute OCTOPUSattribute = 'Name' LdapAttribute = 'cn'></Attribute>\r\n  </mapping>\r\n</mappings>\r\n",
			"<mappings>\r\n  <mapping Name=\"User\">\r\n    <Attribute OCTOPUSattribute = 'Name' LdapAttribute = 'cn'></Attribute>\r\n    <Attribute OCTOPUSattribute='UPN' LdapAttribute='userPrincipalName'></Attribute>\r\n  </mapping>\r\n</mappings>\r\n"},
		{"style copied from another mapping",
			"<mappings>\n    <mapping Name=\"Computer\">\n        <ATTRIBUTE ldapAttribute='cn' octopusAttribute='Name' />\n    </mapping>\n    <mapping Name=\"User\"></mapping>\n</mappings>\n",
			"<mappings>\n    <mapping Name=\"Computer\">\n        <ATTRIBUTE ldapAttribute='cn' octopusAttribute='Name' />\n    </mapping>\n    <mapping Name=\"User\">\n        <ATTRIBUTE ldapAttribute='userPrincipalName' octopusAttribute='UPN' />\n    </mapping>\n</mappings>\n"},
		{"empty mapping with blank lines inside",
			"<mappings>\n  <mapping Name=\"User\">\n\n  </mapping>\n</mappings>\n",
			"<mappings>\n  <mapping Name=\"User\">\n    <attribute LDAPAttribute=\"userPrincipalName\" OctopusAttribute=\"UPN\"/>\n\n  </mapping>\n</mappings>\n"},
		{"self-closing on one line",
			"<mappings><mapping Name=\"User\" /></mappings>",
			"<mappings><mapping Name=\"User\"><attribute LDAPAttribute=\"userPrincipalName\" OctopusAttribute=\"UPN\"/></mapping></mappings>"},
		{"empty mapping on one line",
			"<mappings><Mapping Name=\"User\"></Mapping></mappings>",
			"<mappings><Mapping Name=\"User\"><attribute LDAPAttribute=\"userPrincipalName\" OctopusAttribute=\"UPN\"/></Mapping></mappings>"},
		{"no indentation to learn from, spaces",
			"<mappings>\n<mapping Name=\"User\"/>\n</mappings>\n",
			"<mappings>\n<mapping Name=\"User\">\n  <attribute LDAPAttribute=\"userPrincipalName\" OctopusAttribute=\"UPN\"/>\n</mapping>\n</mappings>\n"},
		{"old Mac line endings",
			"<mappings>\r\t<mapping Name=\"User\">\r\t\t<attribute LDAPAttribute=\"cn\" OctopusAttribute=\"Name\"/>\r\t</mapping>\r</mappings>",
			"<mappings>\r\t<mapping Name=\"User\">\r\t\t<attribute LDAPAttribute=\"cn\" OctopusAttribute=\"Name\"/>\r\t\t<attribute LDAPAttribute=\"userPrincipalName\" OctopusAttribute=\"UPN\"/>\r\t</mapping>\r</mappings>"},
		{"ISO-8859-15 with a euro sign comes back in ISO-8859-15",
			"<?xml version=\"1.0\" encoding=\"ISO-8859-15\"?>\n<mappings>\n  <!-- 5 \xa4, \xe9t\xe9 -->\n  <mapping Name=\"User\">\n    <attribute LDAPAttribute=\"cn\" OctopusAttribute=\"Name\"/>\n  </mapping>\n</mappings>\n",
			"<?xml version=\"1.0\" encoding=\"ISO-8859-15\"?>\n<mappings>\n  <!-- 5 \xa4, \xe9t\xe9 -->\n  <mapping Name=\"User\">\n    <attribute LDAPAttribute=\"cn\" OctopusAttribute=\"Name\"/>\n    <attribute LDAPAttribute=\"userPrincipalName\" OctopusAttribute=\"UPN\"/>\n  </mapping>\n</mappings>\n"},
		{"prefixed names",
			"<o:mappings xmlns:o=\"urn:x\">\n <o:mapping Name=\"User\">\n  <o:attribute LDAPAttribute=\"cn\" OctopusAttribute=\"Name\"/>\n </o:mapping>\n</o:mappings>\n",
			"<o:mappings xmlns:o=\"urn:x\">\n <o:mapping Name=\"User\">\n  <o:attribute LDAPAttribute=\"cn\" OctopusAttribute=\"Name\"/>\n  <o:attribute LDAPAttribute=\"userPrincipalName\" OctopusAttribute=\"UPN\"/>\n </o:mapping>\n</o:mappings>\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, changed, err := AddUPN("f.xml", []byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if !changed || string(out) != tt.want {
				t.Errorf("changed=%v\n got %q\nwant %q", changed, out, tt.want)
			}
			again, changed, err := AddUPN("f.xml", out)
			if err != nil || changed || !bytes.Equal(again, out) {
				t.Errorf("second run: changed=%v err=%v", changed, err)
			}
		})
	}
}

func TestAddUPNIdempotent(t *testing.T) {
	files := []string{"ADSIReaderLDAPMappings-upn.xml"}
	for _, c := range goldenCases {
		files = append(files, c.want)
	}
	for _, f := range files {
		t.Run(f, func(t *testing.T) {
			data := read(t, td(f))
			m, err := Parse(f, data)
			if err != nil {
				t.Fatal(err)
			}
			if err := m.Validate(); err != nil {
				t.Fatalf("the output does not validate: %v", err)
			}
			out, changed, err := AddUPN(f, data)
			if err != nil || changed || !bytes.Equal(out, data) {
				t.Errorf("changed=%v err=%v, identical=%v", changed, err, bytes.Equal(out, data))
			}
		})
	}
	// Any letter case counts as present.
	doc := `<mappings><mapping Name="User"><attribute LDAPAttribute="mail" OctopusAttribute="upn"/></mapping></mappings>`
	if out, changed, err := AddUPN("f.xml", []byte(doc)); err != nil || changed || string(out) != doc {
		t.Errorf("lower-case upn: changed=%v err=%v", changed, err)
	}
}

func TestAddUPNErrors(t *testing.T) {
	tests := []struct {
		file string
		line int
		msg  string
	}{
		{"bad/upn-disagree.xml", 5, "a second UPN entry reads mail"},
		{"bad/index-without-separator.xml", 4, "Index without Separator"},
		{"bad/no-user-mapping.xml", 2, "no user mapping"},
		{"bad/doctype.xml", 2, "DOCTYPE not allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			out, changed, err := AddUPN(td(tt.file), read(t, td(tt.file)))
			if err == nil || changed || out != nil {
				t.Fatalf("out=%q changed=%v err=%v", out, changed, err)
			}
			checkError(t, err, td(tt.file), tt.line, tt.msg)
		})
	}
}

func copyTo(t *testing.T, src, dst string, mode fs.FileMode) {
	t.Helper()
	if err := os.WriteFile(dst, read(t, src), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dst, mode); err != nil {
		t.Fatal(err)
	}
}

func onlyFiles(t *testing.T, dir string, want ...string) {
	t.Helper()
	ents, _ := os.ReadDir(dir)
	var got []string
	for _, e := range ents {
		got = append(got, e.Name())
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("folder holds %q, want %q (a temporary file left behind?)", got, want)
	}
}

func mode(t *testing.T, path string) fs.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

func TestAddUPNFileInPlace(t *testing.T) {
	tmp := t.TempDir()
	path := filepath.Join(tmp, DefaultFileName)
	copyTo(t, td("bom-crlf-tabs.xml"), path, 0o640)
	for _, out := range []string{"", path} { // "" and the same path both mean in place
		copyTo(t, td("bom-crlf-tabs.xml"), path, 0o640)
		changed, err := AddUPNFile(path, out)
		if err != nil || !changed {
			t.Fatalf("out=%q: changed=%v err=%v", out, changed, err)
		}
		if got, want := read(t, path), read(t, td("add-upn/bom-crlf-tabs.xml")); !bytes.Equal(got, want) {
			t.Errorf("out=%q: file is\n%q\nwant\n%q", out, got, want)
		}
		if runtime.GOOS != "windows" && mode(t, path) != 0o640 {
			t.Errorf("mode = %v, want 0640", mode(t, path))
		}
		onlyFiles(t, tmp, DefaultFileName)
	}

	// A second run must not even rewrite the file.
	old := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := os.Chtimes(path, old, old); err != nil {
		t.Fatal(err)
	}
	before := read(t, path)
	changed, err := AddUPNFile(path, "")
	if err != nil || changed {
		t.Fatalf("second run: changed=%v err=%v", changed, err)
	}
	fi, _ := os.Stat(path)
	if !fi.ModTime().Equal(old) {
		t.Errorf("mtime changed to %v on a run that changed nothing", fi.ModTime())
	}
	if !bytes.Equal(read(t, path), before) {
		t.Error("content changed on a run that changed nothing")
	}
}

func TestAddUPNFileToOut(t *testing.T) {
	tmp := t.TempDir()
	in := filepath.Join(tmp, "in.xml")
	out := filepath.Join(tmp, "out.xml")
	copyTo(t, td("ADSIReaderLDAPMappings.xml"), in, 0o600)
	changed, err := AddUPNFile(in, out)
	if err != nil || !changed {
		t.Fatalf("changed=%v err=%v", changed, err)
	}
	if !bytes.Equal(read(t, in), read(t, td("ADSIReaderLDAPMappings.xml"))) {
		t.Error("the input was modified")
	}
	if !bytes.Equal(read(t, out), read(t, td("ADSIReaderLDAPMappings-upn.xml"))) {
		t.Error("the output is not the golden file")
	}
	if runtime.GOOS != "windows" && mode(t, out) != 0o600 {
		t.Errorf("new output has mode %v, want the input's 0600", mode(t, out))
	}
	onlyFiles(t, tmp, "in.xml", "out.xml")

	// Same content already there: OUT is left alone.
	old := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	os.Chtimes(out, old, old)
	if changed, err := AddUPNFile(in, out); err != nil || !changed {
		t.Fatalf("changed=%v err=%v", changed, err)
	}
	if fi, _ := os.Stat(out); !fi.ModTime().Equal(old) {
		t.Error("an identical output was rewritten")
	}

	// An input that already has UPN is copied to a different OUT.
	up := filepath.Join(tmp, "up.xml")
	copyTo(t, td("ADSIReaderLDAPMappings-upn.xml"), in, 0o644)
	if changed, err := AddUPNFile(in, up); err != nil || changed {
		t.Fatalf("changed=%v err=%v", changed, err)
	}
	if !bytes.Equal(read(t, up), read(t, in)) {
		t.Error("OUT is not a copy of an input that needed no change")
	}

	// An existing OUT keeps its own mode.
	copyTo(t, td("ADSIReaderLDAPMappings.xml"), in, 0o644)
	os.Chmod(out, 0o604)
	os.WriteFile(out, []byte("stale"), 0o604)
	if _, err := AddUPNFile(in, out); err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && mode(t, out) != 0o604 {
		t.Errorf("existing output's mode became %v, want 0604", mode(t, out))
	}
}

func TestAddUPNFileErrors(t *testing.T) {
	tmp := t.TempDir()
	in := filepath.Join(tmp, "in.xml")
	copyTo(t, td("ADSIReaderLDAPMappings.xml"), in, 0o644)

	_, err := AddUPNFile(filepath.Join(tmp, "missing.xml"), "")
	checkError(t, err, filepath.Join(tmp, "missing.xml"), 0, "no such file")

	_, err = AddUPNFile(in, tmp)
	checkError(t, err, tmp, 0, "is a folder: pass a file path for the output")

	bad := filepath.Join(tmp, "bad.xml")
	copyTo(t, td("bad/malformed.xml"), bad, 0o644)
	_, err = AddUPNFile(bad, "")
	checkError(t, err, bad, 7, "not well-formed XML")
	if !bytes.Equal(read(t, bad), read(t, td("bad/malformed.xml"))) {
		t.Error("a file that failed to parse was modified")
	}

	nodir := filepath.Join(tmp, "no", "such", "dir", "out.xml")
	_, err = AddUPNFile(in, nodir)
	checkError(t, err, nodir, 0, "cannot write")
	if !bytes.Equal(read(t, in), read(t, td("ADSIReaderLDAPMappings.xml"))) {
		t.Error("the input was modified")
	}
}

func TestAddUPNFileThroughSymlink(t *testing.T) {
	tmp := t.TempDir()
	real := filepath.Join(tmp, "real.xml")
	link := filepath.Join(tmp, "link.xml")
	copyTo(t, td("ADSIReaderLDAPMappings.xml"), real, 0o644)
	if err := os.Symlink(real, link); err != nil {
		t.Skip("no symbolic links here:", err)
	}
	if _, err := AddUPNFile(link, ""); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		t.Error("the link was replaced by a file")
	}
	if !bytes.Equal(read(t, real), read(t, td("ADSIReaderLDAPMappings-upn.xml"))) {
		t.Error("the link's target was not updated")
	}
}
