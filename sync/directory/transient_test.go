package directory

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	upnsync "github.com/upnsync/upnsync/sync"
)

// Which failures a new attempt may cure. The real failures, through a fault
// proxy in front of the test directory, are in cmd/upnsync's fault tests;
// this table pins down the classification of each kind of cause, wrapped
// the way the readers and the engine wrap them.
func TestTransient(t *testing.T) {
	wrap := func(err error) error {
		return &upnsync.ReadError{Err: newError(err, "the read of ldaps://dc1 failed: %v", err)}
	}
	opErr := func(errno syscall.Errno) error {
		return &net.OpError{Op: "read", Net: "tcp", Err: errno}
	}
	for _, tt := range []struct {
		name string
		err  error
		want bool
	}{
		{"connection lost mid-page", &lostError{errors.New("unable to read LDAP response packet: unexpected EOF")}, true},
		{"connection lost, no cause", &lostError{}, true},
		{"go-ldap network error", ldap.NewError(ldap.ErrorNetwork, errors.New("ldap: connection timed out")), true},
		{"StartTLS handshake cut", ldap.NewError(ldap.ErrorNetwork, errors.New("TLS handshake failed (unexpected EOF)")), true},
		{"connection reset", opErr(syscall.ECONNRESET), true},
		{"connection refused", opErr(syscall.ECONNREFUSED), true},
		{"dial time-out", &net.OpError{Op: "dial", Net: "tcp", Err: timeoutErr{}}, true},
		{"bare EOF", io.EOF, true},
		{"go-ldap's reader, reset", errors.New("unable to read LDAP response packet: read tcp 127.0.0.1:1->127.0.0.1:2: read: connection reset by peer"), true},
		{"go-ldap's reader, deadline", errors.New("unable to read LDAP response packet: read tcp 127.0.0.1:1->127.0.0.1:2: i/o timeout"), true},
		{"go-ldap's reader, under a message", newError(errors.New("unable to read LDAP response packet: read tcp 127.0.0.1:1->127.0.0.1:2: i/o timeout"),
			"no answer from ldap://dc1 within 2m0s during the bind (--timeout)"), true},
		{"broken pipe", fmt.Errorf("write: %w", syscall.EPIPE), true},
		// go-ldap's writer, after the server reset the connection: text only.
		{"go-ldap's writer, broken pipe", errors.New("unable to send request: write tcp 127.0.0.1:1->127.0.0.1:2: write: broken pipe"), true},
		{"LDAP 51 busy", ldap.NewError(ldap.LDAPResultBusy, errors.New("busy")), true},
		{"LDAP 52 unavailable", ldap.NewError(ldap.LDAPResultUnavailable, errors.New("shutting down")), true},
		{"LDAP 80 other", ldap.NewError(ldap.LDAPResultOther, errors.New("00002024: SvcErr")), true},
		{"DNS time-out", &net.DNSError{Err: "timeout", Name: "dc1", IsTimeout: true}, true},

		{"wrong password", ldap.NewError(ldap.LDAPResultInvalidCredentials, errors.New("data 52e")), false},
		{"missing base", ldap.NewError(ldap.LDAPResultNoSuchObject, errors.New("no such object")), false},
		{"size limit", ldap.NewError(ldap.LDAPResultSizeLimitExceeded, nil), false},
		{"time limit", ldap.NewError(ldap.LDAPResultTimeLimitExceeded, nil), false},
		{"access denied", ldap.NewError(ldap.LDAPResultInsufficientAccessRights, nil), false},
		{"bad filter", ldap.NewError(ldap.ErrorFilterCompile, errors.New("unexpected end of filter")), false},
		{"untrusted certificate", &tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}, false},
		{"name mismatch", x509.HostnameError{Host: "dc1"}, false},
		{"untrusted certificate after StartTLS", ldap.NewError(ldap.ErrorNetwork,
			errors.New("TLS handshake failed (tls: failed to verify certificate: x509: certificate signed by unknown authority)")), false},
		{"TLS alert", ldap.NewError(ldap.ErrorNetwork, errors.New("TLS handshake failed (remote error: tls: protocol version not supported)")), false},
		{"not TLS on the port", tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake"}, false},
		{"unknown host", &net.DNSError{Err: "no such host", Name: "dc1", IsNotFound: true}, false},
		{"cancelled", context.Canceled, false},
		{"cancelled while reading", &lostError{context.Canceled}, false},
		{"malformed LDIF", fmt.Errorf("users.ldif:3: %w", ErrLDIF), false},
		{"anything else", errors.New("give --login and a password"), false},
		// Mistakes of the settings: the same every time.
		{"missing keytab", keytabError("/etc/svc.keytab", &os.PathError{Op: "open", Path: "/etc/svc.keytab", Err: syscall.ENOENT}), false},
		{"unreadable krb5.conf", &os.PathError{Op: "stat", Path: "/etc/krb5.conf", Err: syscall.EACCES}, false},
		{"protocol mismatch", newError(ErrProtocolMismatch, "ldaps://dc1:389: port 389 speaks plain LDAP"), false},
		{"silent server", newError(errors.Join(ErrSilent, &net.OpError{Op: "read", Err: timeoutErr{}}), "no answer"), false},
		{"unknown principal", &kerberosError{err: errors.New("KRB Error: (6) KDC_ERR_C_PRINCIPAL_UNKNOWN"), msg: "the KDC does not know svc"}, false},
		{"KDC unreachable", &kerberosError{err: errors.New("Networking_Error"), msg: "cannot reach the KDC", transient: true}, true},
		{"nil", nil, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := Transient(tt.err); got != tt.want {
				t.Errorf("Transient(%v) = %v", tt.err, got)
			}
			if tt.err != nil {
				if got := Transient(wrap(tt.err)); got != tt.want {
					t.Errorf("wrapped: Transient(%v) = %v", wrap(tt.err), got)
				}
			}
		})
	}
}

// Real time-outs, as the dialer returns them (a TLS handshake that takes
// too long is context.DeadlineExceeded itself): transient.
func TestTransientRealTimeouts(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() { // accept, then say nothing
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	_, tlsErr := tls.DialWithDialer(&net.Dialer{Timeout: 100 * time.Millisecond}, "tcp", l.Addr().String(), &tls.Config{ServerName: "x"})
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	_, readErr := c.Read(make([]byte, 1))
	for _, tt := range []struct {
		name string
		err  error
		want bool
	}{
		{"TLS handshake time-out", tlsErr, true},
		{"read deadline", readErr, true},
	} {
		if tt.err == nil {
			t.Fatalf("%s: no error", tt.name)
		}
		if got := Transient(newError(tt.err, "x")); got != tt.want {
			t.Errorf("%s (%v, matches DeadlineExceeded: %v): Transient = %v", tt.name, tt.err, errors.Is(tt.err, context.DeadlineExceeded), got)
		}
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func TestTimedOut(t *testing.T) {
	for err, want := range map[error]bool{
		ldap.NewError(ldap.ErrorNetwork, errors.New("ldap: connection timed out")):                        true,
		errors.New("unable to read LDAP response packet: read tcp 127.0.0.1:1->127.0.0.1:2: i/o timeout"): true,
		&net.OpError{Op: "read", Err: timeoutErr{}}:                                                       true,
		ldap.NewError(ldap.ErrorNetwork, errors.New("unable to read LDAP response packet: EOF")):          false,
	} {
		if got := timedOut(err); got != want {
			t.Errorf("timedOut(%v) = %v", err, got)
		}
	}
}
