package wire

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/go-ldap/ldap/v3"
)

// The tests encode with go-asn1-ber, the encoder go-ldap uses: an
// implementation independent of the parsers under test.

type attr struct {
	name string
	vals []string
}

func envelope(id int64, op *ber.Packet, controls ...*ber.Packet) *ber.Packet {
	p := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "LDAP Response")
	p.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, id, "MessageID"))
	p.AppendChild(op)
	if len(controls) > 0 {
		c := ber.Encode(ber.ClassContext, ber.TypeConstructed, 0, nil, "Controls")
		for _, x := range controls {
			c.AppendChild(x)
		}
		p.AppendChild(c)
	}
	return p
}

func entryOp(dn string, attrs ...attr) *ber.Packet {
	op := ber.Encode(ber.ClassApplication, ber.TypeConstructed, ldap.ApplicationSearchResultEntry, nil, "Entry")
	op.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, dn, "DN"))
	list := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "Attributes")
	for _, a := range attrs {
		pa := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "Attribute")
		pa.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, a.name, "Type"))
		set := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSet, nil, "Values")
		for _, v := range a.vals {
			set.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, v, "Value"))
		}
		pa.AppendChild(set)
		list.AppendChild(pa)
	}
	op.AppendChild(list)
	return op
}

func resultOp(tag ber.Tag, code int, matched, diag string, extra ...*ber.Packet) *ber.Packet {
	op := ber.Encode(ber.ClassApplication, ber.TypeConstructed, tag, nil, "Result")
	op.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagEnumerated, code, "Code"))
	op.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, matched, "Matched"))
	op.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, diag, "Diag"))
	for _, x := range extra {
		op.AppendChild(x)
	}
	return op
}

func pagingControl(cookie string, critical bool) *ber.Packet {
	c := ldap.NewControlPaging(0)
	c.SetCookie([]byte(cookie))
	p := c.Encode()
	if critical {
		// Rebuild with the criticality flag between type and value.
		q := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "Control")
		q.AppendChild(p.Children[0])
		q.AppendChild(ber.NewBoolean(ber.ClassUniversal, ber.TypePrimitive, ber.TagBoolean, true, "Criticality"))
		q.AppendChild(p.Children[1])
		return q
	}
	return p
}

func otherControl(oid string) *ber.Packet {
	q := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "Control")
	q.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, oid, "Type"))
	q.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, "\x30\x00", "Value"))
	return q
}

// content is what ReadMessage returns for a packet: its SEQUENCE content.
func content(t testing.TB, p *ber.Packet) []byte {
	t.Helper()
	b := p.Bytes()
	_, c, rest, err := element(b)
	if err != nil || len(rest) != 0 {
		t.Fatalf("test packet: %v", err)
	}
	return c
}

func attrsOf(t *testing.T, op []byte) (string, []attr) {
	t.Helper()
	dn, list, err := Entry(op)
	if err != nil {
		t.Fatalf("Entry: %v", err)
	}
	var out []attr
	for len(list) > 0 {
		name, vals, rest, err := NextAttribute(list)
		if err != nil {
			t.Fatalf("NextAttribute: %v", err)
		}
		list = rest
		a := attr{name: string(name)}
		for len(vals) > 0 {
			var v []byte
			if v, vals, err = NextValue(vals); err != nil {
				t.Fatalf("NextValue: %v", err)
			}
			a.vals = append(a.vals, string(v))
		}
		out = append(out, a)
	}
	return string(dn), out
}

func TestParseEntry(t *testing.T) {
	long := strings.Repeat("x", 70000) // three-byte length
	mid := strings.Repeat("y", 200)    // one-byte long form
	attrs := []attr{
		{"objectGUID", []string{"\xe0\x04\x25\x3f\x89\x4f\xd3\x11\x9a\x0c\x03\x05\xe8\x2c\x33\x01"}},
		{"userPrincipalName", []string{"jane@corp.example.com"}},
		{"mail", []string{"a@x", "b@x"}},
		{"description", []string{long, mid, ""}},
		{"member", nil},
	}
	dn := "CN=Müller\\, José,OU=Staff,DC=corp,DC=example,DC=com"
	m, err := ParseMessage(content(t, envelope(7, entryOp(dn, attrs...))))
	if err != nil {
		t.Fatal(err)
	}
	if m.ID != 7 || m.Tag != TagSearchResultEntry || m.Controls != nil {
		t.Fatalf("message %d tag %x controls %v", m.ID, m.Tag, m.Controls)
	}
	gotDN, got := attrsOf(t, m.Op)
	if gotDN != dn || len(got) != len(attrs) {
		t.Fatalf("DN %q, %d attributes", gotDN, len(got))
	}
	for i := range attrs {
		if got[i].name != attrs[i].name || strings.Join(got[i].vals, "|") != strings.Join(attrs[i].vals, "|") {
			t.Errorf("attribute %d: %q %d values, want %q %d", i, got[i].name, len(got[i].vals), attrs[i].name, len(attrs[i].vals))
		}
	}
}

