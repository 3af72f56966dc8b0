package directory

import (
	"bytes"
	"context"
	"errors"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"

	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/go-ldap/ldap/v3"

	upnsync "github.com/upnsync/upnsync/sync"
	"github.com/upnsync/upnsync/sync/directory/internal/wire"
)

// A hostile (or broken) server must not be able to make upnsync allocate
// more than what it sends plus a fixed amount, nor more than a page's
// limit however much it sends: each of these scripted servers gets a clear
// error, and the heap stays within a bound measured while it runs.

// heapGrowth runs f and returns the highest HeapInuse seen while it ran
// (sampled every 2 ms, and at the end) above what it was before. It runs
// with the collector set as upnsync sets it (GOGC 15, cmd/upnsync's
// memory.go): garbage is collected as it would be in a run.
func heapGrowth(f func()) uint64 {
	defer debug.SetGCPercent(debug.SetGCPercent(15))
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base, peak := ms.HeapInuse, ms.HeapInuse
	var mu sync.Mutex
	sample := func() {
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		mu.Lock()
		peak = max(peak, m.HeapInuse)
		mu.Unlock()
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				sample()
			}
		}
	}()
	f()
	close(stop)
	wg.Wait()
	sample()
	return peak - base
}

const mib = 1 << 20

// entryBytes is one AD-like entry of user i as a server sends it.
func entryBytes(id int64, i int) []byte {
	var buf bytes.Buffer
	w := respWriter{c: writerConn{&buf}, id: id}
	w.user(i)
	return buf.Bytes()
}

// messageID is the BER encoding of an LDAPMessage's messageID.
func messageID(id int64) []byte {
	return ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, id, "").Bytes()
}

// nested is an attribute value of SEQUENCEs nested depth deep.
func nested(depth int) *ber.Packet {
	inner := ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, "x", "")
	for i := 0; i < depth; i++ {
		outer := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "")
		outer.AppendChild(inner)
		inner = outer
	}
	return inner
}

// nestedEntry is a search result entry whose mail value is nested depth
// deep.
func (w *respWriter) nestedEntry(dn string, depth int) {
	op := ber.Encode(ber.ClassApplication, ber.TypeConstructed, ldap.ApplicationSearchResultEntry, nil, "")
	op.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, dn, ""))
	attrs := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "")
	pa := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "")
	pa.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, "mail", ""))
	set := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSet, nil, "")
	set.AppendChild(nested(depth))
	pa.AppendChild(set)
	attrs.AppendChild(pa)
	op.AppendChild(attrs)
	w.send(op)
}

