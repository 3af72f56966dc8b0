package directory

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"syscall"

	"github.com/go-ldap/ldap/v3"
)

// Transient reports whether a directory error (from Open or Read) may pass
// on its own, so that a new attempt on a new connection is worth it: the
// connection lost or reset, no answer in time, the server busy or
// unavailable. A wrong password, an untrusted certificate, a missing base,
// a bad filter, a size limit or a malformed LDIF file fail the same way
// every time, and a run the administrator cancelled must stop: none of
// these is transient. (Nor is anything once the run's own context is done:
// the caller checks that.)
func Transient(err error) bool {
	if err == nil {
		return false
	}
	// Cancelled by the administrator (or the scheduler): stop. Not so a
	// deadline: the dialer reports a TLS handshake that took longer than
	// the timeout as context.DeadlineExceeded itself, so a deadline is a
	// time-out here, and whoever retries checks its own context first.
	if errors.Is(err, context.Canceled) {
		return false
	}
	// A mistake of the configuration fails the same way every time: a
	// file that cannot be read (a keytab, a credential cache, krb5.conf),
	// a scheme that does not fit the port, a server that accepted the
	// connection and said nothing (a wrong port, a hung service), a
	// Kerberos refusal that names the principal, its keys or the clock.
	if errors.Is(err, ErrLDIF) || isCertError(err) || errors.Is(err, ErrProtocolMismatch) || errors.Is(err, ErrSilent) {
		return false
	}
	var pathErr *os.PathError
	if errors.As(err, &pathErr) {
		return false
	}
	var ke *kerberosError
	if errors.As(err, &ke) {
		return ke.transient
	}
	var cve *tls.CertificateVerificationError
	var rhe tls.RecordHeaderError
	var alert tls.AlertError
	var x509Err x509.SystemRootsError
	if errors.As(err, &cve) || errors.As(err, &rhe) || errors.As(err, &alert) || errors.As(err, &x509Err) {
		return false
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return dnsErr.IsTimeout || dnsErr.IsTemporary
	}
	var le *ldap.Error
	if errors.As(err, &le) {
		switch le.ResultCode {
		case ldap.ErrorNetwork:
			// go-ldap flattens a failed StartTLS handshake into text: a
			// certificate or TLS protocol problem there is not transient.
			text := strings.ToLower(ldapErrText(err))
			return !strings.Contains(text, "x509") && !strings.Contains(text, "certificate") &&
				!strings.Contains(text, "tls: ")
		case ldap.LDAPResultBusy, ldap.LDAPResultUnavailable, ldap.LDAPResultServerDown,
			ldap.LDAPResultTimeout, ldap.LDAPResultConnectError,
			// AD answers "other" for some failures of a domain controller
			// that is shutting down or cannot reach its peers.
			ldap.LDAPResultOther:
			return true
		}
		// Every other answer of the server is its considered reply.
		return false
	}
	var lost *lostError
	if errors.As(err, &lost) {
		return true
	}
	// go-ldap reports a connection that broke (EOF, reset, a deadline,
	// a broken pipe) in words only, under the message upnsync put on it.
	for e := err; e != nil; e = errors.Unwrap(e) {
		if timedOut(e) || brokenConnText(e.Error()) {
			return true
		}
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true // time-outs, refused, reset: the network or the server's process
	}
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNABORTED) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EPIPE)
}

// timedOut reports whether err is a time-out: of the network, or of
// go-ldap's per-request timer or its reader, which only say so in words.
func timedOut(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	text := ldapErrText(err)
	return strings.Contains(text, "timed out") || strings.Contains(text, "i/o timeout")
}

// brokenConnText recognises go-ldap's words for a connection that broke:
// its reader's "unable to read LDAP response packet" and its writer's
// "unable to send request" (a write after the server reset the connection:
// a broken pipe, which go-ldap flattens into text, losing the errno).
func brokenConnText(msg string) bool {
	return strings.Contains(msg, "unable to read LDAP response packet") || strings.Contains(msg, "unable to send request")
}
