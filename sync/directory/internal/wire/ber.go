// Package wire is upnsync's own LDAP code, kept to what a measurement
// demands: the bulk read of every user spends most of its time decoding
// search result entries, and go-ldap's decoder (go-asn1-ber) allocates about
// 21 KB per entry (docs/performance.md). So a Tap, placed between the
// network connection and go-ldap, frames the messages the server sends,
// takes the entries of the bulk search out into page buffers that the
// parsers here read in place, and passes everything else to go-ldap
// unchanged. go-ldap does the rest on the same connection: binds, the
// rootDSE, lookups, the bulk search's requests and their results.
//
// Only what RFC 4511 allows is accepted: definite lengths, single-byte tags
// (LDAP's are all below 31) and primitive OCTET STRINGs. Anything else is an
// error, never a panic or a read past the message: the parsers work on a
// slice holding one complete message and return sub-slices of it. Memory
// grows with the bytes that arrive, never with the lengths a server
// announces, and is bounded by the limits below whatever a server sends.
package wire

import (
	"errors"
	"fmt"
)

// BER tags used by LDAP (RFC 4511, section 4).
const (
	tagBoolean     = 0x01
	tagInteger     = 0x02
	tagOctetString = 0x04
	tagEnumerated  = 0x0a
	tagSequence    = 0x30
	tagSet         = 0x31

	// Application tags of responses (constructed).
	TagBindResponse         = 0x61
	TagSearchResultEntry    = 0x64
	TagSearchResultDone     = 0x65
	TagSearchResultRef      = 0x73
	TagExtendedResponse     = 0x78
	TagIntermediateResponse = 0x79

	tagControls      = 0xa0 // [0] Controls in LDAPMessage
	tagReferral      = 0xa3 // [3] Referral in LDAPResult
	tagResponseName  = 0x8a // [10] responseName in ExtendedResponse
	tagResponseValue = 0x8b // [11] responseValue in ExtendedResponse
)

// MaxMessage bounds one LDAP message. upnsync asks for a handful of short
// attributes per user, so a message this large means a broken or hostile
// server, and refusing it keeps memory bounded.
const MaxMessage = 64 << 20

// ErrLimit is matched (errors.Is) by every error about a server sending
// more than upnsync accepts: a message, a page, a nesting depth.
var ErrLimit = errors.New("over upnsync's limit")

type limitError struct{ msg string }

func (e *limitError) Error() string        { return e.msg }
func (e *limitError) Is(target error) bool { return target == ErrLimit }

// overLimit is an ErrLimit error; its message names the limit.
func overLimit(format string, args ...any) error {
	return &limitError{fmt.Sprintf(format, args...)}
}

// ErrMalformed is wrapped by every error about bytes that are not a valid
// LDAP message.
var ErrMalformed = errors.New("malformed LDAP message")

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// element splits the BER element at the start of b into its tag, its
// content and what follows it.
func element(b []byte) (tag byte, content, rest []byte, err error) {
	if len(b) < 2 {
		return 0, nil, nil, malformed("element cut short after %d bytes", len(b))
	}
	tag = b[0]
	if tag&0x1f == 0x1f {
		return 0, nil, nil, malformed("multi-byte tag 0x%02x (LDAP uses none)", tag)
	}
	n, hdr, err := length(b[1:])
	if err != nil {
		return 0, nil, nil, err
	}
	start := 1 + hdr
	if n > len(b)-start {
		return 0, nil, nil, malformed("element of %d bytes in the %d bytes left", n, len(b)-start)
	}
	return tag, b[start : start+n], b[start+n:], nil
}

// expect reads the element at the start of b and checks its tag.
func expect(b []byte, want byte, what string) (content, rest []byte, err error) {
	tag, content, rest, err := element(b)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", what, err)
	}
	if tag != want {
		return nil, nil, malformed("%s: tag 0x%02x, want 0x%02x", what, tag, want)
	}
	return content, rest, nil
}

// length decodes a definite BER length at the start of b: its value and
// how many bytes it took.
func length(b []byte) (n, size int, err error) {
	if len(b) == 0 {
		return 0, 0, malformed("length missing")
	}
	first := b[0]
	if first < 0x80 {
		return int(first), 1, nil
	}
	if first == 0x80 {
		return 0, 0, malformed("indefinite length (LDAP allows only definite lengths)")
	}
	k := int(first & 0x7f)
	if k > 4 {
		return 0, 0, malformed("length of %d bytes", k)
	}
	if len(b) < 1+k {
		return 0, 0, malformed("length cut short")
	}
	var v uint64
	for _, c := range b[1 : 1+k] {
		v = v<<8 | uint64(c)
	}
	if v > MaxMessage {
		return 0, 0, malformed("element of %d bytes, over the limit of %d", v, MaxMessage)
	}
	return int(v), 1 + k, nil
}

// integer decodes the content of an INTEGER or ENUMERATED (two's
// complement, big-endian, at most 8 bytes).
func integer(b []byte) (int64, error) {
	if len(b) == 0 || len(b) > 8 {
		return 0, malformed("integer of %d bytes", len(b))
	}
	v := int64(int8(b[0])) // sign-extends
	for _, c := range b[1:] {
		v = v<<8 | int64(c)
	}
	return v, nil
}
