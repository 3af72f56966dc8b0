package directory

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/upnsync/upnsync/mapping"
	upnsync "github.com/upnsync/upnsync/sync"
)

const ldifDir = "../../testdata/ldif/"

func readLDIF(t *testing.T, path string, opts Options) ([]upnsync.Person, upnsync.ReadResult, error) {
	t.Helper()
	opts.URL = "ldif:" + path
	d, err := Open(opts)
	if err != nil {
		t.Fatalf("Open(%s): %v", opts.URL, err)
	}
	defer d.Close()
	var people []upnsync.Person
	res, err := d.Read(context.Background(), func(p upnsync.Person) error {
		people = append(people, p)
		return nil
	})
	return people, res, err
}

func TestLDIFExports(t *testing.T) {
	jane := upnsync.Person{
		GUID: "3f2504e0-4f89-11d3-9a0c-0305e82c3301", UPN: "jane.doe@corp.example.com", SAMAccountName: "jdoe",
		Domain: "CORP", DNSDomain: "corp.example.com", DN: "CN=Jane Doe,OU=Staff,DC=corp,DC=example,DC=com",
		GivenName: "Jane", Surname: "Doe", Mail: "jane.doe@corp.example.com",
	}
	jose := upnsync.Person{
		GUID: "33221100-5544-7766-8899-aabbccddeeff", UPN: "jose.mueller.with.a.rather.long.local.part.for.folding@corp.example.com",
		SAMAccountName: "jmueller", Domain: "CORP", DNSDomain: "corp.example.com",
		DN: `CN=Müller\, José,OU=Staff,DC=corp,DC=example,DC=com`, GivenName: "José", Surname: "Müller", Disabled: true,
	}
	old := upnsync.Person{SAMAccountName: "oldacct", Domain: "CORP", DNSDomain: "corp.example.com",
		DN: "CN=Old Account,OU=Staff,DC=corp,DC=example,DC=com", Disabled: true}
	wang := upnsync.Person{
		GUID: "33221100-5544-7766-8899-aabbccddeeff", UPN: "wang.fang@corp.example.com", SAMAccountName: "wfang",
		Domain: "CORP", DNSDomain: "corp.example.com", DN: "cn=Wang Fang,ou=People,dc=corp,dc=example,dc=com",
		GivenName: "芳", Surname: "王", Disabled: true,
	}
	jose2 := upnsync.Person{
		GUID: "3f2504e0-4f89-11d3-9a0c-0305e82c3301", UPN: "Jose.Mueller@corp.example.com", SAMAccountName: "jmueller",
		Domain: "CORP", DNSDomain: "corp.example.com", DN: `CN=Müller\, José,OU=Staff,DC=corp,DC=example,DC=com`,
		Mail: "jose.mueller@corp.example.com",
	}
	janeL := upnsync.Person{GUID: jane.GUID, UPN: jane.UPN, SAMAccountName: "jdoe", Domain: "CORP",
		DNSDomain: "corp.example.com", DN: jane.DN}

	tests := []struct {
		file      string
		want      []upnsync.Person
		referrals int
	}{
		// CRLF, BOM, changetype: add, base64 dn and values, folded
		// values; an OU, a computer, a group and a contact left out.
		{"ldifde.ldif", []upnsync.Person{jane, jose, old}, 0},
		// ldifde -u: the same export in UTF-16 LE with a byte order mark,
		// accents written as text rather than base64.
		{"ldifde-u.ldif", []upnsync.Person{jane, jose, old}, 0},
		// version: 1, folded comment, folded base64 dn and GUID, attribute
		// options and names in any case, "attr:value" without a space.
		{"ldapsearch.ldif", []upnsync.Person{wang, jose2}, 0},
		// ldapsearch -L: comments, a reference, the result summary; a
		// record without objectClass is a user when it has an account name.
		{"ldapsearch-L.ldif", []upnsync.Person{janeL}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got, res, err := readLDIF(t, ldifDir+tt.file, Options{})
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			if !res.Complete || res.Pages != 1 || res.Entries != len(tt.want) || res.Referrals != tt.referrals || res.Why != "" {
				t.Errorf("result = %+v, want complete, 1 page, %d entries, %d referrals", res, len(tt.want), tt.referrals)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d people, want %d: %+v", len(got), len(tt.want), got)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("person %d:\n got %+v\nwant %+v", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestLDIFFieldsAndDomain(t *testing.T) {
	// A mapping that takes the first and last names from one attribute.
	f := mapping.Fields{
		FirstName: mapping.Source{LDAP: "description", Separator: " ", Index: 0},
		LastName:  mapping.Source{LDAP: "DESCRIPTION", Separator: " ", Index: 1},
	}
	got, _, err := readLDIF(t, ldifDir+"ldifde.ldif", Options{Fields: f, NetBIOSDomain: "CORPNET"})
	if err != nil {
		t.Fatal(err)
	}
	p := got[1]
	if p.GivenName != "A" || p.Surname != "long" || p.UPN == "" || p.Mail != "" || p.Domain != "CORPNET" || p.DNSDomain != "corp.example.com" {
		t.Errorf("person = %+v", p)
	}
}

func TestLDIFErrors(t *testing.T) {
	tests := []struct{ file, want string }{
		{"bad-base64.ldif", ":3: bad base64 in the value of objectGUID: illegal base64 data at input byte 4"},
		{"no-colon.ldif", `:4: line has no ':' (expected attribute: value): "this line has no colon"`},
		{"continuation-first.ldif", ":3: continuation line (starting with a space) before any attribute: there is no line for it to continue"},
		{"nul.ldif", ":3: NUL byte in the line: this is not a text LDIF file (binary values must be base64, written attr:: ...)"},
		{"invalid-utf8.ldif", ":3: the value of sn is not valid UTF-8: write it as base64 (sn:: ...) or save the file as UTF-8"},
		{"url-value.ldif", ":3: the value of jpegPhoto is a URL (jpegPhoto:<file:///etc/passwd): upnsync does not read values from URLs; export the value inline"},
		{"changetype-modify.ldif", ":2: changetype: modify is not supported: give an export of entries (records without changetype, or with changetype: add)"},
		{"version-2.ldif", `:1: LDIF version "2" is not supported (only version: 1)`},
		{"no-dn.ldif", `:1: record starts with "sAMAccountName", not with dn:`},
		{"second-dn.ldif", ":3: second dn: in one record: separate records with a blank line"},
		{"bad-attribute-name.ldif", `:3: "user principal name" is not an attribute name`},
		// Nobody to sync, or cut off: never read as a complete directory.
		{"empty.ldif", ": the export holds no entries (no dn: line): it is empty or not an LDIF export; export the users again"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			path := ldifDir + tt.file
			_, res, err := readLDIF(t, path, Options{})
			want := path + tt.want
			if err == nil || err.Error() != want {
				t.Fatalf("error = %v\nwant    %s", err, want)
			}
			if !errors.Is(err, ErrLDIF) {
				t.Errorf("error does not wrap ErrLDIF")
			}
			if res.Complete || res.Why != want {
				t.Errorf("result = %+v, want incomplete with Why = the error", res)
			}
		})
	}
}

func TestLDIFLongLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "long.ldif")
	content := "dn: CN=x,DC=corp,DC=example,DC=com\nobjectClass: user\ndescription: " + strings.Repeat("x", 1<<20+10) + "\n"
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, err := readLDIF(t, path, Options{})
	want := path + ":3: line longer than 1 MiB: this is not an LDIF export (or it holds a huge value)"
	if err == nil || err.Error() != want {
		t.Fatalf("error = %v\nwant    %s", err, want)
	}
	// Just under the limit is fine.
	content = "dn: CN=x,DC=corp,DC=example,DC=com\nobjectClass: user\nsAMAccountName: x\ndescription: " + strings.Repeat("x", 1<<20-20) + "\n"
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	people, _, err := readLDIF(t, path, Options{})
	if err != nil || len(people) != 1 {
		t.Fatalf("people %d, error %v", len(people), err)
	}
}