func TestHostileServerBulkRead(t *testing.T) {
	// Built before the measurements, for the first page's request (the
	// Tap numbers the bulk search's requests from 1<<30+1).
	const page1 = 1<<30 + 1
	var chunk []byte
	for i := 0; len(chunk) < 1<<20; i++ {
		chunk = append(chunk, entryBytes(page1, i)...)
	}
	var deepEntry, deepDone bytes.Buffer
	(&respWriter{c: writerConn{&deepEntry}, id: page1}).nestedEntry("CN=deep,DC=corp,DC=example,DC=com", 5000)
	{
		op := ber.Encode(ber.ClassApplication, ber.TypeConstructed, ldap.ApplicationSearchResultDone, nil, "")
		op.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagEnumerated, 0, ""))
		op.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, "", ""))
		op.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, "", ""))
		op.AppendChild(nested(5000))
		(&respWriter{c: writerConn{&deepDone}, id: page1}).send(op)
	}
	tests := []struct {
		name     string
		onSearch func(w *respWriter, s search, n int) bool
		want     string
		// limit is the most the heap may grow while the read runs.
		limit uint64
	}{
		{"announces a 2 GiB message", func(w *respWriter, s search, n int) bool {
			w.user(0)
			w.raw(append(append([]byte{0x30, 0x84, 0x80, 0x00, 0x00, 0x00}, messageID(w.id)...), 0x64))
			w.raw(bytes.Repeat([]byte{0x04}, 1<<20))
			return true
		}, "sent more than upnsync accepts in page 1 of the read (1 entry): the server announced a message of 2147483648 bytes, over upnsync's limit of 64 MiB", 8 * mib},
		{"announces a 60 MiB entry, sends 2 MiB of it", func(w *respWriter, s search, n int) bool {
			w.raw(append(append([]byte{0x30, 0x84, 0x03, 0xc0, 0x00, 0x00}, messageID(w.id)...), 0x64, 0x84, 0x03, 0xbf, 0xff, 0xf0))
			w.raw(bytes.Repeat([]byte{'a'}, 2<<20))
			return false
		}, "lost during the first page of the read (0 entries): the server closed the connection (unexpected EOF)", 16 * mib},
		{"streams an endless page", func(w *respWriter, s search, n int) bool {
			for sent := 0; sent < 4*wire.MaxPage; sent += len(chunk) {
				if _, err := w.c.Write(chunk); err != nil {
					return false // the reader gave up: as it should
				}
			}
			return false
		}, "sent more than upnsync accepts in page 1 of the read (", wire.MaxPage + 32*mib},
		{"nests a value 5000 deep", func(w *respWriter, s search, n int) bool {
			w.user(0)
			w.raw(deepEntry.Bytes())
			w.done("")
			return true
		}, "sent an entry upnsync cannot read in page 1 of the read (1 entry): malformed LDAP message: attribute value: tag 0x30, want 0x04", 8 * mib},
		// The page's result is read by upnsync's parsers, which walk no
		// nesting: what follows the LDAPResult is skipped.
		{"nests a value 5000 deep in the page's result", func(w *respWriter, s search, n int) bool {
			w.user(0)
			w.raw(deepDone.Bytes())
			return true
		}, "ended page 1 of the read without a paging control", 8 * mib},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := startFake(t, tt.onSearch)
			d := f.dir(t, func(o *Options) { o.PageSize = 1000 })
			var res upnsync.ReadResult
			var err error
			entries := 0
			grew := heapGrowth(func() {
				res, err = d.Read(context.Background(), func(upnsync.Person) error { entries++; return nil })
			})
			t.Logf("heap grew by %.1f MiB: %v", float64(grew)/mib, err)
			if err == nil || res.Complete || res.Why != err.Error() || res.Entries != entries {
				t.Fatalf("read: %+v, %v", res, err)
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.HasSuffix(err.Error(), "the read is incomplete") {
				t.Errorf("error %q\nwant it to contain %q and end saying the read is incomplete", err, tt.want)
			}
			if grew > tt.limit {
				t.Errorf("the heap grew by %.1f MiB, more than %.0f MiB", float64(grew)/mib, float64(tt.limit)/mib)
			}
			if Transient(err) && !strings.Contains(err.Error(), "lost") {
				t.Errorf("a refused response is not transient: %v", err)
			}
		})
	}
}

