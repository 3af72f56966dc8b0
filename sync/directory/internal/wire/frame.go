package wire

import (
	"bufio"
	"errors"
	"io"
	"slices"
)

// growStep is the most a buffer grows by beyond what it already holds:
// whatever length a server announces, memory follows the bytes that
// arrive.
const growStep = 64 << 10

// header is what the framer learns of a message from its first bytes,
// before reading it: enough to decide where its bytes go.
type header struct {
	size int // bytes of the LDAPMessage SEQUENCE's tag and length
	n    int // bytes of its content
	id   int64
	op   byte // tag of the protocolOp
}

// peekHeader reads the header of the next message without consuming
// anything: the SEQUENCE's length, the messageID and the protocolOp's tag.
// It peeks only at bytes the message itself announces, so it never waits
// for the next message. At a message boundary the end of the stream is
// io.EOF; inside a message, io.ErrUnexpectedEOF.
func peekHeader(r *bufio.Reader) (header, error) {
	var h header
	b, err := r.Peek(2)
	if err != nil {
		if len(b) == 0 && errors.Is(err, io.EOF) {
			return h, io.EOF
		}
		return h, unexpectedEOF(err)
	}
	if b[0] != tagSequence {
		return h, malformed("message starts with tag 0x%02x, want a SEQUENCE (0x30)", b[0])
	}
	h.size = 2
	if b[1] >= 0x80 {
		k := int(b[1] & 0x7f)
		switch {
		case k == 0:
			return h, malformed("indefinite length (LDAP allows only definite lengths)")
		case k > 4:
			return h, malformed("length of %d bytes", k)
		}
		h.size += k
		if b, err = r.Peek(h.size); err != nil {
			return h, unexpectedEOF(err)
		}
		var v uint64
		for _, c := range b[2:h.size] {
			v = v<<8 | uint64(c)
		}
		if v > MaxMessage {
			return h, overLimit("the server announced a message of %d bytes, over upnsync's limit of %d MiB", v, MaxMessage>>20)
		}
		h.n = int(v)
	} else {
		h.n = int(b[1])
	}
	// messageID INTEGER (0 to 2^31-1: at most 4 bytes), then the
	// protocolOp's tag.
	if h.n < 3 {
		return h, malformed("message of %d bytes", h.n)
	}
	if b, err = r.Peek(h.size + 2); err != nil {
		return h, unexpectedEOF(err)
	}
	if b[h.size] != tagInteger {
		return h, malformed("messageID: tag 0x%02x, want 0x%02x", b[h.size], tagInteger)
	}
	idLen := int(b[h.size+1])
	if idLen < 1 || idLen > 4 {
		return h, malformed("messageID of %d bytes", idLen)
	}
	if h.n < 2+idLen+2 {
		return h, malformed("message of %d bytes", h.n)
	}
	if b, err = r.Peek(h.size + 2 + idLen + 1); err != nil {
		return h, unexpectedEOF(err)
	}
	id, err := integer(b[h.size+2 : h.size+2+idLen])
	if err != nil || id < 0 {
		return h, malformed("messageID %x", b[h.size+2:h.size+2+idLen])
	}
	h.id, h.op = id, b[h.size+2+idLen]
	return h, nil
}

// appendFull appends the next n bytes of r to buf, growing buf as they
// arrive: by what it holds (doubling) or growStep, never by n at once.
func appendFull(r io.Reader, buf []byte, n int) ([]byte, error) {
	for n > 0 {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, min(n, max(len(buf), growStep)))
		}
		k := min(n, cap(buf)-len(buf))
		got, err := io.ReadFull(r, buf[len(buf):len(buf)+k])
		buf = buf[:len(buf)+got]
		n -= got
		if err != nil {
			return buf, unexpectedEOF(err)
		}
	}
	return buf, nil
}

// readMessage reads the next LDAPMessage and appends its content (the
// SEQUENCE's content, for ParseMessage) to buf.
func readMessage(r *bufio.Reader, buf []byte) ([]byte, error) {
	h, err := peekHeader(r)
	if err != nil {
		return buf, err
	}
	if _, err := r.Discard(h.size); err != nil {
		return buf, unexpectedEOF(err)
	}
	start := len(buf)
	buf, err = appendFull(r, buf, h.n)
	if err != nil {
		return buf[:start], err
	}
	return buf, nil
}

// unexpectedEOF turns an end of stream inside a message into
// io.ErrUnexpectedEOF.
func unexpectedEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}
