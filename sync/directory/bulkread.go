package directory

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"

	"github.com/go-ldap/ldap/v3"

	upnsync "github.com/upnsync/upnsync/sync"
	"github.com/upnsync/upnsync/sync/directory/internal/wire"
)

// The bulk read of every user: go-ldap sends each page's search on the
// run's connection and reads its SearchResultDone (result and paging
// control); the entries in between never reach go-ldap: the connection's
// wire.Tap takes them into the page's buffers, and the caller's goroutine
// decodes them (decode_wire.go) with one allocation per person.
//
// The read is pipelined: a fetcher goroutine sends the request for the
// next page as soon as the current page's SearchResultDone has arrived and
// keeps the raw bytes of at most readAhead pages, while the caller's
// goroutine decodes and processes them. The directory never waits for
// upnsync's processing, and memory is bounded by those buffers whatever the
// size of the directory.

// The reader may run ahead of processing by startAheadBytes of raw pages
// until the first page has been processed, and by aheadBytes after that.
// The planner processes a page much faster than a directory serves one, so
// in steady state two or three pages are in use; but at the start of a run
// the planner waits for the store's snapshot (about 2 s for a million
// users), and letting the directory serve on meanwhile is worth a hundred
// megabytes for that moment: 0.9 s of a 1M-user run, with no higher peak
// memory, since the peak comes later (docs/performance.md). Pages beyond
// idlePages are let go once processed. One page may hold at most
// wire.MaxPage bytes, and a page only grows past the budget when no other
// waits (pagePool.room): what a server can make the reader hold is the
// larger of the budget and one page.
var (
	startAheadBytes int64 = 128 << 20
	aheadBytes      int64 = 4 << 20
	// roomSlack is how far the page being filled may take the bytes in
	// flight beyond the budget before the Tap waits for processed pages:
	// an ordinary page never waits with its request outstanding.
	roomSlack int64 = 1 << 20
)

const (
	idlePages = 4
	// maxQueuedPages bounds the count when pages are tiny (small page
	// sizes, or a search that finds few users).
	maxQueuedPages = 4096
)

// bulkPage is one page of the bulk read: its entries as the Tap took them,
// and its end as go-ldap read it.
type bulkPage struct {
	wire.Page
	// err is why the page could not be read to its end (after the
	// entries above): the Tap's reason, or go-ldap's (no answer in time).
	err error
	// result is the SearchResultDone's result when it is not success.
	result error
	// closed is set when the SearchResultDone carried a paging control,
	// with cookie.
	closed bool
	cookie []byte
}

func (p *bulkPage) reset() {
	p.Page.Reset()
	p.err, p.result, p.closed = nil, nil, false
	p.cookie = p.cookie[:0]
}

// errUnexpected marks what the read did not expect of go-ldap.
var errUnexpected = errors.New("unexpected response")

// pagePool hands pages to the reader: idle ones first, new ones while the
// pages waiting to be processed stay under the budget.
type pagePool struct {
	idle     chan *bulkPage
	buffered atomic.Int64 // bytes of pages handed over, not yet processed
	budget   atomic.Int64
	freed    chan struct{} // signalled when a page was processed
}

func newPagePool() *pagePool {
	pp := &pagePool{idle: make(chan *bulkPage, idlePages), freed: make(chan struct{}, 1)}
	pp.budget.Store(startAheadBytes)
	return pp
}

// room reports whether the page being filled may hold size bytes: while
// it and the pages waiting to be processed stay within the budget (plus
// roomSlack), or when none waits (the caller needs this very page, which
// may then reach wire.MaxPage). Otherwise it waits for a page to be
// processed, or returns false when stop is closed. So the raw bytes in
// flight never exceed the larger of the budget and wire.MaxPage, whatever
// a server sends.
func (pp *pagePool) room(size int, stop <-chan struct{}) bool {
	for {
		b := pp.buffered.Load()
		if b == 0 || b+int64(size) <= pp.budget.Load()+roomSlack {
			return true
		}
		select {
		case <-pp.freed:
		case <-stop:
			return false
		}
	}
}

