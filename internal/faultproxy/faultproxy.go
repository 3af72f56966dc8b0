// Package faultproxy is a TCP proxy for tests: it stands between upnsync and
// a real server (the test directory, later the test database) and breaks
// connections on purpose, so that tests can show what upnsync does when the
// network fails in the middle of a read: the connection dropped (FIN) or
// reset (RST) after a given number of bytes or LDAP pages, or the server's
// answers held back for a while (a stalled server).
//
// Faults act on the server-to-client direction, where a read lives: the
// client's requests always get through, the answers stop. Each accepted
// connection gets the next fault of the script (Script), then the default
// (Always, Pass unless set), so "drop the first connection, pass the retry"
// is Script(Fault{Action: Drop, AfterPages: 2}).
package faultproxy

import (
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// Action is what a fault does when it strikes.
type Action int

const (
	// Pass relays everything: no fault.
	Pass Action = iota
	// Drop closes both sides of the connection (a FIN to the client), as a
	// server that went away or a firewall that closed an idle connection.
	Drop
	// Reset closes the client's side with a TCP RST (SO_LINGER 0), as a
	// crashed server or a middlebox that forgot the connection.
	Reset
	// Stall holds the server's answers back for Fault.Stall, then relays
	// again; the client's requests still reach the server.
	Stall
)

func (a Action) String() string {
	switch a {
	case Pass:
		return "pass"
	case Drop:
		return "drop"
	case Reset:
		return "reset"
	case Stall:
		return "stall"
	}
	return fmt.Sprintf("Action(%d)", int(a))
}

// Fault is what happens to one connection.
type Fault struct {
	Action Action
	// AfterBytes is how many bytes of the server's answers reach the client
	// before the fault strikes (0: before the first byte).
	AfterBytes int64
	// AfterPages, when above 0, makes the fault strike right after the
	// server's AfterPages-th LDAP SearchResultDone message (the end of a
	// page of a paged search) reached the client, instead of AfterBytes.
	// The proxy can only see LDAP messages on a plain ldap:// connection;
	// through TLS (ldaps://, StartTLS) use AfterBytes, calibrated from a
	// clean read's Stats.
	AfterPages int
	// Stall is how long a Stall holds the answers back; 0 holds them until
	// the client gives up and closes the connection.
	Stall time.Duration
}

func (f Fault) String() string {
	if f.Action == Pass {
		return "pass"
	}
	at := fmt.Sprintf("after %d bytes", f.AfterBytes)
	if f.AfterPages > 0 {
		at = fmt.Sprintf("after %d pages", f.AfterPages)
	}
	if f.Action == Stall {
		d := "until closed"
		if f.Stall > 0 {
			d = "for " + f.Stall.String()
		}
		return fmt.Sprintf("stall %s %s", d, at)
	}
	return f.Action.String() + " " + at
}

// ConnStats describes one connection the proxy relayed.
type ConnStats struct {
	Fault Fault
	// ServerBytes is how many bytes of the server's answers reached the client.
	ServerBytes int64
	// ClientBytes is how many bytes of the client's requests reached the server.
	ClientBytes int64
	// Pages counts LDAP SearchResultDone messages that reached the client
	// (plain ldap:// only); PageEnds are the ServerBytes offsets where each
	// ended, which is what AfterBytes needs for a drop inside a given page.
	Pages    int
	PageEnds []int64
	// Struck tells whether the fault struck.
	Struck bool
	// Unframed is set when the stream stopped looking like LDAP messages
	// (TLS, or another protocol): Pages stopped counting there.
	Unframed bool
}

// Proxy relays connections from its listening address to a target.
type Proxy struct {
	l      net.Listener
	target string

	mu       sync.Mutex
	script   []Fault
	always   Fault
	conns    []*conn
	accepted chan struct{} // signalled on each accepted connection
	closed   bool
	wg       sync.WaitGroup
}

type conn struct {
	client, server net.Conn
	// done is closed when the client's side ends (the client closed it, or
	// the proxy did): a stall waits on it.
	done  chan struct{}
	mu    sync.Mutex
	stats ConnStats
}

// Start listens on a free port of 127.0.0.1 and relays each connection to
// target (host:port).
func Start(target string) (*Proxy, error) {
	return Listen("127.0.0.1:0", target)
}

// Listen is Start on a given address (127.0.0.2:0 gives another name for
// the same server, for certificate name tests).
func Listen(addr, target string) (*Proxy, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	p := &Proxy{l: l, target: target, accepted: make(chan struct{}, 1)}
	p.wg.Add(1)
	go p.serve()
	return p, nil
}

// Addr is the proxy's host:port.
func (p *Proxy) Addr() string { return p.l.Addr().String() }

// URL is scheme://host:port of the proxy, e.g. URL("ldaps").
func (p *Proxy) URL(scheme string) string { return scheme + "://" + p.Addr() }

// Script sets the faults of the next connections, one each, in order;
// connections after them get the default (see Always).
func (p *Proxy) Script(faults ...Fault) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.script = append([]Fault(nil), faults...)
}

