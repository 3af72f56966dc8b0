package wire

import (
	"bytes"
	"fmt"
)

// NoticeOfDisconnection is the OID of the unsolicited notification a
// server sends before it closes a connection (RFC 4511, section 4.4.1).
const NoticeOfDisconnection = "1.3.6.1.4.1.1466.20036"

// Message is one LDAPMessage split into its parts. The slices point into
// the bytes it was parsed from.
type Message struct {
	ID int64
	// Tag is the protocolOp's tag (TagSearchResultEntry, ...), Op its
	// content.
	Tag byte
	Op  []byte
	// Controls is the content of the optional [0] Controls, or nil.
	Controls []byte
}

// ParseMessage splits the content of an LDAPMessage SEQUENCE (what
// Conn.ReadMessage returns).
func ParseMessage(b []byte) (Message, error) {
	var m Message
	idc, rest, err := expect(b, tagInteger, "messageID")
	if err != nil {
		return m, err
	}
	if m.ID, err = integer(idc); err != nil {
		return m, fmt.Errorf("messageID: %w", err)
	}
	if m.ID < 0 || m.ID > 1<<31-1 {
		return m, malformed("messageID %d out of range", m.ID)
	}
	tag, op, rest, err := element(rest)
	if err != nil {
		return m, fmt.Errorf("protocolOp: %w", err)
	}
	if tag&0xc0 != 0x40 {
		return m, malformed("protocolOp tag 0x%02x is not an application tag", tag)
	}
	m.Tag, m.Op = tag, op
	if len(rest) > 0 {
		ctrls, after, err := expect(rest, tagControls, "controls")
		if err != nil {
			return m, err
		}
		if len(after) > 0 {
			return m, malformed("%d bytes after the controls", len(after))
		}
		// An empty [0] is still "controls present"; keep a non-nil slice.
		m.Controls = ctrls[:len(ctrls):len(ctrls)]
		if m.Controls == nil {
			m.Controls = []byte{}
		}
	}
	return m, nil
}

// Entry splits a SearchResultEntry's content into its DN and its
// attribute list (walk it with NextAttribute).
func Entry(op []byte) (dn, attrs []byte, err error) {
	dn, rest, err := expect(op, tagOctetString, "entry DN")
	if err != nil {
		return nil, nil, err
	}
	attrs, rest, err = expect(rest, tagSequence, "entry attributes")
	if err != nil {
		return nil, nil, err
	}
	if len(rest) > 0 {
		return nil, nil, malformed("%d bytes after the entry's attributes", len(rest))
	}
	return dn, attrs, nil
}

// NextAttribute reads the first PartialAttribute of attrs: its type and
// the content of its value SET (walk it with NextValue).
func NextAttribute(attrs []byte) (name, vals, rest []byte, err error) {
	attr, rest, err := expect(attrs, tagSequence, "attribute")
	if err != nil {
		return nil, nil, nil, err
	}
	name, after, err := expect(attr, tagOctetString, "attribute type")
	if err != nil {
		return nil, nil, nil, err
	}
	vals, after, err = expect(after, tagSet, "attribute values")
	if err != nil {
		return nil, nil, nil, err
	}
	if len(after) > 0 {
		return nil, nil, nil, malformed("%d bytes after the values of %q", len(after), name)
	}
	return name, vals, rest, nil
}

// NextValue reads the first value of a value SET.
func NextValue(vals []byte) (v, rest []byte, err error) {
	return expect(vals, tagOctetString, "attribute value")
}

// Result is an LDAPResult.
type Result struct {
	Code       int
	MatchedDN  string
	Diagnostic string
	Referrals  []string
}

// ParseResult reads the LDAPResult at the start of a response's content
// (SearchResultDone, BindResponse, ExtendedResponse); what follows it
// (referral, SASL credentials, response name and value) is read only for
// the referral.
func ParseResult(op []byte) (Result, error) {
	var r Result
	code, rest, err := expect(op, tagEnumerated, "resultCode")
	if err != nil {
		return r, err
	}
	c, err := integer(code)
	if err != nil || c < 0 || c > 1<<16-1 {
		return r, malformed("resultCode %x", code)
	}
	r.Code = int(c)
	matched, rest, err := expect(rest, tagOctetString, "matchedDN")
	if err != nil {
		return r, err
	}
	diag, rest, err := expect(rest, tagOctetString, "diagnosticMessage")
	if err != nil {
		return r, err
	}
	r.MatchedDN, r.Diagnostic = string(matched), string(diag)
	if len(rest) > 0 && rest[0] == tagReferral {
		refs, _, err := expect(rest, tagReferral, "referral")
		if err != nil {
			return r, err
		}
		for len(refs) > 0 {
			var uri []byte
			if uri, refs, err = expect(refs, tagOctetString, "referral URI"); err != nil {
				return r, err
			}
			r.Referrals = append(r.Referrals, string(uri))
		}
	}
	return r, nil
}

// ResponseName returns the responseName of an ExtendedResponse, or "".
func ResponseName(op []byte) (string, error) {
	// Skip the three LDAPResult components and an optional referral.
	rest := op
	for i := 0; i < 3; i++ {
		var err error
		if _, _, rest, err = element(rest); err != nil {
			return "", err
		}
	}
	for len(rest) > 0 {
		tag, content, after, err := element(rest)
		if err != nil {
			return "", err
		}
		if tag == tagResponseName {
			return string(content), nil
		}
		rest = after
	}
	return "", nil
}

// EqualFoldASCII compares an attribute type from the wire with a name,
// ignoring ASCII letter case (attribute descriptions are ASCII).
func EqualFoldASCII(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		x, y := b[i], s[i]
		if x == y {
			continue
		}
		if x|0x20 != y|0x20 || x|0x20 < 'a' || x|0x20 > 'z' {
			return false
		}
	}
	return true
}

// AttributeType is an attribute description without its options
// (objectGUID;binary is objectGUID).
func AttributeType(name []byte) []byte {
	if i := bytes.IndexByte(name, ';'); i >= 0 {
		return name[:i]
	}
	return name
}
