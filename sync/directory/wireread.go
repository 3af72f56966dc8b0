package directory

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-ldap/ldap/v3"

	upnsync "github.com/upnsync/upnsync/sync"
	"github.com/upnsync/upnsync/sync/directory/internal/wire"
)

// The paged read of every user goes through upnsync's own connection and
// decoder (package wire) instead of go-ldap, which allocates about 21 KB
// per entry and made the client, not the directory, the bottleneck
// (docs/performance.md). go-ldap still opens the directory (Open checks the
// address, the certificate and the credentials), reads the rootDSE and does
// unpaged reads.
//
// The read is pipelined: a reader goroutine sends the request for the next
// page as soon as the current page's last message has arrived and keeps
// the raw bytes of at most readAhead pages, while the caller's goroutine
// decodes and processes them. The directory never waits for upnsync's
// processing, and memory is bounded by those buffers whatever the size of
// the directory.

// The reader may run ahead of processing by startAheadBytes of raw pages
// until the first page has been processed, and by aheadBytes after that.
// The planner processes a page much faster than a directory serves one, so
// in steady state two or three pages are in use; but at the start of a run
// the planner waits for the store's snapshot (about 2 s for a million
// users), and letting the directory serve on meanwhile is worth a hundred
// megabytes for that moment: 0.9 s of a 1M-user run, with no higher peak
// memory, since the peak comes later (docs/performance.md). Pages beyond
// idlePages are let go once processed.
var (
	startAheadBytes int64 = 128 << 20
	aheadBytes      int64 = 4 << 20
)

const (
	idlePages = 4
	// maxQueuedPages bounds the count when pages are tiny (small page
	// sizes, or a search that finds few users).
	maxQueuedPages = 4096
)

// maxPageBytes bounds the raw bytes of one page. A directory that honours
// the page size sends well under a megabyte per page of users.
const maxPageBytes = 256 << 20

// rawPage is the raw bytes of one page of search results.
type rawPage struct {
	buf []byte
	// entries are the [start, end) offsets in buf of each entry's
	// LDAPMessage content.
	entries [][2]int
	refs    int
	// done is set when the SearchResultDone arrived, with its result;
	// closed when it carried a paging control, with the cookie.
	done   bool
	result wire.Result
	closed bool
	cookie []byte
	// err is why the page could not be read to its end (after the entries
	// above).
	err error
}

func (p *rawPage) reset() {
	p.buf = p.buf[:0]
	p.entries = p.entries[:0]
	p.refs = 0
	p.done, p.closed = false, false
	p.result = wire.Result{}
	p.cookie = p.cookie[:0]
	p.err = nil
}

// errUnexpected marks a response the search did not ask for.
var errUnexpected = errors.New("unexpected response")

// readPage reads the responses to search request id up to its
// SearchResultDone.
func readPage(c *wire.Conn, id int64, p *rawPage) error {
	for {
		start := len(p.buf)
		buf, err := c.ReadMessage(p.buf)
		p.buf = buf[:start]
		if err != nil {
			return err
		}
		msg := buf[start:]
		m, err := wire.ParseMessage(msg)
		if err != nil {
			return err
		}
		if m.ID != id {
			if m.ID == 0 && m.Tag == wire.TagExtendedResponse {
				return wire.Notice(m)
			}
			return fmt.Errorf("%w: message id %d (tag 0x%02x) during the search with id %d", errUnexpected, m.ID, m.Tag, id)
		}
		switch m.Tag {
		case wire.TagSearchResultEntry:
			p.buf = buf
			p.entries = append(p.entries, [2]int{start, len(buf)})
			if len(buf) > maxPageBytes {
				return fmt.Errorf("%w: page of over %d MB", errUnexpected, maxPageBytes>>20)
			}
		case wire.TagSearchResultRef:
			p.refs++
		case wire.TagSearchResultDone:
			if p.result, err = wire.ParseResult(m.Op); err != nil {
				return err
			}
			cookie, found, err := wire.PagingCookie(m.Controls)
			if err != nil {
				return err
			}
			p.done, p.closed = true, found
			p.cookie = append(p.cookie[:0], cookie...)
			return nil
		case wire.TagIntermediateResponse:
			// Not asked for; a server may send one anyway (RFC 4511 4.13).
		default:
			return fmt.Errorf("%w: tag 0x%02x during a search", errUnexpected, m.Tag)
		}
	}
}

