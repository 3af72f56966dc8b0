package directory

import (
	"bytes"
	"testing"

	"github.com/go-ldap/ldap/v3"
)

// equalityOf compiles a filter and returns the attribute and value of its
// single equality match, failing when it is anything else.
func equalityOf(t *testing.T, filter string) (string, []byte) {
	t.Helper()
	p, err := ldap.CompileFilter(filter)
	if err != nil {
		t.Fatalf("%s does not compile: %v", filter, err)
	}
	if p.Tag != ldap.FilterEqualityMatch || len(p.Children) != 2 {
		t.Fatalf("%s is a %s filter, not one equality match", filter, ldap.FilterMap[uint64(p.Tag)])
	}
	return p.Children[0].Data.String(), p.Children[1].Data.Bytes()
}

// Input cannot change the meaning of a filter: whatever the value, the
// filter is one equality match on exactly that value.
func TestEqualityFilterEscapes(t *testing.T) {
	for _, v := range []string{
		"*)(|(objectClass=*",
		"*",
		`a\2a`,
		"jdoe)(userAccountControl:1.2.840.113556.1.4.803:=2",
		"Silva, Nora (nsilva195)",
		"O'Brien",
		"nul\x00byte",
		"Öztürk",
		"\xff\xfe not UTF-8",
		"",
	} {
		f, err := EqualityFilter("sAMAccountName", v)
		if err != nil {
			t.Fatal(err)
		}
		attr, got := equalityOf(t, f)
		if attr != "sAMAccountName" || !bytes.Equal(got, []byte(v)) {
			t.Errorf("%q gave %s: matches %s=%q", v, f, attr, got)
		}
	}
	if f, _ := EqualityFilter("cn", "*)(|(objectClass=*"); f != `(cn=\2a\29\28|\28objectClass=\2a)` {
		t.Errorf("filter %s", f)
	}
	for _, attr := range []string{"", "cn)(objectClass=*", "1cn", "-cn", "cn;", "cn=", "1..2", "1.2."} {
		if f, err := EqualityFilter(attr, "x"); err == nil {
			t.Errorf("attribute %q accepted: %s", attr, f)
		}
	}
	for _, attr := range []string{"cn", "userPrincipalName", "objectGUID;binary", "1.2.840.113556.1.4.656", "x-custom-attr"} {
		if _, err := EqualityFilter(attr, "x"); err != nil {
			t.Errorf("attribute %q refused: %v", attr, err)
		}
	}
}

func TestGUIDFilter(t *testing.T) {
	f, err := GUIDFilter("{3F2504E0-4F89-11D3-9A0C-0305E82C3301}")
	if err != nil {
		t.Fatal(err)
	}
	if f != `(objectGUID=\e0\04\25\3f\89\4f\d3\11\9a\0c\03\05\e8\2c\33\01)` {
		t.Errorf("filter %s", f)
	}
	_, v := equalityOf(t, f)
	if s, _ := GUIDString(v); s != "3f2504e0-4f89-11d3-9a0c-0305e82c3301" {
		t.Errorf("matches %x (%s)", v, s)
	}
	for _, bad := range []string{"*)(|(objectClass=*", "*", "3f2504e0-4f89-11d3-9a0c-0305e82c330*", "", "3f2504e0-4f89-11d3-9a0c-0305e82c3301)(cn=*"} {
		if f, err := GUIDFilter(bad); err == nil {
			t.Errorf("%q accepted: %s", bad, f)
		}
	}
}
