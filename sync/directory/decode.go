package directory

import (
	"errors"
	"fmt"
	"strings"

	"github.com/go-ldap/ldap/v3"

	"github.com/upnsync/upnsync/mapping"
	upnsync "github.com/upnsync/upnsync/sync"
)

// Attribute names the readers always need whatever the mapping says.
const (
	attrObjectGUID         = "objectGUID"
	attrSAMAccountName     = "sAMAccountName"
	attrUserAccountControl = "userAccountControl"
)

// uacAccountDisable is the ACCOUNTDISABLE bit of userAccountControl.
const uacAccountDisable = 0x2

// fieldSource is one Person field: the index of its attribute in the
// decoder's attribute list and how to cut the value.
type fieldSource struct {
	idx int // -1: no attribute
	src mapping.Source
}

func (f fieldSource) value(vals []string) string {
	if f.idx < 0 {
		return ""
	}
	if f.src.Separator == "" {
		return vals[f.idx]
	}
	return f.src.Value(vals[f.idx])
}

// decoder builds Person values from attribute values. It is not safe for
// concurrent use: a directory holds one and serialises its reads.
type decoder struct {
	// attrs are the attribute names to request, exactly Fields.Attributes().
	attrs []string
	// vals is scratch space: the first value of each attribute of attrs for
	// the entry being decoded.
	vals []string

	guid, sam, uac          int
	upn, first, last, email fieldSource

	netbios string
	domains domainCache

	// badGUIDs counts entries whose objectGUID had the wrong length since
	// the last reset; badGUIDFirst is the first of them.
	badGUIDs     int
	badGUIDFirst string

	wire wireScratch
}

// withDefaults fills the sources a mapping left empty from
// mapping.DefaultFields.
func withDefaults(f mapping.Fields) mapping.Fields {
	d := mapping.DefaultFields
	if f.UPN.LDAP == "" {
		f.UPN = d.UPN
	}
	if f.FirstName.LDAP == "" {
		f.FirstName = d.FirstName
	}
	if f.LastName.LDAP == "" {
		f.LastName = d.LastName
	}
	if f.Email.LDAP == "" {
		f.Email = d.Email
	}
	return f
}

func newDecoder(fields mapping.Fields, netbios string) *decoder {
	fields = withDefaults(fields)
	d := &decoder{attrs: fields.Attributes(), netbios: netbios}
	d.vals = make([]string, len(d.attrs))
	d.guid = d.index(attrObjectGUID)
	d.sam = d.index(attrSAMAccountName)
	d.uac = d.index(attrUserAccountControl)
	d.upn = fieldSource{d.index(fields.UPN.LDAP), fields.UPN}
	d.first = fieldSource{d.index(fields.FirstName.LDAP), fields.FirstName}
	d.last = fieldSource{d.index(fields.LastName.LDAP), fields.LastName}
	d.email = fieldSource{d.index(fields.Email.LDAP), fields.Email}
	return d
}

// index finds name among the decoder's attributes (case-insensitively).
func (d *decoder) index(name string) int {
	if name == "" {
		return -1
	}
	for i, a := range d.attrs {
		if strings.EqualFold(a, name) {
			return i
		}
	}
	return -1
}

// slot finds the attribute an entry attribute name refers to, ignoring
// attribute options (objectGUID;binary).
func (d *decoder) slot(name string) int {
	if i := strings.IndexByte(name, ';'); i >= 0 {
		name = name[:i]
	}
	for i, a := range d.attrs {
		if len(a) == len(name) && strings.EqualFold(a, name) {
			return i
		}
	}
	return -1
}

func (d *decoder) reset() {
	clear(d.vals)
}

// entry decodes an LDAP search result entry.
func (d *decoder) entry(e *ldap.Entry) upnsync.Person {
	d.reset()
	for _, a := range e.Attributes {
		if len(a.Values) == 0 {
			continue
		}
		if i := d.slot(a.Name); i >= 0 && d.vals[i] == "" {
			d.vals[i] = a.Values[0]
		}
	}
	return d.person(e.DN)
}

