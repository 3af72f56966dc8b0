package directory

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/upnsync/upnsync/mapping"
	upnsync "github.com/upnsync/upnsync/sync"
)

// The fields an export's columns can fill. Exports come from Get-ADUser
// (attribute-like names: UserPrincipalName, ObjectGUID, SamAccountName,
// Enabled, DistinguishedName), Get-MgUser (Id, OnPremisesImmutableId,
// AccountEnabled, OnPremisesSamAccountName) and the Entra admin center's
// "Download users" (userPrincipalName, objectId, accountEnabled, ...).
const (
	fUPN = iota
	fGUID
	fImmutableID
	fSAM
	fGiven
	fSurname
	fMail
	fEnabled
	fUAC
	fDN
	fDomain
	numFields
)

// fieldKeys are the keys of --columns, in the order of the fields.
var fieldKeys = [numFields]string{"upn", "guid", "immutable_id", "sam", "given_name", "surname", "mail", "enabled", "user_account_control", "dn", "domain"}

// keyAliases are other spellings of --columns keys.
var keyAliases = map[string]int{
	"userprincipalname": fUPN, "objectguid": fGUID, "immutableid": fImmutableID, "onpremisesimmutableid": fImmutableID,
	"samaccountname": fSAM, "givenname": fGiven, "firstname": fGiven, "sn": fSurname, "lastname": fSurname,
	"email": fMail, "accountenabled": fEnabled, "useraccountcontrol": fUAC, "distinguishedname": fDN,
}

// headerAliases are the header names each field is recognised by, compared
// after normalising (letters and digits only, lower case), first match
// first. Entra's object id (Id, objectId) is deliberately absent: it is
// not the on-premises objectGUID that ADSIReader stores as
// ExternalIdentifier (onPremisesImmutableId is, base64-encoded).
var headerAliases = [numFields][]string{
	fUPN:         {"userprincipalname", "upn"},
	fGUID:        {"objectguid", "guid"},
	fImmutableID: {"onpremisesimmutableid", "immutableid"},
	fSAM:         {"samaccountname", "onpremisessamaccountname"},
	fGiven:       {"givenname", "firstname"},
	fSurname:     {"surname", "sn", "lastname"},
	fMail:        {"mail", "emailaddress", "email", "primarysmtpaddress"},
	fEnabled:     {"enabled", "accountenabled"},
	fUAC:         {"useraccountcontrol"},
	fDN:          {"distinguishedname", "onpremisesdistinguishedname"},
	fDomain:      {"onpremisesdomainname"},
}