func TestLDIFIncompleteExport(t *testing.T) {
	path := ldifDir + "sizelimit.ldif"
	people, res, err := readLDIF(t, path, Options{})
	want := path + `:11: the export says "result: 4 Size limit exceeded": it holds only part of the directory; export again with paging (ldapsearch -E pr=1000/noprompt)`
	if err == nil || err.Error() != want {
		t.Fatalf("error = %v\nwant    %s", err, want)
	}
	if res.Complete || len(people) != 1 || res.Entries != 1 {
		t.Errorf("result = %+v, %d people", res, len(people))
	}
}

func TestLDIFOpenAndStop(t *testing.T) {
	if _, err := Open(Options{URL: "ldif:" + ldifDir + "missing.ldif"}); err == nil ||
		!strings.Contains(err.Error(), "cannot read LDIF file "+ldifDir+"missing.ldif: no such file or directory") {
		t.Errorf("missing file: %v", err)
	}
	if _, err := Open(Options{URL: "ldif:" + ldifDir}); err == nil || !strings.Contains(err.Error(), "is a folder") {
		t.Errorf("folder: %v", err)
	}
	if _, err := Open(Options{URL: `ldif:C:\exports\users.ldif`}); err == nil ||
		!strings.HasPrefix(err.Error(), `cannot read LDIF file C:\exports\users.ldif: `) {
		t.Errorf("Windows path: %v", err)
	}
	if _, err := Open(Options{URL: "ldif:"}); err == nil || !strings.Contains(err.Error(), "ldif:PATH") {
		t.Errorf("no path: %v", err)
	}
	d, err := Open(Options{URL: "ldif:" + ldifDir + "ldifde.ldif"})
	if err != nil {
		t.Fatal(err)
	}
	if got := d.Describe(); got != "ldif:"+ldifDir+"ldifde.ldif" {
		t.Errorf("Describe = %q", got)
	}
	// fn's error stops the read, which is then incomplete.
	boom := errors.New("boom")
	res, err := d.Read(context.Background(), func(upnsync.Person) error { return boom })
	if !errors.Is(err, boom) || res.Complete || res.Entries != 1 || !strings.Contains(res.Why, "stopped at line") {
		t.Errorf("stop: %+v %v", res, err)
	}
	// A cancelled context stops it too.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res, err = d.Read(ctx, func(upnsync.Person) error { return nil })
	if !errors.Is(err, context.Canceled) || res.Complete || !strings.Contains(res.Why, "cancelled") {
		t.Errorf("cancel: %+v %v", res, err)
	}
}

