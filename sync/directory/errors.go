package directory

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"strings"
	"syscall"

	"github.com/go-ldap/ldap/v3"

	upnsync "github.com/upnsync/upnsync/sync"
)

// ldapErrText is the useful part of an error: for an *ldap.Error its
// message without the "LDAP Result Code N ..." prefix, cleaned of the NUL
// bytes and newlines AD puts in diagnostics.
func ldapErrText(err error) string {
	if err == nil {
		return ""
	}
	var le *ldap.Error
	if errors.As(err, &le) && le.Err != nil {
		return oneLine(strings.TrimSpace(le.Err.Error()))
	}
	return oneLine(err.Error())
}

// LogAttrs are the log attributes of a directory error the server
// answered: the LDAP result code (ldap_result="49 Invalid Credentials"),
// its diagnostic message and matched DN. None for errors of the client or
// the network (go-ldap's codes from 200 up are its own, not the server's).
func LogAttrs(err error) []any {
	var le *ldap.Error
	if err == nil || !errors.As(err, &le) || le.ResultCode >= ldap.ErrorNetwork {
		return nil
	}
	attrs := []any{"ldap_result", strings.TrimPrefix(resultName(le.ResultCode), "LDAP ")}
	if diag := ldapErrText(le); diag != "" {
		attrs = append(attrs, "ldap_diagnostic", diag)
	}
	if le.MatchedDN != "" {
		attrs = append(attrs, "ldap_matched_dn", le.MatchedDN)
	}
	return attrs
}

// resultName is "LDAP 49 Invalid Credentials".
func resultName(code uint16) string {
	if name, ok := ldap.LDAPResultCodeMap[code]; ok {
		return fmt.Sprintf("LDAP %d %s", code, name)
	}
	return fmt.Sprintf("LDAP %d", code)
}

func isNetworkError(err error) bool {
	var ne net.Error
	return ldap.IsErrorWithCode(err, ldap.ErrorNetwork) || errors.As(err, &ne)
}

// isConnRefused recognises "connection refused" on Unix and Windows
// (WSAECONNREFUSED, "actively refused").
func isConnRefused(err error) bool {
	if errors.Is(err, syscall.ECONNREFUSED) {
		return true
	}
	var errno syscall.Errno
	if errors.As(err, &errno) && errno == 10061 {
		return true
	}
	s := strings.ToLower(err.Error())
	return strings.Contains(s, "connection refused") || strings.Contains(s, "actively refused")
}

// dialError explains a failed connection.
func (d *ldapDirectory) dialError(err error) error {
	var dnsErr *net.DNSError
	var cve *tls.CertificateVerificationError
	var rhe tls.RecordHeaderError
	var ne net.Error
	switch {
	case errors.As(err, &dnsErr):
		if dnsErr.IsNotFound {
			return newError(err, "cannot connect to %s: unknown host %q (no such name in DNS); check the host name in --directory", d.url, dnsErr.Name)
		}
		return newError(err, "cannot connect to %s: cannot resolve host %q: %s", d.url, dnsErr.Name, dnsErr.Err)
	case errors.As(err, &cve):
		return d.certError(err, cve.Err, cve.UnverifiedCertificates)
	case errors.As(err, &rhe), strings.HasPrefix(d.url, "ldaps:") && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)):
		return newError(err, "%s did not answer with TLS: check the port (ldaps:// is usually 636; for ldap:// on 389 use --start-tls)", d.url)
	case isConnRefused(err):
		return newError(err, "cannot connect to %s: connection refused (nothing listens on that address and port); check the host and port, and that the directory service runs", d.url)
	case errors.As(err, &ne) && ne.Timeout():
		return newError(err, "cannot connect to %s: no answer within %s (%s); check the host, the port and any firewall in between", d.url, d.connectTimeout, d.connectOption)
	case isCertError(err):
		return d.certError(err, err, nil)
	}
	return newError(err, "cannot connect to %s: %s", d.url, ldapErrText(err))
}

func isCertError(err error) bool {
	var ua x509.UnknownAuthorityError
	var he x509.HostnameError
	var ci x509.CertificateInvalidError
	return errors.As(err, &ua) || errors.As(err, &he) || errors.As(err, &ci)
}

