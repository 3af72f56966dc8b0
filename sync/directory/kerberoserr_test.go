package directory

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// gokrb5's errors for the KDC's answers the Samba tests cannot provoke
// (a clock off by more than five minutes, a disabled account...), as its
// text carries them: one line each with what to do, without gokrb5's
// chain, and transient only when the KDC could not be reached.
func TestExplainKerberos(t *testing.T) {
	d, err := newLDAP(Options{URL: "ldaps://dc1.corp.example.com", KerberosKeytab: "/etc/svc.keytab", Krb5Conf: "/etc/upnsync/krb5.conf"})
	if err != nil {
		t.Fatal(err)
	}
	krb := func(code int, name string) error {
		return errors.New("[Root cause: KDC_Error] KDC_Error: AS Exchange Error: kerberos error response from KDC: KRB Error: (" +
			strconv.Itoa(code) + ") " + name + " something")
	}
	for _, tt := range []struct {
		err       error
		want      string
		transient bool
	}{
		{krb(37, "KRB_AP_ERR_SKEW"), "this machine's clock and the clock of the KDC of CORP.EXAMPLE.COM differ by more than Kerberos allows (5 minutes): synchronise them", false},
		{krb(18, "KDC_ERR_CLIENT_REVOKED"), "refuses svc@CORP.EXAMPLE.COM: the account is disabled, locked out or expired", false},
		{krb(23, "KDC_ERR_KEY_EXPIRED"), "the password of svc@CORP.EXAMPLE.COM has expired", false},
		{krb(14, "KDC_ERR_ETYPE_NOSUPP"), "the keytab /etc/svc.keytab holds no key of an encryption type the KDC accepts", false},
		{krb(68, "KDC_ERR_WRONG_REALM"), "is not a principal of the realm CORP.EXAMPLE.COM", false},
		{errors.New("[Root cause: Decrypting_Error] Decrypting_Error: error decrypting AS_REP encrypted part"), "the KDC refused the key of svc@CORP.EXAMPLE.COM", false},
		{errors.New("[Root cause: Networking_Error] Networking_Error: AS Exchange Error: failed sending AS_REQ to KDC: communication error with KDC via TCP: dial tcp 10.0.0.1:88: i/o timeout"),
			"cannot reach the KDC of CORP.EXAMPLE.COM (the kdc in /etc/upnsync/krb5.conf)", true},
		{errors.New("[Root cause: Encoding_Error] Encoding_Error: something odd < Encoding_Error: the last word"), "the last word; check the principal and the keytab /etc/svc.keytab (klist -k), and the realm CORP.EXAMPLE.COM in /etc/upnsync/krb5.conf", false},
	} {
		ke := d.explainKerberos(tt.err, "svc@CORP.EXAMPLE.COM")
		if !strings.Contains(ke.msg, tt.want) || strings.Contains(ke.msg, "Root cause") || ke.transient != tt.transient {
			t.Errorf("%v:\n%q (transient %v)\nwant %q (transient %v)", tt.err, ke.msg, ke.transient, tt.want, tt.transient)
		}
		if Transient(ke) != tt.transient {
			t.Errorf("Transient(%q) = %v", ke.msg, !tt.transient)
		}
	}
}

// Another domain controller is tried after what may differ there, not
// after the client's own mistakes.
func TestFallOver(t *testing.T) {
	for _, tt := range []struct {
		name string
		err  error
		want bool
	}{
		{"connection refused", newError(syscall.ECONNREFUSED, "cannot connect"), true},
		{"silent", newError(errors.Join(ErrSilent, errors.New("i/o timeout")), "no answer"), true},
		{"missing keytab", keytabError("/etc/svc.keytab", &os.PathError{Op: "open", Path: "/etc/svc.keytab", Err: syscall.ENOENT}), false},
		{"unknown principal", newError(&kerberosError{code: krbCPrincipalUnknown, msg: "x"}, "x"), false},
		{"no service principal for this DC's name", newError(&kerberosError{code: krbSPrincipalUnknown, msg: "x"}, "x"), true},
		{"KDC unreachable", newError(&kerberosError{transient: true, msg: "x"}, "x"), true},
	} {
		if got := fallOver(tt.err); got != tt.want {
			t.Errorf("%s: fallOver = %v", tt.name, got)
		}
	}
}
