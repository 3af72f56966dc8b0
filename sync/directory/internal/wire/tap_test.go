package wire

import (
	"bytes"
	"errors"
	"io"
	"net"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/go-ldap/ldap/v3"
)

// streamConn is a net.Conn whose reads come from r (the server's bytes)
// and whose writes are kept (the client's requests).
type streamConn struct {
	r io.Reader
	w bytes.Buffer
}

func (c *streamConn) Read(b []byte) (int, error)       { return c.r.Read(b) }
func (c *streamConn) Write(b []byte) (int, error)      { return c.w.Write(b) }
func (c *streamConn) Close() error                     { return nil }
func (c *streamConn) LocalAddr() net.Addr              { return nil }
func (c *streamConn) RemoteAddr() net.Addr             { return nil }
func (c *streamConn) SetDeadline(time.Time) error      { return nil }
func (c *streamConn) SetReadDeadline(time.Time) error  { return nil }
func (c *streamConn) SetWriteDeadline(time.Time) error { return nil }

// request is a request as go-ldap writes it: one whole message.
func request(id int64, tag ber.Tag) []byte {
	op := ber.Encode(ber.ClassApplication, ber.TypeConstructed, tag, nil, "Request")
	op.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, "dc=x", "Base"))
	return envelope(id, op).Bytes()
}

// armedTap is a Tap on conn to which go-ldap wrote search 1, then, with
// page armed, search 2.
func armedTap(t testing.TB, conn net.Conn, page *Page) *Tap {
	t.Helper()
	tap := NewTap(conn)
	if _, err := tap.Write(request(1, ldap.ApplicationSearchRequest)); err != nil {
		t.Fatal(err)
	}
	tap.Arm(page, nil)
	if _, err := tap.Write(request(2, ldap.ApplicationSearchRequest)); err != nil {
		t.Fatal(err)
	}
	return tap
}

// drain reads everything the Tap hands to go-ldap, as go-ldap's reader
// would, and splits it into packets.
func drain(t *testing.T, tap *Tap) ([]*ber.Packet, error) {
	t.Helper()
	var got bytes.Buffer
	buf := make([]byte, 4096)
	var err error
	for {
		var n int
		n, err = tap.Read(buf)
		got.Write(buf[:n])
		if err != nil {
			break
		}
	}
	var pkts []*ber.Packet
	r := bytes.NewReader(got.Bytes())
	for r.Len() > 0 {
		p, perr := ber.ReadPacket(r)
		if perr != nil {
			t.Fatalf("go-ldap would not read what the Tap passed on: %v", perr)
		}
		pkts = append(pkts, p)
	}
	return pkts, err
}