// normHeader reduces a header name to its letters and digits, lower case:
// "User principal name", "userPrincipalName" and "user_principal_name"
// are one name.
func normHeader(s string) string {
	var b strings.Builder
	for _, r := range s {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String()
}

// columnMap says which column of an export fills each field.
type columnMap struct {
	idx    [numFields]int // -1: no column
	src    [numFields]mapping.Source
	header []string
}

// columnError is a problem with one value; the reader adds where it is.
type columnError struct {
	col int
	msg string
}

// parseColumnSpec reads --columns: key=Header Name pairs separated by
// commas (upn=Email Address,guid=Object ID).
func parseColumnSpec(spec string) (map[int]string, error) {
	out := map[int]string{}
	for _, part := range strings.Split(spec, ",") {
		if strings.TrimSpace(part) == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || v == "" {
			return nil, fmt.Errorf("--columns: %q is not key=column (for example upn=Email Address)", strings.TrimSpace(part))
		}
		f := -1
		for i, key := range fieldKeys {
			if strings.EqualFold(k, key) {
				f = i
			}
		}
		if f < 0 {
			if i, ok := keyAliases[normHeader(k)]; ok {
				f = i
			}
		}
		if f < 0 {
			return nil, fmt.Errorf("--columns: unknown key %q; the keys are %s", k, strings.Join(fieldKeys[:], ", "))
		}
		if _, dup := out[f]; dup {
			return nil, fmt.Errorf("--columns: %s is given twice", fieldKeys[f])
		}
		out[f] = v
	}
	return out, nil
}

// resolveColumns picks the column of each field: the one --columns names;
// else, for the fields the mapping file fills (UPN, first and last name,
// e-mail), the column named like the mapping's LDAP attribute, with its
// Index/Separator; else the first of the usual header names present.
func resolveColumns(header []string, spec string, fields mapping.Fields) (columnMap, error) {
	m := columnMap{header: append([]string(nil), header...)}
	explicit, err := parseColumnSpec(spec)
	if err != nil {
		return m, err
	}
	norm := make([]string, len(header))
	for i, h := range header {
		norm[i] = normHeader(h)
	}
	find := func(name string) int {
		n := normHeader(name)
		for i, h := range norm {
			if n != "" && h == n {
				return i
			}
		}
		return -1
	}
	mapped := map[int]mapping.Source{fUPN: fields.UPN, fGiven: fields.FirstName, fSurname: fields.LastName, fMail: fields.Email}
	for f := range numFields {
		m.idx[f] = -1
		if name, ok := explicit[f]; ok {
			i := find(name)
			if i < 0 {
				return m, fmt.Errorf("--columns %s=%s: the file has no such column (its columns: %s)", fieldKeys[f], name, strings.Join(header, ", "))
			}
			m.idx[f] = i
			continue
		}
		if src, ok := mapped[f]; ok && src.LDAP != "" {
			if i := find(src.LDAP); i >= 0 {
				m.idx[f], m.src[f] = i, src
				continue
			}
		}
		for _, a := range headerAliases[f] {
			if i := find(a); i >= 0 {
				m.idx[f] = i
				break
			}
		}
	}
	if m.idx[fUPN] < 0 {
		return m, fmt.Errorf("no UPN column: the header has %s; name the column with --columns upn=COLUMN", strings.Join(header, ", "))
	}
	// Two columns of one name: which holds the right value is anyone's
	// guess (a column added twice by Select-Object, or pasted in twice).
	for f := range numFields {
		i := m.idx[f]
		if i < 0 {
			continue
		}
		for j, h := range norm {
			if j != i && h == norm[i] {
				return m, fmt.Errorf("column %s appears twice (columns %d and %d), and it gives the %s: keep one", header[i], min(i, j)+1, max(i, j)+1, fieldKeys[f])
			}
		}
	}
	return m, nil
}

// describe lists which column fills which field, for the log.
func (m *columnMap) describe() string {
	var parts []string
	for f := range numFields {
		if m.idx[f] >= 0 {
			parts = append(parts, fieldKeys[f]+"="+m.header[m.idx[f]])
		}
	}
	return strings.Join(parts, ", ")
}

func (m *columnMap) value(rec []string, f int) string {
	i := m.idx[f]
	if i < 0 || i >= len(rec) {
		return ""
	}
	v := strings.TrimSpace(rec[i])
	if m.src[f].Separator != "" {
		v = m.src[f].Value(v)
	}
	return v
}

// person builds a Person from one record.
func (m *columnMap) person(rec []string, domains *domainCache, netbios string) (upnsync.Person, *columnError) {
	p := upnsync.Person{
		UPN:            m.value(rec, fUPN),
		SAMAccountName: m.value(rec, fSAM),
		GivenName:      m.value(rec, fGiven),
		Surname:        m.value(rec, fSurname),
		Mail:           m.value(rec, fMail),
		DN:             m.value(rec, fDN),
	}
	if v := m.value(rec, fGUID); v != "" {
		g, err := parseGUIDText(v)
		if err != nil {
			return p, &columnError{m.idx[fGUID], fmt.Sprintf("%q is not an objectGUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)", v)}
		}
		p.GUID = g
	}
	if v := m.value(rec, fImmutableID); v != "" && p.GUID == "" {
		// onPremisesImmutableId is the base64 of the objectGUID's 16 bytes
		// (when objectGUID is the sourceAnchor, Entra Connect's default).
		raw, err := base64.StdEncoding.DecodeString(v)
		if err != nil || len(raw) != 16 {
			return p, &columnError{m.idx[fImmutableID], fmt.Sprintf("%q is not the base64 of a 16-byte objectGUID", v)}
		}
		p.GUID, _ = GUIDString(raw)
	}
	if v := m.value(rec, fEnabled); v != "" {
		switch strings.ToLower(v) {
		case "true", "yes", "1", "y":
		case "false", "no", "0", "n":
			p.Disabled = true
		default:
			return p, &columnError{m.idx[fEnabled], fmt.Sprintf("%q is neither True nor False", v)}
		}
	} else if v := m.value(rec, fUAC); v != "" {
		p.Disabled = uacDisabled(v)
	}
	if p.DN != "" {
		d := domains.lookup(p.DN)
		p.Domain, p.DNSDomain = d.netbios, d.dns
	}
	if v := m.value(rec, fDomain); v != "" && p.DNSDomain == "" {
		p.DNSDomain = strings.ToLower(v)
		first, _, _ := strings.Cut(p.DNSDomain, ".")
		p.Domain = strings.ToUpper(first)
	}
	if netbios != "" {
		p.Domain = netbios
	}
	return p, nil
}

// parseGUIDText reads a GUID as exports print it: canonical, in braces, in
// any letter case, or as 32 hex digits; it returns the canonical form.
func parseGUIDText(s string) (string, error) {
	if len(s) == 32 {
		s = s[:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20] + "-" + s[20:]
	}
	raw, err := GUIDBytes(s)
	if err != nil {
		return "", err
	}
	return GUIDString(raw)
}

// headerText refuses a header name that is not text: a NUL (UTF-16 read
// as bytes, or a binary file) or another control character, which would
// also reach the terminal in the error that lists the header.
func headerText(h string) error {
	if strings.IndexByte(h, 0) >= 0 {
		return errors.New("contains a NUL byte: this is not a text file, or it is UTF-16 without its byte order mark")
	}
	if i := strings.IndexFunc(h, unicode.IsControl); i >= 0 {
		r, _ := utf8.DecodeRuneInString(h[i:])
		return fmt.Errorf("contains the control character %U: this is not an export of users", r)
	}
	return nil
}

// blank tells a record with no value at all (a trailing ",,,," line of a
// sheet saved as CSV).
func blank(rec []string) bool {
	for _, v := range rec {
		if strings.TrimSpace(v) != "" {
			return false
		}
	}
	return true
}