func TestParseDone(t *testing.T) {
	refs := ber.Encode(ber.ClassContext, ber.TypeConstructed, 3, nil, "Referral")
	refs.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, "ldap://dc2/DC=x", "URI"))
	tests := []struct {
		name     string
		pkt      *ber.Packet
		code     int
		refs     int
		controls bool
	}{
		{"last page", envelope(3, resultOp(ldap.ApplicationSearchResultDone, 0, "", ""), pagingControl("", false)), 0, 0, true},
		{"more pages", envelope(3, resultOp(ldap.ApplicationSearchResultDone, 0, "", ""), pagingControl("\x00\x01cookie", false)), 0, 0, true},
		{"critical flag, another control first", envelope(3, resultOp(ldap.ApplicationSearchResultDone, 0, "", ""), otherControl("1.2.3"), pagingControl("c", true)), 0, 0, true},
		{"no paging control", envelope(3, resultOp(ldap.ApplicationSearchResultDone, 0, "", ""), otherControl("1.2.3")), 0, 0, true},
		{"no controls at all", envelope(3, resultOp(ldap.ApplicationSearchResultDone, 0, "", "")), 0, 0, false},
		{"size limit with referral", envelope(3, resultOp(ldap.ApplicationSearchResultDone, 4, "DC=x", "limit", refs)), 4, 1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := ParseMessage(content(t, tt.pkt))
			if err != nil || m.Tag != TagSearchResultDone {
				t.Fatalf("%v tag %x", err, m.Tag)
			}
			r, err := ParseResult(m.Op)
			if err != nil || r.Code != tt.code || len(r.Referrals) != tt.refs {
				t.Fatalf("result %+v, %v", r, err)
			}
			if (m.Controls != nil) != tt.controls {
				t.Errorf("controls present %t", m.Controls != nil)
			}
			if err := CheckForGoLDAP(content(t, tt.pkt)); err != nil {
				t.Fatalf("CheckForGoLDAP: %v", err)
			}
			if tt.code != 0 {
				var le *ldap.Error
				if err := r.Err(); !errors.As(err, &le) || int(le.ResultCode) != tt.code || le.MatchedDN != "DC=x" || le.Err.Error() != "limit" {
					t.Errorf("Err() = %#v", err)
				}
			} else if r.Err() != nil {
				t.Errorf("success has an error")
			}
		})
	}
}

func TestNotice(t *testing.T) {
	name := ber.NewString(ber.ClassContext, ber.TypePrimitive, 10, NoticeOfDisconnection, "Name")
	m, err := ParseMessage(content(t, envelope(0, resultOp(ldap.ApplicationExtendedResponse, 52, "", "shutting down", name))))
	if err != nil {
		t.Fatal(err)
	}
	err = Notice(m)
	var le *ldap.Error
	if !errors.As(err, &le) || le.ResultCode != 52 || !strings.Contains(err.Error(), "closing the connection: shutting down") {
		t.Fatalf("Notice = %v", err)
	}
}

func TestMalformed(t *testing.T) {
	valid := content(t, envelope(5, entryOp("cn=x", attr{"a", []string{"v"}})))
	tests := map[string][]byte{
		"empty":                     {},
		"no op":                     {0x02, 0x01, 0x05},
		"id not an integer":         {0x04, 0x01, 0x05, 0x64, 0x00},
		"id of 9 bytes":             append([]byte{0x02, 0x09}, make([]byte, 9)...),
		"negative id":               {0x02, 0x01, 0xff, 0x64, 0x00},
		"indefinite length":         {0x02, 0x01, 0x05, 0x64, 0x80, 0x00, 0x00},
		"high tag":                  {0x02, 0x01, 0x05, 0x7f, 0x01, 0x00},
		"universal op":              {0x02, 0x01, 0x05, 0x30, 0x00},
		"length past the end":       {0x02, 0x01, 0x05, 0x64, 0x10, 0x04, 0x00},
		"length of 5 bytes":         {0x02, 0x01, 0x05, 0x64, 0x85, 0, 0, 0, 0, 1},
		"length over the limit":     {0x02, 0x01, 0x05, 0x64, 0x84, 0x7f, 0xff, 0xff, 0xff},
		"trailing bytes":            append(append([]byte{}, valid...), 0xa0, 0x00, 0x00),
		"controls of the wrong tag": append(append([]byte{}, valid...), 0x30, 0x00),
		"truncated":                 valid[:len(valid)-1],
	}
	for name, b := range tests {
		t.Run(name, func(t *testing.T) {
			m, err := ParseMessage(b)
			if err == nil {
				_, _, err = Entry(m.Op)
			}
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v, want ErrMalformed", err)
			}
		})
	}
	// Entry contents.
	for name, op := range map[string][]byte{
		"dn not a string":     {0x30, 0x00, 0x30, 0x00},
		"constructed string":  {0x24, 0x00, 0x30, 0x00},
		"attributes missing":  {0x04, 0x00},
		"bytes after":         {0x04, 0x00, 0x30, 0x00, 0x01},
		"attribute not a seq": {0x04, 0x00, 0x30, 0x02, 0x04, 0x00},
		"values not a set":    {0x04, 0x00, 0x30, 0x06, 0x30, 0x04, 0x04, 0x00, 0x30, 0x00},
		"value not a string":  {0x04, 0x00, 0x30, 0x08, 0x30, 0x06, 0x04, 0x00, 0x31, 0x02, 0x02, 0x00},
	} {
		t.Run(name, func(t *testing.T) {
			dn, list, err := Entry(op)
			for err == nil && len(list) > 0 {
				var vals []byte
				if _, vals, list, err = NextAttribute(list); err == nil && len(vals) > 0 {
					_, _, err = NextValue(vals)
				}
			}
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("dn %q, error %v, want ErrMalformed", dn, err)
			}
		})
	}
}

