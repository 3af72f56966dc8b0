package wire

import (
	"fmt"
	"time"

	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/go-ldap/ldap/v3"
)

// The bulk read's paged search runs on go-ldap's connection but outside
// go-ldap's message loop: the Tap sends each page's request itself, the
// moment the previous page's SearchResultDone arrives, from go-ldap's
// reader goroutine, which is reading anyway. Through go-ldap, each page's
// request waited for go-ldap's processMessages goroutine to hand out a
// message id and write it: about 0.4 ms a page measured here (a 100,000
// user read 5-10% slower), because that goroutine must be scheduled
// between every page, and the collector's workers, running often during a
// read, take precedence (docs/performance.md). The search's message ids
// come from a range go-ldap never reaches (it counts from 1), and its
// responses never reach go-ldap.

// bulkIDs is the first message id of the bulk searches.
const bulkIDs = 1 << 30

// PagingOID is the Simple Paged Results control (RFC 2696).
const PagingOID = "1.2.840.113556.1.4.319"

// BulkSearch is a subtree search the Tap runs page by page: Next gives
// each page's buffer, Done receives each page once its SearchResultDone
// arrived or the search stopped (with Page.Err). The Tap calls them in
// go-ldap's reader goroutine; they may wait (the Tap stops reading
// meanwhile).
type BulkSearch struct {
	Base   string
	Filter string
	Attrs  []string
	// PageSize 0 sends no paging control: one search, one page.
	PageSize uint32
	// Controls are sent with every page besides the paging control.
	Controls []ldap.Control
	// Timeout bounds each page, from its request to its end.
	Timeout time.Duration

	// Next returns an empty page (Reset) for the next page, or nil to
	// stop the search.
	Next func() *Page
	// Room is asked before each message is taken into a page, with the
	// page's size after it; it may wait for room (the Tap stops reading
	// meanwhile), and returns false to stop.
	Room func(size int) bool
	// Done receives every page Next gave, once.
	Done func(*Page)

	filter *ber.Packet
}

// Bulk starts s: it sends its first page's request and returns; the rest
// happens as the server answers. Only one runs at a time, between go-ldap's
// operations (the caller does not use go-ldap meanwhile). An error means
// nothing was started (no page was taken from Next).
func (t *Tap) Bulk(s *BulkSearch) error {
	f, err := ldap.CompileFilter(s.Filter)
	if err != nil {
		return err
	}
	s.filter = f
	t.mu.Lock()
	switch {
	case t.stopped != nil:
		t.mu.Unlock()
		return t.stopped
	case t.bulk != nil:
		t.mu.Unlock()
		return fmt.Errorf("%w: a bulk search is already running", errBusy)
	}
	t.mu.Unlock()
	p := s.Next()
	if p == nil {
		return errAbandoned
	}
	if err := t.sendPage(s, p, nil); err != nil {
		t.mu.Lock()
		t.bulk, t.page = nil, nil
		t.mu.Unlock()
		return err
	}
	return nil
}

// sendPage makes p the page of s that the next responses go into and
// sends its request, with the previous page's cookie.
func (t *Tap) sendPage(s *BulkSearch, p *Page, cookie []byte) error {
	t.mu.Lock()
	t.nextBulkID++
	id := bulkIDs + t.nextBulkID
	t.bulk, t.page, t.bulkID = s, p, id
	t.mu.Unlock()
	pkt := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "LDAP Request")
	pkt.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, id, "MessageID"))
	req := ber.Encode(ber.ClassApplication, ber.TypeConstructed, ldap.ApplicationSearchRequest, nil, "Search Request")
	req.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, s.Base, "Base DN"))
	req.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagEnumerated, uint64(ldap.ScopeWholeSubtree), "Scope"))
	req.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagEnumerated, uint64(ldap.NeverDerefAliases), "Deref Aliases"))
	req.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, 0, "Size Limit"))
	req.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, 0, "Time Limit"))
	req.AppendChild(ber.NewBoolean(ber.ClassUniversal, ber.TypePrimitive, ber.TagBoolean, false, "Types Only"))
	req.AppendChild(s.filter)
	attrs := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "Attributes")
	for _, a := range s.Attrs {
		attrs.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, a, "Attribute"))
	}
	req.AppendChild(attrs)
	pkt.AppendChild(req)
	ctrls := ber.Encode(ber.ClassContext, ber.TypeConstructed, 0, nil, "Controls")
	if s.PageSize > 0 {
		paging := ldap.NewControlPaging(s.PageSize)
		paging.SetCookie(cookie)
		ctrls.AppendChild(paging.Encode())
	}
	for _, c := range s.Controls {
		ctrls.AppendChild(c.Encode())
	}
	if len(ctrls.Children) > 0 {
		pkt.AppendChild(ctrls)
	}
	if err := t.nc.SetReadDeadline(time.Now().Add(s.Timeout)); err != nil {
		return err
	}
	_, err := t.Write(pkt.Bytes())
	return err
}