// get returns a page for the reader, or nil when stop is closed.
func (pp *pagePool) get(stop <-chan struct{}) *bulkPage {
	select {
	case p := <-pp.idle:
		return p
	default:
	}
	if pp.buffered.Load() < pp.budget.Load() {
		return &bulkPage{}
	}
	select {
	case p := <-pp.idle:
		return p
	case <-stop:
		return nil
	}
}

// handed records a page the reader hands over.
func (pp *pagePool) handed(p *bulkPage) { pp.buffered.Add(int64(p.Bytes)) }

// put takes back a processed page; the first one ends the start.
func (pp *pagePool) put(p *bulkPage) {
	pp.buffered.Add(-int64(p.Bytes))
	pp.budget.Store(aheadBytes)
	select {
	case pp.freed <- struct{}{}:
	default:
	}
	select {
	case pp.idle <- p:
	default: // enough idle pages: let this one go
	}
}

// fetchPages is the fetcher goroutine of one base: it sends each page's
// search through go-ldap with the Tap armed with the page, then hands the
// page over. It stops after the last page, after a page that failed or
// ended the search, or when stop is closed.
func (d *ldapDirectory) fetchPages(conn *ldap.Conn, tap *wire.Tap, req *ldap.SearchRequest, pool *pagePool, out chan<- *bulkPage, stop <-chan struct{}) {
	controls := req.Controls
	var cookie []byte
	for {
		p := pool.get(stop)
		if p == nil {
			return
		}
		p.reset()
		r := *req
		if d.pageSize > 0 {
			paging := ldap.NewControlPaging(uint32(d.pageSize))
			paging.SetCookie(cookie)
			r.Controls = append([]ldap.Control{paging}, controls...)
		}
		tap.Arm(&p.Page, func(size int) bool { return pool.room(size, stop) })
		sr, err := conn.Search(&r)
		endPage(conn, tap, p, sr, err)
		pool.handed(p)
		select {
		case out <- p:
		case <-stop:
			return
		}
		if p.err != nil || p.result != nil || d.pageSize == 0 || !p.closed || len(p.cookie) == 0 {
			return
		}
		cookie = append(cookie[:0], p.cookie...)
	}
}

// endPage takes the page back from the Tap once go-ldap's search returned
// and records how the page ended.
func endPage(conn *ldap.Conn, tap *wire.Tap, p *bulkPage, sr *ldap.SearchResult, err error) {
	stoppedHere := false
	if tap.Released() == nil {
		// The server did not end the page (no answer in time, or the
		// request never left): stop the connection, so that nothing more
		// arrives into the page, and take it back.
		stoppedHere = true
		conn.Close()
		tap.Disarm()
	}
	var le *ldap.Error
	switch {
	case p.Page.Err != nil && !stoppedHere:
		p.err = p.Page.Err // the Tap's own: a lost connection, a malformed message, a limit
	case !p.Done && err != nil:
		p.err = err // go-ldap's: no answer in time
	case !p.Done:
		p.err = fmt.Errorf("%w: the search ended without its SearchResultDone", errUnexpected)
	case errors.As(err, &le) && le.ResultCode < ldap.ErrorNetwork:
		p.result = err // the server's answer
	case err != nil:
		p.err = err
	}
	if sr != nil && len(sr.Entries)+len(sr.Referrals) > 0 && p.err == nil {
		// The Tap did not recognise the search go-ldap wrote.
		p.err = fmt.Errorf("%w: go-ldap received %d entries of the bulk read", errUnexpected, len(sr.Entries)+len(sr.Referrals))
	}
	if p.err != nil || p.result != nil || sr == nil {
		return
	}
	if c, ok := ldap.FindControl(sr.Controls, ldap.ControlTypePaging).(*ldap.ControlPaging); ok {
		p.closed = true
		p.cookie = append(p.cookie[:0], c.Cookie...)
	}
}

// readAll reads every base on the connection.
func (d *ldapDirectory) readAll(ctx context.Context, fn func(upnsync.Person) error) (upnsync.ReadResult, error) {
	var res upnsync.ReadResult
	pool := newPagePool()
	for _, base := range d.bases {
		res.Bases = append(res.Bases, upnsync.BaseCount{Base: base})
		bc := &res.Bases[len(res.Bases)-1]
		// The same search as a command an administrator can run.
		d.log.Info("search", "base", base, "ldapsearch", d.ldapsearchLine(base))
		if err := d.readBase(ctx, base, fn, &res, bc, pool); err != nil {
			return res, d.fail(&res, err)
		}
	}
	res.Complete = true
	return res, nil
}