// certError explains a certificate the client does not accept.
func (d *ldapDirectory) certError(err, cause error, chain []*x509.Certificate) error {
	var leaf *x509.Certificate
	if len(chain) > 0 {
		leaf = chain[0]
	}
	var ua x509.UnknownAuthorityError
	var he x509.HostnameError
	var ci x509.CertificateInvalidError
	switch {
	case errors.As(cause, &ua):
		// ua.Cert is where chain building stopped (often a CA the server
		// sent along); name the server's own certificate when known.
		if leaf == nil {
			leaf = ua.Cert
		}
		if leaf == nil {
			break
		}
		self := ""
		if leaf.Subject.String() == leaf.Issuer.String() {
			self = " (self-signed)"
		}
		hint := "give the issuing CA's certificate (PEM) with --ca-file"
		if d.opts.CAFile != "" {
			hint = fmt.Sprintf("neither --ca-file %s nor the system's store holds that issuer: give the issuing CA's certificate (PEM) with --ca-file", d.opts.CAFile)
		}
		return newError(err, "the TLS certificate of %s is not trusted: subject %q, issued by %q%s; %s",
			d.url, leaf.Subject.String(), leaf.Issuer.String(), self, hint)
	case errors.As(cause, &he):
		if he.Certificate != nil {
			leaf = he.Certificate
		}
		if leaf == nil {
			break
		}
		return newError(err, "the TLS certificate of %s does not name %q: it is for %s (subject %q); put one of those names in --directory",
			d.url, he.Host, certNames(leaf), leaf.Subject.String())
	case errors.As(cause, &ci):
		if ci.Cert != nil {
			leaf = ci.Cert
		}
		if leaf == nil {
			break
		}
		if ci.Reason == x509.Expired {
			return newError(err, "the TLS certificate of %s (subject %q) is outside its validity period (%s to %s): renew it on the server",
				d.url, leaf.Subject.String(), leaf.NotBefore.UTC().Format("2006-01-02"), leaf.NotAfter.UTC().Format("2006-01-02"))
		}
		return newError(err, "the TLS certificate of %s (subject %q) is not acceptable: %s", d.url, leaf.Subject.String(), oneLine(cause.Error()))
	}
	return newError(err, "TLS with %s failed: %s", d.url, ldapErrText(err))
}

func certNames(c *x509.Certificate) string {
	var names []string
	names = append(names, c.DNSNames...)
	for _, ip := range c.IPAddresses {
		names = append(names, ip.String())
	}
	if len(names) == 0 {
		return "no subject alternative name"
	}
	return strings.Join(names, ", ")
}

// startTLSError explains a failed StartTLS: the server's refusal, no
// answer in time, or the connection lost. (An untrusted certificate is a
// TLS error that dialError explains.)
func (d *ldapDirectory) startTLSError(err error) error {
	var le *ldap.Error
	if errors.As(err, &le) && le.ResultCode != ldap.ErrorNetwork {
		return newError(err, "%s refused StartTLS (%s: %s): use ldaps:// instead", d.url, resultName(le.ResultCode), ldapErrText(err))
	}
	return newError(err, "TLS after StartTLS with %s failed: %s", d.url, ldapErrText(err))
}

// adDataCode finds AD's sub-error in a bind diagnostic:
// "80090308: LdapErr: DSID-0C09044E, comment: AcceptSecurityContext error, data 52e, v4563".
var adDataCode = regexp.MustCompile(`(?i)\bdata ([0-9a-f]{3,8})\b`)

