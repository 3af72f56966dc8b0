package directory

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/upnsync/upnsync/sync/directory/internal/wire"
)

// One connection per run attempt: Open connects and binds, reads the
// rootDSE and the NetBIOS names; Read pages through every user, and the
// look-ups of departed people follow, all on that connection, so all of it
// comes from the same domain controller even behind a DNS name with
// several.
//
// The connection is go-ldap's, on a wire.Tap placed between the network
// connection (TLS included) and go-ldap. The Tap frames what the server
// sends and passes every message to go-ldap unchanged, except those of the
// bulk read: that paged search is the Tap's own (wire/bulk.go), its
// entries go into page buffers that upnsync decodes itself, and the Tap
// sends each next page's request as soon as a page ends. go-ldap's decoder
// allocates about 21 KB per entry and made the client the bottleneck; and
// a page's request sent through go-ldap waits for go-ldap's message-loop
// goroutine to be scheduled, about 0.4 ms a page here, 5-10% of a read
// (docs/performance.md). So upnsync's own protocol code is the framing,
// the bulk search's request and result, and the entry decoder; binds,
// StartTLS's and NTLM's aside (below), everything else is go-ldap's.
//
// Why a tap rather than a patched go-ldap (the other way the issue
// allowed): go-ldap stays as released, with no copy of its code to keep
// in step, and a patch would have to bypass its message loop too. The Tap
// depends only on go-ldap writing each request with one Write call and
// reading responses through its net.Conn, which every test of a read
// exercises. The Tap is also the one place that bounds what a server can
// make upnsync allocate, for go-ldap's messages as well as the bulk
// read's.
//
// Two steps run on the Tap before go-ldap starts (wire/exchange.go):
// StartTLS, so that the Tap sits above TLS and the handshake has a
// deadline and structured certificate errors; and an NTLM bind, which
// go-ldap only makes as AD's Sicily bind, which Samba refuses.

// connect dials, upgrades with StartTLS if asked, and binds. Each step is
// bounded by the connect timeout; requests after the bind by the timeout.
func (d *ldapDirectory) connect() error {
	nc, err := d.dial(d.tls)
	if err != nil {
		return err
	}
	tap := wire.NewTap(nc)
	step := func() { _ = tap.SetDeadline(time.Now().Add(d.connectTimeout)) }
	if d.opts.StartTLS {
		step()
		cfg := d.tls.Clone()
		cfg.ServerName = d.host // not taken from the URL, as for ldaps://
		ctx, cancel := context.WithTimeout(context.Background(), d.connectTimeout)
		err := tap.StartTLS(ctx, cfg)
		cancel()
		if err != nil {
			tap.Close()
			return d.startTLSFailed(err)
		}
	}
	if d.opts.NTLM {
		step()
		if err := tap.NTLMBind(d.opts.Login, d.opts.Password); err != nil {
			tap.Close()
			return d.bindError(asLDAPError(err))
		}
	}
	conn := ldap.NewConn(tap, d.encrypted())
	conn.Start()
	conn.SetTimeout(d.connectTimeout)
	step()
	if err := d.bind(conn); err != nil {
		conn.Close()
		return err
	}
	_ = tap.SetDeadline(time.Time{}) // from here go-ldap's per-request timeout
	conn.SetTimeout(d.timeout)
	d.conn, d.tap = conn, tap
	return nil
}

// bind makes the simple or Kerberos bind (NTLM's was made before go-ldap
// started; anonymous makes none).
func (d *ldapDirectory) bind(conn *ldap.Conn) error {
	switch {
	case d.opts.kerberos():
		return d.kerberosBind(conn)
	case d.opts.Anonymous, d.opts.NTLM:
		return nil
	}
	if err := conn.Bind(d.opts.Login, d.opts.Password); err != nil {
		return d.bindError(err)
	}
	return nil
}

// encrypted reports whether the connection is TLS (ldaps:// or StartTLS).
func (d *ldapDirectory) encrypted() bool { return d.opts.StartTLS || d.scheme() == "ldaps" }

func (d *ldapDirectory) scheme() string {
	u, err := url.Parse(d.url)
	if err != nil {
		return ""
	}
	return u.Scheme
}