// pagePool hands pages to the reader: idle ones first, new ones while the
// pages waiting to be processed stay under the budget.
type pagePool struct {
	idle     chan *rawPage
	buffered atomic.Int64 // bytes of pages handed over, not yet processed
	budget   atomic.Int64
	// size is the capacity new pages start with: the largest page so far,
	// so that a new page does not grow its buffer step by step.
	size atomic.Int64
}

func newPagePool() *pagePool {
	pp := &pagePool{idle: make(chan *rawPage, idlePages)}
	pp.budget.Store(startAheadBytes)
	return pp
}

// get returns a page for the reader, or nil when stop is closed.
func (pp *pagePool) get(stop <-chan struct{}) *rawPage {
	select {
	case p := <-pp.idle:
		return p
	default:
	}
	if pp.buffered.Load() < pp.budget.Load() {
		return &rawPage{buf: make([]byte, 0, pp.size.Load())}
	}
	select {
	case p := <-pp.idle:
		return p
	case <-stop:
		return nil
	}
}

// handed records a page the reader hands over.
func (pp *pagePool) handed(p *rawPage) {
	n := int64(len(p.buf))
	pp.buffered.Add(n)
	if n > pp.size.Load() {
		pp.size.Store(n)
	}
}

// put takes back a processed page; the first one ends the start.
func (pp *pagePool) put(p *rawPage) {
	pp.buffered.Add(-int64(len(p.buf)))
	pp.budget.Store(aheadBytes)
	select {
	case pp.idle <- p:
	default: // enough idle pages: let this one go
	}
}

// fetchPages is the reader goroutine of one base: it sends each page's
// request and reads its responses into a page, then hands the page over.
// It stops after the last page, after a page that failed or ended the
// search, or when stop is closed.
func fetchPages(c *wire.Conn, req *wire.SearchRequest, timeout time.Duration, pool *pagePool, out chan<- *rawPage, stop <-chan struct{}) {
	var cookie []byte
	for {
		p := pool.get(stop)
		if p == nil {
			return
		}
		p.reset()
		id, err := c.Search(req, cookie)
		if err == nil {
			// The timeout covers one page, as go-ldap's request timeout does.
			err = c.SetReadDeadline(time.Now().Add(timeout))
		}
		if err == nil {
			err = readPage(c, id, p)
		}
		p.err = err
		pool.handed(p)
		select {
		case out <- p:
		case <-stop:
			return
		}
		if err != nil || p.result.Code != ldap.LDAPResultSuccess || !p.closed || len(p.cookie) == 0 {
			return
		}
		cookie = append(cookie[:0], p.cookie...)
	}
}

// readWire reads every base over one connection of upnsync's own.
func (d *ldapDirectory) readWire(ctx context.Context, fn func(upnsync.Person) error) (upnsync.ReadResult, error) {
	var res upnsync.ReadResult
	if err := ctx.Err(); err != nil {
		return res, d.fail(&res, newError(err, "the read was cancelled before it started: %v", err))
	}
	c, err := d.dialWire(ctx)
	if err != nil {
		return res, d.fail(&res, err)
	}
	defer c.Unbind()
	pool := newPagePool()
	for _, base := range d.bases {
		res.Bases = append(res.Bases, upnsync.BaseCount{Base: base})
		bc := &res.Bases[len(res.Bases)-1]
		// As readAll does for go-ldap's reads: the same search as a command
		// an administrator can run.
		d.log.Info("search", "base", base, "ldapsearch", d.ldapsearchLine(base))
		if err := d.readWireBase(ctx, c, base, fn, &res, bc, pool); err != nil {
			return res, d.fail(&res, err)
		}
	}
	res.Complete = true
	return res, nil
}