// bindError explains a failed bind. The password is never part of it.
func (d *ldapDirectory) bindError(err error) error {
	var le *ldap.Error
	if !errors.As(err, &le) || le.ResultCode == ldap.ErrorNetwork {
		if timedOut(err) {
			return d.silent(err, "the bind")
		}
		if !d.encrypted() && endedEarly(err) {
			if m := d.mismatch(false); m != nil {
				return m
			}
		}
		if d.connLost(err) {
			return newError(err, "%s closed the connection during the bind (%s): check the port and the scheme (ldaps:// is usually 636, ldap:// 389)", d.url, ldapErrText(err))
		}
		return newError(err, "cannot bind to %s as \"%s\": %s", d.url, d.opts.Login, ldapErrText(err))
	}
	code := resultName(le.ResultCode)
	switch le.ResultCode {
	case ldap.LDAPResultInvalidCredentials:
		// AD and Samba say why in the data code of the diagnostic; other
		// servers do not tell a wrong password from an unknown user. AD's
		// 52e covers both, so as not to tell which accounts exist.
		why, hint := "wrong user name or password", "check --login and the password (--password-file or UPNSYNC_PASSWORD)"
		if m := adDataCode.FindStringSubmatch(ldapErrText(err)); m != nil {
			switch strings.ToLower(m[1]) {
			case "52e":
			case "525":
				why, hint = "no such user", "check --login (a UPN such as svc-upnsync@corp.example.com, or a DN)"
			case "530":
				why, hint = "the account may not log on at this time", "check its logon hours in AD"
			case "531":
				why, hint = "the account may not log on from this computer", "check its \"log on to\" workstations in AD"
			case "532":
				why, hint = "password expired", "set a new password for the account (service accounts: password never expires)"
			case "533":
				why, hint = "account disabled", "enable the account in AD"
			case "701":
				why, hint = "account expired", "extend the account's expiry date in AD"
			case "773":
				why, hint = "the password must be changed (\"User must change password at next logon\")", "set a new password for the account in AD and clear that option"
			case "775":
				why, hint = "account locked", "unlock the account in AD and check the password upnsync uses"
			}
		}
		return newError(err, "cannot bind to %s as \"%s\": %s (%s); %s", d.url, d.opts.Login, why, code, hint)
	case ldap.LDAPResultStrongAuthRequired, ldap.LDAPResultConfidentialityRequired:
		return newError(err, "%s refuses a simple bind over this connection (%s: %s): use ldaps:// or --start-tls", d.url, code, ldapErrText(err))
	case ldap.LDAPResultInappropriateAuthentication, ldap.LDAPResultUnwillingToPerform:
		return newError(err, "%s refuses to bind \"%s\" (%s: %s)", d.url, d.opts.Login, code, ldapErrText(err))
	case ldap.LDAPResultInvalidDNSyntax:
		return newError(err, "%s does not accept \"%s\" as a login (%s): give a UPN (svc-upnsync@corp.example.com) or a DN", d.url, d.opts.Login, code)
	}
	return newError(err, "cannot bind to %s as \"%s\" (%s: %s)", d.url, d.opts.Login, code, ldapErrText(err))
}

