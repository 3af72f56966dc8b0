package directory

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/upnsync/upnsync/sync/directory/internal/wire"
)

// Two mistakes of the scheme and port fail the same way every time, and
// only look like an outage: ldaps:// to a plain LDAP port (389, 3268), and
// ldap:// (StartTLS or not) to a TLS port (636, 3269). Servers answer
// neither with a message that says so: slapd and Samba close or reset the
// connection. So when a connection ends before its first answer, one
// short second connection asks the port in the other protocol: a plain
// StartTLS request (nothing secret) or a TLS handshake (nothing sent over
// it). If that is answered, the error names the scheme and port to use,
// and is not retried. And a server that accepts the connection and then
// says nothing for the whole connect timeout is not retried either: a
// wrong port or a hung service does not answer the next time.

// probeLimit bounds the second connection of a mismatch check.
const probeLimit = 5 * time.Second

// ErrProtocolMismatch is wrapped by the error of a connection whose scheme
// does not fit the port: TLS to a plain LDAP port, or plain LDAP to a TLS
// port.
var ErrProtocolMismatch = errors.New("the scheme does not fit the port")

// ErrSilent is wrapped by the error of a server that accepted the
// connection and did not answer within the connect timeout.
var ErrSilent = errors.New("no answer after the connection was accepted")

// silent explains a server that accepted the connection and then did not
// answer during (the TLS handshake, StartTLS, the bind) within the
// connect timeout.
func (d *ldapDirectory) silent(err error, during string) error {
	return newError(errors.Join(ErrSilent, err),
		"%s accepted the connection but did not answer %s within %s (%s): check that port %s is the directory's (ldaps:// is usually 636, ldap:// 389) and that the directory service is not hung; not tried again",
		d.url, during, d.connectTimeout, d.connectOption, d.port())
}

// endedEarly reports whether a connection ended without an answer, or
// with one that is not of the protocol spoken: closed, reset, or bytes
// that are not TLS (or not LDAP).
func endedEarly(err error) bool {
	var rhe tls.RecordHeaderError
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.ECONNABORTED) || errors.Is(err, syscall.EPIPE) || errors.As(err, &rhe) ||
		errors.Is(err, wire.ErrMalformed) || strings.Contains(strings.ToLower(err.Error()), "connection reset") ||
		strings.Contains(err.Error(), "EOF")
}

// mismatch checks, after a connection in the URL's protocol ended before
// its first answer, whether the port speaks the other one; it returns the
// error to report then, else nil. tlsFailed says which protocol failed:
// TLS (ldaps://) or plain LDAP (ldap://, StartTLS or not).
func (d *ldapDirectory) mismatch(tlsFailed bool) error {
	addr, err := hostPort(d.url)
	if err != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), min(d.connectTimeout, probeLimit))
	defer cancel()
	nc, err := (&net.Dialer{Resolver: d.opts.Resolver}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil
	}
	defer nc.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = nc.SetDeadline(dl)
	}
	host, port := d.host, d.port()
	if tlsFailed {
		if !speaksLDAP(ctx, nc, host) {
			return nil
		}
		alt := ""
		if p := tlsPortOf(port); p != "" {
			alt = fmt.Sprintf(", or ldaps://%s", net.JoinHostPort(host, p))
		}
		return newError(ErrProtocolMismatch, "%s: port %s speaks plain LDAP, not TLS: use ldap://%s with --start-tls%s",
			d.url, port, net.JoinHostPort(host, port), alt)
	}
	if !speaksTLS(ctx, nc, host) {
		return nil
	}
	alt := ""
	if p := plainPortOf(port); p != "" {
		alt = fmt.Sprintf(", or ldap://%s with --start-tls", net.JoinHostPort(host, p))
	}
	return newError(ErrProtocolMismatch, "%s: port %s speaks TLS from the first byte (LDAPS), not plain LDAP: use ldaps://%s without --start-tls%s",
		d.url, port, net.JoinHostPort(host, port), alt)
}

// speaksLDAP reports whether the server answers a plain StartTLS request
// with an LDAP message (whether it agrees or not).
func speaksLDAP(ctx context.Context, nc net.Conn, host string) bool {
	tap := wire.NewTap(nc)
	// Diagnosis only: nothing is sent over this TLS, if it comes to that.
	err := tap.StartTLS(ctx, &tls.Config{ServerName: host, InsecureSkipVerify: true}) //nolint:gosec // closed unused
	var le *ldap.Error
	return err == nil || errors.As(err, &le) && le.ResultCode != ldap.ErrorNetwork || isTLSAnswer(err)
}

// speaksTLS reports whether the server answers a TLS handshake with TLS:
// it completes, or the server sends an alert.
func speaksTLS(ctx context.Context, nc net.Conn, host string) bool {
	tc := tls.Client(nc, &tls.Config{ServerName: host, InsecureSkipVerify: true}) //nolint:gosec // nothing is sent over it
	return isTLSAnswer(tc.HandshakeContext(ctx))
}

// isTLSAnswer reports whether a handshake's outcome came from a TLS peer.
func isTLSAnswer(err error) bool {
	var alert tls.AlertError
	var rhe tls.RecordHeaderError
	switch {
	case err == nil, errors.As(err, &alert):
		return true
	case errors.As(err, &rhe):
		return false
	}
	return strings.Contains(err.Error(), "remote error: tls:")
}

// port is the URL's port, or the scheme's default.
func (d *ldapDirectory) port() string {
	addr, err := hostPort(d.url)
	if err != nil {
		return ""
	}
	_, port, _ := net.SplitHostPort(addr)
	return port
}

// tlsPortOf and plainPortOf pair AD's ports: LDAP 389 and LDAPS 636, the
// Global Catalog 3268 and 3269.
func tlsPortOf(port string) string {
	switch port {
	case "389":
		return "636"
	case "3268":
		return "3269"
	}
	return ""
}

func plainPortOf(port string) string {
	switch port {
	case "636":
		return "389"
	case "3269":
		return "3268"
	}
	return ""
}