// readWireBase reads one base: the reader goroutine fetches pages while
// this goroutine decodes them and calls fn. A page counts once all its
// entries went to fn and its closing paging control arrived with success.
func (d *ldapDirectory) readWireBase(ctx context.Context, c *wire.Conn, base string, fn func(upnsync.Person) error,
	res *upnsync.ReadResult, bc *upnsync.BaseCount, pool *pagePool) error {
	req := &wire.SearchRequest{Base: base, Filter: d.filter, Attrs: d.dec.attrs, PageSize: uint32(d.pageSize), Controls: d.controls()}
	if err := req.Compile(); err != nil {
		return newError(err, "user filter %q is not a valid LDAP filter: %s", d.filter, ldapErrText(err))
	}
	// Room for every page the byte budget allows: the reader never blocks
	// on handing a page over, only on the budget.
	out := make(chan *rawPage, maxQueuedPages)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		fetchPages(c, req, d.timeout, pool, out, stop)
	}()
	finished := false
	defer func() {
		if !finished {
			// Interrupt the reader, which may be waiting for the server.
			close(stop)
			c.Close()
		}
		wg.Wait()
	}()

	done := ctx.Done()
	for {
		var p *rawPage
		select {
		case p = <-out:
		case <-done:
			return d.cancelled(ctx.Err(), res)
		}
		for _, e := range p.entries {
			select {
			case <-done:
				return d.cancelled(ctx.Err(), res)
			default:
			}
			person, err := d.dec.wireEntry(p.buf[e[0]:e[1]])
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
		res.Referrals += p.refs
		bc.Referrals += p.refs
		if p.err != nil {
			return d.wireError(p.err, base, res)
		}
		if err := p.result.Err(); err != nil {
			return d.searchError(err, base, res)
		}
		if !p.closed {
			return newError(nil, "%s ended page %d of the read without a paging control (it may not support paged results; --page-size 0 reads without paging, up to its size limit), so the read cannot be proven complete; the read is incomplete",
				d.url, res.Pages+1)
		}
		res.Pages++
		bc.Pages++
		last := len(p.cookie) == 0
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
	case errors.Is(err, wire.ErrMalformed), errors.Is(err, errUnexpected):
		return newError(err, "%s sent a response upnsync cannot read in page %d of the read (%d entries): %v; the read is incomplete",
			d.url, res.Pages+1, res.Entries, err)
	case errors.As(err, &ne) && ne.Timeout(), errors.Is(err, os.ErrDeadlineExceeded):
		return d.searchError(ldap.NewError(ldap.ErrorNetwork, fmt.Errorf("ldap: connection timed out (%w)", err)), base, res)
	}
	return d.searchError(&ldap.Error{ResultCode: ldap.ErrorNetwork, Err: lostCause(err)}, base, res)
}

// lostCause says in words why a connection broke: never a bare "EOF".
func lostCause(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("the server closed the connection (%w)", err)
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		var sc *os.SyscallError
		if errors.As(op.Err, &sc) {
			return fmt.Errorf("%v (%w)", sc.Err, err)
		}
		return fmt.Errorf("%v (%w)", op.Err, err)
	}
	return err
}

// dialWire opens the reader's own connection: TLS or StartTLS as asked,
// then the bind. Errors are explained as Open explains go-ldap's.
func (d *ldapDirectory) dialWire(ctx context.Context) (*wire.Conn, error) {
	addr, err := hostPort(d.url)
	if err != nil {
		return nil, newError(err, "directory URL %s: %v", d.url, err)
	}
	var cfg *tls.Config
	if u, _ := url.Parse(d.url); u != nil && u.Scheme == "ldaps" {
		cfg = d.tls.Clone()
	}
	c, err := wire.Dial(ctx, addr, cfg, d.timeout, d.opts.Resolver)
	if err != nil {
		return nil, d.dialError(err)
	}
	if d.opts.StartTLS {
		cfg := d.tls.Clone()
		cfg.ServerName = d.host
		if err := c.StartTLS(ctx, cfg); err != nil {
			c.Close()
			var le *ldap.Error
			var cve *tls.CertificateVerificationError
			switch {
			case errors.As(err, &le):
				return nil, d.startTLSError(err)
			case errors.As(err, &cve), isCertError(err):
				return nil, d.dialError(err)
			}
			// As go-ldap reports them, so that startTLSError and Transient
			// treat both connections alike: a time-out (of the StartTLS
			// answer or of the handshake) says "no answer within", and a
			// lost connection is never a bare "EOF".
			return nil, d.startTLSError(&ldap.Error{ResultCode: ldap.ErrorNetwork, Err: lostCause(err)})
		}
	}
	if d.opts.kerberos() {
		if err := d.kerberosBindWire(c); err != nil {
			c.Close()
			return nil, err
		}
	} else if !d.opts.Anonymous {
		bind := c.Bind
		if d.opts.NTLM {
			bind = c.NTLMBind
		}
		if err := bind(d.opts.Login, d.opts.Password); err != nil {
			c.Close()
			var le *ldap.Error
			if !errors.As(err, &le) {
				err = &ldap.Error{ResultCode: ldap.ErrorNetwork, Err: lostCause(err)}
			}
			return nil, d.bindError(err)
		}
	}
	return c, nil
}

// hostPort is the host:port of an ldap:// or ldaps:// URL, with the
// protocol's default port when it names none.
func hostPort(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", err
	}
	port := u.Port()
	if port == "" {
		port = ldap.DefaultLdapPort
		if u.Scheme == "ldaps" {
			port = ldap.DefaultLdapsPort
		}
	}
	return net.JoinHostPort(u.Hostname(), port), nil
}
