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
	tagSearchRequest  = 0x63
	tagUnbindRequest  = 0x42
	tagAbandonRequest = 0x50
)

// errClosed is what a read fails with once the Tap was closed.
var errClosed = errors.New("the connection was closed")

// Tap is the net.Conn go-ldap reads and writes, placed on the network
// connection (above TLS). Its Read frames the messages the server sends:
// while a page is armed, the SearchResultEntry and SearchResultReference
// messages of the armed search go into the page; every other message is
// checked (CheckForGoLDAP) and handed to go-ldap byte for byte. Its Write
// passes go-ldap's requests through and learns from them the message id of
// the armed search and which responses to expect: a response to a request
// nobody sent stops the connection.
//
// The Tap's Read runs in go-ldap's reader goroutine, so the bulk read's
// framing costs no goroutine of its own: go-ldap's reader waits inside Read
// while the entries of a page stream into the page, and gets the page's
// SearchResultDone when it arrives.
//
// Before go-ldap starts on the Tap, RoundTrip, StartTLS and NTLMBind talk
// on it directly (see exchange.go).
type Tap struct {
	nc  net.Conn
	r   *bufio.Reader
	out []byte // bytes of framed messages go-ldap has not read yet
	msg []byte // the buffer messages for go-ldap are framed in

	mu   sync.Mutex
	cond *sync.Cond // signalled when busy drops
	page *Page      // the armed page
	room func(size int) bool
	// id is the message id of the armed page's search: 0 until go-ldap
	// writes the request.
	id       int64
	busy     bool // Read is filling the armed page, outside mu
	released bool // the armed page is done, or reading stopped
	sent     map[int64]bool
	stopped  error // why reading stopped (returned to go-ldap ever after)
	err      error // the first such reason, unless the Tap was closed first
	closed   bool
	lastID   int64 // message id of the last request RoundTrip sent
}

// NewTap puts a Tap on an established connection (TLS included, for
// ldaps://; for StartTLS, on the plain connection: StartTLS moves it).
func NewTap(nc net.Conn) *Tap {
	t := &Tap{nc: nc, r: bufio.NewReaderSize(nc, readBuffer), sent: map[int64]bool{}}
	t.cond = sync.NewCond(&t.mu)
	return t
}

// errAbandoned: the page's reader gave up while the Tap waited for room.
var errAbandoned = errors.New("the read was abandoned")

// Arm makes p receive the entries of the next search request written to
// the Tap. p must be empty (Reset). Before taking a message into p, the
// Tap calls room (when not nil) with the page's size after it: room may
// wait for the caller to make room (the Tap stops reading the connection
// meanwhile), and returns false to abandon the page.
func (t *Tap) Arm(p *Page, room func(size int) bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.page, t.room, t.id, t.released = p, room, 0, false
	if t.stopped != nil {
		p.Err, t.released = t.stopped, true
	}
}

// Released returns the armed page once its search is done or reading
// stopped (with Page.Err), and nil before: while the page may still
// receive entries. It disarms the Tap.
func (t *Tap) Released() *Page {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.released {
		return nil
	}
	return t.disarm()
}

// Disarm returns the armed page now, waiting only while a message is being
// read into it: close the connection first when the server may be
// stalling in the middle of one.
func (t *Tap) Disarm() *Page {
	t.mu.Lock()
	defer t.mu.Unlock()
	for t.busy {
		t.cond.Wait()
	}
	return t.disarm()
}

func (t *Tap) disarm() *Page {
	p := t.page
	t.page, t.id, t.released = nil, 0, false
	return p
}

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

// stop ends reading: the armed page is released with the reason, go-ldap
// gets it from every Read.
func (t *Tap) stop(err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		err = errClosed
	} else if t.err == nil {
		t.err = err
	}
	t.stopped = err
	if t.page != nil && !t.released {
		if t.page.Err == nil {
			t.page.Err = err
		}
		t.released = true
	}
}

// frame reads the next message: into the armed page, or into t.out for
// go-ldap.
func (t *Tap) frame() error {
	h, err := peekHeader(t.r)
	if err != nil {
		return err
	}
	t.mu.Lock()
	p, room := t.page, t.room
	mine := p != nil && !t.released && t.id != 0 && h.id == t.id
	divert := mine && (h.op == TagSearchResultEntry || h.op == TagSearchResultRef)
	if !divert && h.id != 0 && !t.sent[h.id] {
		t.mu.Unlock()
		return malformed("a response (tag 0x%02x) with message id %d, to no request upnsync sent", h.op, h.id)
	}
	t.mu.Unlock()
	if divert && room != nil && !room(p.Bytes+h.size+h.n) {
		return errAbandoned
	}
	if divert {
		t.mu.Lock()
		if t.page != p || t.released || t.closed {
			// Taken back or closed while the Tap waited for room.
			t.mu.Unlock()
			return errClosed
		}
		t.busy = true
		t.mu.Unlock()
	}
	if divert {
		err := t.take(p, h)
		t.mu.Lock()
		t.busy = false
		if err != nil {
			p.Err, t.released = err, true
		}
		t.cond.Broadcast()
		t.mu.Unlock()
		return err
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
	t.mu.Lock()
	if final(h.op) {
		delete(t.sent, h.id)
	}
	if mine && h.op == TagSearchResultDone {
		// Released before go-ldap sees the result: whoever waits for the
		// search finds the page complete.
		p.Done, t.released = true, true
	}
	t.mu.Unlock()
	t.out = t.msg
	return nil
}

// take reads one message of the armed search into the page.
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

// Write passes go-ldap's requests to the server, noting their ids.
func (t *Tap) Write(b []byte) (int, error) {
	if id, op, ok := requestHead(b); ok {
		t.mu.Lock()
		if op != tagAbandonRequest && op != tagUnbindRequest {
			t.sent[id] = true
		}
		if t.page != nil && t.id == 0 && !t.released && op == tagSearchRequest {
			t.id = id
		}
		t.mu.Unlock()
	}
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
