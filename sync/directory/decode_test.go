package directory

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"

	"github.com/upnsync/upnsync/mapping"
	upnsync "github.com/upnsync/upnsync/sync"
)

func TestGUIDString(t *testing.T) {
	tests := []struct {
		hex, want string
		err       bool
	}{
		{"e004253f894fd3119a0c0305e82c3301", "3f2504e0-4f89-11d3-9a0c-0305e82c3301", false},
		{"00112233445566778899aabbccddeeff", "33221100-5544-7766-8899-aabbccddeeff", false},
		{"ffffffffffffffffffffffffffffffff", "ffffffff-ffff-ffff-ffff-ffffffffffff", false},
		{"00000000000000000000000000000000", "00000000-0000-0000-0000-000000000000", false},
		{"", "", true},
		{"e004253f894fd3119a0c0305e82c33", "", true},     // 15 bytes
		{"e004253f894fd3119a0c0305e82c330100", "", true}, // 17 bytes
	}
	for _, tt := range tests {
		raw, _ := hex.DecodeString(tt.hex)
		got, err := GUIDString(raw)
		if got != tt.want || (err != nil) != tt.err {
			t.Errorf("GUIDString(%s) = %q, %v; want %q, error %t", tt.hex, got, err, tt.want, tt.err)
		}
		if tt.err && !errors.Is(err, ErrGUIDLength) {
			t.Errorf("GUIDString(%s) error %v does not wrap ErrGUIDLength", tt.hex, err)
		}
		if !tt.err {
			back, err := GUIDBytes(strings.ToUpper(got))
			if err != nil || !bytes.Equal(back, raw) {
				t.Errorf("GUIDBytes(%s) = %x, %v; want %x", got, back, err, raw)
			}
		}
	}
}

func TestGUIDBytesRejects(t *testing.T) {
	for _, s := range []string{"", "3f2504e0-4f89-11d3-9a0c-0305e82c330", "3f2504e0x4f89-11d3-9a0c-0305e82c3301",
		"3f2504e0-4f89-11d3-9a0c-0305e82c33g1", "{3f2504e0-4f89-11d3-9a0c-0305e82c3301", "3f2504e04f8911d39a0c0305e82c3301",
		"{00000000-0000-0000-0000-000000-00000}", "00000000-0000-0000-0000-0000000000-0"} {
		if b, err := GUIDBytes(s); err == nil {
			t.Errorf("GUIDBytes(%q) = %x, want an error", s, b)
		}
	}
	b, err := GUIDBytes("{3F2504E0-4F89-11D3-9A0C-0305E82C3301}")
	if err != nil || hex.EncodeToString(b) != "e004253f894fd3119a0c0305e82c3301" {
		t.Errorf("braces: %x %v", b, err)
	}
}

