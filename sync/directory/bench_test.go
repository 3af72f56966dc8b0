package directory

import (
	"bytes"
	"context"
	"io"
	"testing"

	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/go-ldap/ldap/v3"

	"github.com/upnsync/upnsync/internal/testenv"
	"github.com/upnsync/upnsync/mapping"
	upnsync "github.com/upnsync/upnsync/sync"
	"github.com/upnsync/upnsync/sync/directory/internal/wire"
)

// Benchmarks of the directory's hot paths:
//
//	go test ./sync/directory -run '^$' -bench . -benchmem
//
// BenchmarkLDAPRead reads the test directory of scripts/testdirs.sh (or
// skips) with both readers; scripts/bench.sh measures the whole program
// against a directory of 100k or 1M users.

// entryMessage is one AD-like search result entry as it comes off the
// wire (the LDAPMessage's content).
func entryMessage(b *testing.B) []byte {
	var buf bytes.Buffer
	w := respWriter{c: writerConn{&buf}, id: 12}
	w.user(123456)
	return envelopeContent(buf.Bytes())
}

// BenchmarkWireEntry decodes an entry with the wire decoder.
func BenchmarkWireEntry(b *testing.B) {
	msg := entryMessage(b)
	d := newDecoder(mapping.Fields{}, "")
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		if _, err := d.wireEntry(msg); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGoLDAPEntry is the same entry through go-ldap: go-asn1-ber's
// packet tree, then the mapping onto a Person.
func BenchmarkGoLDAPEntry(b *testing.B) {
	msg := entryMessage(b)
	full := append([]byte{0x30}, berLength(len(msg))...)
	full = append(full, msg...)
	d := newDecoder(mapping.Fields{}, "")
	b.ReportAllocs()
	b.SetBytes(int64(len(full)))
	for b.Loop() {
		pkt, err := ber.ReadPacket(bytes.NewReader(full))
		if err != nil {
			b.Fatal(err)
		}
		op := pkt.Children[1]
		e := &ldap.Entry{DN: op.Children[0].Value.(string)}
		for _, a := range op.Children[1].Children {
			ea := &ldap.EntryAttribute{Name: a.Children[0].Value.(string)}
			for _, v := range a.Children[1].Children {
				ea.Values = append(ea.Values, v.Data.String())
			}
			e.Attributes = append(e.Attributes, ea)
		}
		d.entry(e)
	}
}

// BenchmarkReadPage frames a page of 1000 entries from a byte stream, as
// the Tap does in go-ldap's reader goroutine: the entries into the page,
// the SearchResultDone out to go-ldap.
func BenchmarkReadPage(b *testing.B) {
	var stream bytes.Buffer
	w := respWriter{c: writerConn{&stream}, id: 1<<30 + 1} // the Tap's first bulk request
	for i := 0; i < 1000; i++ {
		w.user(i)
	}
	w.done("")
	page := &wire.Page{}
	buf := make([]byte, 4096)
	b.ReportAllocs()
	b.SetBytes(int64(stream.Len()))
	for b.Loop() {
		page.Reset()
		tap := bulkOver(bytes.NewReader(stream.Bytes()), page, func(*wire.Page) {})
		if _, err := tap.Read(buf); err != io.EOF || page.Len() != 1000 || !page.Done {
			b.Fatalf("%v, %d entries", err, page.Len())
		}
	}
}

// BenchmarkLDAPRead reads the whole test directory with each reader.
func BenchmarkLDAPRead(b *testing.B) {
	e := testenv.LDAP(b)
	for _, reader := range []string{"wire", "go-ldap"} {
		b.Run(reader, func(b *testing.B) {
			d, err := openLDAP(Options{URL: e.LDAPSURL, CAFile: e.CAFile, Login: e.BindDN, Password: e.Password,
				Bases: []string{e.Base}, PageSize: DefaultPageSize})
			if err != nil {
				b.Fatal(err)
			}
			defer d.Close()
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				if reader == "go-ldap" {
					_, res := goLDAPRead(b, d)
					n += res.Entries
					continue
				}
				res, err := d.Read(context.Background(), func(upnsync.Person) error { return nil })
				if err != nil || !res.Complete {
					b.Fatal(err)
				}
				n += res.Entries
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "entries/s")
		})
	}
}
