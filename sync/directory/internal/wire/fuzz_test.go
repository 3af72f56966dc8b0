package wire

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"testing"

	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/go-ldap/ldap/v3"
)

// FuzzMessage feeds arbitrary bytes to the parsers. They must never panic
// or read outside the message; and whatever they accept as a search result
// entry or a result must read the same through go-asn1-ber, the decoder
// go-ldap uses.
func FuzzMessage(f *testing.F) {
	refs := ber.Encode(ber.ClassContext, ber.TypeConstructed, 3, nil, "Referral")
	refs.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, "ldap://x/", "URI"))
	for _, p := range []*ber.Packet{
		envelope(1, entryOp("cn=a,dc=x", attr{"objectGUID", []string{"0123456789abcdef"}}, attr{"mail", []string{"a@x", "b@x"}}, attr{"sn", nil})),
		envelope(2, entryOp("")),
		envelope(3, resultOp(ldap.ApplicationSearchResultDone, 0, "", ""), pagingControl("abc", false)),
		envelope(3, resultOp(ldap.ApplicationSearchResultDone, 4, "dc=x", "limit", refs), otherControl("1.2"), pagingControl("", true)),
		envelope(0, resultOp(ldap.ApplicationExtendedResponse, 52, "", "bye", ber.NewString(ber.ClassContext, ber.TypePrimitive, 10, NoticeOfDisconnection, ""))),
	} {
		f.Add(p.Bytes())
	}
	f.Add([]byte{0x30, 0x80, 0x00, 0x00})
	f.Add([]byte{0x30, 0x84, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		// Framing from a stream.
		br := bufio.NewReader(bytes.NewReader(data))
		msg, err := readMessage(br, nil)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrLimit) && err != io.EOF && err != io.ErrUnexpectedEOF {
				t.Fatalf("readMessage: unexpected error kind %v", err)
			}
			return
		}
		if len(msg) > len(data) {
			t.Fatalf("message of %d bytes from %d", len(msg), len(data))
		}
		m, err := ParseMessage(msg)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("ParseMessage: %v does not wrap ErrMalformed", err)
			}
			return
		}
		// go-asn1-ber decodes every control recursively; the parsers look
		// only into the paging control, so compare the protocolOp alone.
		_, _, rest, _ := element(msg)
		_, _, after, _ := element(rest)
		op, berErr := ber.DecodePacketErr(rest[:len(rest)-len(after)])
		switch m.Tag {
		case TagSearchResultEntry:
			dn, list, err := Entry(m.Op)
			if err != nil {
				return
			}
			type pa struct {
				name string
				vals [][]byte
			}
			var attrs []pa
			for len(list) > 0 {
				name, vals, rest, err := NextAttribute(list)
				if err != nil {
					return
				}
				list = rest
				a := pa{name: string(name)}
				for len(vals) > 0 {
					var v []byte
					if v, vals, err = NextValue(vals); err != nil {
						return
					}
					a.vals = append(a.vals, v)
				}
				attrs = append(attrs, a)
			}
			// Accepted: go-asn1-ber must agree.
			if berErr != nil {
				t.Fatalf("accepted an entry go-asn1-ber rejects: %v", berErr)
			}
			if len(op.Children) != 2 {
				t.Fatalf("go-asn1-ber sees another shape")
			}
			if got := op.Children[0].Data.Bytes(); !bytes.Equal(got, dn) {
				t.Fatalf("DN %q, go-asn1-ber %q", dn, got)
			}
			if len(op.Children[1].Children) != len(attrs) {
				t.Fatalf("%d attributes, go-asn1-ber %d", len(attrs), len(op.Children[1].Children))
			}
			for i, a := range attrs {
				b := op.Children[1].Children[i]
				if len(b.Children) != 2 || !bytes.Equal(b.Children[0].Data.Bytes(), []byte(a.name)) || len(b.Children[1].Children) != len(a.vals) {
					t.Fatalf("attribute %d differs from go-asn1-ber", i)
				}
				for j, v := range a.vals {
					if !bytes.Equal(b.Children[1].Children[j].Data.Bytes(), v) {
						t.Fatalf("attribute %d value %d differs from go-asn1-ber", i, j)
					}
				}
			}
		case TagSearchResultDone, TagBindResponse, TagExtendedResponse:
			r, err := ParseResult(m.Op)
			if err != nil {
				return
			}
			// The parsers read the first three components (and a referral):
			// each must read the same through go-asn1-ber.
			rest := m.Op
			var parts []*ber.Packet
			for i := 0; i < 3; i++ {
				_, _, after, err := element(rest)
				if err != nil {
					t.Fatalf("ParseResult accepted %x", m.Op)
				}
				p, err := ber.DecodePacketErr(rest[:len(rest)-len(after)])
				if err != nil {
					t.Fatalf("accepted result component %d that go-asn1-ber rejects: %v", i, err)
				}
				parts = append(parts, p)
				rest = after
			}
			code, err := ber.ParseInt64(parts[0].Data.Bytes())
			if err != nil || int(code) != r.Code || parts[1].Data.String() != r.MatchedDN || parts[2].Data.String() != r.Diagnostic {
				t.Fatalf("result %+v differs from go-asn1-ber (%d, %v)", r, code, err)
			}
			if m.ID == 0 && m.Tag == TagExtendedResponse {
				_ = Notice(m)
			}
		}
	})
}

