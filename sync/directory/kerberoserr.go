package directory

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// kerberosError is a failure on the client's side of a Kerberos bind
// (no ticket, a KDC's refusal), as opposed to the directory's answer:
// what it means in words, with what to do, and whether a new attempt may
// pass (only a KDC that could not be reached).
type kerberosError struct {
	err       error
	msg       string
	transient bool
	// code is the KDC's error code, 0 when the KDC did not answer one.
	code int
}

func (e *kerberosError) Error() string { return e.msg }
func (e *kerberosError) Unwrap() error { return e.err }

// krbCode finds a KDC's error code in gokrb5's text:
// "KRB Error: (6) KDC_ERR_C_PRINCIPAL_UNKNOWN Client not found ...".
var krbCode = regexp.MustCompile(`KRB Error: \((\d+)\)`)

// Kerberos error codes (RFC 4120, section 7.5.9) upnsync explains.
const (
	krbCPrincipalUnknown = 6
	krbSPrincipalUnknown = 7
	krbETypeNoSupport    = 14
	krbClientRevoked     = 18
	krbKeyExpired        = 23
	krbPreauthFailed     = 24
	krbBadIntegrity      = 31
	krbSkew              = 37
	krbWrongRealm        = 68
)

// explainKerberos turns gokrb5's error of a bind as principal (user@REALM)
// into one line with what to do, without gokrb5's "[Root cause: ...]"
// chain.
func (d *ldapDirectory) explainKerberos(err error, principal string) *kerberosError {
	text := err.Error()
	realm := principal[strings.LastIndex(principal, "@")+1:]
	conf := d.opts.krb5Conf()
	keys := "its keys"
	if d.opts.KerberosKeytab != "" {
		keys = "the keytab " + d.opts.KerberosKeytab
	}
	code := 0
	if m := krbCode.FindStringSubmatch(text); m != nil {
		code, _ = strconv.Atoi(m[1])
	}
	ke := &kerberosError{err: err, code: code}
	switch {
	case d.opts.IntegratedAuth:
		ke.msg = fmt.Sprintf("%s; check that the account upnsync runs as is a domain account with a Kerberos ticket (klist) and that the directory's name has a service principal (setspn -Q %s)",
			krbText(text), d.spn())
	case code == krbCPrincipalUnknown:
		ke.msg = fmt.Sprintf("the KDC of %s does not know %s: check --login (the account's sAMAccountName@%s; klist -k %s lists the keytab's principals)",
			realm, principal, realm, d.opts.KerberosKeytab)
	case code == krbSPrincipalUnknown:
		ke.msg = fmt.Sprintf("the KDC of %s knows no service principal %s (Kerberos needs the domain controller's own name): give --directory with a name the domain controller's SPNs list (setspn -L DCNAME), such as ldaps://dc1.%s",
			realm, d.spn(), strings.ToLower(realm))
	case code == krbPreauthFailed, code == krbBadIntegrity, strings.Contains(text, "Decrypting_Error"):
		ke.msg = fmt.Sprintf("the KDC refused the key of %s in %s: the account's password changed after the keytab was made (or the keytab is another account's); make a new keytab (ktpass on Windows, samba-tool domain exportkeytab, or ktutil)",
			principal, keys)
	case code == krbClientRevoked:
		ke.msg = fmt.Sprintf("the KDC of %s refuses %s: the account is disabled, locked out or expired; check it in AD", realm, principal)
	case code == krbKeyExpired:
		ke.msg = fmt.Sprintf("the password of %s has expired: set a new one (service accounts: password never expires) and make a new keytab", principal)
	case code == krbSkew:
		ke.msg = fmt.Sprintf("this machine's clock and the clock of the KDC of %s differ by more than Kerberos allows (5 minutes): synchronise them (Windows: w32tm /resync; Linux: chronyc makestep)", realm)
	case code == krbETypeNoSupport:
		ke.msg = fmt.Sprintf("%s holds no key of an encryption type the KDC accepts for %s: make a keytab with AES keys (ktpass -crypto AES256-SHA1)", keys, principal)
	case code == krbWrongRealm:
		ke.msg = fmt.Sprintf("%s is not a principal of the realm %s: write --login as NAME@REALM with the account's own realm", principal, realm)
	case strings.Contains(text, "matching key not found in keytab"):
		ke.msg = fmt.Sprintf("the keytab %s holds no key for %s: klist -k %s lists its principals; give one of them with --login, or make a keytab for %s",
			d.opts.KerberosKeytab, principal, d.opts.KerberosKeytab, principal)
	case strings.Contains(text, "no KDCs defined"):
		ke.msg = fmt.Sprintf("%s names no KDC for the realm %s: add it under [realms] (%s = { kdc = dc1.%s }) or set dns_lookup_kdc = true, or check the realm in --login",
			conf, realm, realm, strings.ToLower(realm))
	case strings.Contains(text, "Networking_Error"):
		ke.msg = fmt.Sprintf("cannot reach the KDC of %s (the kdc in %s): check that it runs and that port 88 is open from this machine", realm, conf)
		ke.transient = true
	default:
		ke.msg = fmt.Sprintf("%s; check the principal and %s (klist -k), and the realm %s in %s", krbText(text), keys, realm, conf)
	}
	return ke
}

// krbText is gokrb5's message without its "[Root cause: ...]" prefix and
// its chain of contexts: the last and most precise part.
func krbText(text string) string {
	if i := strings.Index(text, "] "); strings.HasPrefix(text, "[Root cause:") && i >= 0 {
		text = text[i+2:]
	}
	if i := strings.LastIndex(text, " < "); i >= 0 {
		text = text[i+3:]
	}
	return oneLine(text)
}
