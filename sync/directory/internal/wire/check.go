package wire

// Limits on the messages the Tap hands to go-ldap. go-ldap decodes a
// message into a tree of packets that costs a few hundred bytes per BER
// element (go-asn1-ber reads each value through io.ReadAll, 512 bytes at
// least), so what bounds its memory is the number of elements, not only
// the bytes. Legitimate messages for go-ldap are small: the rootDSE,
// lookups, bind responses, DirSync results, a page's SearchResultDone.
const (
	// MaxResponse bounds the bytes of one message for go-ldap.
	MaxResponse = 1 << 20
	// maxElements bounds its BER elements, maxDepth their nesting.
	maxElements = 1 << 14
	maxDepth    = 32
	// maxControls bounds the bytes of its controls, whose values go-ldap
	// decodes as BER of their own.
	maxControls = 64 << 10
)

// CheckForGoLDAP checks the content of an LDAPMessage before go-ldap
// decodes it: well-formed BER with definite lengths, single-byte tags,
// at most maxElements elements nested at most maxDepth deep, and controls
// of at most maxControls bytes.
func CheckForGoLDAP(msg []byte) error {
	if len(msg) > MaxResponse {
		return overLimit("a response of %d bytes, over upnsync's limit of %d MiB", len(msg), MaxResponse>>20)
	}
	// ends holds, for each open constructed element, where it ends.
	var ends [maxDepth]int
	depth, elements := 0, 0
	for pos := 0; pos < len(msg); {
		for depth > 0 && pos == ends[depth-1] {
			depth--
		}
		tag, hdr, n, err := elementHeader(msg[pos:])
		if err != nil {
			return err
		}
		end := pos + hdr + n
		if depth > 0 && end > ends[depth-1] {
			return malformed("element of %d bytes overruns its enclosing element", n)
		}
		if elements++; elements > maxElements {
			return overLimit("a response of more than %d BER elements, over upnsync's limit", maxElements)
		}
		if depth == 0 && tag == tagControls && end-pos > maxControls {
			return overLimit("controls of %d bytes, over upnsync's limit of %d KiB", end-pos, maxControls>>10)
		}
		if tag&0x20 == 0 {
			pos = end
			continue
		}
		if depth == maxDepth {
			return overLimit("values nested more than %d deep, over upnsync's limit", maxDepth)
		}
		ends[depth] = end
		depth++
		pos += hdr
	}
	return nil
}

// elementHeader reads the tag and length of the element at the start of
// b: its tag, the header's size and the content's length, which must fit
// in b.
func elementHeader(b []byte) (tag byte, hdr, n int, err error) {
	if len(b) < 2 {
		return 0, 0, 0, malformed("element cut short after %d bytes", len(b))
	}
	tag = b[0]
	if tag&0x1f == 0x1f {
		return 0, 0, 0, malformed("multi-byte tag 0x%02x (LDAP uses none)", tag)
	}
	n, size, err := length(b[1:])
	if err != nil {
		return 0, 0, 0, err
	}
	if n > len(b)-1-size {
		return 0, 0, 0, malformed("element of %d bytes in the %d bytes left", n, len(b)-1-size)
	}
	return tag, 1 + size, n, nil
}
