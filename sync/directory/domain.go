package directory

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/go-ldap/ldap/v3"
)

// BaseFromDomain turns what an administrator gives as --domain into a
// search base DN: a DN is checked and returned as is; a DNS domain name
// such as corp.example.com becomes DC=corp,DC=example,DC=com.
func BaseFromDomain(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", fmt.Errorf("empty search base: give a DN (OU=Users,DC=corp,DC=example,DC=com) or a DNS domain (corp.example.com)")
	}
	if scheme, rest, ok := strings.Cut(s, "://"); ok {
		return "", fmt.Errorf("search base %q is a URL: give the base's DN alone (%s) and the server as the directory (%s://%s)",
			s, orExample(strings.SplitN(rest, "/", 2)), strings.ToLower(scheme), strings.SplitN(rest, "/", 2)[0])
	}
	if strings.Contains(s, "=") {
		// ADSIReader's documentation quotes values with spaces
		// (OU="TORONTO OFFICE"), an RFC 1779 form go-ldap and RFC 4514
		// reject: rewrite quoted values with backslash escapes.
		s = unquoteDNValues(s)
		dn, err := ldap.ParseDN(s)
		if err != nil {
			return "", fmt.Errorf("search base %q is not a valid DN: %s", s, ldapErrText(err))
		}
		for _, r := range dn.RDNs {
			for _, a := range r.Attributes {
				if !attributeType.MatchString(a.Type) {
					return "", fmt.Errorf("search base %q is not a valid DN: %q is not an attribute type (a DN is written OU=Staff,DC=corp,DC=example,DC=com)", s, a.Type)
				}
			}
		}
		return s, nil
	}
	name := strings.TrimSuffix(s, ".")
	labels := strings.Split(name, ".")
	var b strings.Builder
	for i, l := range labels {
		if !validDNSLabel(l) {
			return "", fmt.Errorf("search base %q is neither a DN (OU=Users,DC=corp,DC=example,DC=com) nor a DNS domain name (corp.example.com)", s)
		}
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("DC=")
		b.WriteString(l)
	}
	return b.String(), nil
}

// attributeType is an attribute type in a DN: a name (OU, DC, CN) or a
// numeric OID (RFC 4512's descr and numericoid).
var attributeType = regexp.MustCompile(`^(?:[A-Za-z][A-Za-z0-9-]*|[0-9]+(?:\.[0-9]+)+)$`)

// orExample is the DN part of a URL's path, or an example of one.
func orExample(parts []string) string {
	if len(parts) == 2 && strings.Contains(parts[1], "=") {
		return parts[1]
	}
	return "OU=Staff,DC=corp,DC=example,DC=com"
}

// unquoteDNValues turns RFC 1779 quoted attribute values ("a, b") into
// RFC 4514 escaped ones (a\, b). Anything else is copied as is.
func unquoteDNValues(s string) string {
	if !strings.Contains(s, `"`) {
		return s
	}
	var b strings.Builder
	atValueStart := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s):
			b.WriteByte(c)
			b.WriteByte(s[i+1])
			i++
			atValueStart = false
			continue
		case c == '=':
			b.WriteByte(c)
			atValueStart = true
			continue
		case c == ' ' && atValueStart:
			continue
		case c == '"' && atValueStart:
			end := -1
			for j := i + 1; j < len(s); j++ {
				if s[j] == '\\' {
					j++
					continue
				}
				if s[j] == '"' {
					end = j
					break
				}
			}
			if end < 0 {
				b.WriteString(s[i:]) // unbalanced: let the parser report it
				return b.String()
			}
			v := s[i+1 : end]
			for k := 0; k < len(v); k++ {
				ch := v[k]
				switch {
				case ch == '\\' && k+1 < len(v):
					b.WriteByte('\\')
					b.WriteByte(v[k+1])
					k++
				case strings.IndexByte(`,+"<>;=`, ch) >= 0,
					k == 0 && (ch == ' ' || ch == '#'), k == len(v)-1 && ch == ' ':
					b.WriteByte('\\')
					b.WriteByte(ch)
				default:
					b.WriteByte(ch)
				}
			}
			i = end
			for i+1 < len(s) && s[i+1] == ' ' { // spaces after the closing quote
				i++
			}
			atValueStart = false
			continue
		}
		atValueStart = false
		b.WriteByte(c)
	}
	return b.String()
}