// FuzzTap feeds arbitrary server bytes to a Tap running a bulk search
// (after go-ldap's search 1). It must never panic or hang; what it takes
// into pages and what it passes to go-ldap come from the stream (never
// more bytes than it holds); every page it was given is handed back once;
// each message taken is one whose header says it is a SearchResultEntry
// of the search (its inside is the decoder's to check).
func FuzzTap(f *testing.F) {
	entry := entryMsg(bulkIDs+1, "cn=a,dc=x").Bytes()
	done := doneMsg(bulkIDs+1, "c").Bytes()
	other := envelope(1, entryOp("", attr{"namingContexts", []string{"dc=x"}})).Bytes()
	f.Add(append(append(append(append([]byte{}, other...), entry...), done...), entryMsg(bulkIDs+2, "cn=b").Bytes()...))
	f.Add(append(append([]byte{}, entry...), 0x30, 0x84, 0x80, 0, 0, 0, 0x02, 0x04, 0x40, 0, 0, 1, 0x64))
	f.Add(append(append([]byte{}, entry...), entry[:len(entry)-2]...))
	f.Add(envelope(0, resultOp(ldap.ApplicationExtendedResponse, 52, "", "bye", ber.NewString(ber.ClassContext, ber.TypePrimitive, 10, NoticeOfDisconnection, ""))).Bytes())
	f.Fuzz(func(t *testing.T, data []byte) {
		b := startBulk(t, bytes.NewReader(data), 10, func(b *bulkRun) { b.maxPages = 3 })
		passed := 0
		buf := make([]byte, 512)
		for {
			n, err := b.tap.Read(buf)
			passed += n
			if err != nil {
				if b.tap.Err() != err {
					t.Fatalf("Err() %v, Read %v", b.tap.Err(), err)
				}
				break
			}
		}
		taken := 0
		for _, p := range b.pages {
			taken += p.Bytes
			for i := range p.Len() {
				e := p.Entry(i)
				if len(e) < 4 || e[0] != tagInteger || len(e) < 3+int(e[1]) || e[2+int(e[1])] != TagSearchResultEntry {
					t.Fatalf("took %x", e)
				}
				if id, err := integer(e[2 : 2+int(e[1])]); err != nil || id <= bulkIDs {
					t.Fatalf("took %x: id %d, %v", e, id, err)
				}
			}
		}
		if passed+taken > len(data) {
			t.Fatalf("%d bytes passed on and %d taken from %d", passed, taken, len(data))
		}
		if len(b.pages) != b.given {
			t.Fatalf("%d pages handed back of %d given", len(b.pages), b.given)
		}
	})
}
