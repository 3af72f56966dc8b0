package wire

import (
	"bufio"
	"io"
)

// MaxPage bounds the bytes of one page of the bulk read. A directory that
// honours the page size sends well under a megabyte per 1000 users; a
// page this large means a broken or hostile server.
const MaxPage = 64 << 20

// Chunk sizes of a page: the first is small (pages of a few users stay
// small), each next one twice the last, up to maxChunk. A page grows by a
// new chunk, never by copying what it holds.
const (
	firstChunk = 4 << 10
	maxChunk   = 256 << 10
)

// Page is one page of the bulk search: its raw search result entries, as
// the Tap took them out of the stream, and how it ended.
type Page struct {
	chunks [][]byte
	used   int // chunks[:used] hold entries; chunks[used-1] is filling
	// entries locate each entry in the chunks: pointer-free, so that the
	// collector, which runs often (GOGC 15), need not scan them.
	entries []span
	// Refs counts the continuation references, which are not kept.
	Refs int
	// Bytes counts the bytes of the messages taken into the page.
	Bytes int
	// Done is set when the page's SearchResultDone arrived, with its
	// Result; Paged when that carried a paging control, with Cookie.
	Done   bool
	Result Result
	Paged  bool
	Cookie []byte
	// Err is why the Tap stopped before the page was done.
	Err error
}

// span is where an entry is: chunks[chunk][start:end].
type span struct{ chunk, start, end int32 }

// Len is the number of entries in the page.
func (p *Page) Len() int { return len(p.entries) }

// Entry is the LDAPMessage content (for ParseMessage) of entry i, in the
// order they came; it points into the page's buffers.
func (p *Page) Entry(i int) []byte {
	s := p.entries[i]
	return p.chunks[s.chunk][s.start:s.end:s.end]
}

// Reset empties the page for reuse, keeping its chunks (but not the
// buffers of oversized messages).
func (p *Page) Reset() {
	kept := p.chunks[:0]
	for _, c := range p.chunks {
		if cap(c) <= maxChunk {
			kept = append(kept, c[:0])
		}
	}
	clear(p.chunks[len(kept):])
	p.chunks, p.used = kept, 0
	p.entries = p.entries[:0]
	p.Refs, p.Bytes, p.Done, p.Err = 0, 0, false, nil
	p.Result, p.Paged, p.Cookie = Result{}, false, p.Cookie[:0]
}

// Held is the memory the page's buffers take.
func (p *Page) Held() int {
	n := 0
	for _, c := range p.chunks {
		n += cap(c)
	}
	return n
}

// add reads the n bytes of one message's content from r into the page
// and records it as an entry.
func (p *Page) add(r *bufio.Reader, n int) error {
	if n > maxChunk {
		// An oversized message gets a buffer of its own, grown as its
		// bytes arrive.
		buf, err := appendFull(r, nil, n)
		if err != nil {
			return err
		}
		p.chunks = append(p.chunks, nil)
		copy(p.chunks[p.used+1:], p.chunks[p.used:])
		p.chunks[p.used] = buf
		p.used++
		p.entries = append(p.entries, span{int32(p.used - 1), 0, int32(n)})
		return nil
	}
	if p.used == 0 || cap(p.chunks[p.used-1])-len(p.chunks[p.used-1]) < n {
		size := firstChunk
		if p.used > 0 {
			size = min(2*cap(p.chunks[p.used-1]), maxChunk)
		}
		size = max(size, n)
		if p.used < len(p.chunks) && cap(p.chunks[p.used]) >= size {
			p.chunks[p.used] = p.chunks[p.used][:0]
		} else if p.used < len(p.chunks) {
			p.chunks[p.used] = make([]byte, 0, size)
		} else {
			p.chunks = append(p.chunks, make([]byte, 0, size))
		}
		p.used++
	}
	c := p.chunks[p.used-1]
	start := len(c)
	if _, err := io.ReadFull(r, c[start:start+n]); err != nil {
		return unexpectedEOF(err)
	}
	p.chunks[p.used-1] = c[:start+n]
	p.entries = append(p.entries, span{int32(p.used - 1), int32(start), int32(start + n)})
	return nil
}
