package directory

import (
	"strings"
	"testing"
)

func TestParseADSIPath(t *testing.T) {
	for _, tt := range []struct {
		in, host, dn, dir string
		gc, startTLS      bool
	}{
		{in: "LDAP://dc1.corp.example.com/OU=Berlin,DC=corp,DC=example,DC=com", host: "dc1.corp.example.com",
			dn: "OU=Berlin,DC=corp,DC=example,DC=com", dir: "ldap://dc1.corp.example.com", startTLS: true},
		{in: "ldap://dc1.corp.example.com:636/OU=Berlin,DC=corp,DC=example,DC=com", host: "dc1.corp.example.com:636",
			dn: "OU=Berlin,DC=corp,DC=example,DC=com", dir: "ldaps://dc1.corp.example.com:636"},
		{in: "LDAP://OU=Berlin,DC=corp,DC=example,DC=com", dn: "OU=Berlin,DC=corp,DC=example,DC=com"},
		// The domain's own name is a serverless binding: any of its DCs.
		{in: "LDAP://corp.example.com/OU=Berlin,DC=corp,DC=example,DC=com", host: "corp.example.com", dn: "OU=Berlin,DC=corp,DC=example,DC=com"},
		{in: "GC://dc1.corp.example.com/DC=corp,DC=example,DC=com", host: "dc1.corp.example.com", dn: "DC=corp,DC=example,DC=com",
			dir: "ldap://dc1.corp.example.com", gc: true, startTLS: true},
		{in: "GC://dc1.corp.example.com:3269", host: "dc1.corp.example.com:3269", dir: "ldaps://dc1.corp.example.com:3269", gc: true},
		{in: "LDAP://dc1.corp.example.com", host: "dc1.corp.example.com", dir: "ldap://dc1.corp.example.com", startTLS: true},
		{in: "LDAP://dc1.corp.example.com/RootDSE", host: "dc1.corp.example.com", dir: "ldap://dc1.corp.example.com", startTLS: true},
		{in: "LDAP://[::1]:389/OU=x,DC=corp", host: "[::1]:389", dn: "OU=x,DC=corp", dir: "ldap://[::1]:389", startTLS: true},
		{in: `LDAP://dc1/OU=Sales\/Marketing,DC=corp,DC=example,DC=com`, host: "dc1", dn: "OU=Sales/Marketing,DC=corp,DC=example,DC=com",
			dir: "ldap://dc1", startTLS: true},
	} {
		t.Run(tt.in, func(t *testing.T) {
			if !IsADSIPath(tt.in) {
				t.Fatal("not seen as an ADSI path")
			}
			p, err := ParseADSIPath(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			dir, startTLS := p.Directory()
			if p.Host != tt.host || p.DN != tt.dn || p.GC != tt.gc || dir != tt.dir || startTLS != tt.startTLS {
				t.Errorf("got %+v, directory %q StartTLS %v", p, dir, startTLS)
			}
		})
	}
	for in, want := range map[string]string{
		"LDAP://<GUID=3f2504e0-4f89-11d3-9a0c-0305e82c3301>": "not a <GUID=...> reference: give it as OU=Staff,DC=corp,DC=example,DC=com",
		"LDAP://dc1/<SID=S-1-5-21-1>":                        "not a <SID=...> reference",
		"LDAP://":                                            "names neither a server nor a base",
		"LDAP://dc1 bad/OU=x,DC=corp":                        `the server "dc1 bad" is not a host name`,
		"LDAP://dc1:99999/OU=x,DC=corp":                      `the server "dc1:99999" is not a host name`,
		"LDAP://dc1/OU=x,,DC=corp":                           "is not a valid DN",
		"LDAP://dc1/corp.example.com":                        `"corp.example.com" after the server is not a DN`,
	} {
		if _, err := ParseADSIPath(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseADSIPath(%q) = %v, want an error with %q", in, err, want)
		}
	}
	for _, s := range []string{"OU=x,DC=corp", "corp.example.com", "ldaps://dc1", "ldif:x"} {
		if IsADSIPath(s) {
			t.Errorf("%q seen as an ADSI path", s)
		}
	}
}

// A base that is a URL, or whose attribute types are not attribute types,
// is refused before anything is sent (the server's answer was "invalid
// basedn").
func TestBaseFromDomainRefusesURLsAndBadTypes(t *testing.T) {
	for in, want := range map[string]string{
		"LDAP://corp.example.com/OU=Berlin,DC=corp,DC=example,DC=com": "is a URL: give the base's DN alone (OU=Berlin,DC=corp,DC=example,DC=com) and the server as the directory (ldap://corp.example.com)",
		"ldaps://dc1/OU=x,DC=corp":                                    "(ldaps://dc1)",
		"OU Berlin=x,DC=corp":                                         `"OU Berlin" is not an attribute type`,
	} {
		if _, err := BaseFromDomain(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("BaseFromDomain(%q) = %v, want an error with %q", in, err, want)
		}
	}
	for _, ok := range []string{"OU=x,DC=corp", "2.5.4.11=x,dc=corp", "msDS-Thing=x,DC=corp"} {
		if _, err := BaseFromDomain(ok); err != nil {
			t.Errorf("BaseFromDomain(%q): %v", ok, err)
		}
	}
}
