package entra

import (
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/upnsync/upnsync/mapping"
	upnsync "github.com/upnsync/upnsync/sync"
	"github.com/upnsync/upnsync/sync/directory"
)

// SkipGuest is the reason a guest is left out (without IncludeGuests).
const SkipGuest = "guest account (userType Guest or #EXT# UPN); --include-guests takes guests in"

// source is one Person field: the table row of its LDAP attribute and the
// mapping's Index/Separator.
type source struct {
	prop property
	src  mapping.Source
}

func (s source) value(u *graphUser) string {
	if s.prop.get == nil {
		return ""
	}
	v := s.prop.get(u)
	if s.src.Separator != "" {
		v = s.src.Value(v)
	}
	return v
}

// mapper turns Graph users into Persons as the mapping file says.
type mapper struct {
	upn, first, last, email source
	selects                 []string
	netbios                 string
	includeGuests           bool
}

// newMapper resolves the mapping's LDAP attribute names through the
// property table. A name the table does not know is an error: a field
// silently left empty would plan wrong changes.
func newMapper(f mapping.Fields, netbios string, includeGuests bool) (*mapper, error) {
	d := mapping.DefaultFields
	m := &mapper{netbios: netbios, includeGuests: includeGuests}
	seen := map[string]bool{}
	for _, s := range alwaysSelected {
		seen[s] = true
		m.selects = append(m.selects, s)
	}
	for _, x := range []struct {
		dst  *source
		src  mapping.Source
		def  mapping.Source
		what string
	}{{&m.upn, f.UPN, d.UPN, "UPN"}, {&m.first, f.FirstName, d.FirstName, "FirstName"},
		{&m.last, f.LastName, d.LastName, "LastName"}, {&m.email, f.Email, d.Email, "EMailAddress"}} {
		src := x.src
		if src.LDAP == "" {
			src = x.def
		}
		p, ok := lookupProperty(src.LDAP)
		if !ok {
			return nil, fmt.Errorf("the mapping file fills %s from the LDAP attribute %q, which has no Microsoft Graph equivalent upnsync knows; use one of: %s (see docs/entra.md)",
				x.what, src.LDAP, ldapNames())
		}
		*x.dst = source{prop: p, src: src}
		if !seen[p.graph] {
			seen[p.graph] = true
			m.selects = append(m.selects, p.graph)
		}
	}
	return m, nil
}

// selectList is the $select of a read.
func (m *mapper) selectList() string { return strings.Join(m.selects, ",") }

// isGuest tells a guest: userType Guest, or a B2B UPN (alias#EXT#@tenant).
func isGuest(u *graphUser) bool {
	return strings.EqualFold(u.UserType, "Guest") || strings.Contains(strings.ToUpper(u.UserPrincipalName), "#EXT#")
}

// immutableGUID decodes an onPremisesImmutableId that is the base64 of
// a 16-byte objectGUID (Entra Connect's default source anchor, and
// mS-DS-ConsistencyGuid copied from it) to the canonical GUID string, in
// the byte order of directory.GUIDString; "" for anything else.
func immutableGUID(id string) string {
	if id == "" {
		return ""
	}
	raw, err := base64.StdEncoding.DecodeString(id)
	if err != nil || len(raw) != 16 {
		return ""
	}
	g, _ := directory.GUIDString(raw)
	return g
}

// person builds the Person of a Graph user. warn is set when its
// onPremisesImmutableId is not a GUID (a custom source anchor): the
// person then has no GUID and matches by account name or e-mail only.
func (m *mapper) person(u *graphUser) (p upnsync.Person, warn string) {
	p = upnsync.Person{
		UPN:            m.upn.value(u),
		GivenName:      m.first.value(u),
		Surname:        m.last.value(u),
		Mail:           m.email.value(u),
		SAMAccountName: u.OnPremisesSamAccountName,
		DN:             u.OnPremisesDistinguishedName,
		Disabled:       u.AccountEnabled != nil && !*u.AccountEnabled,
	}
	if id := u.OnPremisesImmutableID; id != "" {
		p.GUID = immutableGUID(id)
		if p.GUID == "" {
			warn = fmt.Sprintf("user %s (id %s): onPremisesImmutableId %q is not the base64 of a 16-byte objectGUID (a custom source anchor?); the user is matched by account name or e-mail only, never by external id", label(u), u.ID, clip(id))
		}
	}
	if p.DN != "" {
		p.Domain, p.DNSDomain = directory.DomainOfDN(p.DN)
	}
	if p.DNSDomain == "" && u.OnPremisesDomainName != "" {
		p.DNSDomain = strings.ToLower(u.OnPremisesDomainName)
		first, _, _ := strings.Cut(p.DNSDomain, ".")
		p.Domain = strings.ToUpper(first)
	}
	if m.netbios != "" && (p.SAMAccountName != "" || p.Domain != "") {
		p.Domain = m.netbios
	}
	if !m.includeGuests && isGuest(u) {
		p.Skip = SkipGuest
	}
	return p, warn
}

// label names a Graph user in messages.
func label(u *graphUser) string {
	if u.UserPrincipalName != "" {
		return u.UserPrincipalName
	}
	return u.ID
}

// clip shortens a value for a message.
func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