// Always sets the fault of every connection the script does not cover.
func (p *Proxy) Always(f Fault) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.always = f
}

// Connections is the number of connections accepted so far.
func (p *Proxy) Connections() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns)
}

// WaitConnections waits until n connections were accepted, or d passed; it
// reports whether they were.
func (p *Proxy) WaitConnections(n int, d time.Duration) bool {
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for p.Connections() < n {
		select {
		case <-p.accepted:
		case <-deadline.C:
			return p.Connections() >= n
		}
	}
	return true
}

// Stats describes every connection accepted so far, in order.
func (p *Proxy) Stats() []ConnStats {
	p.mu.Lock()
	conns := append([]*conn(nil), p.conns...)
	p.mu.Unlock()
	out := make([]ConnStats, len(conns))
	for i, c := range conns {
		c.mu.Lock()
		out[i] = c.stats
		out[i].PageEnds = append([]int64(nil), c.stats.PageEnds...)
		c.mu.Unlock()
	}
	return out
}

// DropAll closes every open connection now, as a server does with idle
// connections; new connections are still accepted.
func (p *Proxy) DropAll() {
	p.mu.Lock()
	conns := append([]*conn(nil), p.conns...)
	p.mu.Unlock()
	for _, c := range conns {
		c.client.Close()
		c.server.Close()
	}
}

// Close stops listening, closes every connection and waits for the relays
// to end.
func (p *Proxy) Close() error {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	err := p.l.Close()
	p.DropAll()
	p.wg.Wait()
	return err
}

func (p *Proxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.l.Accept()
		if err != nil {
			return
		}
		s, err := net.DialTimeout("tcp", p.target, 10*time.Second)
		if err != nil {
			// The target is down: the client sees its connection closed,
			// as it would see it refused.
			c.Close()
			continue
		}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			c.Close()
			s.Close()
			return
		}
		f := p.always
		if len(p.script) > 0 {
			f, p.script = p.script[0], p.script[1:]
		}
		pc := &conn{client: c, server: s, done: make(chan struct{}), stats: ConnStats{Fault: f}}
		p.conns = append(p.conns, pc)
		p.mu.Unlock()
		select {
		case p.accepted <- struct{}{}:
		default:
		}

		p.wg.Add(2)
		go func() {
			defer p.wg.Done()
			n, _ := io.Copy(s, c)
			pc.mu.Lock()
			pc.stats.ClientBytes += n
			pc.mu.Unlock()
			close(pc.done)
			// The client is gone (or its side was closed by a fault): so is
			// the server's connection.
			s.Close()
			c.Close()
		}()
		go func() {
			defer p.wg.Done()
			pc.relay()
			c.Close()
			s.Close()
		}()
	}
}

// relay copies the server's answers to the client and applies the fault.
func (c *conn) relay() {
	f := c.stats.Fault
	var fr framer
	buf := make([]byte, 32*1024)
	// strike applies the fault; it reports whether relaying goes on.
	strike := func() bool {
		c.mu.Lock()
		c.stats.Struck = true
		c.mu.Unlock()
		switch f.Action {
		case Drop:
			return false
		case Reset:
			if tc, ok := c.client.(*net.TCPConn); ok {
				_ = tc.SetLinger(0)
			}
			return false
		case Stall:
			var until <-chan time.Time
			if f.Stall > 0 {
				t := time.NewTimer(f.Stall)
				defer t.Stop()
				until = t.C
			}
			select {
			case <-c.done: // the client gave up
				return false
			case <-until:
				return true
			}
		}
		return true
	}
	armed := f.Action != Pass
	if armed && f.AfterPages <= 0 && f.AfterBytes <= 0 {
		armed = false
		if !strike() {
			return
		}
	}
	for {
		n, err := c.server.Read(buf)
		data := buf[:n]
		for len(data) > 0 {
			chunk := data
			hit := false
			if armed {
				if f.AfterPages > 0 {
					if end, ok := fr.untilPage(data, f.AfterPages-c.pages()); ok {
						chunk, hit = data[:end], true
					}
				} else if left := f.AfterBytes - c.serverBytes(); int64(len(data)) >= left {
					chunk, hit = data[:left], true
				}
			}
			if _, werr := c.client.Write(chunk); werr != nil {
				return
			}
			c.count(chunk, &fr)
			data = data[len(chunk):]
			if hit {
				armed = false
				if !strike() {
					return
				}
			}
		}
		if err != nil {
			return
		}
	}
}

func (c *conn) pages() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stats.Pages
}

func (c *conn) serverBytes() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stats.ServerBytes
}

// count records bytes that reached the client, and the pages they ended.
func (c *conn) count(b []byte, fr *framer) {
	ends := fr.feed(b)
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range ends {
		c.stats.Pages++
		c.stats.PageEnds = append(c.stats.PageEnds, c.stats.ServerBytes+int64(e))
	}
	c.stats.ServerBytes += int64(len(b))
	c.stats.Unframed = fr.broken
}
