package directory

import (
	"bytes"
	"fmt"

	"github.com/upnsync/upnsync/mapping"
	upnsync "github.com/upnsync/upnsync/sync"
	"github.com/upnsync/upnsync/sync/directory/internal/wire"
)

// wireScratch is the decoder's scratch space for entries read by the wire
// reader.
type wireScratch struct {
	// raw holds, per attribute of decoder.attrs, the first value of the
	// entry being decoded (a slice of the page buffer).
	raw [][]byte
	// backing collects the Person's strings before the one conversion.
	backing []byte
}

// wireEntry decodes a SearchResultEntry straight from the bytes of its
// LDAPMessage, with the same result as entry on go-ldap's *ldap.Entry. All
// the Person's strings share one allocation: copies of the few values it
// keeps, so that the page buffer can be reused at once.
func (d *decoder) wireEntry(msg []byte) (upnsync.Person, error) {
	m, err := wire.ParseMessage(msg)
	if err != nil {
		return upnsync.Person{}, err
	}
	if m.Tag != wire.TagSearchResultEntry {
		return upnsync.Person{}, fmt.Errorf("%w: tag 0x%02x is not a search result entry", wire.ErrMalformed, m.Tag)
	}
	dn, attrs, err := wire.Entry(m.Op)
	if err != nil {
		return upnsync.Person{}, err
	}
	w := &d.wire
	if len(w.raw) != len(d.attrs) {
		w.raw = make([][]byte, len(d.attrs))
	}
	raw := w.raw
	clear(raw)
	for len(attrs) > 0 {
		name, vals, rest, err := wire.NextAttribute(attrs)
		if err != nil {
			return upnsync.Person{}, err
		}
		attrs = rest
		if len(vals) == 0 {
			continue
		}
		// Like entry: the first value of the first instance that has a
		// non-empty one.
		first, more, err := wire.NextValue(vals)
		if err != nil {
			return upnsync.Person{}, err
		}
		if i := d.slotBytes(name); i >= 0 && len(raw[i]) == 0 {
			raw[i] = first
		}
		// The other values are not used, but a message that is not well
		// formed is refused whole, as go-ldap's decoder does.
		for len(more) > 0 {
			if _, more, err = wire.NextValue(more); err != nil {
				return upnsync.Person{}, err
			}
		}
	}

	b := append(w.backing[:0], dn...)
	var ends [7]int
	ends[0] = len(b)
	b = append(b, d.upn.valueBytes(raw)...)
	ends[1] = len(b)
	b = append(b, d.first.valueBytes(raw)...)
	ends[2] = len(b)
	b = append(b, d.last.valueBytes(raw)...)
	ends[3] = len(b)
	b = append(b, d.email.valueBytes(raw)...)
	ends[4] = len(b)
	if d.sam >= 0 {
		b = append(b, raw[d.sam]...)
	}
	ends[5] = len(b)
	badGUID := false
	if d.guid >= 0 && len(raw[d.guid]) > 0 {
		if v := raw[d.guid]; len(v) == 16 {
			var g [36]byte
			formatGUID(&g, v)
			b = append(b, g[:]...)
		} else if g, err := guidFromValue(string(v)); err == nil {
			b = append(b, g...)
		} else {
			badGUID = true
		}
	}
	ends[6] = len(b)
	w.backing = b
	s := string(b)

	p := upnsync.Person{
		DN:             s[:ends[0]],
		UPN:            s[ends[0]:ends[1]],
		GivenName:      s[ends[1]:ends[2]],
		Surname:        s[ends[2]:ends[3]],
		Mail:           s[ends[3]:ends[4]],
		SAMAccountName: s[ends[4]:ends[5]],
		GUID:           s[ends[5]:ends[6]],
	}
	if badGUID {
		d.badGUIDs++
		if d.badGUIDFirst == "" {
			d.badGUIDFirst = p.DN
		}
	}
	if d.uac >= 0 {
		p.Disabled = uacDisabled(raw[d.uac])
	}
	dom := d.domains.lookup(p.DN)
	p.Domain, p.DNSDomain = dom.netbios, dom.dns
	if d.netbios != "" {
		p.Domain = d.netbios
	}
	return p, nil
}

// slotBytes is slot for an attribute type read from the wire.
func (d *decoder) slotBytes(name []byte) int {
	name = wire.AttributeType(name)
	for i, a := range d.attrs {
		if wire.EqualFoldASCII(name, a) {
			return i
		}
	}
	return -1
}

// valueBytes is value for raw attribute values.
func (f fieldSource) valueBytes(raw [][]byte) []byte {
	if f.idx < 0 {
		return nil
	}
	return sourceValue(f.src, raw[f.idx])
}

// sourceValue is mapping.Source.Value on bytes: the part at Index of the
// value split on Separator, trimmed.
func sourceValue(s mapping.Source, raw []byte) []byte {
	if s.Separator == "" {
		return raw
	}
	parts := bytes.Split(raw, []byte(s.Separator))
	if s.Index < 0 || s.Index >= len(parts) {
		return nil
	}
	return bytes.TrimSpace(parts[s.Index])
}