func TestGUIDFromValue(t *testing.T) {
	raw, _ := hex.DecodeString("e004253f894fd3119a0c0305e82c3301")
	tests := []struct {
		in, want string
		err      bool
	}{
		{string(raw), "3f2504e0-4f89-11d3-9a0c-0305e82c3301", false},
		{"3F2504E0-4F89-11D3-9A0C-0305E82C3301", "3f2504e0-4f89-11d3-9a0c-0305e82c3301", false},
		{"{3f2504e0-4f89-11d3-9a0c-0305e82c3301}", "3f2504e0-4f89-11d3-9a0c-0305e82c3301", false},
		{"abc", "", true},
		{string(raw[:8]), "", true},
		{strings.Repeat("x", 36), "", true},
	}
	for _, tt := range tests {
		got, err := guidFromValue(tt.in)
		if got != tt.want || (err != nil) != tt.err {
			t.Errorf("guidFromValue(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestUACDisabled(t *testing.T) {
	tests := map[string]bool{
		"512": false, "514": true, "66048": false, "66050": true, "2": true, "0": false, "": false,
		"-2147483646": true, "+514": true, "abc": false, "51x": false, "4096": false, "546": true,
		"99999999999999999999": false,
	}
	for in, want := range tests {
		if got := uacDisabled(in); got != want {
			t.Errorf("uacDisabled(%q) = %t, want %t", in, got, want)
		}
	}
}

func TestDomainOfDN(t *testing.T) {
	tests := []struct{ dn, netbios, dns string }{
		{"CN=Jane Doe,OU=Staff,DC=corp,DC=example,DC=com", "CORP", "corp.example.com"},
		{"cn=jane,dc=Corp,dc=Example,dc=COM", "CORP", "corp.example.com"},
		{`CN=Müller\, José,OU=Staff,DC=corp,DC=example,DC=com`, "CORP", "corp.example.com"},
		{"CN=a, OU=b, DC=emea, DC=corp, DC=example, DC=com", "EMEA", "emea.corp.example.com"},
		{"CN=x,DC=notlast,OU=y,DC=corp,DC=com", "CORP", "corp.com"},
		{`CN=dc\=fake,DC=corp,DC=com`, "CORP", "corp.com"},
		{`CN=x,OU=dc=evil\,,DC=lab,DC=local`, "LAB", "lab.local"},
		{"CN=x,O=Example,C=NL", "", ""},
		{"", "", ""},
		{"DC=com", "COM", "com"},
		{`CN=x,DC=my\2Dcorp,DC=com`, "MY-CORP", "my-corp.com"},
		{`CN="Doe, Jane",DC=corp,DC=com`, "CORP", "corp.com"},
		{"CN=x,DC=a+CN=b,DC=corp,DC=com", "CORP", "corp.com"},
	}
	for _, tt := range tests {
		nb, dns := DomainOfDN(tt.dn)
		if nb != tt.netbios || dns != tt.dns {
			t.Errorf("DomainOfDN(%q) = %q, %q; want %q, %q", tt.dn, nb, dns, tt.netbios, tt.dns)
		}
		var c domainCache
		for range 2 { // the second lookup comes from the cache
			d := c.lookup(tt.dn)
			if d.netbios != tt.netbios || d.dns != tt.dns {
				t.Errorf("cache lookup(%q) = %+v", tt.dn, d)
			}
		}
	}
}

func TestBaseFromDomain(t *testing.T) {
	tests := []struct{ in, want, err string }{
		{"corp.example.com", "DC=corp,DC=example,DC=com", ""},
		{" corp.example.com. ", "DC=corp,DC=example,DC=com", ""},
		{"CORP", "DC=CORP", ""},
		{"OU=USERS,OU=\"TORONTO OFFICE\",DC=MyCompany,DC=com", "OU=USERS,OU=TORONTO OFFICE,DC=MyCompany,DC=com", ""},
		{"OU=USERS,OU=TORONTO OFFICE,DC=MyCompany,DC=com", "OU=USERS,OU=TORONTO OFFICE,DC=MyCompany,DC=com", ""},
		{`OU= "Sales, EMEA" ,DC=corp,DC=com`, `OU=Sales\, EMEA,DC=corp,DC=com`, ""},
		{`CN="say \"hi\"",DC=corp,DC=com`, `CN=say \"hi\",DC=corp,DC=com`, ""},
		{`OU="unbalanced,DC=com`, "", "is not a valid DN"},
		{"dc=corp,dc=example,dc=com", "dc=corp,dc=example,dc=com", ""},
		{"", "", "empty search base"},
		{"corp..com", "", "neither a DN"},
		{"corp example.com", "", "neither a DN"},
		{"-corp.com", "", "neither a DN"},
		{"OU=x,,DC=com", "", "is not a valid DN"},
		{"=x", "", "is not a valid DN"},
	}
	for _, tt := range tests {
		got, err := BaseFromDomain(tt.in)
		if got != tt.want || (err == nil) != (tt.err == "") || err != nil && !strings.Contains(err.Error(), tt.err) {
			t.Errorf("BaseFromDomain(%q) = %q, %v; want %q, error containing %q", tt.in, got, err, tt.want, tt.err)
		}
	}
}

func adEntry() *ldap.Entry {
	raw, _ := hex.DecodeString("e004253f894fd3119a0c0305e82c3301")
	return &ldap.Entry{
		DN: "CN=Jane Doe,OU=Staff,OU=Amsterdam,DC=corp,DC=example,DC=com",
		Attributes: []*ldap.EntryAttribute{
			{Name: "objectGUID", Values: []string{string(raw)}, ByteValues: [][]byte{raw}},
			{Name: "SAMACCOUNTNAME", Values: []string{"jdoe"}, ByteValues: [][]byte{[]byte("jdoe")}},
			{Name: "userAccountControl", Values: []string{"514"}, ByteValues: [][]byte{[]byte("514")}},
			{Name: "userPrincipalName", Values: []string{"Jane.Doe@corp.example.com"}, ByteValues: [][]byte{[]byte("Jane.Doe@corp.example.com")}},
			{Name: "givenname", Values: []string{"Jane"}, ByteValues: [][]byte{[]byte("Jane")}},
			{Name: "sn", Values: []string{"Doe"}, ByteValues: [][]byte{[]byte("Doe")}},
			{Name: "mail", Values: []string{"jane.doe@corp.example.com", "second@corp.example.com"}},
			{Name: "telephoneNumber", Values: []string{"555-1234x56"}},
		},
	}
}

func TestDecodeEntry(t *testing.T) {
	want := upnsync.Person{
		GUID: "3f2504e0-4f89-11d3-9a0c-0305e82c3301", UPN: "Jane.Doe@corp.example.com", SAMAccountName: "jdoe",
		Domain: "CORP", DNSDomain: "corp.example.com", DN: "CN=Jane Doe,OU=Staff,OU=Amsterdam,DC=corp,DC=example,DC=com",
		GivenName: "Jane", Surname: "Doe", Mail: "jane.doe@corp.example.com", Disabled: true,
	}
	d := newDecoder(mapping.Fields{}, "")
	if got := d.entry(adEntry()); got != want {
		t.Errorf("entry:\n got %+v\nwant %+v", got, want)
	}
	if got := strings.Join(d.attrs, ","); got != "objectGUID,sAMAccountName,userAccountControl,userPrincipalName,givenName,sn,mail" {
		t.Errorf("attributes requested: %s", got)
	}

	// A mapping with a separator, an explicit NetBIOS name, a bad GUID.
	f := mapping.Fields{
		FirstName: mapping.Source{LDAP: "TelephoneNumber", Separator: "x", Index: 0},
		LastName:  mapping.Source{LDAP: "telephonenumber", Separator: "x", Index: 1},
		Email:     mapping.Source{LDAP: "mail", Separator: "x", Index: 5},
	}
	d = newDecoder(f, "CORPNET")
	e := adEntry()
	e.Attributes[0].Values = []string{"short"}
	got := d.entry(e)
	if got.GivenName != "555-1234" || got.Surname != "56" || got.Mail != "" || got.Domain != "CORPNET" || got.GUID != "" {
		t.Errorf("mapped entry: %+v", got)
	}
	if d.badGUIDs != 1 || d.badGUIDFirst != e.DN {
		t.Errorf("bad GUIDs counted %d (%q)", d.badGUIDs, d.badGUIDFirst)
	}
	if got := strings.Join(d.attrs, ","); got != "objectGUID,sAMAccountName,userAccountControl,userPrincipalName,TelephoneNumber,mail" {
		t.Errorf("attributes requested: %s", got)
	}

	// The scratch values are reset between entries.
	got = d.entry(&ldap.Entry{DN: "CN=empty,DC=x"})
	if got != (upnsync.Person{DN: "CN=empty,DC=x", Domain: "CORPNET", DNSDomain: "x"}) {
		t.Errorf("empty entry: %+v", got)
	}
}

// BenchmarkDecodeEntry measures turning one AD search result entry into a
// Person (run with -benchmem: the GUID string is the only allocation).
func BenchmarkDecodeEntry(b *testing.B) {
	d := newDecoder(mapping.DefaultFields, "")
	e := adEntry()
	b.ReportAllocs()
	var p upnsync.Person
	for b.Loop() {
		p = d.entry(e)
	}
	if p.GUID == "" {
		b.Fatal("no GUID")
	}
}
