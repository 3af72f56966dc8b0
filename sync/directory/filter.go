package directory

import (
	"fmt"
	"strings"

	"github.com/go-ldap/ldap/v3"
)

// EqualityFilter is the LDAP filter (attr=value) for a value that comes
// from input (a name, an account, a DN): the value is escaped as RFC 4515
// requires, so that "*)(|(objectClass=*" matches that literal text and
// cannot widen the search. Every filter upnsync builds from a value must
// go through it or GUIDFilter; a filter the administrator writes whole
// (--user-filter) is checked with ldap.CompileFilter instead.
func EqualityFilter(attr, value string) (string, error) {
	if !validAttr(attr) {
		return "", fmt.Errorf("%q is not an LDAP attribute name", attr)
	}
	return "(" + attr + "=" + ldap.EscapeFilter(value) + ")", nil
}

// GUIDFilter is the filter (objectGUID=\xx...) that finds the object with
// a canonical GUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx, in braces or not,
// any letter case): objectGUID holds 16 raw bytes, so each byte is escaped
// in the byte order GUIDBytes gives. Anything that is not a GUID is refused.
func GUIDFilter(guid string) (string, error) {
	raw, err := GUIDBytes(guid)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString("(" + attrObjectGUID + "=")
	for _, c := range raw {
		fmt.Fprintf(&b, `\%02x`, c)
	}
	b.WriteByte(')')
	return b.String(), nil
}

// validAttr accepts an attribute description: a name (letters, digits,
// hyphens, starting with a letter) or a numeric OID, with options
// (;binary).
func validAttr(a string) bool {
	name, opts, hasOpts := strings.Cut(a, ";")
	if name == "" {
		return false
	}
	isOID := name[0] >= '0' && name[0] <= '9'
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= '0' && c <= '9':
		case isOID && c == '.' && i > 0 && name[i-1] != '.' && i < len(name)-1:
		case !isOID && (c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-' && i > 0):
		default:
			return false
		}
	}
	if !hasOpts {
		return true
	}
	for _, o := range strings.Split(opts, ";") {
		if o == "" || strings.IndexFunc(o, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-')
		}) >= 0 {
			return false
		}
	}
	return true
}