func TestTapTakesOnlyTheArmedSearch(t *testing.T) {
	ref := ber.Encode(ber.ClassApplication, ber.TypeConstructed, ldap.ApplicationSearchResultReference, nil, "Ref")
	ref.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, "ldap://dc2/DC=x", "URI"))
	inter := ber.Encode(ber.ClassApplication, ber.TypeConstructed, ldap.ApplicationIntermediateResponse, nil, "Intermediate")
	entry := func(id int64, dn string) *ber.Packet { return envelope(id, entryOp(dn, attr{"a", []string{"v"}})) }
	done := func(id int64) *ber.Packet {
		return envelope(id, resultOp(ldap.ApplicationSearchResultDone, 0, "", ""), pagingControl("", false))
	}
	var stream bytes.Buffer
	var want [][]byte
	for _, p := range []*ber.Packet{
		entry(1, "cn=root"), done(1), // before the arming: go-ldap's
		entry(2, "cn=a"), entry(3, "cn=other"), entry(2, strings.Repeat("b", 70000)), envelope(2, ref), envelope(2, inter),
		done(3), entry(2, "cn=c"), done(2),
	} {
		stream.Write(p.Bytes())
		if p.Children[0].Value.(int64) == 2 && p.Children[1].Tag == ldap.ApplicationSearchResultEntry {
			want = append(want, content(t, p))
		}
	}
	for _, oneByte := range []bool{false, true} {
		var r io.Reader = bytes.NewReader(stream.Bytes())
		if oneByte {
			r = iotest.OneByteReader(r) // the network delivers any split
		}
		conn := &streamConn{r: r}
		tap := NewTap(conn)
		if _, err := tap.Write(request(1, ldap.ApplicationSearchRequest)); err != nil {
			t.Fatal(err)
		}
		var page Page
		tap.Arm(&page, nil)
		for id := int64(2); id <= 3; id++ {
			if _, err := tap.Write(request(id, ldap.ApplicationSearchRequest)); err != nil {
				t.Fatal(err)
			}
		}
		if tap.Released() != nil {
			t.Fatal("released before its search was done")
		}
		pkts, err := drain(t, tap)
		if !errors.Is(err, io.EOF) || tap.Err() != io.EOF {
			t.Fatalf("at the end of the stream: %v (Err %v), want io.EOF", err, tap.Err())
		}
		var passed []string
		for _, p := range pkts {
			passed = append(passed, string(rune('0'+p.Children[0].Value.(int64)))+":"+ldap.ApplicationMap[uint8(p.Children[1].Tag)])
		}
		wantPassed := "1:Search Result Entry 1:Search Result Done 3:Search Result Entry 2:Intermediate Response 3:Search Result Done 2:Search Result Done"
		if got := strings.Join(passed, " "); got != wantPassed {
			t.Errorf("go-ldap got %s\nwant        %s", got, wantPassed)
		}
		if tap.Released() != &page || !page.Done || page.Err != nil || page.Refs != 1 || page.Len() != len(want) {
			t.Fatalf("page: done %t err %v refs %d entries %d", page.Done, page.Err, page.Refs, page.Len())
		}
		for i := range want {
			if !bytes.Equal(page.Entry(i), want[i]) {
				t.Errorf("entry %d differs", i)
			}
		}
		if !bytes.Equal(conn.w.Bytes(), append(append(request(1, ldap.ApplicationSearchRequest), request(2, ldap.ApplicationSearchRequest)...), request(3, ldap.ApplicationSearchRequest)...)) {
			t.Errorf("the requests did not reach the server unchanged")
		}
	}
}

func TestTapStops(t *testing.T) {
	entry := envelope(2, entryOp("cn=a", attr{"a", []string{"v"}})).Bytes()
	tests := []struct {
		name   string
		stream []byte
		want   error
		msg    string
		// entries taken into the page before it stopped
		entries int
	}{
		{"a response to no request", envelope(9, resultOp(ldap.ApplicationSearchResultDone, 0, "", "")).Bytes(), ErrMalformed,
			"a response (tag 0x65) with message id 9, to no request upnsync sent", 0},
		{"cut inside an entry", append(append([]byte{}, entry...), entry[:len(entry)-3]...), io.ErrUnexpectedEOF, "unexpected EOF", 1},
		{"a 2 GiB announcement", append(append([]byte{}, entry...), 0x30, 0x84, 0x80, 0, 0, 0, 0x02, 0x01, 0x02, 0x64), ErrLimit,
			"the server announced a message of 2147483648 bytes, over upnsync's limit of 64 MiB", 1},
		{"a 2 MiB response for go-ldap", []byte{0x30, 0x83, 0x20, 0, 0, 0x02, 0x01, 0x01, 0x65}, ErrLimit, "over upnsync's limit of 1 MiB", 0},
		{"notice of disconnection", append(append([]byte{}, entry...), envelope(0, resultOp(ldap.ApplicationExtendedResponse, 52, "", "bye",
			ber.NewString(ber.ClassContext, ber.TypePrimitive, 10, NoticeOfDisconnection, ""))).Bytes()...), nil,
			"the server announced that it is closing the connection: bye", 1},
		{"not LDAP", []byte("HTTP/1.1 400 Bad Request\r\n"), ErrMalformed, "message starts with tag 0x48", 0},
		{"an entry after its search was done", append(append(append([]byte{}, entry...), envelope(2, resultOp(ldap.ApplicationSearchResultDone, 0, "", "")).Bytes()...), entry...),
			ErrMalformed, "a response (tag 0x64) with message id 2, to no request upnsync sent", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var page Page
			tap := armedTap(t, &streamConn{r: bytes.NewReader(tt.stream)}, &page)
			_, err := drain(t, tap)
			if err == nil || tt.want != nil && !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("Read: %v, want %v containing %q", err, tt.want, tt.msg)
			}
			if tap.Err() != err {
				t.Errorf("Err() = %v, Read returned %v", tap.Err(), err)
			}
			// A page done before the stop keeps no error.
			wantErr, wantDone := err, strings.Contains(tt.name, "after its search was done")
			if wantDone {
				wantErr = nil
			}
			if p := tap.Released(); p != &page || page.Err != wantErr || page.Len() != tt.entries || page.Done != wantDone {
				t.Errorf("page: released %t, err %v, %d entries, done %t", p == &page, page.Err, page.Len(), page.Done)
			}
			// Stopped for good: a page armed later is released at once.
			var next Page
			tap.Arm(&next, nil)
			if tap.Released() != &next || next.Err != err {
				t.Errorf("a page armed after the stop: err %v", next.Err)
			}
		})
	}
}