// describeOpError explains why a search on base failed: what happened
// and what to do (hint may be empty).
func (d *ldapDirectory) describeOpError(err error, base string) (what, hint string) {
	var le *ldap.Error
	if !errors.As(err, &le) {
		return ldapErrText(err), ""
	}
	code := resultName(le.ResultCode)
	diag := ldapErrText(err)
	who := fmt.Sprintf("the account \"%s\"", d.opts.Login)
	if d.opts.Anonymous {
		who = "an anonymous client"
	}
	switch le.ResultCode {
	case ldap.LDAPResultNoSuchObject:
		what = fmt.Sprintf("search base %q does not exist on %s (%s)", base, d.url, code)
		if le.MatchedDN != "" {
			what += fmt.Sprintf("; the closest existing entry is %q", le.MatchedDN)
		}
		return what, "check --domain"
	case ldap.LDAPResultInsufficientAccessRights:
		return fmt.Sprintf("%s may not read %q on %s (%s)", who, base, d.url, code), "grant it read access"
	case ldap.LDAPResultOperationsError, ldap.LDAPResultStrongAuthRequired, ldap.LDAPResultConfidentialityRequired,
		ldap.LDAPResultUnwillingToPerform, ldap.LDAPResultInappropriateAuthentication:
		if d.opts.Anonymous {
			return fmt.Sprintf("%s does not allow anonymous reads (%s: %s)", d.url, code, diag), "give --login and a password instead of --anonymous"
		}
		if le.ResultCode == ldap.LDAPResultStrongAuthRequired || le.ResultCode == ldap.LDAPResultConfidentialityRequired {
			return fmt.Sprintf("%s refused the search (%s: %s)", d.url, code, diag), "use ldaps:// or --start-tls"
		}
		return fmt.Sprintf("%s refused the search (%s: %s)", d.url, code, diag), ""
	case ldap.LDAPResultSizeLimitExceeded:
		if d.pageSize == 0 {
			return fmt.Sprintf("%s stopped the unpaged read at its size limit (%s)", d.url, code), fmt.Sprintf("read with paging (--page-size %d)", DefaultPageSize)
		}
		return fmt.Sprintf("%s stopped the paged read at its size limit (%s)", d.url, code), "raise the account's limit on paged searches"
	case ldap.LDAPResultTimeLimitExceeded:
		return fmt.Sprintf("%s stopped the search at its time limit (%s)", d.url, code), "try a smaller --page-size"
	case ldap.LDAPResultAdminLimitExceeded:
		return fmt.Sprintf("%s refused the search (%s: %s)", d.url, code, diag), fmt.Sprintf("try --page-size %d or less", DefaultPageSize)
	case ldap.LDAPResultUnavailableCriticalExtension:
		return fmt.Sprintf("%s does not support paged results (%s)", d.url, code), "use --page-size 0"
	case ldap.LDAPResultReferral:
		return fmt.Sprintf("%s does not hold %q (%s)", d.url, base, code), "connect to a domain controller of that domain"
	case ldap.LDAPResultBusy, ldap.LDAPResultUnavailable:
		return fmt.Sprintf("%s is busy or unavailable (%s: %s)", d.url, code, diag), "try again later"
	case ldap.ErrorNetwork:
		if strings.Contains(diag, "timed out") {
			return fmt.Sprintf("no answer from %s within %s", d.url, d.timeout), ""
		}
		return fmt.Sprintf("connection to %s lost: %s", d.url, diag), ""
	}
	if diag != "" {
		return fmt.Sprintf("%s: %s (%s)", d.url, diag, code), ""
	}
	return fmt.Sprintf("%s answered %s", d.url, code), ""
}

func joinHint(what, hint string) string {
	if hint == "" {
		return what
	}
	return what + "; " + hint
}

// lostError marks a read that failed because the connection broke.
type lostError struct{ err error }

func (e *lostError) Error() string {
	if e.err == nil {
		return "connection lost"
	}
	return e.err.Error()
}
func (e *lostError) Unwrap() error { return e.err }

// connLost reports whether err means the connection is gone (rather than
// an answer of the server). A connection that broke mid-page surfaces as a
// packet read error, not always as an *ldap.Error: a closing connection
// tells.
func (d *ldapDirectory) connLost(err error) bool {
	var le *ldap.Error
	if errors.As(err, &le) && le.ResultCode != ldap.ErrorNetwork {
		return false
	}
	var lost *lostError
	return errors.As(err, &lost) || isNetworkError(err) || d.conn != nil && d.conn.IsClosing() ||
		brokenConnText(err.Error())
}

// lostAfter says where a read broke.
func (d *ldapDirectory) lostAfter(res *upnsync.ReadResult) string {
	if res.Pages == 0 {
		return fmt.Sprintf("connection to %s lost during the first page of the read (%d entries)", d.url, res.Entries)
	}
	return fmt.Sprintf("connection to %s lost after page %d of the read (%d entries)", d.url, res.Pages, res.Entries)
}

// searchError turns a failed page into the read's error.
func (d *ldapDirectory) searchError(err error, base string, res *upnsync.ReadResult) error {
	what, hint := d.describeOpError(err, base)
	if d.connLost(err) {
		if strings.Contains(what, "no answer") {
			return newError(err, "%s during page %d of the read (%d entries); the read is incomplete", what, res.Pages+1, res.Entries)
		}
		return newError(&lostError{err}, "%s: %s; the read is incomplete", d.lostAfter(res), ldapErrText(err))
	}
	if res.Pages > 0 || res.Entries > 0 {
		return newError(err, "%s", joinHint(fmt.Sprintf("%s after %d entries, so the read is incomplete", what, res.Entries), hint))
	}
	return newError(err, "%s", joinHint(what, hint))
}
