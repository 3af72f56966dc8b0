package directory

import (
	"strings"
	"testing"
)

// Bases compare as DNs: case, escapes and spaces around separators do not
// make two bases different, and a base inside another is left out with the
// outermost one named.
func TestSearchBases(t *testing.T) {
	for _, tt := range []struct {
		name     string
		in       []string
		want     string // bases joined by |
		overlaps string // inner>outer joined by |
	}{
		{"one", []string{"OU=Staff,DC=corp,DC=example,DC=com"}, "OU=Staff,DC=corp,DC=example,DC=com", ""},
		{"disjoint", []string{"OU=Berlin,DC=corp,DC=example,DC=com", "OU=Paris,DC=corp,DC=example,DC=com"},
			"OU=Berlin,DC=corp,DC=example,DC=com|OU=Paris,DC=corp,DC=example,DC=com", ""},
		{"inner first", []string{"OU=Berlin,OU=People,DC=corp,DC=example,DC=com", "corp.example.com"},
			"DC=corp,DC=example,DC=com", "OU=Berlin,OU=People,DC=corp,DC=example,DC=com>DC=corp,DC=example,DC=com"},
		{"inner last, another case", []string{"dc=corp,dc=example,dc=com", "ou=berlin,OU=People,DC=CORP,DC=example,DC=com"},
			"dc=corp,dc=example,dc=com", "ou=berlin,OU=People,DC=CORP,DC=example,DC=com>dc=corp,dc=example,dc=com"},
		{"chain: the outermost is named", []string{"OU=Team,OU=Berlin,DC=corp,DC=example,DC=com", "OU=Berlin,DC=corp,DC=example,DC=com", "DC=corp,DC=example,DC=com"},
			"DC=corp,DC=example,DC=com",
			"OU=Team,OU=Berlin,DC=corp,DC=example,DC=com>DC=corp,DC=example,DC=com|OU=Berlin,DC=corp,DC=example,DC=com>DC=corp,DC=example,DC=com"},
		{"repeat in another spelling", []string{"OU=Staff,DC=corp,DC=example,DC=com", "ou = staff , dc=CORP,dc=example,dc=com"},
			"OU=Staff,DC=corp,DC=example,DC=com", ""},
		{"escaped comma is one value", []string{`OU=Sales\, EMEA,DC=corp,DC=example,DC=com`, "OU=EMEA,DC=corp,DC=example,DC=com"},
			`OU=Sales\, EMEA,DC=corp,DC=example,DC=com|OU=EMEA,DC=corp,DC=example,DC=com`, ""},
		{"hex escape equals the character", []string{`OU=Sales\2c EMEA,DC=corp,DC=example,DC=com`, `OU=Team,OU=Sales\, EMEA,DC=corp,DC=example,DC=com`},
			`OU=Sales\2c EMEA,DC=corp,DC=example,DC=com`, `OU=Team,OU=Sales\, EMEA,DC=corp,DC=example,DC=com>OU=Sales\2c EMEA,DC=corp,DC=example,DC=com`},
		{"a value is not a suffix of another", []string{"OU=Berlin,DC=corp,DC=example,DC=com", "OU=East Berlin,DC=corp,DC=example,DC=com"},
			"OU=Berlin,DC=corp,DC=example,DC=com|OU=East Berlin,DC=corp,DC=example,DC=com", ""},
		{"other domain", []string{"DC=corp,DC=example,DC=com", "DC=emea,DC=corp,DC=example,DC=com"},
			"DC=corp,DC=example,DC=com", "DC=emea,DC=corp,DC=example,DC=com>DC=corp,DC=example,DC=com"},
		{"multi-valued RDN in any order", []string{"CN=a+OU=b,DC=corp", "ou=B+cn=A,dc=corp"}, "CN=a+OU=b,DC=corp", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			bases, overlaps, err := SearchBases(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, o := range overlaps {
				got = append(got, o.Inner+">"+o.Outer)
				if !strings.Contains(o.String(), "is inside search base "+o.Outer) || o.Fix() != "leave --domain "+o.Inner+" out" {
					t.Errorf("overlap says %q; %q", o, o.Fix())
				}
			}
			if strings.Join(bases, "|") != tt.want || strings.Join(got, "|") != tt.overlaps {
				t.Errorf("bases %q, overlaps %q; want %q, %q", bases, got, tt.want, tt.overlaps)
			}
		})
	}
	if _, _, err := SearchBases([]string{"OU=x,DC=corp", "not a base!"}); err == nil {
		t.Error("a value that is no base was accepted")
	}
}

func TestOnceGuard(t *testing.T) {
	if g := newOnceGuard(1); g != nil || !g.first("x", "") || !g.first("x", "") {
		t.Fatal("one base: no guard, everyone passes")
	}
	g := newOnceGuard(2)
	for _, tt := range []struct {
		guid, dn string
		first    bool
	}{
		{"3f2504e0-4f89-11d3-9a0c-0305e82c3301", "CN=a,DC=corp", true},
		{"3f2504e0-4f89-11d3-9a0c-0305e82c3301", "CN=a,DC=corp", false},
		{"", "CN=b,DC=corp", true},
		{"", "cn=B,dc=corp", false},
		{"", "CN=c,DC=corp", true},
	} {
		if got := g.first(tt.guid, tt.dn); got != tt.first {
			t.Errorf("first(%q, %q) = %v", tt.guid, tt.dn, got)
		}
	}
	if g.repeats != 2 {
		t.Errorf("repeats = %d", g.repeats)
	}
}
