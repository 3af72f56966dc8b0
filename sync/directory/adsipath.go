package directory

import (
	"fmt"
	"net"
	"strconv"
	"strings"
)

// ADSIPath is an ADSI path, the form Windows tools (ADSI Edit, PowerShell's
// [adsi], VBScript, many products' settings) write a base in and
// administrators copy from them: LDAP://dc1.corp.example.com/OU=Berlin,
// DC=corp,DC=example,DC=com, LDAP://OU=Berlin,DC=corp,DC=example,DC=com
// (no server: a domain controller of the current domain), and GC://...
// for the Global Catalog. ADSI's LDAP:// names no protocol: it is LDAP on
// port 389 (signed with Kerberos by Windows).
type ADSIPath struct {
	// GC is set for GC:// (the Global Catalog).
	GC bool
	// Host is the server as written, with its port if any ("" when the
	// path names none); DN the base ("" for the server's default naming
	// context), with ADSI's \/ turned into /.
	Host string
	DN   string
}

// IsADSIPath reports whether s is written as an ADSI path (LDAP://... or
// GC://..., in any letter case).
func IsADSIPath(s string) bool {
	scheme, _, ok := strings.Cut(strings.TrimSpace(s), "://")
	return ok && (strings.EqualFold(scheme, "LDAP") || strings.EqualFold(scheme, "GC"))
}

// ParseADSIPath reads an ADSI path given as --domain.
func ParseADSIPath(s string) (ADSIPath, error) {
	s = strings.TrimSpace(s)
	scheme, rest, _ := strings.Cut(s, "://")
	p := ADSIPath{GC: strings.EqualFold(scheme, "GC")}
	// The server is what comes before the first unescaped /, unless that
	// is already part of a DN (it has an =, or is a <GUID=...> reference).
	host, dn := "", rest
	if i := unescapedSlash(rest); i >= 0 && !strings.ContainsAny(rest[:i], "=<") {
		host, dn = rest[:i], rest[i+1:]
	} else if i < 0 && !strings.ContainsAny(rest, "=<") {
		host, dn = rest, ""
	}
	if host != "" && !validHost(host) {
		return p, fmt.Errorf("--domain %s: the server %q is not a host name, an address or host:port", s, host)
	}
	p.Host = host
	dn = strings.ReplaceAll(strings.TrimSpace(dn), `\/`, "/")
	switch {
	case strings.EqualFold(dn, "rootDSE"):
		dn = ""
	case strings.HasPrefix(dn, "<"):
		return p, fmt.Errorf("--domain %s: upnsync needs the DN of the base, not a %s reference: give it as OU=Staff,DC=corp,DC=example,DC=com (ADSI Edit shows it as distinguishedName)", s, strings.SplitN(dn, "=", 2)[0]+"=...>")
	case dn != "" && !strings.Contains(dn, "="):
		return p, fmt.Errorf("--domain %s: %q after the server is not a DN: an ADSI path ends with the base's DN, such as OU=Staff,DC=corp,DC=example,DC=com", s, dn)
	case dn != "":
		if _, err := BaseFromDomain(dn); err != nil {
			return p, fmt.Errorf("--domain %s: %v", s, err)
		}
	}
	if host == "" && dn == "" {
		return p, fmt.Errorf("--domain %s names neither a server nor a base: give the base's DN, --domain OU=Staff,DC=corp,DC=example,DC=com", s)
	}
	p.DN = dn
	return p, nil
}

// validHost accepts a DNS name or an IP address, with a port or without.
func validHost(h string) bool {
	if host, port, err := net.SplitHostPort(h); err == nil {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return false
		}
		h = host
	}
	if net.ParseIP(strings.Trim(h, "[]")) != nil {
		return true
	}
	for _, l := range strings.Split(strings.TrimSuffix(h, "."), ".") {
		if !validDNSLabel(l) {
			return false
		}
	}
	return true
}

func unescapedSlash(s string) int {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '/':
			return i
		}
	}
	return -1
}

// Directory is the --directory the path names, and whether to upgrade it
// with StartTLS: "" when the domain controllers are to be found through
// DNS (no server, or the server is the DN's own domain name, as a
// serverless ADSI path binds to any domain controller of the domain).
// ADSI's port 389 (3268 for GC://) is read with StartTLS, as a domain
// controller found through DNS is; ports 636 and 3269 with ldaps://.
func (p ADSIPath) Directory() (url string, startTLS bool) {
	if p.Host == "" {
		return "", false
	}
	host, port, err := net.SplitHostPort(p.Host)
	if err != nil {
		host, port = strings.Trim(p.Host, "[]"), ""
	}
	if _, dns := DomainOfDN(p.DN); port == "" && dns != "" && strings.EqualFold(strings.TrimSuffix(host, "."), dns) {
		return "", false
	}
	switch port {
	case "636", "3269":
		return "ldaps://" + p.Host, false
	}
	return "ldap://" + p.Host, true
}
