package wire

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"
)

// readBuffer is the size of the Tap's socket buffer: a few dozen entries
// per read system call.
const readBuffer = 64 << 10

// keepBuffer is the largest message buffer the Tap keeps between messages.
const keepBuffer = 64 << 10

// Request tags the Tap recognises in what go-ldap writes.
const (
	tagUnbindRequest  = 0x42
	tagAbandonRequest = 0x50
)

// errClosed is what a read fails with once the Tap was closed.
var errClosed = errors.New("the connection was closed")

// Tap is the net.Conn go-ldap reads and writes, placed on the network
// connection (above TLS). Its Read frames the messages the server sends:
// those of the bulk search (bulk.go) go into its pages and never reach
// go-ldap; every other message is checked (CheckForGoLDAP) and handed to
// go-ldap byte for byte. Its Write passes go-ldap's requests through and
// notes which responses to expect: a response to a request nobody sent
// stops the connection.
//
// The Tap's Read runs in go-ldap's reader goroutine, so the bulk read
// costs no goroutine of its own: go-ldap's reader waits inside Read while
// the pages stream in, and the Tap sends each next page's request from
// there.
//
// Before go-ldap starts on the Tap, RoundTrip, StartTLS and NTLMBind talk
// on it directly (see exchange.go).
type Tap struct {
	nc  net.Conn
	r   *bufio.Reader
	out []byte // bytes of framed messages go-ldap has not read yet
	msg []byte // the buffer messages for go-ldap are framed in

	wmu sync.Mutex // one message written at a time: go-ldap's or the Tap's

	mu      sync.Mutex
	sent    map[int64]bool // requests written and not answered yet
	stopped error          // why reading stopped (returned to go-ldap ever after)
	err     error          // the first such reason, unless the Tap was closed first
	closed  bool
	lastID  int64 // message id of the last request RoundTrip sent

	// The bulk search running (bulk.go): page is the page its responses
	// go into, bulkID the message id of that page's request.
	bulk       *BulkSearch
	page       *Page
	bulkID     int64
	nextBulkID int64
	cookie     []byte
}

// NewTap puts a Tap on an established connection (TLS included, for
// ldaps://; for StartTLS, on the plain connection: StartTLS moves it).
func NewTap(nc net.Conn) *Tap {
	return &Tap{nc: nc, r: bufio.NewReaderSize(nc, readBuffer), sent: map[int64]bool{}}
}

// errAbandoned: the reader of the pages stopped the bulk search.
var errAbandoned = errors.New("the read was abandoned")

// errBusy: a bulk search is already running.
var errBusy = errors.New("busy")

// Err is why the Tap stopped reading, unless it was closed first: a
// malformed message, one over a limit, a notice of disconnection, the end
// of the stream or a network error.
func (t *Tap) Err() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.err
}

// Read gives go-ldap the bytes of the messages that are its own.
func (t *Tap) Read(b []byte) (int, error) {
	for len(t.out) == 0 {
		t.mu.Lock()
		stopped := t.stopped
		t.mu.Unlock()
		if stopped != nil {
			return 0, stopped
		}
		if err := t.frame(); err != nil {
			t.stop(err)
		}
	}
	n := copy(b, t.out)
	t.out = t.out[n:]
	return n, nil
}

// stop ends reading: a bulk search's page is handed over with the
// reason, and go-ldap gets it from every Read.
func (t *Tap) stop(err error) {
	t.mu.Lock()
	if t.closed {
		err = errClosed
	} else if t.err == nil {
		t.err = err
	}
	t.stopped = err
	t.mu.Unlock()
	t.endBulk(err)
}