func TestReadMessage(t *testing.T) {
	var stream bytes.Buffer
	var want [][]byte
	for i, dn := range []string{"cn=a", strings.Repeat("d", 300), strings.Repeat("e", 70000)} {
		p := envelope(int64(i+1), entryOp(dn, attr{"a", []string{"v"}}))
		stream.Write(p.Bytes())
		want = append(want, content(t, p))
	}
	for _, one := range []bool{false, true} {
		var r io.Reader = bytes.NewReader(stream.Bytes())
		if one {
			r = iotest.OneByteReader(r) // the network delivers any split
		}
		br := bufio.NewReaderSize(r, 16)
		var buf []byte
		for i := range want {
			start := len(buf)
			var err error
			buf, err = readMessage(br, buf)
			if err != nil || !bytes.Equal(buf[start:], want[i]) {
				t.Fatalf("message %d: %v", i, err)
			}
		}
		if _, err := readMessage(br, buf); err != io.EOF {
			t.Fatalf("at the end: %v, want io.EOF", err)
		}
	}
	// A message cut anywhere: io.ErrUnexpectedEOF, never a clean io.EOF.
	one := envelope(1, entryOp(strings.Repeat("c", 200), attr{"a", []string{"v"}})).Bytes()
	for cut := 1; cut < len(one); cut++ {
		br := bufio.NewReader(bytes.NewReader(one[:cut]))
		if _, err := readMessage(br, nil); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("cut after %d of %d bytes: %v, want io.ErrUnexpectedEOF", cut, len(one), err)
		}
	}
	// A huge announced length is refused before anything is allocated.
	br := bufio.NewReader(bytes.NewReader([]byte{0x30, 0x84, 0x7f, 0xff, 0xff, 0xff}))
	if _, err := readMessage(br, nil); !errors.Is(err, ErrLimit) {
		t.Errorf("2 GB message: %v", err)
	}
	br = bufio.NewReader(bytes.NewReader([]byte{0x04, 0x00}))
	if _, err := readMessage(br, nil); !errors.Is(err, ErrMalformed) {
		t.Errorf("not a SEQUENCE: %v", err)
	}
}

func TestEqualFoldASCII(t *testing.T) {
	tests := []struct {
		b, s string
		want bool
	}{
		{"userPrincipalName", "USERPRINCIPALNAME", true},
		{"mail", "Mail", true},
		{"mail", "mai", false},
		{"m@il", "m`il", false}, // '@'|0x20 == '`': not letters
		{"a[", "a{", false},
		{"1.2.3", "1.2.3", true},
	}
	for _, tt := range tests {
		if got := EqualFoldASCII([]byte(tt.b), tt.s); got != tt.want {
			t.Errorf("EqualFoldASCII(%q, %q) = %t", tt.b, tt.s, got)
		}
	}
	if got := string(AttributeType([]byte("objectGUID;binary"))); got != "objectGUID" {
		t.Errorf("AttributeType = %q", got)
	}
}

func TestInteger(t *testing.T) {
	tests := []struct {
		b    []byte
		want int64
	}{
		{[]byte{0x00}, 0}, {[]byte{0x7f}, 127}, {[]byte{0x00, 0x80}, 128}, {[]byte{0xff}, -1},
		{[]byte{0x80}, -128}, {[]byte{0x01, 0x00, 0x00}, 65536}, {[]byte{0x7f, 0xff, 0xff, 0xff}, 1<<31 - 1},
	}
	for _, tt := range tests {
		if got, err := integer(tt.b); err != nil || got != tt.want {
			t.Errorf("integer(%x) = %d, %v; want %d", tt.b, got, err, tt.want)
		}
	}
}
