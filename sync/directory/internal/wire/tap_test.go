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

// bulkRun is a bulk search started on a Tap over a scripted stream, with
// what it gave to the reader of its pages.
type bulkRun struct {
	tap   *Tap
	conn  *streamConn
	pages []*Page
	rooms []int
	// room answers Room (nil: always true); maxPages bounds Next.
	room     func(size int) bool
	maxPages int
	given    int
}

// startBulk writes go-ldap's search 1, then starts a bulk search (pageSize
// 0: unpaged), whose requests get message ids bulkIDs+1, +2, ...
func startBulk(t testing.TB, r io.Reader, pageSize uint32, edit ...func(*bulkRun)) *bulkRun {
	t.Helper()
	b := &bulkRun{conn: &streamConn{r: r}, maxPages: 1000}
	for _, e := range edit {
		e(b)
	}
	b.tap = NewTap(b.conn)
	if _, err := b.tap.Write(request(1, ldap.ApplicationSearchRequest)); err != nil {
		t.Fatal(err)
	}
	s := &BulkSearch{Base: "dc=x", Filter: "(objectClass=user)", Attrs: []string{"mail"}, PageSize: pageSize, Timeout: time.Minute,
		Next: func() *Page {
			if b.given == b.maxPages {
				return nil
			}
			b.given++
			return &Page{}
		},
		Room: func(size int) bool {
			b.rooms = append(b.rooms, size)
			return b.room == nil || b.room(size)
		},
		Done: func(p *Page) { b.pages = append(b.pages, p) },
	}
	if err := b.tap.Bulk(s); err != nil {
		t.Fatal(err)
	}
	return b
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

func entryMsg(id int64, dn string) *ber.Packet {
	return envelope(id, entryOp(dn, attr{"a", []string{"v"}}))
}

func doneMsg(id int64, cookie string) *ber.Packet {
	return envelope(id, resultOp(ldap.ApplicationSearchResultDone, 0, "", ""), pagingControl(cookie, false))
}

// The Tap takes the bulk search's responses, whatever the interleaving
// with go-ldap's and however the network splits them, requests each next
// page with the cookie of the one before as soon as it ends, and passes
// go-ldap's messages on unchanged.
func TestTapBulkSearch(t *testing.T) {
	ref := ber.Encode(ber.ClassApplication, ber.TypeConstructed, ldap.ApplicationSearchResultReference, nil, "Ref")
	ref.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, "ldap://dc2/DC=x", "URI"))
	inter := ber.Encode(ber.ClassApplication, ber.TypeConstructed, ldap.ApplicationIntermediateResponse, nil, "Intermediate")
	p1, p2 := int64(bulkIDs+1), int64(bulkIDs+2)
	var stream bytes.Buffer
	want := map[int64][][]byte{}
	for _, p := range []*ber.Packet{
		entryMsg(p1, "cn=a"), entryMsg(1, "cn=root"), entryMsg(p1, strings.Repeat("b", 70000)), envelope(p1, ref), envelope(p1, inter),
		doneMsg(1, ""), doneMsg(p1, "next"),
		entryMsg(p2, "cn=c"), doneMsg(p2, ""),
	} {
		stream.Write(p.Bytes())
		if id := p.Children[0].Value.(int64); id != 1 && p.Children[1].Tag == ldap.ApplicationSearchResultEntry {
			want[id] = append(want[id], content(t, p))
		}
	}
	for _, oneByte := range []bool{false, true} {
		var r io.Reader = bytes.NewReader(stream.Bytes())
		if oneByte {
			r = iotest.OneByteReader(r) // the network delivers any split
		}
		b := startBulk(t, r, 10)
		pkts, err := drain(t, b.tap)
		if !errors.Is(err, io.EOF) || b.tap.Err() != io.EOF {
			t.Fatalf("at the end of the stream: %v (Err %v), want io.EOF", err, b.tap.Err())
		}
		var passed []string
		for _, p := range pkts {
			passed = append(passed, ldap.ApplicationMap[uint8(p.Children[1].Tag)])
			if id := p.Children[0].Value.(int64); id != 1 {
				t.Errorf("go-ldap got message %d", id)
			}
		}
		if got := strings.Join(passed, ", "); got != "Search Result Entry, Search Result Done" {
			t.Errorf("go-ldap got %s", got)
		}
		if len(b.pages) != 2 {
			t.Fatalf("%d pages", len(b.pages))
		}
		for i, id := range []int64{p1, p2} {
			p := b.pages[i]
			if !p.Done || p.Err != nil || !p.Paged || p.Result.Code != 0 || p.Len() != len(want[id]) {
				t.Fatalf("page %d: done %t err %v paged %t result %+v, %d entries", i+1, p.Done, p.Err, p.Paged, p.Result, p.Len())
			}
			for j := range want[id] {
				if !bytes.Equal(p.Entry(j), want[id][j]) {
					t.Errorf("page %d entry %d differs", i+1, j)
				}
			}
		}
		if b.pages[0].Refs != 1 || string(b.pages[0].Cookie) != "next" || len(b.pages[1].Cookie) != 0 {
			t.Errorf("refs %d, cookies %q and %q", b.pages[0].Refs, b.pages[0].Cookie, b.pages[1].Cookie)
		}
		// go-ldap's request, then the two pages' requests, the second with
		// the first page's cookie.
		r2 := bytes.NewReader(b.conn.w.Bytes())
		var ids []int64
		var cookies []string
		for r2.Len() > 0 {
			p, err := ber.ReadPacket(r2)
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, p.Children[0].Value.(int64))
			if len(p.Children) > 2 {
				v := ber.DecodePacket(p.Children[2].Children[0].Children[1].Data.Bytes())
				cookies = append(cookies, v.Children[1].Data.String())
			}
		}
		if len(ids) != 3 || ids[0] != 1 || ids[1] != p1 || ids[2] != p2 || strings.Join(cookies, ",") != ",next" {
			t.Errorf("requests %v, cookies %q", ids, cookies)
		}
	}
}

