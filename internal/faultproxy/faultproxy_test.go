package faultproxy

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	ber "github.com/go-asn1-ber/asn1-ber"
)

// These tests use a small fake server that writes known bytes; the proxy's
// real use, against the test directory, is in the fault tests of
// cmd/upnsync and sync/directory.

// server accepts connections and hands each to handle.
func server(t *testing.T, handle func(net.Conn)) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				handle(c)
			}()
		}
	}()
	return l.Addr().String()
}

// sends answers each connection with data and closes it.
func sends(data []byte) func(net.Conn) {
	return func(c net.Conn) { c.Write(data) }
}

// answers waits for one byte of request, as an LDAP server waits for the
// client to speak first, then sends data: a fault then cannot strike
// before the client's connect returned.
func answers(data []byte) func(net.Conn) {
	return func(c net.Conn) {
		if _, err := c.Read(make([]byte, 1)); err == nil {
			c.Write(data)
		}
	}
}

func start(t *testing.T, target string) *Proxy {
	t.Helper()
	p, err := Start(target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func dial(t *testing.T, p *Proxy) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func randomBytes(t *testing.T, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// readAll reads until the connection ends or nothing comes for a while.
func readAll(c net.Conn) ([]byte, error) {
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	return io.ReadAll(c)
}

func TestPassRelaysBothWays(t *testing.T) {
	data := randomBytes(t, 300_000)
	echo := server(t, func(c net.Conn) {
		var req [5]byte
		if _, err := io.ReadFull(c, req[:]); err != nil {
			return
		}
		c.Write(req[:])
		c.Write(data)
	})
	p := start(t, echo)
	c := dial(t, p)
	c.Write([]byte("hello"))
	got, err := readAll(c)
	if err != nil || !bytes.Equal(got, append([]byte("hello"), data...)) {
		t.Fatalf("got %d bytes, %v", len(got), err)
	}
	st := p.Stats()
	if len(st) != 1 || st[0].ServerBytes != int64(len(data)+5) || st[0].Struck {
		t.Errorf("stats %+v", st)
	}
}

func TestDropAfterBytes(t *testing.T) {
	data := randomBytes(t, 100_000)
	p := start(t, server(t, sends(data)))
	p.Always(Fault{Action: Drop, AfterBytes: 40_001})
	got, err := readAll(dial(t, p))
	if err != nil || !bytes.Equal(got, data[:40_001]) {
		t.Fatalf("got %d bytes (%v), want the first 40001 then the end of the stream", len(got), err)
	}
	if st := p.Stats(); !st[0].Struck || st[0].ServerBytes != 40_001 {
		t.Errorf("stats %+v", st[0])
	}
}

func TestResetAfterBytes(t *testing.T) {
	data := randomBytes(t, 100_000)
	p := start(t, server(t, answers(data)))
	p.Always(Fault{Action: Reset, AfterBytes: 5000})
	c := dial(t, p)
	c.Write([]byte("?"))
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	got := make([]byte, 5000)
	if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, data[:5000]) {
		t.Fatalf("first 5000 bytes: %v", err)
	}
	_, err := c.Read(make([]byte, 10))
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("after the fault: %v, want connection reset", err)
	}
}

func TestStallThenResume(t *testing.T) {
	data := randomBytes(t, 1000)
	p := start(t, server(t, sends(data)))
	p.Always(Fault{Action: Stall, AfterBytes: 10, Stall: 1500 * time.Millisecond})
	c := dial(t, p)
	first := make([]byte, 10)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(c, first); err != nil {
		t.Fatal(err)
	}
	// During the stall nothing comes.
	c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if n, err := c.Read(make([]byte, 10)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read during the stall: %d bytes, %v", n, err)
	}
	// Then the rest.
	rest := make([]byte, len(data)-10)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(c, rest); err != nil || !bytes.Equal(append(first, rest...), data) {
		t.Fatalf("after the stall: %v", err)
	}
}

// A stall without end lasts until the client gives up; closing the proxy
// does not hang on it.
func TestStallUntilClosed(t *testing.T) {
	p := start(t, server(t, sends([]byte("never seen"))))
	p.Always(Fault{Action: Stall})
	c := dial(t, p)
	c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if n, err := c.Read(make([]byte, 10)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read: %d bytes, %v", n, err)
	}
	c.Close()
	done := make(chan struct{})
	go func() { p.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Close hangs on a stalled connection")
	}
}

// ldapMessage encodes an LDAP message with go-ldap's own BER encoder.
func ldapMessage(id int64, op ber.Tag, payload string) []byte {
	p := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "LDAP Response")
	p.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, id, "MessageID"))
	body := ber.Encode(ber.ClassApplication, ber.TypeConstructed, op, nil, "op")
	body.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, payload, "payload"))
	p.AppendChild(body)
	return p.Bytes()
}