// readBase reads one base: the fetcher goroutine fetches pages while this
// goroutine decodes them and calls fn. A page counts once all its entries
// went to fn and its closing paging control arrived with success (without
// paging: its SearchResultDone with success).
func (d *ldapDirectory) readBase(ctx context.Context, base string, fn func(upnsync.Person) error,
	res *upnsync.ReadResult, bc *upnsync.BaseCount, pool *pagePool) error {
	filter := d.readFilter()
	if _, err := ldap.CompileFilter(filter); err != nil {
		return newError(err, "user filter %q is not a valid LDAP filter: %s", filter, ldapErrText(err))
	}
	req := ldap.NewSearchRequest(base, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
		filter, d.dec.attrs, d.controls())
	conn, tap := d.conn, d.tap
	// Room for every page the byte budget allows: the fetcher never
	// blocks on handing a page over, only on the budget.
	out := make(chan *bulkPage, maxQueuedPages)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		d.fetchPages(conn, tap, req, pool, out, stop)
	}()
	finished := false
	defer func() {
		if !finished {
			// Interrupt the fetcher, which may be waiting for the server.
			close(stop)
			conn.Close()
		}
		wg.Wait()
	}()

	done := ctx.Done()
	for {
		var p *bulkPage
		select {
		case p = <-out:
		case <-done:
			return d.cancelled(ctx.Err(), res)
		}
		for i := range p.Len() {
			select {
			case <-done:
				return d.cancelled(ctx.Err(), res)
			default:
			}
			person, err := d.dec.wireEntry(p.Entry(i))
			if err != nil {
				return newError(err, "%s sent an entry upnsync cannot read in page %d of the read (%d entries): %v; the read is incomplete",
					d.url, res.Pages+1, res.Entries, err)
			}
			res.Entries++
			bc.Entries++
			if err := fn(person); err != nil {
				if ctxErr := ctx.Err(); ctxErr != nil && errors.Is(err, ctxErr) {
					return d.cancelled(ctxErr, res)
				}
				return d.stopped(err, res)
			}
		}
		res.Referrals += p.Refs
		bc.Referrals += p.Refs
		if p.err != nil {
			return d.wireError(p.err, base, res)
		}
		if p.result != nil {
			return d.searchError(p.result, base, res)
		}
		if d.pageSize > 0 && !p.closed {
			return newError(nil, "%s ended page %d of the read without a paging control (it may not support paged results; --page-size 0 reads without paging, up to its size limit), so the read cannot be proven complete; the read is incomplete",
				d.url, res.Pages+1)
		}
		res.Pages++
		bc.Pages++
		last := d.pageSize == 0 || len(p.cookie) == 0
		pool.put(p)
		if last {
			finished = true
			return nil
		}
	}
}

// wireError explains why a page could not be read to its end.
func (d *ldapDirectory) wireError(err error, base string, res *upnsync.ReadResult) error {
	var le *ldap.Error
	var ne net.Error
	switch {
	case errors.As(err, &le):
		return d.searchError(err, base, res)
	case errors.Is(err, wire.ErrLimit):
		return newError(err, "%s sent more than upnsync accepts in page %d of the read (%d entries): %v; the read is incomplete",
			d.url, res.Pages+1, res.Entries, err)
	case errors.Is(err, wire.ErrMalformed), errors.Is(err, errUnexpected):
		return newError(err, "%s sent a response upnsync cannot read in page %d of the read (%d entries): %v; the read is incomplete",
			d.url, res.Pages+1, res.Entries, err)
	case errors.As(err, &ne) && ne.Timeout(), errors.Is(err, os.ErrDeadlineExceeded):
		return d.searchError(ldap.NewError(ldap.ErrorNetwork, fmt.Errorf("ldap: connection timed out (%w)", err)), base, res)
	}
	return d.searchError(&ldap.Error{ResultCode: ldap.ErrorNetwork, Err: lostCause(err)}, base, res)
}
