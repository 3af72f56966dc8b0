package faultproxy

// framer follows the LDAP messages of a server's byte stream (BER:
// SEQUENCE { messageID INTEGER, protocolOp [APPLICATION n] ... }) far
// enough to tell where each message ends and which operation it is, without
// holding the messages. Anything that is not such a stream (TLS) marks it
// broken and it stops counting.
type framer struct {
	broken bool
	hdr    [16]byte // the first bytes of the current message
	n      int      // bytes of hdr filled
	known  bool     // the header is parsed: op and remain are set
	op     byte
	remain int64 // bytes of the current message still to come
}

// searchResultDone is the tag of [APPLICATION 5] SearchResultDone, the
// message that closes a search (a page, for a paged search).
const searchResultDone = 0x65

// feed consumes b and returns the offsets in b just past each
// SearchResultDone message that ends in it.
func (f *framer) feed(b []byte) []int {
	var ends []int
	for i := 0; i < len(b) && !f.broken; {
		if !f.known {
			f.hdr[f.n] = b[i]
			f.n++
			i++
			f.parse()
			if !f.known {
				if f.n == len(f.hdr) {
					f.broken = true
				}
				continue
			}
		} else {
			take := int64(len(b) - i)
			if take > f.remain {
				take = f.remain
			}
			f.remain -= take
			i += int(take)
		}
		if f.known && f.remain == 0 {
			if f.op == searchResultDone {
				ends = append(ends, i)
			}
			f.known, f.n = false, 0
		}
	}
	return ends
}

// untilPage returns the offset in b just past the k-th SearchResultDone
// from the current position, without consuming b.
func (f *framer) untilPage(b []byte, k int) (int, bool) {
	if k <= 0 {
		return 0, true
	}
	probe := *f
	ends := probe.feed(b)
	if len(ends) >= k {
		return ends[k-1], true
	}
	return 0, false
}

// parse tries to decode the header gathered in hdr.
func (f *framer) parse() {
	h := f.hdr[:f.n]
	if h[0] != 0x30 { // SEQUENCE
		f.broken = true
		return
	}
	length, hl, ok, bad := berLength(h, 1)
	if bad {
		f.broken = true
		return
	}
	if !ok {
		return
	}
	// messageID INTEGER, short length.
	if len(h) < hl+2 {
		return
	}
	if h[hl] != 0x02 || h[hl+1] == 0 || h[hl+1] > 4 {
		f.broken = true
		return
	}
	opAt := hl + 2 + int(h[hl+1])
	if len(h) <= opAt {
		return
	}
	total := int64(hl) + length
	if total < int64(f.n) {
		f.broken = true
		return
	}
	f.op = h[opAt]
	f.remain = total - int64(f.n)
	f.known = true
}

// berLength decodes the BER length at h[at]; it returns the length, the
// offset just past it, whether h holds all of it, and whether it is
// malformed.
func berLength(h []byte, at int) (length int64, next int, ok, bad bool) {
	if len(h) <= at {
		return 0, 0, false, false
	}
	b := h[at]
	if b < 0x80 {
		return int64(b), at + 1, true, false
	}
	k := int(b & 0x7f)
	if k == 0 || k > 4 {
		return 0, 0, false, true
	}
	if len(h) < at+1+k {
		return 0, 0, false, false
	}
	for _, c := range h[at+1 : at+1+k] {
		length = length<<8 | int64(c)
	}
	return length, at + 1 + k, true, false
}