func validDNSLabel(l string) bool {
	if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
		return false
	}
	for i := 0; i < len(l); i++ {
		c := l[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// DomainOfDN derives the domain of an object from the DC components at the
// end of its DN: CN=Jane,OU=Staff,DC=corp,DC=example,DC=com gives the
// NetBIOS-style name CORP (the first label, upper-cased; a domain whose
// NetBIOS name differs needs it set explicitly) and the DNS name
// corp.example.com. A DN without DC components gives two empty strings.
func DomainOfDN(dn string) (netbios, dns string) {
	i := dcSuffix(dn)
	if i < 0 {
		return "", ""
	}
	d := domainOfSuffix(dn[i:])
	return d.netbios, d.dns
}

type domainInfo struct {
	netbios, dns string
}

// dcSuffix returns the index in dn where its trailing run of DC= RDNs
// starts, or -1 when the last RDN is not a DC.
func dcSuffix(dn string) int {
	start, rdn := -1, 0
	quoted := false
	for i := 0; i <= len(dn); i++ {
		if i == len(dn) || dn[i] == ',' && !quoted {
			if isDCRDN(dn[rdn:i]) {
				if start < 0 {
					start = rdn
				}
			} else {
				start = -1
			}
			rdn = i + 1
			continue
		}
		switch dn[i] {
		case '\\':
			i++
		case '"':
			quoted = !quoted
		}
	}
	return start
}

// isDCRDN reports whether an RDN is a single dc=value.
func isDCRDN(rdn string) bool {
	rdn = strings.TrimLeft(rdn, " ")
	if len(rdn) < 3 || rdn[0]|0x20 != 'd' || rdn[1]|0x20 != 'c' {
		return false
	}
	rest := strings.TrimLeft(rdn[2:], " ")
	if rest == "" || rest[0] != '=' {
		return false
	}
	// A multi-valued RDN (dc=x+cn=y) is not a domain component.
	for i := 1; i < len(rest); i++ {
		switch rest[i] {
		case '\\':
			i++
		case '+':
			return false
		}
	}
	return true
}

// domainOfSuffix computes the domain of a run of DC RDNs (or "").
func domainOfSuffix(suffix string) domainInfo {
	if strings.TrimSpace(suffix) == "" {
		return domainInfo{}
	}
	var labels []string
	if strings.ContainsAny(suffix, "\\\"") {
		parsed, err := ldap.ParseDN(suffix)
		if err != nil {
			return domainInfo{}
		}
		for _, r := range parsed.RDNs {
			if len(r.Attributes) == 1 {
				labels = append(labels, r.Attributes[0].Value)
			}
		}
	} else {
		for _, rdn := range strings.Split(suffix, ",") {
			_, v, _ := strings.Cut(rdn, "=")
			labels = append(labels, strings.TrimSpace(v))
		}
	}
	if len(labels) == 0 || labels[0] == "" {
		return domainInfo{}
	}
	return domainInfo{netbios: strings.ToUpper(labels[0]), dns: strings.ToLower(strings.Join(labels, "."))}
}

// domainCache remembers the domain of each DC suffix seen, so decoding an
// entry costs no allocation for its domain. Directories have a handful of
// domains; the cache stops growing at maxDomains.
type domainCache struct {
	m map[string]domainInfo
	// netbios maps a DNS domain name to the NetBIOS name the directory
	// gives it (Partitions container), when it was read.
	netbios map[string]string
}

const maxDomains = 256

func (c *domainCache) lookup(dn string) domainInfo {
	i := dcSuffix(dn)
	if i < 0 {
		return domainInfo{}
	}
	suffix := dn[i:]
	if d, ok := c.m[suffix]; ok {
		return d
	}
	d := domainOfSuffix(suffix)
	if nb, ok := c.netbios[d.dns]; ok {
		d.netbios = nb
	}
	if c.m == nil {
		c.m = make(map[string]domainInfo)
	}
	if len(c.m) < maxDomains {
		c.m[strings.Clone(suffix)] = d
	}
	return d
}