// The messages go-ldap decodes (here the rootDSE that Open reads) are
// bounded the same way, and Open says what it refused.
func TestHostileServerOpen(t *testing.T) {
	// Built before the measurements, for the rootDSE search (go-ldap's
	// message 2, after the bind).
	var many, deep bytes.Buffer
	{
		w := respWriter{c: writerConn{&many}, id: 2}
		// A rootDSE whose value nests 5000 deep.
		(&respWriter{c: writerConn{&deep}, id: 2}).nestedEntry("", 5000)
		op := ber.Encode(ber.ClassApplication, ber.TypeConstructed, ldap.ApplicationSearchResultEntry, nil, "")
		op.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, "", ""))
		attrs := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "")
		pa := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "")
		pa.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, "supportedControl", ""))
		set := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSet, nil, "")
		for i := 0; i < 100000; i++ {
			set.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, "", ""))
		}
		pa.AppendChild(set)
		attrs.AppendChild(pa)
		op.AppendChild(attrs)
		w.send(op)
	}
	tests := []struct {
		name    string
		rootDSE func(w *respWriter)
		want    string
		limit   uint64
	}{
		{"announces a 2 GiB rootDSE", func(w *respWriter) {
			w.raw(append(append([]byte{0x30, 0x84, 0x80, 0x00, 0x00, 0x00}, messageID(w.id)...), 0x64))
		}, "sent more than upnsync accepts while reading the rootDSE: the server announced a message of 2147483648 bytes, over upnsync's limit of 64 MiB", 8 * mib},
		{"announces a 2 MiB rootDSE", func(w *respWriter) {
			w.raw(append(append([]byte{0x30, 0x83, 0x20, 0x00, 0x00}, messageID(w.id)...), 0x64))
		}, "sent more than upnsync accepts while reading the rootDSE: the server announced a response of 2097152 bytes (tag 0x64), over upnsync's limit of 1 MiB", 8 * mib},
		{"nests the rootDSE 5000 deep", func(w *respWriter) {
			w.raw(deep.Bytes())
		}, "sent more than upnsync accepts while reading the rootDSE: values nested more than 32 deep, over upnsync's limit", 8 * mib},
		{"answers with 100k empty values", func(w *respWriter) {
			w.raw(many.Bytes())
		}, "sent more than upnsync accepts while reading the rootDSE: a response of more than 16384 BER elements, over upnsync's limit", 8 * mib},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := startFake(t, func(w *respWriter, s search, n int) bool {
				if s.base == "" {
					tt.rootDSE(w)
					return true
				}
				return pages(10, nil)(w, s, n)
			})
			o := Options{URL: f.url(), Login: f.login, Password: f.password, AllowPlaintextBind: true,
				Bases: []string{"DC=corp,DC=example,DC=com"}, PageSize: 10, Timeout: 5 * time.Second}
			var err error
			grew := heapGrowth(func() {
				var d *ldapDirectory
				if d, err = openLDAP(o); err == nil {
					d.Close()
				}
			})
			t.Logf("heap grew by %.1f MiB: %v", float64(grew)/mib, err)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !errors.Is(err, wire.ErrLimit) {
				t.Fatalf("Open: %v\nwant an error containing %q", err, tt.want)
			}
			if grew > tt.limit {
				t.Errorf("the heap grew by %.1f MiB, more than %.0f MiB", float64(grew)/mib, float64(tt.limit)/mib)
			}
			if Transient(err) {
				t.Errorf("a refused response is not transient: %v", err)
			}
		})
	}
}

// The scripted server's messages must really be what each test says: the
// limits are what refuses them, not a framing mistake of the test.
func TestHostileMessagesAreWellFramed(t *testing.T) {
	var buf bytes.Buffer
	w := respWriter{c: writerConn{&buf}, id: 2}
	w.nestedEntry("cn=x", 40)
	if _, err := ber.ReadPacket(bytes.NewReader(buf.Bytes())); err != nil {
		t.Fatalf("go-asn1-ber cannot read the nested entry: %v", err)
	}
	if err := wire.CheckForGoLDAP(envelopeContent(buf.Bytes())); !errors.Is(err, wire.ErrLimit) {
		t.Fatalf("CheckForGoLDAP(40 deep) = %v, want a limit", err)
	}
	buf.Reset()
	w.nestedEntry("cn=x", 20)
	if err := wire.CheckForGoLDAP(envelopeContent(buf.Bytes())); err != nil {
		t.Fatalf("CheckForGoLDAP(20 deep) = %v", err)
	}
}

// A refused response ends the read on Open's connection: it is not taken
// for a connection lost while idle and read again on a new one.
func TestRefusedResponseIsNotRetried(t *testing.T) {
	f := startFake(t, func(w *respWriter, s search, n int) bool {
		if s.base == "" {
			w.done("") // an empty rootDSE
			return true
		}
		w.raw([]byte{0x04, 0x02, 'h', 'i'})
		return true
	})
	d, err := openLDAP(Options{URL: f.url(), Login: f.login, Password: f.password, AllowPlaintextBind: true,
		Bases: []string{"DC=corp,DC=example,DC=com"}, PageSize: 10, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	_, err = d.Read(context.Background(), func(upnsync.Person) error { return nil })
	if err == nil || !errors.Is(err, wire.ErrMalformed) {
		t.Fatalf("read: %v", err)
	}
	f.mu.Lock()
	conns := len(f.conns)
	f.mu.Unlock()
	if conns != 1 {
		t.Fatalf("%d connections, want 1", conns)
	}
}