// dial opens the network connection, with TLS from the first byte for
// ldaps:// (cfg: the handshake's settings). Its errors are explained: a
// server that accepted the connection and said nothing, and a port that
// speaks plain LDAP, among them.
func (d *ldapDirectory) dial(cfg *tls.Config) (net.Conn, error) {
	addr, err := hostPort(d.url)
	if err != nil {
		return nil, d.dialError(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), d.connectTimeout)
	defer cancel()
	nc, err := (&net.Dialer{Timeout: d.connectTimeout, Resolver: d.opts.Resolver}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, d.dialError(err)
	}
	if d.scheme() != "ldaps" {
		return nc, nil
	}
	hctx, hcancel := context.WithTimeout(context.Background(), d.connectTimeout)
	defer hcancel()
	tc := tls.Client(nc, cfg.Clone())
	if err := tc.HandshakeContext(hctx); err != nil {
		nc.Close()
		return nil, d.handshakeFailed(err)
	}
	return tc, nil
}

// handshakeFailed explains a failed TLS handshake of ldaps://.
func (d *ldapDirectory) handshakeFailed(err error) error {
	switch {
	case isCertError(err):
	case timedOut(err):
		return d.silent(err, "the TLS handshake")
	case endedEarly(err):
		if m := d.mismatch(true); m != nil {
			return m
		}
	}
	return d.dialError(err)
}

// startTLSFailed explains a failed StartTLS as a failed ldaps:// dial is
// explained: an untrusted certificate the same way, and a time-out or a
// lost connection never as a bare "EOF".
func (d *ldapDirectory) startTLSFailed(err error) error {
	var le *ldap.Error
	var cve *tls.CertificateVerificationError
	switch {
	case errors.As(err, &le):
		return d.startTLSError(err)
	case errors.As(err, &cve), isCertError(err):
		return d.dialError(err)
	case timedOut(err):
		return d.silent(err, "StartTLS")
	case endedEarly(err):
		if m := d.mismatch(false); m != nil {
			return m
		}
	}
	return d.startTLSError(&ldap.Error{ResultCode: ldap.ErrorNetwork, Err: lostCause(err)})
}

// broken explains an operation (what: "reading the rootDSE") that failed
// because the connection did: the Tap's reason (a limit, a malformed
// message, the server gone), or nil while the connection is usable.
func (d *ldapDirectory) broken(what string) error {
	if d.tap == nil {
		return nil
	}
	err := d.tap.Err()
	switch {
	case err == nil:
		return nil
	case errors.Is(err, wire.ErrLimit):
		return newError(err, "%s sent more than upnsync accepts while %s: %v", d.url, what, err)
	case errors.Is(err, wire.ErrMalformed):
		return newError(err, "%s sent a response upnsync cannot read while %s: %v", d.url, what, err)
	}
	return newError(&lostError{asLDAPError(err)}, "connection to %s lost while %s: %s", d.url, what, ldapErrText(asLDAPError(err)))
}

// asLDAPError gives an error of the connection the type go-ldap gives
// its own, so that bindError and Transient treat both alike.
func asLDAPError(err error) error {
	var le *ldap.Error
	if errors.As(err, &le) {
		return err
	}
	return &ldap.Error{ResultCode: ldap.ErrorNetwork, Err: lostCause(err)}
}

// probeCertificates fetches the certificate chain a StartTLS server
// presents, without trusting it, for doctor: nothing is sent but the
// StartTLS request, and the connection is closed without a bind. Its
// errors are explained.
func (d *ldapDirectory) probeCertificates(ctx context.Context) ([]*x509.Certificate, error) {
	addr, err := hostPort(d.url)
	if err != nil {
		return nil, d.dialError(err)
	}
	ctx, cancel := context.WithTimeout(ctx, d.connectTimeout)
	defer cancel()
	nc, err := (&net.Dialer{Timeout: d.connectTimeout, Resolver: d.opts.Resolver}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, d.dialError(err)
	}
	tap := wire.NewTap(nc)
	defer tap.Close()
	_ = tap.SetDeadline(time.Now().Add(d.connectTimeout))
	// Diagnosis only: the caller verifies the chain.
	cfg := &tls.Config{ServerName: d.host, MinVersion: tls.VersionTLS12, InsecureSkipVerify: true} //nolint:gosec // verified by the caller
	if err := tap.StartTLS(ctx, cfg); err != nil {
		return nil, d.startTLSFailed(err)
	}
	st, ok := tap.ConnectionState()
	if !ok {
		return nil, errors.New("no TLS state")
	}
	return st.PeerCertificates, nil
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