// bulkMessage reads one message of the running bulk search.
func (t *Tap) bulkMessage(s *BulkSearch, p *Page, h header) error {
	switch h.op {
	case TagSearchResultEntry, TagSearchResultRef:
		if s.Room != nil && !s.Room(p.Bytes+h.size+h.n) {
			return errAbandoned
		}
		return t.take(p, h)
	case TagIntermediateResponse:
		// Not asked for; a server may send one anyway (RFC 4511 4.13).
		if h.n > MaxResponse {
			return overLimit("the server announced a response of %d bytes (tag 0x%02x), over upnsync's limit of %d MiB for anything but the entries of the bulk read", h.n, h.op, MaxResponse>>20)
		}
		_, err := t.r.Discard(h.size + h.n)
		return unexpectedEOF(err)
	case TagSearchResultDone:
	default:
		return malformed("a response with tag 0x%02x to the search", h.op)
	}
	if h.n > MaxResponse {
		return overLimit("the server announced a result of %d bytes, over upnsync's limit of %d MiB", h.n, MaxResponse>>20)
	}
	var err error
	if t.msg, err = appendFull(t.r, t.msg[:0], h.size+h.n); err != nil {
		return err
	}
	m, err := ParseMessage(t.msg[h.size:])
	if err != nil {
		return err
	}
	if p.Result, err = ParseResult(m.Op); err != nil {
		return err
	}
	cookie, paged, err := PagingCookie(m.Controls)
	if err != nil {
		return err
	}
	p.Done, p.Paged = true, paged
	p.Cookie = append(p.Cookie[:0], cookie...)
	// The cookie for the next request, before p goes to the reader of
	// the pages (who may reuse it).
	t.cookie = append(t.cookie[:0], cookie...)
	t.mu.Lock()
	delete(t.sent, h.id)
	t.page = nil // handed over below
	t.mu.Unlock()
	more := s.PageSize > 0 && p.Result.Code == ldap.LDAPResultSuccess && paged && len(cookie) > 0
	var next *Page
	if more {
		s.Done(p)
		next = s.Next()
	}
	if next == nil {
		// Over, or stopped by the reader of the pages: go-ldap may use the
		// connection again (the last page is handed over only now).
		t.mu.Lock()
		t.bulk = nil
		t.mu.Unlock()
		if err := t.nc.SetReadDeadline(time.Time{}); err != nil {
			return err
		}
		if !more {
			s.Done(p)
		}
		return nil
	}
	return t.sendPage(s, next, t.cookie)
}

// endBulk hands the running bulk search's page over with err, if one runs.
func (t *Tap) endBulk(err error) {
	t.mu.Lock()
	s, p := t.bulk, t.page
	t.bulk, t.page = nil, nil
	t.mu.Unlock()
	if p != nil {
		if p.Err == nil {
			p.Err = err
		}
		s.Done(p)
	}
}

// PagingCookie finds the paged-results control among a message's controls
// and returns its cookie (nil when the server says the search is done).
// found is false when the controls hold no paging control.
func PagingCookie(controls []byte) (cookie []byte, found bool, err error) {
	rest := controls
	for len(rest) > 0 {
		var ctrl []byte
		if ctrl, rest, err = expect(rest, tagSequence, "control"); err != nil {
			return nil, false, err
		}
		oid, after, err := expect(ctrl, tagOctetString, "controlType")
		if err != nil {
			return nil, false, err
		}
		if len(after) > 0 && after[0] == tagBoolean {
			if _, after, err = expect(after, tagBoolean, "criticality"); err != nil {
				return nil, false, err
			}
		}
		if string(oid) != PagingOID {
			continue
		}
		value, _, err := expect(after, tagOctetString, "paging control value")
		if err != nil {
			return nil, false, err
		}
		seq, _, err := expect(value, tagSequence, "paging control value")
		if err != nil {
			return nil, false, err
		}
		size, seqRest, err := expect(seq, tagInteger, "paging size")
		if err != nil {
			return nil, false, err
		}
		if _, err := integer(size); err != nil {
			return nil, false, fmt.Errorf("paging size: %w", err)
		}
		cookie, _, err := expect(seqRest, tagOctetString, "paging cookie")
		if err != nil {
			return nil, false, err
		}
		if len(cookie) == 0 {
			cookie = nil
		}
		return cookie, true, nil
	}
	return nil, false, nil
}