// frame reads the next message: into the bulk search's page, or into
// t.out for go-ldap.
func (t *Tap) frame() error {
	h, err := peekHeader(t.r)
	if err != nil {
		return err
	}
	t.mu.Lock()
	s, p := t.bulk, t.page
	bulk := p != nil && h.id == t.bulkID
	unasked := !bulk && h.id != 0 && !t.sent[h.id]
	t.mu.Unlock()
	switch {
	case bulk:
		return t.bulkMessage(s, p, h)
	case unasked:
		return malformed("a response (tag 0x%02x) with message id %d, to no request upnsync sent", h.op, h.id)
	}

	if h.n > MaxResponse {
		return overLimit("the server announced a response of %d bytes (tag 0x%02x), over upnsync's limit of %d MiB for anything but the entries of the bulk read", h.n, h.op, MaxResponse>>20)
	}
	if cap(t.msg) > keepBuffer {
		t.msg = nil
	}
	if t.msg, err = appendFull(t.r, t.msg[:0], h.size+h.n); err != nil {
		return err
	}
	content := t.msg[h.size:]
	if err := CheckForGoLDAP(content); err != nil {
		return err
	}
	if h.id == 0 {
		// An unsolicited notification: the server is about to close the
		// connection (RFC 4511, section 4.4).
		m, err := ParseMessage(content)
		if err != nil {
			return err
		}
		if m.Tag != TagExtendedResponse {
			return malformed("message id 0 on a response with tag 0x%02x", m.Tag)
		}
		return Notice(m)
	}
	if final(h.op) {
		t.mu.Lock()
		delete(t.sent, h.id)
		t.mu.Unlock()
	}
	t.out = t.msg
	return nil
}

// take reads one message of the bulk search into its page.
func (t *Tap) take(p *Page, h header) error {
	if p.Bytes+h.size+h.n > MaxPage {
		return overLimit("a page of over %d MiB (%d entries so far), over upnsync's limit (a directory sends well under 1 MB per 1000 users)", MaxPage>>20, p.Len())
	}
	if _, err := t.r.Discard(h.size); err != nil {
		return unexpectedEOF(err)
	}
	if h.op == TagSearchResultRef {
		if _, err := t.r.Discard(h.n); err != nil {
			return unexpectedEOF(err)
		}
		p.Refs++
	} else if err := p.add(t.r, h.n); err != nil {
		return err
	}
	p.Bytes += h.size + h.n
	return nil
}

// final reports whether a response with this tag ends its request.
func final(op byte) bool {
	return op != TagSearchResultEntry && op != TagSearchResultRef && op != TagIntermediateResponse
}

// Write passes go-ldap's requests to the server (and the bulk search's),
// noting their ids, one whole message at a time.
func (t *Tap) Write(b []byte) (int, error) {
	if id, op, ok := requestHead(b); ok && op != tagAbandonRequest && op != tagUnbindRequest {
		t.mu.Lock()
		t.sent[id] = true
		t.mu.Unlock()
	}
	t.wmu.Lock()
	defer t.wmu.Unlock()
	return t.nc.Write(b)
}

// requestHead reads the message id and protocolOp tag of a request.
func requestHead(b []byte) (id int64, op byte, ok bool) {
	tag, msg, _, err := element(b)
	if err != nil || tag != tagSequence {
		return 0, 0, false
	}
	idc, rest, err := expect(msg, tagInteger, "messageID")
	if err != nil || len(rest) == 0 {
		return 0, 0, false
	}
	if id, err = integer(idc); err != nil {
		return 0, 0, false
	}
	return id, rest[0], true
}

// Close closes the connection; a Read waiting for the server returns.
func (t *Tap) Close() error {
	t.mu.Lock()
	t.closed = true
	t.mu.Unlock()
	return t.nc.Close()
}

// LocalAddr, RemoteAddr and the deadlines are the connection's.
func (t *Tap) LocalAddr() net.Addr                { return t.nc.LocalAddr() }
func (t *Tap) RemoteAddr() net.Addr               { return t.nc.RemoteAddr() }
func (t *Tap) SetDeadline(d time.Time) error      { return t.nc.SetDeadline(d) }
func (t *Tap) SetReadDeadline(d time.Time) error  { return t.nc.SetReadDeadline(d) }
func (t *Tap) SetWriteDeadline(d time.Time) error { return t.nc.SetWriteDeadline(d) }

// ConnectionState reports the TLS state, if the connection uses TLS.
func (t *Tap) ConnectionState() (tls.ConnectionState, bool) {
	if tc, ok := t.nc.(*tls.Conn); ok {
		return tc.ConnectionState(), true
	}
	return tls.ConnectionState{}, false
}

// String describes the connection's peer (never with credentials).
func (t *Tap) String() string { return fmt.Sprintf("wire.Tap(%s)", t.nc.RemoteAddr()) }