// A page grows by chunks as bytes arrive: never more than twice what it
// holds plus the first chunk, never by the length a message announces.
func TestPageGrowsByChunks(t *testing.T) {
	var stream bytes.Buffer
	var want [][]byte
	for i := 0; i < 3000; i++ {
		dn := "cn=user" + strings.Repeat("x", i%300)
		if i == 1500 {
			dn = strings.Repeat("big", 200000) // over maxChunk
		}
		p := envelope(2, entryOp(dn, attr{"mail", []string{"m"}}))
		stream.Write(p.Bytes())
		want = append(want, content(t, p))
	}
	var page Page
	tap := NewTap(&streamConn{r: &stream})
	tap.Arm(&page, nil)
	if _, err := tap.Write(request(2, ldap.ApplicationSearchRequest)); err != nil {
		t.Fatal(err)
	}
	if _, err := drain(t, tap); err != io.EOF {
		t.Fatal(err)
	}
	if page.Len() != len(want) {
		t.Fatalf("%d entries, want %d", page.Len(), len(want))
	}
	for i := range want {
		if !bytes.Equal(page.Entry(i), want[i]) {
			t.Fatalf("entry %d differs", i)
		}
	}
	if held := page.Held(); held > 2*page.Bytes+firstChunk {
		t.Errorf("the page holds %d bytes of buffers for %d bytes", held, page.Bytes)
	}
	page.Reset()
	if page.Len() != 0 || page.Bytes != 0 || page.Held() > 2*maxChunk*4 {
		t.Errorf("after Reset: %d entries, %d bytes, %d held", page.Len(), page.Bytes, page.Held())
	}
	for _, c := range page.chunks {
		if cap(c) > maxChunk {
			t.Errorf("Reset kept a buffer of %d bytes", cap(c))
		}
	}

	// A message announced at 60 MiB of which 1 MiB arrives: a few MiB are
	// allocated (its buffer doubles as bytes arrive), not 60.
	big := append([]byte{0x30, 0x84, 0x03, 0xc0, 0, 0, 0x02, 0x01, 0x02, 0x64}, bytes.Repeat([]byte{0x04}, 1<<20)...)
	tap = NewTap(&streamConn{r: bytes.NewReader(big)})
	page = Page{}
	tap.Arm(&page, nil)
	if _, err := tap.Write(request(2, ldap.ApplicationSearchRequest)); err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if _, err := drain(t, tap); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("Read: %v", err)
	}
	runtime.ReadMemStats(&after)
	if allocated := after.TotalAlloc - before.TotalAlloc; allocated > 8<<20 {
		t.Errorf("%d bytes allocated for 1 MiB received", allocated)
	}
}

