package directory

import (
	"crypto/tls"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// dial connects as ldap.DialURL does, but hands back the network
// connection too, so that connect can bound each step of the connection
// phase with the timeout: go-ldap's StartTLS runs its TLS handshake with no
// deadline at all, and a server that stalls there would hold the run
// forever instead of failing after --timeout.
func (d *ldapDirectory) dial() (*ldap.Conn, net.Conn, error) {
	u, err := url.Parse(d.url)
	if err != nil {
		return nil, nil, err
	}
	secure := strings.EqualFold(u.Scheme, "ldaps")
	port := u.Port()
	if port == "" {
		port = ldap.DefaultLdapPort
		if secure {
			port = ldap.DefaultLdapsPort
		}
	}
	addr := net.JoinHostPort(u.Hostname(), port)
	dialer := &net.Dialer{Timeout: d.timeout, Resolver: d.opts.Resolver}
	var raw net.Conn
	if secure {
		raw, err = tls.DialWithDialer(dialer, "tcp", addr, d.tls.Clone())
	} else {
		raw, err = dialer.Dial("tcp", addr)
	}
	if err != nil {
		return nil, nil, err
	}
	conn := ldap.NewConn(raw, secure)
	conn.Start()
	return conn, raw, nil
}

// deadline bounds the next step of the connection phase; the zero time
// lifts it once the connection is ready, where go-ldap's per-request
// timeout takes over.
func deadline(raw net.Conn, timeout time.Duration) {
	if timeout <= 0 {
		_ = raw.SetDeadline(time.Time{})
		return
	}
	_ = raw.SetDeadline(time.Now().Add(timeout))
}
