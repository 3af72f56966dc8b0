package directory

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/go-ldap/ldap/v3"

	upnsync "github.com/upnsync/upnsync/sync"
	"github.com/upnsync/upnsync/sync/directory/internal/wire"
)

// FuzzLDIF feeds arbitrary files to the LDIF reader: it must never panic,
// and it either reads the file completely or says where it is malformed.
func FuzzLDIF(f *testing.F) {
	seeds, _ := filepath.Glob(ldifDir + "*.ldif")
	for _, s := range seeds {
		if b, err := os.ReadFile(s); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("dn: cn=x\n objectClass: user\n"))
	f.Add([]byte("dn:: !!\n"))
	f.Add([]byte("\xef\xbb\xbfversion: 1\r\n\r\ndn: cn=a\r\nobjectClass: person\r\nobjectGUID:: AAAA\r\n"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, "fuzz.ldif")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		d, err := openLDIF(path, Options{})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		res, err := d.Read(context.Background(), func(p upnsync.Person) error {
			n++
			if p.GUID != "" && len(p.GUID) != 36 {
				t.Errorf("GUID %q", p.GUID)
			}
			if !utf8.ValidString(p.DN) {
				t.Errorf("DN %q is not UTF-8", p.DN)
			}
			return nil
		})
		if res.Entries != n {
			t.Errorf("Entries %d, delivered %d", res.Entries, n)
		}
		switch {
		case err == nil:
			if !res.Complete || res.Why != "" {
				t.Errorf("no error but result %+v", res)
			}
		case res.Complete || res.Why != err.Error():
			t.Errorf("error %v but result %+v", err, res)
		case errors.Is(err, ErrLDIF) && !strings.HasPrefix(err.Error(), path+":"):
			t.Errorf("syntax error without FILE:LINE: %v", err)
		}
		// A complete export whose last line loses its line break (the
		// smallest cut) is never read as complete again, unless that line
		// is a comment or blank.
		last := data[bytes.LastIndexByte(data[:max(len(data)-1, 0)], '\n')+1:]
		if err == nil && bytes.HasSuffix(data, []byte("\n")) && len(bytes.TrimRight(last, "\r\n")) > 0 && last[0] != '#' && !bytes.Contains(last, []byte{0}) {
			if err := os.WriteFile(path, data[:len(data)-1], 0o600); err != nil {
				t.Fatal(err)
			}
			if res, err := d.Read(context.Background(), func(upnsync.Person) error { return nil }); err == nil || res.Complete {
				t.Errorf("the export without its last line break was read as complete: %+v", res)
			}
		}
	})
}

// FuzzGUID: any 16 bytes round-trip through the canonical string; any
// string either parses back to the same GUID or is refused; nothing panics.
func FuzzGUID(f *testing.F) {
	f.Add([]byte{0xe0, 0x04, 0x25, 0x3f, 0x89, 0x4f, 0xd3, 0x11, 0x9a, 0x0c, 0x03, 0x05, 0xe8, 0x2c, 0x33, 0x01}, "3f2504e0-4f89-11d3-9a0c-0305e82c3301")
	f.Add([]byte{1, 2, 3}, "{3F2504E0-4F89-11D3-9A0C-0305E82C3301}")
	f.Add([]byte{}, "")
	f.Fuzz(func(t *testing.T, raw []byte, s string) {
		str, err := GUIDString(raw)
		if len(raw) != 16 {
			if err == nil || str != "" {
				t.Fatalf("GUIDString(%x) = %q, %v: want an error", raw, str, err)
			}
		} else {
			if err != nil || len(str) != 36 || str != strings.ToLower(str) {
				t.Fatalf("GUIDString(%x) = %q, %v", raw, str, err)
			}
			back, err := GUIDBytes(str)
			if err != nil || !bytes.Equal(back, raw) {
				t.Fatalf("round trip %x -> %s -> %x, %v", raw, str, back, err)
			}
			if v, err := guidFromValue(string(raw)); err != nil || v != str {
				t.Fatalf("guidFromValue(raw) = %q, %v; want %q", v, err, str)
			}
		}
		if b, err := GUIDBytes(s); err == nil {
			again, err := GUIDString(b)
			if err != nil || !strings.EqualFold(again, strings.Trim(s, "{}")) {
				t.Fatalf("GUIDBytes(%q) = %x -> %q, %v", s, b, again, err)
			}
		}
		_, _ = guidFromValue(s)
	})
}

// FuzzWireEntry feeds arbitrary messages to the wire decoder. It must never
// panic; and an entry it decodes must give the Person that go-ldap's path
// gives for the same bytes (go-asn1-ber decoding, then decoder.entry).
func FuzzWireEntry(f *testing.F) {
	var buf bytes.Buffer
	w := respWriter{c: writerConn{&buf}, id: 1}
	w.user(7)
	f.Add(envelopeContent(buf.Bytes()))
	f.Add([]byte{0x02, 0x01, 0x01, 0x64, 0x00})
	f.Fuzz(func(t *testing.T, msg []byte) {
		fields := withDefaults(mappingWithPhone())
		wd, ld := newDecoder(fields, ""), newDecoder(fields, "")
		got, err := wd.wireEntry(msg)
		if err != nil {
			if !errors.Is(err, wire.ErrMalformed) {
				t.Fatalf("error %v does not wrap wire.ErrMalformed", err)
			}
			return
		}
		// What go-ldap would have built from the same protocolOp.
		m, _ := wire.ParseMessage(msg)
		op, berErr := ber.DecodePacketErr(append(append([]byte{m.Tag}, berLength(len(m.Op))...), m.Op...))
		if berErr != nil {
			t.Fatalf("decoded an entry go-asn1-ber rejects: %v", berErr)
		}
		le := &ldap.Entry{DN: op.Children[0].Data.String()}
		for _, a := range op.Children[1].Children {
			ea := &ldap.EntryAttribute{Name: a.Children[0].Data.String()}
			for _, v := range a.Children[1].Children {
				ea.Values = append(ea.Values, v.Data.String())
			}
			le.Attributes = append(le.Attributes, ea)
		}
		if want := ld.entry(le); got != want {
			t.Fatalf("wire %+v\ngo-ldap %+v", got, want)
		}
		if wd.badGUIDs != ld.badGUIDs {
			t.Fatalf("bad GUIDs %d, go-ldap %d", wd.badGUIDs, ld.badGUIDs)
		}
	})
}

func berLength(n int) []byte {
	if n < 0x80 {
		return []byte{byte(n)}
	}
	var b []byte
	for ; n > 0; n >>= 8 {
		b = append([]byte{byte(n)}, b...)
	}
	return append([]byte{0x80 | byte(len(b))}, b...)
}
