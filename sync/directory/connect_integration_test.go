package directory_test

// Failures of connecting that fail the same way every time, against the
// real slapd and Samba of scripts/testdirs.sh: a scheme that does not fit
// the port (both ways, StartTLS included), and a server that accepts the
// connection and never answers. Each is recognised within one attempt,
// said in one line naming what to use, and not transient (not retried).

import (
	"errors"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/upnsync/upnsync/internal/testenv"
	"github.com/upnsync/upnsync/sync/directory"
)

// addrOf is the host:port of an LDAP URL, with the scheme's default port
// when it names none, and the port alone.
func addrOf(t *testing.T, raw string) (hostport, p string) {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	p = u.Port()
	switch {
	case p != "":
	case u.Scheme == "ldaps":
		p = "636"
	default:
		p = "389"
	}
	return net.JoinHostPort(u.Hostname(), p), p
}

// openFails opens o, expects it to fail within limit with an error that
// contains every want, on one line, without the password, and that is
// not worth a new attempt.
func openFails(t *testing.T, o directory.Options, limit time.Duration, want ...string) error {
	t.Helper()
	start := time.Now()
	d, err := directory.Open(o)
	took := time.Since(start)
	if err == nil {
		d.Close()
		t.Fatalf("Open succeeded, want %q", want)
	}
	t.Logf("%s (in %s)", err, took.Round(time.Millisecond))
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error = %q\nwant it to contain %q", err, w)
		}
	}
	if strings.ContainsAny(err.Error(), "\r\n") || o.Password != "" && strings.Contains(err.Error(), o.Password) {
		t.Errorf("error spans lines or leaks the password: %q", err)
	}
	if directory.Transient(err) {
		t.Errorf("the error is transient (would be retried): %q", err)
	}
	if took > limit {
		t.Errorf("took %s, want under %s", took, limit)
	}
	return err
}

// The scheme does not fit the port, on slapd (1389/1636) and on Samba (AD's
// 389/636): ldaps:// to the plain port, ldap:// with StartTLS and ldap://
// with a plain bind to the TLS port.
func TestProtocolMismatch(t *testing.T) {
	type server struct {
		name       string
		plain, tls string // ldap://host:port and ldaps://host:port
		opts       directory.Options
	}
	var servers []server
	t.Run("slapd", func(t *testing.T) {
		e := testenv.LDAP(t)
		servers = append(servers, server{"slapd", e.URL, e.LDAPSURL, baseOptions(e)})
	})
	t.Run("samba", func(t *testing.T) {
		e := testenv.Samba(t)
		servers = append(servers, server{"samba", e.URL, e.LDAPSURL, sambaOptions(e)})
	})
	for _, s := range servers {
		plainHP, plainPort := addrOf(t, s.plain)
		tlsHP, tlsPort := addrOf(t, s.tls)
		t.Run(s.name+"/ldaps to the plain port", func(t *testing.T) {
			o := s.opts
			o.URL = "ldaps://" + plainHP
			want := []string{"ldaps://" + plainHP + ": port " + plainPort + " speaks plain LDAP, not TLS: use ldap://" + plainHP + " with --start-tls"}
			if s.name == "samba" {
				want = append(want, ", or ldaps://"+tlsHP)
			}
			err := openFails(t, o, 10*time.Second, want...)
			if !errors.Is(err, directory.ErrProtocolMismatch) {
				t.Errorf("error does not wrap ErrProtocolMismatch: %v", err)
			}
		})
		for _, startTLS := range []bool{true, false} {
			name := "ldap with StartTLS to the TLS port"
			if !startTLS {
				name = "ldap with a plain bind to the TLS port"
			}
			t.Run(s.name+"/"+name, func(t *testing.T) {
				o := s.opts
				o.URL, o.StartTLS, o.AllowPlaintextBind = "ldap://"+tlsHP, startTLS, !startTLS
				want := []string{"ldap://" + tlsHP + ": port " + tlsPort + " speaks TLS from the first byte (LDAPS), not plain LDAP: use ldaps://" + tlsHP + " without --start-tls"}
				if s.name == "samba" {
					want = append(want, ", or ldap://"+plainHP+" with --start-tls")
				}
				err := openFails(t, o, 10*time.Second, want...)
				if !errors.Is(err, directory.ErrProtocolMismatch) {
					t.Errorf("error does not wrap ErrProtocolMismatch: %v", err)
				}
			})
		}
	}
}

// silentListener accepts connections and never answers; it closes them
// when the test ends.
func silentListener(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				close(done)
				return
			}
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() {
		l.Close()
		<-done
		for _, c := range conns {
			c.Close()
		}
	})
	return l.Addr().String()
}

// A port that accepts the connection and never answers fails once the
// connect timeout has passed, whichever step waits for the answer (the
// TLS handshake, StartTLS, the bind), and the error says so; the page
// timeout (--timeout) does not stretch it.
func TestSilentServer(t *testing.T) {
	addr := silentListener(t)
	for _, tt := range []struct {
		name   string
		url    string
		tls    bool
		during string
	}{
		{"ldaps", "ldaps://" + addr, false, "the TLS handshake"},
		{"StartTLS", "ldap://" + addr, true, "StartTLS"},
		{"plain bind", "ldap://" + addr, false, "the bind"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o := directory.Options{URL: tt.url, StartTLS: tt.tls, AllowPlaintextBind: true, Login: "cn=svc", Password: "secret",
				Bases: []string{"dc=corp,dc=example,dc=com"}, Timeout: time.Hour, ConnectTimeout: time.Second}
			err := openFails(t, o, 5*time.Second, tt.url+" accepted the connection but did not answer "+tt.during+" within 1s (--connect-timeout)",
				"not tried again")
			if !errors.Is(err, directory.ErrSilent) {
				t.Errorf("error does not wrap ErrSilent: %v", err)
			}
		})
	}
}