// pages is a paged search's answer: n pages of entries, each closed by a
// SearchResultDone; ends are the offsets just past each of those.
func pages(n int) (stream []byte, ends []int64) {
	var b bytes.Buffer
	id := int64(1)
	for page := 0; page < n; page++ {
		for e := 0; e < 3+page; e++ {
			// Long enough for the long form of BER lengths.
			b.Write(ldapMessage(id, 4, "cn=user"+string(rune('a'+e))+string(bytes.Repeat([]byte("x"), 200*e))))
		}
		b.Write(ldapMessage(id, 5, ""))
		ends = append(ends, int64(b.Len()))
		id++
	}
	return b.Bytes(), ends
}

func TestDropAfterPages(t *testing.T) {
	stream, ends := pages(4)
	p := start(t, server(t, sends(stream)))
	p.Always(Fault{Action: Drop, AfterPages: 2})
	got, err := readAll(dial(t, p))
	if err != nil || !bytes.Equal(got, stream[:ends[1]]) {
		t.Fatalf("got %d bytes (%v), want the %d of the first 2 pages", len(got), err, ends[1])
	}
	st := p.Stats()[0]
	if st.Pages != 2 || len(st.PageEnds) != 2 || st.PageEnds[0] != ends[0] || st.PageEnds[1] != ends[1] || st.Unframed {
		t.Errorf("stats %+v, want page ends %v", st, ends[:2])
	}
}

func TestPagesCountedOnAPassingConnection(t *testing.T) {
	stream, ends := pages(5)
	p := start(t, server(t, sends(stream)))
	if got, err := readAll(dial(t, p)); err != nil || !bytes.Equal(got, stream) {
		t.Fatal(err)
	}
	st := p.Stats()[0]
	if st.Pages != 5 || st.PageEnds[4] != ends[4] {
		t.Errorf("stats %+v, want %v", st, ends)
	}
}

// The framer gives the same answer however the stream is cut, and gives up
// on what is not LDAP.
func TestFramer(t *testing.T) {
	stream, ends := pages(3)
	for _, size := range []int{1, 2, 3, 7, 100, len(stream)} {
		var f framer
		var got []int64
		for at := 0; at < len(stream); at += size {
			chunk := stream[at:min(at+size, len(stream))]
			for _, e := range f.feed(chunk) {
				got = append(got, int64(at+e))
			}
		}
		if len(got) != len(ends) || got[0] != ends[0] || got[2] != ends[2] || f.broken {
			t.Errorf("chunks of %d: ends %v, want %v", size, got, ends)
		}
	}
	var f framer
	if ends := f.feed([]byte{0x16, 0x03, 0x03, 0x00, 0x7a, 0x02}); len(ends) != 0 || !f.broken {
		t.Errorf("a TLS record: %v, broken %v", ends, f.broken)
	}
}

// Connections get the script's faults in order, then the default.
func TestScript(t *testing.T) {
	data := randomBytes(t, 2000)
	p := start(t, server(t, sends(data)))
	p.Script(Fault{Action: Drop}, Fault{Action: Drop, AfterBytes: 100})
	for i, want := range []int{0, 100, 2000, 2000} {
		got, err := readAll(dial(t, p))
		if err != nil || len(got) != want || !bytes.Equal(got, data[:want]) {
			t.Errorf("connection %d: %d bytes, %v; want %d", i+1, len(got), err, want)
		}
	}
	if n := p.Connections(); n != 4 {
		t.Errorf("connections = %d", n)
	}
	st := p.Stats()
	if !st[0].Struck || !st[1].Struck || st[2].Struck || st[2].Fault.Action != Pass {
		t.Errorf("stats %+v", st)
	}
}

func TestTargetDown(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	p := start(t, addr)
	got, err := readAll(dial(t, p))
	if len(got) != 0 || err != nil {
		t.Fatalf("got %q, %v; want the connection closed", got, err)
	}
}

func TestFaultString(t *testing.T) {
	for f, want := range map[Fault]string{
		{}:                                  "pass",
		{Action: Drop, AfterPages: 2}:       "drop after 2 pages",
		{Action: Reset, AfterBytes: 10}:     "reset after 10 bytes",
		{Action: Stall, Stall: time.Second}: "stall for 1s after 0 bytes",
		{Action: Stall}:                     "stall until closed after 0 bytes",
	} {
		if got := f.String(); got != want {
			t.Errorf("%#v: %q, want %q", f, got, want)
		}
	}
}