// An export cut off mid-line (a copy interrupted, a full disk), or cut
// at a line boundary where the format shows it, or holding nobody, is an
// error naming the file and line: read as complete, it would make
// everyone upnsync added an entry for look departed.
func TestLDIFCutOffOrEmpty(t *testing.T) {
	whole, err := os.ReadFile(ldifDir + "ldapsearch-L.ldif")
	if err != nil {
		t.Fatal(err)
	}
	text := string(whole)
	dir := t.TempDir()
	for _, tt := range []struct {
		name, content, want string
	}{
		{"cut in a value", text[:strings.Index(text, "jane.doe@")+4], ":13: the file ends in the middle of this line (in the entry \"CN=Jane Doe,OU=Staff,DC=corp,DC=example,DC=com\"), without a line break: it was cut off"},
		{"cut in a dn", "version: 1\n\ndn: CN=Jane D", ":3: the file ends in the middle of this line, without a line break: it was cut off"},
		{"cut in a folded line", text[:strings.Index(text, " mple,DC=com")+3], ":18: the file ends in the middle of this line"},
		{"cut in base64, CRLF", "dn: CN=a,DC=corp\r\nobjectClass: user\r\nobjectGUID:: 4AQlP4lP0", ":3: the file ends in the middle of this line (in the entry \"CN=a,DC=corp\")"},
		{"the last line complete but its line break missing", strings.TrimSuffix(text, "\n") + "\nsAMAccountName: x", ":28: the file ends in the middle of this line"},
		{"ldapsearch's header, cut at a line end", text[:strings.Index(text, "# search reference")], `:15: the export begins with ldapsearch's "# extended LDIF" header but ends without the "result:" line ldapsearch writes last: it was cut off after this line`},
		{"comments only", "# users of corp.example.com\n#\n", ": the export holds no entries (no dn: line)"},
		{"no users", "dn: OU=Staff,DC=corp\nobjectClass: organizationalUnit\n\ndn: CN=PC1,DC=corp\nobjectClass: user\nobjectClass: computer\n",
			": none of the export's 2 entries is a user (objectClass user, person or inetOrgPerson, or an entry with a sAMAccountName or userPrincipalName): export the users"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, "export.ldif")
			if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, res, err := readLDIF(t, path, Options{})
			if err == nil || !strings.HasPrefix(err.Error(), path+tt.want) || !errors.Is(err, ErrLDIF) {
				t.Fatalf("error = %v\nwant    %s...", err, path+tt.want)
			}
			if res.Complete {
				t.Errorf("read as complete: %+v", res)
			}
		})
	}
	// A comment as the last line, without a line break, cuts no entry.
	path := filepath.Join(dir, "trailer.ldif")
	if err := os.WriteFile(path, []byte(strings.TrimSuffix(text, "\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	if people, res, err := readLDIF(t, path, Options{}); err != nil || !res.Complete || len(people) != 1 {
		t.Errorf("a trailing comment without a line break: %d people, %+v, %v", len(people), res, err)
	}
}
