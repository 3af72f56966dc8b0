package directory_test

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"

	"golang.org/x/net/dns/dnsmessage"
)

// dnsServer is a real DNS server on a loopback UDP port, answering from
// records the test gives: SRV records to locate domain controllers, A
// records for their host names, NXDOMAIN for every other name. The
// resolver it returns sends every query there (never to the system's DNS).
type dnsServer struct {
	pc  net.PacketConn
	srv map[string][]dnsmessage.SRVResource // by lower-case name with the trailing dot
	a   map[string][4]byte

	mu      sync.Mutex
	queries []string // "SRV _ldap._tcp.corp.example.com."
}

type srvRecord struct {
	priority, weight uint16
	target           string
	port             int
}

func startDNS(t *testing.T) *dnsServer {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("cannot listen for DNS on loopback: %v", err)
	}
	s := &dnsServer{pc: pc, srv: map[string][]dnsmessage.SRVResource{}, a: map[string][4]byte{}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.serve()
	}()
	t.Cleanup(func() {
		pc.Close()
		<-done
	})
	return s
}

func fqdn(name string) string {
	name = strings.ToLower(name)
	if !strings.HasSuffix(name, ".") {
		name += "."
	}
	return name
}

// SRV adds the SRV records of name (such as _ldap._tcp.corp.example.com).
func (s *dnsServer) SRV(name string, recs ...srvRecord) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range recs {
		s.srv[fqdn(name)] = append(s.srv[fqdn(name)], dnsmessage.SRVResource{Priority: r.priority, Weight: r.weight,
			Port: uint16(r.port), Target: dnsmessage.MustNewName(fqdn(r.target))})
	}
}

// A makes host resolve to 127.0.0.1.
func (s *dnsServer) A(host string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.a[fqdn(host)] = [4]byte{127, 0, 0, 1}
}

func (s *dnsServer) asked() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.queries...)
}

// Resolver sends every query to this server.
func (s *dnsServer) Resolver() *net.Resolver {
	addr := s.pc.LocalAddr().String()
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", addr)
	}}
}

func (s *dnsServer) serve() {
	buf := make([]byte, 1500)
	for {
		n, from, err := s.pc.ReadFrom(buf)
		if err != nil {
			return
		}
		var p dnsmessage.Parser
		h, err := p.Start(buf[:n])
		if err != nil {
			continue
		}
		q, err := p.Question()
		if err != nil {
			continue
		}
		name := strings.ToLower(q.Name.String())
		s.mu.Lock()
		s.queries = append(s.queries, q.Type.String()[4:]+" "+name)
		srvs, hasSRV := s.srv[name]
		a, hasA := s.a[name]
		s.mu.Unlock()

		b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true, RecursionDesired: h.RecursionDesired})
		b.EnableCompression()
		if !hasSRV && !hasA {
			b = dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true,
				RecursionDesired: h.RecursionDesired, RCode: dnsmessage.RCodeNameError})
		}
		_ = b.StartQuestions()
		_ = b.Question(q)
		_ = b.StartAnswers()
		rh := dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 60}
		switch {
		case q.Type == dnsmessage.TypeSRV && hasSRV:
			for _, r := range srvs {
				_ = b.SRVResource(rh, r)
			}
		case q.Type == dnsmessage.TypeA && hasA:
			_ = b.AResource(rh, dnsmessage.AResource{A: a})
		}
		msg, err := b.Finish()
		if err != nil {
			continue
		}
		_, _ = s.pc.WriteTo(msg, from)
	}
}
