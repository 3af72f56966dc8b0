// Package mapping reads Octopus's ADSIReaderLDAPMappings.xml, the file that
// tells ADSIReader which LDAP attribute fills which Octopus attribute, and
// switches UPN sync on in it.
//
// Administrators edit this file by hand, often in Notepad, so reading is
// forgiving about form (letter case of names, BOM, UTF-16, CRLF, comments)
// and strict about content: every error names the file and line and says
// what to do. Writing changes only what it must, byte for byte.
package mapping

import (
	"fmt"
	"strings"
)

// Attribute is one <attribute> entry of the user mapping.
type Attribute struct {
	LDAP    string // LDAPAttribute, e.g. "GivenName"
	Octopus string // OctopusAttribute, e.g. "FirstName"
	// Separator and Index take one part of a split LDAP value (ADSIReader's
	// TelephoneNumber "555-1234x56" with Separator "x": Index 0 is the
	// number, Index 1 the extension). HasIndex tells Index="0" from none.
	Separator string
	Index     int
	HasIndex  bool
	Line      int
}

// Source is where the attribute's value comes from.
func (a Attribute) Source() Source {
	return Source{LDAP: a.LDAP, Separator: a.Separator, Index: a.Index}
}

// Mapping is the user mapping of a mapping file: the only part of the file
// upnsync reads.
type Mapping struct {
	File string
	// Name is the user mapping's Name as written: "User" in current files,
	// "Employee" in older installations.
	Name       string
	Line       int
	Attributes []Attribute
	// Others are the names of the file's other mappings (Computer, printer
	// queues...), which upnsync ignores; "" for a mapping without a Name.
	Others []string
}

// Octopus attribute names upnsync reads; compared case-insensitively.
const (
	octopusUPN       = "UPN"
	octopusFirstName = "FirstName"
	octopusLastName  = "LastName"
	octopusEmail     = "EMailAddress"
)

// octopusEmailAliases are accepted after EMailAddress because hand-edited
// files use them; "email" also matches "EMail".
var octopusEmailAliases = []string{octopusEmail, "Email"}

// UPN returns the entry that switches UPN sync on: the first one whose
// OctopusAttribute is "UPN" in any letter case.
func (m *Mapping) UPN() (Attribute, bool) {
	return m.find(octopusUPN)
}

func (m *Mapping) find(octopus ...string) (Attribute, bool) {
	for _, name := range octopus {
		for _, a := range m.Attributes {
			if strings.EqualFold(a.Octopus, name) {
				return a, true
			}
		}
	}
	return Attribute{}, false
}

// Fields says which LDAP attributes fill the fields upnsync uses. When an
// Octopus attribute is mapped more than once, the first entry wins; fields
// the file does not map fall back to DefaultFields.
func (m *Mapping) Fields() Fields {
	f := DefaultFields
	set := func(dst *Source, octopus ...string) {
		if a, ok := m.find(octopus...); ok {
			*dst = a.Source()
		}
	}
	set(&f.UPN, octopusUPN)
	set(&f.FirstName, octopusFirstName)
	set(&f.LastName, octopusLastName)
	set(&f.Email, octopusEmailAliases...)
	return f
}

// Validate checks what Parse cannot know is wrong before the whole mapping
// is read, and what a Mapping built by hand might get wrong: each entry, and
// that exactly one source feeds UPN. A file without a UPN entry is
// well-formed but useless to upnsync, so the error says how to fix it.
func (m *Mapping) Validate() error {
	for _, a := range m.Attributes {
		if err := checkEntry(m.File, a); err != nil {
			return err
		}
	}
	upn, ok := m.UPN()
	if !ok {
		return errorf(m.File, m.Line,
			"UPN sync is off: %s has no entry with OctopusAttribute=\"UPN\"; %s",
			describe("mapping", m.Name), addUPNHint(m.File))
	}
	for _, a := range m.Attributes {
		if strings.EqualFold(a.Octopus, octopusUPN) && !sameSource(a, upn) {
			return errorf(m.File, a.Line,
				"a second UPN entry reads %s, but the one at line %d reads %s: keep one of them",
				sourceText(a), upn.Line, sourceText(upn))
		}
	}
	return nil
}

func sameSource(a, b Attribute) bool {
	return strings.EqualFold(a.LDAP, b.LDAP) && a.Separator == b.Separator && a.Index == b.Index
}

// sourceText renders an entry's source for messages and the listing.
func sourceText(a Attribute) string {
	if a.Separator == "" && !a.HasIndex {
		return a.LDAP
	}
	return fmt.Sprintf("%s part %d split on %q", a.LDAP, a.Index, a.Separator)
}

// checkEntry holds the per-entry rules, shared by Parse (which reports them
// in document order) and Validate (for mappings built in code).
func checkEntry(file string, a Attribute) error {
	switch {
	case strings.TrimSpace(a.LDAP) == "":
		return errorf(file, a.Line, "LDAPAttribute is empty: name the LDAP attribute to read, e.g. LDAPAttribute=\"givenName\"")
	case !validLDAPName(a.LDAP):
		return errorf(file, a.Line,
			"LDAPAttribute %q is not an LDAP attribute name (a letter, then letters, digits or '-', e.g. \"givenName\"): correct it", a.LDAP)
	case strings.TrimSpace(a.Octopus) == "":
		return errorf(file, a.Line, "OctopusAttribute is empty: name the Octopus attribute to fill, e.g. OctopusAttribute=\"FirstName\"")
	case a.Index < 0:
		return errorf(file, a.Line, "Index %d is negative: parts are counted from 0; use Index=\"0\" for the first part", a.Index)
	case a.HasIndex && a.Separator == "":
		return errorf(file, a.Line,
			"Index without Separator: Index picks one part of a value split on Separator; add Separator=\"...\" (e.g. Separator=\"x\") or remove Index")
	}
	return nil
}

// validLDAPName accepts an attribute description as RFC 4512 defines it: a
// name or numeric OID, with optional ";option" suffixes.
func validLDAPName(s string) bool {
	name, opts, _ := strings.Cut(s, ";")
	if !isKeystring(name) && !isNumericOID(name) {
		return false
	}
	if opts == "" {
		return !strings.HasSuffix(s, ";")
	}
	for _, o := range strings.Split(opts, ";") {
		if o == "" || strings.IndexFunc(o, func(r rune) bool { return !isKeychar(r) }) >= 0 {
			return false
		}
	}
	return true
}

func isKeystring(s string) bool {
	if s == "" || !isLetter(rune(s[0])) {
		return false
	}
	return strings.IndexFunc(s, func(r rune) bool { return !isKeychar(r) }) < 0
}

func isNumericOID(s string) bool {
	parts := strings.Split(s, ".")
	if len(parts) < 2 {
		return false
	}
	for _, p := range parts {
		if p == "" || strings.Trim(p, "0123456789") != "" || (len(p) > 1 && p[0] == '0') {
			return false
		}
	}
	return true
}

func isLetter(r rune) bool  { return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' }
func isKeychar(r rune) bool { return isLetter(r) || r >= '0' && r <= '9' || r == '-' }
