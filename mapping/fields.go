package mapping

import "strings"

// Source says where one value comes from: an LDAP attribute, optionally
// split on Separator and the part at Index taken (ADSIReader's
// Index/Separator, e.g. TelephoneNumber "555-1234x56" with Separator "x").
type Source struct {
	LDAP      string
	Separator string
	Index     int
}

// Value extracts the source's value from the raw attribute value.
func (s Source) Value(raw string) string {
	if s.Separator == "" {
		return raw
	}
	parts := strings.Split(raw, s.Separator)
	if s.Index < 0 || s.Index >= len(parts) {
		return ""
	}
	return strings.TrimSpace(parts[s.Index])
}

// Fields are the LDAP sources that fill the fields of a sync.Person. The
// objectGUID, sAMAccountName and userAccountControl attributes are always
// read: matching and the disabled flag depend on them whatever the mapping
// says.
type Fields struct {
	UPN       Source
	FirstName Source
	LastName  Source
	Email     Source
}

// DefaultFields are used for anything the mapping does not name.
var DefaultFields = Fields{
	UPN:       Source{LDAP: "userPrincipalName"},
	FirstName: Source{LDAP: "givenName"},
	LastName:  Source{LDAP: "sn"},
	Email:     Source{LDAP: "mail"},
}

// Attributes lists every LDAP attribute a read must request, without
// duplicates (compared case-insensitively), in a stable order.
func (f Fields) Attributes() []string {
	names := []string{"objectGUID", "sAMAccountName", "userAccountControl",
		f.UPN.LDAP, f.FirstName.LDAP, f.LastName.LDAP, f.Email.LDAP}
	out := make([]string, 0, len(names))
	seen := map[string]bool{}
	for _, n := range names {
		k := strings.ToLower(n)
		if n == "" || seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, n)
	}
	return out
}