// person builds the Person from d.vals.
func (d *decoder) person(dn string) upnsync.Person {
	p := upnsync.Person{
		DN:        dn,
		UPN:       d.upn.value(d.vals),
		GivenName: d.first.value(d.vals),
		Surname:   d.last.value(d.vals),
		Mail:      d.email.value(d.vals),
	}
	if d.sam >= 0 {
		p.SAMAccountName = d.vals[d.sam]
	}
	if d.guid >= 0 && d.vals[d.guid] != "" {
		g, err := guidFromValue(d.vals[d.guid])
		if err != nil {
			d.badGUIDs++
			if d.badGUIDFirst == "" {
				d.badGUIDFirst = dn
			}
		}
		p.GUID = g
	}
	if d.uac >= 0 {
		p.Disabled = uacDisabled(d.vals[d.uac])
	}
	dom := d.domains.lookup(dn)
	p.Domain, p.DNSDomain = dom.netbios, dom.dns
	if d.netbios != "" {
		p.Domain = d.netbios
	}
	return p
}

// uacDisabled reports whether a userAccountControl value has the
// ACCOUNTDISABLE bit. It parses the decimal value without allocating; a
// value that is not a number is taken as enabled.
func uacDisabled[T ~string | ~[]byte](s T) bool {
	if len(s) == 0 {
		return false
	}
	neg := false
	if s[0] == '-' || s[0] == '+' {
		neg = s[0] == '-'
		s = s[1:]
	}
	if len(s) == 0 || len(s) > 19 {
		return false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return false
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	// AD stores a signed 32-bit value; the bit test is the same either way.
	return n&uacAccountDisable != 0
}

// ErrGUIDLength is returned for an objectGUID that is not 16 bytes.
var ErrGUIDLength = errors.New("objectGUID is not 16 bytes")

const hexDigits = "0123456789abcdef"

// guidOrder is the order in which the 16 raw bytes of an objectGUID are
// printed: the first three groups are little-endian.
var guidOrder = [16]int{3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15}

// guidHexAt are the offsets of the 16 hex pairs in the canonical string.
var guidHexAt = [16]int{0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34}

// GUIDString turns the 16 raw bytes of an objectGUID into its canonical
// lower-case string, with the byte order of the first three groups swapped
// as Windows does: bytes e004253f894fd3119a0c0305e82c3301 are
// 3f2504e0-4f89-11d3-9a0c-0305e82c3301.
func GUIDString(raw []byte) (string, error) {
	if len(raw) != 16 {
		return "", fmt.Errorf("%w (it has %d)", ErrGUIDLength, len(raw))
	}
	var b [36]byte
	formatGUID(&b, raw)
	return string(b[:]), nil
}

// formatGUID writes the canonical form of the 16 raw bytes.
func formatGUID[T ~string | ~[]byte](b *[36]byte, raw T) {
	j := 0
	for k, i := range guidOrder {
		if k == 4 || k == 6 || k == 8 || k == 10 {
			b[j] = '-'
			j++
		}
		c := raw[i]
		b[j] = hexDigits[c>>4]
		b[j+1] = hexDigits[c&0xf]
		j += 2
	}
}

// guidFromValue decodes an objectGUID attribute value: 16 raw bytes (as
// LDAP and base64 LDIF carry it), or already a canonical string (some
// exports print it), which is lower-cased.
func guidFromValue(v string) (string, error) {
	switch len(v) {
	case 16:
		var b [36]byte
		formatGUID(&b, v)
		return string(b[:]), nil
	case 36, 38:
		if raw, err := GUIDBytes(v); err == nil {
			return GUIDString(raw)
		}
	}
	return "", fmt.Errorf("%w (it has %d)", ErrGUIDLength, len(v))
}

// GUIDBytes is the inverse of GUIDString: it turns a canonical GUID string
// (optionally in braces, any letter case) into the 16 raw bytes of an
// objectGUID, as a filter or a <GUID=...> search needs them.
func GUIDBytes(s string) ([]byte, error) {
	if len(s) == 38 && s[0] == '{' && s[37] == '}' {
		s = s[1:37]
	}
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return nil, fmt.Errorf("%q is not a GUID (expected xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)", s)
	}
	raw := make([]byte, 16)
	for k, j := range guidHexAt {
		hi, ok1 := unhex(s[j])
		lo, ok2 := unhex(s[j+1])
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("%q is not a GUID (bad hex digit)", s)
		}
		raw[guidOrder[k]] = hi<<4 | lo
	}
	return raw, nil
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
