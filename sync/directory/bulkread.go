package directory

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync/atomic"

	"github.com/go-ldap/ldap/v3"

	"github.com/upnsync/upnsync/internal/plural"
	upnsync "github.com/upnsync/upnsync/sync"
	"github.com/upnsync/upnsync/sync/directory/internal/wire"
)

// The bulk read of every user runs on the run's one connection, go-ldap's,
// but outside go-ldap's message loop: the connection's wire.Tap sends each
// page's search and takes its responses out of the stream (wire/bulk.go),
// and this goroutine decodes the entries (decode_wire.go) with one
// allocation per person. go-ldap's decoder allocates about 21 KB per entry
// and its message loop makes each page's request wait for a goroutine of
// its own to be scheduled (docs/performance.md).
//
// The read is pipelined: the Tap requests the next page as soon as the
// current page's SearchResultDone has arrived, within a budget of raw
// pages waiting to be processed, while this goroutine decodes and
// processes them. The directory never waits for upnsync's processing, and
// memory is bounded by those buffers whatever the size of the directory.

// The reader may run ahead of processing by startAheadBytes of raw pages
// until the first page has been processed, and by aheadBytes after that.
// The planner processes a page much faster than a directory serves one, so
// in steady state two or three pages are in use; but at the start of a run
// the planner waits for the store's snapshot (2 s for a million users, 4 s
// once a first apply has put 900,000 entries in upnsync's ledger), and
// letting the directory serve on meanwhile saves part of that wait. Those
// pages add to the snapshot's memory while it is being built, which after
// a rollout is the run's peak: 128 MB of read-ahead made the nightly run
// that follows a 1M-user rollout peak at 517-535 MB, 48 MB at 390 MB, for
// about 0.4 s of a 12 s run (docs/performance.md, issue 17). Pages beyond
// idlePages are let go once processed. One page may hold at most
// wire.MaxPage bytes, and a page only grows past the budget when no other
// waits (pagePool.room): what a server can make the reader hold is the
// larger of the budget and one page.
var (
	startAheadBytes int64 = 48 << 20
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

// pagePool hands pages to the reader: idle ones first, new ones while the
// pages waiting to be processed stay under the budget.
type pagePool struct {
	idle     chan *wire.Page
	buffered atomic.Int64 // bytes of pages handed over, not yet processed
	budget   atomic.Int64
	freed    chan struct{} // signalled when a page was processed
}

func newPagePool() *pagePool {
	pp := &pagePool{idle: make(chan *wire.Page, idlePages), freed: make(chan struct{}, 1)}
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

// get returns an empty page for the reader, or nil when stop is closed.
func (pp *pagePool) get(stop <-chan struct{}) *wire.Page {
	var p *wire.Page
	select {
	case p = <-pp.idle:
	default:
		if pp.buffered.Load() < pp.budget.Load() {
			return &wire.Page{}
		}
		select {
		case p = <-pp.idle:
		case <-stop:
			return nil
		}
	}
	p.Reset()
	return p
}

// handed records a page the reader hands over.
func (pp *pagePool) handed(p *wire.Page) { pp.buffered.Add(int64(p.Bytes)) }

// put takes back a processed page; the first one ends the start.
func (pp *pagePool) put(p *wire.Page) {
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

// readAll reads every base on the connection.
func (d *ldapDirectory) readAll(ctx context.Context, fn func(upnsync.Person) error) (upnsync.ReadResult, error) {
	res := upnsync.ReadResult{Whole: d.readsWhole()}
	pool := newPagePool()
	d.once = newOnceGuard(len(d.bases))
	defer d.warnRepeats()
	for _, base := range d.bases {
		res.Bases = append(res.Bases, upnsync.BaseCount{Base: base})
		bc := &res.Bases[len(res.Bases)-1]
		// The same search as a command an administrator can run.
		d.log.Info("search", "base", base, "ldapsearch", d.ldapsearchLogLine(base))
		if err := d.readBase(ctx, base, fn, &res, bc, pool); err != nil {
			return res, d.fail(&res, err)
		}
	}
	res.Complete = true
	return res, nil
}

// warnRepeats says how many people a read met under two bases and passed
// once.
func (d *ldapDirectory) warnRepeats() {
	if d.once != nil && d.once.repeats > 0 {
		d.log.Warn("people returned by more than one search base were read once", "directory", d.url,
			"repeats", d.once.repeats, "bases", strings.Join(d.bases, "; "))
	}
	d.once = nil
}

// readBase reads one base: the Tap fetches pages while this goroutine
// decodes them and calls fn. A page counts once all its entries
// went to fn and its closing paging control arrived with success (without
// paging: its SearchResultDone with success).
func (d *ldapDirectory) readBase(ctx context.Context, base string, fn func(upnsync.Person) error,
	res *upnsync.ReadResult, bc *upnsync.BaseCount, pool *pagePool) error {
	filter := d.readFilter()
	if _, err := ldap.CompileFilter(filter); err != nil {
		return newError(err, "user filter %q is not a valid LDAP filter: %s", filter, ldapErrText(err))
	}
	// Room for every page the byte budget allows: the Tap never blocks on
	// handing a page over, only on the budget.
	out := make(chan *wire.Page, maxQueuedPages)
	stop := make(chan struct{})
	search := &wire.BulkSearch{Base: base, Filter: filter, Attrs: d.dec.attrs, PageSize: uint32(d.pageSize),
		Controls: d.controls(), Timeout: d.timeout,
		Next: func() *wire.Page { return pool.get(stop) },
		Room: func(size int) bool { return pool.room(size, stop) },
		Done: func(p *wire.Page) {
			pool.handed(p)
			select {
			case out <- p:
			case <-stop:
			}
		},
	}
	conn := d.conn
	if err := d.tap.Bulk(search); err != nil {
		return d.wireError(err, base, res)
	}
	finished := false
	defer func() {
		if !finished {
			// Stop the search, which may be waiting for the server.
			close(stop)
			conn.Close()
		}
	}()

	done := ctx.Done()
	for {
		var p *wire.Page
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
				return newError(err, "%s sent an entry upnsync cannot read in page %d of the read (%s): %v; the read is incomplete",
					d.url, res.Pages+1, plural.Count(res.Entries, "entry"), err)
			}
			if !d.once.first(person.GUID, person.DN) {
				continue // read through an earlier base
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
		if p.Err != nil {
			return d.wireError(p.Err, base, res)
		}
		if err := p.Result.Err(); err != nil {
			return d.searchError(err, base, res)
		}
		if d.pageSize > 0 && !p.Paged {
			return newError(nil, "%s ended page %d of the read without a paging control (it may not support paged results; --page-size 0 reads without paging, up to its size limit), so the read cannot be proven complete; the read is incomplete",
				d.url, res.Pages+1)
		}
		res.Pages++
		bc.Pages++
		last := d.pageSize == 0 || len(p.Cookie) == 0
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
		return newError(err, "%s sent more than upnsync accepts in page %d of the read (%s): %v; the read is incomplete",
			d.url, res.Pages+1, plural.Count(res.Entries, "entry"), err)
	case errors.Is(err, wire.ErrMalformed):
		return newError(err, "%s sent a response upnsync cannot read in page %d of the read (%s): %v; the read is incomplete",
			d.url, res.Pages+1, plural.Count(res.Entries, "entry"), err)
	case errors.As(err, &ne) && ne.Timeout(), errors.Is(err, os.ErrDeadlineExceeded):
		return d.searchError(ldap.NewError(ldap.ErrorNetwork, fmt.Errorf("ldap: connection timed out (%w)", err)), base, res)
	}
	return d.searchError(&ldap.Error{ResultCode: ldap.ErrorNetwork, Err: lostCause(err)}, base, res)
}