func TestCheckForGoLDAP(t *testing.T) {
	refs := ber.Encode(ber.ClassContext, ber.TypeConstructed, 3, nil, "Referral")
	refs.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, "ldap://x/", "URI"))
	for i, p := range []*ber.Packet{
		envelope(1, entryOp("cn=a,dc=x", attr{"objectGUID", []string{"0123456789abcdef"}}, attr{"mail", []string{"a@x", "b@x"}}, attr{"sn", nil})),
		envelope(2, entryOp("")),
		envelope(3, resultOp(ldap.ApplicationSearchResultDone, 0, "", ""), pagingControl("abc", false)),
		envelope(3, resultOp(ldap.ApplicationSearchResultDone, 4, "dc=x", "limit", refs), otherControl("1.2"), pagingControl("", true)),
	} {
		if err := CheckForGoLDAP(content(t, p)); err != nil {
			t.Errorf("message %d: %v", i, err)
		}
	}
	many := make([]attr, 1)
	for i := 0; i < maxElements; i++ {
		many[0].vals = append(many[0].vals, "")
	}
	bigControl := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "Control")
	bigControl.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, "1.2.3", "Type"))
	bigControl.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, strings.Repeat("c", maxControls), "Value"))
	deep := ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, "x", "")
	for i := 0; i < maxDepth; i++ {
		outer := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "")
		outer.AppendChild(deep)
		deep = outer
	}
	for _, tt := range []struct {
		name string
		msg  []byte
		want error
	}{
		{"elements", content(t, envelope(1, entryOp("cn=a", many...))), ErrLimit},
		{"controls", content(t, envelope(1, resultOp(ldap.ApplicationSearchResultDone, 0, "", ""), bigControl)), ErrLimit},
		{"depth", content(t, envelope(1, resultOp(ldap.ApplicationSearchResultDone, 0, "", "", deep))), ErrLimit},
		{"overrun", []byte{0x02, 0x01, 0x01, 0x30, 0x03, 0x04, 0x05, 0x00}, ErrMalformed},
		{"indefinite", []byte{0x02, 0x01, 0x01, 0x30, 0x80, 0x00, 0x00}, ErrMalformed},
		{"multi-byte tag", []byte{0x02, 0x01, 0x01, 0x1f, 0x81, 0x00}, ErrMalformed},
	} {
		if err := CheckForGoLDAP(tt.msg); !errors.Is(err, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
		}
	}
}

// The Tap asks for room before each message it takes into the page, with
// the page's size after it, and stops when the page's reader gives up.
func TestTapAsksForRoom(t *testing.T) {
	var stream bytes.Buffer
	var sizes []int
	for i := 0; i < 3; i++ {
		stream.Write(envelope(2, entryOp("cn=a", attr{"a", []string{"v"}})).Bytes())
	}
	one := stream.Len() / 3
	var page Page
	tap := NewTap(&streamConn{r: &stream})
	tap.Arm(&page, func(size int) bool {
		sizes = append(sizes, size)
		return len(sizes) < 3
	})
	if _, err := tap.Write(request(2, ldap.ApplicationSearchRequest)); err != nil {
		t.Fatal(err)
	}
	_, err := drain(t, tap)
	if !errors.Is(err, errAbandoned) || len(sizes) != 3 || sizes[0] != one || sizes[1] != 2*one || sizes[2] != 3*one {
		t.Fatalf("Read: %v; room asked for %v, want %d, %d, %d", err, sizes, one, 2*one, 3*one)
	}
	if p := tap.Released(); p != &page || page.Len() != 2 || page.Err != errAbandoned {
		t.Fatalf("page: %d entries, err %v", page.Len(), page.Err)
	}
}