// An unpaged bulk search is one search, without the paging control.
func TestTapBulkUnpaged(t *testing.T) {
	var stream bytes.Buffer
	stream.Write(entryMsg(bulkIDs+1, "cn=a").Bytes())
	stream.Write(envelope(bulkIDs+1, resultOp(ldap.ApplicationSearchResultDone, 4, "", "size limit")).Bytes())
	b := startBulk(t, &stream, 0)
	if _, err := drain(t, b.tap); err != io.EOF {
		t.Fatal(err)
	}
	if len(b.pages) != 1 || b.pages[0].Len() != 1 || b.pages[0].Paged || b.pages[0].Result.Code != 4 {
		t.Fatalf("pages %d: %+v", len(b.pages), b.pages)
	}
	req, err := ber.ReadPacket(bytes.NewReader(b.conn.w.Bytes()[len(request(1, ldap.ApplicationSearchRequest)):]))
	if err != nil || len(req.Children) != 2 {
		t.Fatalf("request %v with %d parts: want no controls", err, len(req.Children))
	}
}

func TestTapStops(t *testing.T) {
	p1 := int64(bulkIDs + 1)
	entry := entryMsg(p1, "cn=a").Bytes()
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
		{"a 2 GiB announcement", append(append([]byte{}, entry...), 0x30, 0x84, 0x80, 0, 0, 0, 0x02, 0x04, 0x40, 0, 0, 1, 0x64), ErrLimit,
			"the server announced a message of 2147483648 bytes, over upnsync's limit of 64 MiB", 1},
		{"a 2 MiB response for go-ldap", []byte{0x30, 0x83, 0x20, 0, 0, 0x02, 0x01, 0x01, 0x65}, ErrLimit, "over upnsync's limit of 1 MiB", 0},
		{"a 2 MiB result of the search", []byte{0x30, 0x83, 0x20, 0, 0, 0x02, 0x04, 0x40, 0, 0, 1, 0x65}, ErrLimit, "a result of 2097152 bytes", 0},
		{"notice of disconnection", append(append([]byte{}, entry...), envelope(0, resultOp(ldap.ApplicationExtendedResponse, 52, "", "bye",
			ber.NewString(ber.ClassContext, ber.TypePrimitive, 10, NoticeOfDisconnection, ""))).Bytes()...), nil,
			"the server announced that it is closing the connection: bye", 1},
		{"not LDAP", []byte("HTTP/1.1 400 Bad Request\r\n"), ErrMalformed, "message starts with tag 0x48", 0},
		{"a response of another kind to the search", envelope(p1, resultOp(ldap.ApplicationBindResponse, 0, "", "")).Bytes(), ErrMalformed,
			"a response with tag 0x61 to the search", 0},
		{"a broken paging control", envelope(p1, resultOp(ldap.ApplicationSearchResultDone, 0, "", ""), otherControl(PagingOID)).Bytes(), ErrMalformed,
			"paging size", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := startBulk(t, bytes.NewReader(tt.stream), 10)
			_, err := drain(t, b.tap)
			if err == nil || tt.want != nil && !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("Read: %v, want %v containing %q", err, tt.want, tt.msg)
			}
			if b.tap.Err() != err {
				t.Errorf("Err() = %v, Read returned %v", b.tap.Err(), err)
			}
			if len(b.pages) != 1 || b.pages[0].Err != err || b.pages[0].Len() != tt.entries || b.pages[0].Done {
				t.Fatalf("pages %d: %+v", len(b.pages), b.pages)
			}
			// Stopped for good: a bulk search started later fails at once.
			if err := b.tap.Bulk(&BulkSearch{Filter: "(a=b)", Next: func() *Page { return &Page{} }}); err != b.tap.Err() {
				t.Errorf("Bulk after the stop: %v", err)
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
		p := envelope(bulkIDs+1, entryOp(dn, attr{"mail", []string{"m"}}))
		stream.Write(p.Bytes())
		want = append(want, content(t, p))
	}
	stream.Write(doneMsg(bulkIDs+1, "").Bytes())
	b := startBulk(t, &stream, 10)
	if _, err := drain(t, b.tap); err != io.EOF {
		t.Fatal(err)
	}
	page := b.pages[0]
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
	if page.Len() != 0 || page.Bytes != 0 || page.Done || len(page.Cookie) != 0 || page.Held() > 2*maxChunk*4 {
		t.Errorf("after Reset: %d entries, %d bytes, %d held", page.Len(), page.Bytes, page.Held())
	}
	for _, c := range page.chunks {
		if cap(c) > maxChunk {
			t.Errorf("Reset kept a buffer of %d bytes", cap(c))
		}
	}

	// A message announced at 60 MiB of which 1 MiB arrives: a few MiB are
	// allocated (its buffer doubles as bytes arrive), not 60.
	big := append([]byte{0x30, 0x84, 0x03, 0xc0, 0, 0, 0x02, 0x04, 0x40, 0, 0, 1, 0x64}, bytes.Repeat([]byte{0x04}, 1<<20)...)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	b = startBulk(t, bytes.NewReader(big), 10)
	if _, err := drain(t, b.tap); !errors.Is(err, io.ErrUnexpectedEOF) {
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

// The Tap asks for room before each message it takes into a page, with
// the page's size after it, and stops when the reader of the pages gives
// up; it asks for the next page only after a page ended, and stops the
// search when it gets none.
func TestTapAsksForRoom(t *testing.T) {
	var stream bytes.Buffer
	for i := 0; i < 3; i++ {
		stream.Write(entryMsg(bulkIDs+1, "cn=a").Bytes())
	}
	one := stream.Len() / 3
	b := startBulk(t, &stream, 10, func(b *bulkRun) { b.room = func(int) bool { return len(b.rooms) < 3 } })
	_, err := drain(t, b.tap)
	if !errors.Is(err, errAbandoned) || len(b.rooms) != 3 || b.rooms[0] != one || b.rooms[1] != 2*one || b.rooms[2] != 3*one {
		t.Fatalf("Read: %v; room asked for %v, want %d, %d, %d", err, b.rooms, one, 2*one, 3*one)
	}
	if len(b.pages) != 1 || b.pages[0].Len() != 2 || b.pages[0].Err != errAbandoned {
		t.Fatalf("pages: %+v", b.pages)
	}

	// No page for page 2: the search ends after page 1, and the
	// connection is go-ldap's again.
	stream.Reset()
	stream.Write(doneMsg(bulkIDs+1, "more").Bytes())
	stream.Write(entryMsg(1, "cn=root").Bytes())
	b = startBulk(t, &stream, 10, func(b *bulkRun) { b.maxPages = 1 })
	pkts, err := drain(t, b.tap)
	if err != io.EOF || len(b.pages) != 1 || len(pkts) != 1 || bytes.Count(b.conn.w.Bytes(), []byte{0x63}) < 2 {
		t.Fatalf("Read %v, %d pages, %d messages for go-ldap", err, len(b.pages), len(pkts))
	}
}
