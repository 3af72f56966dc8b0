// Package directory is where upnsync's people come from: Active Directory
// or any LDAP server (read page by page, streaming, with a proof that the
// read is complete), LDIF exports, and CSV or Excel exports from PowerShell
// or Entra ID. Open picks the reader from the URL.
package directory

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/upnsync/upnsync/mapping"
	upnsync "github.com/upnsync/upnsync/sync"
)

// Defaults of Options.
const (
	// DefaultPageSize is AD's MaxPageSize. Options.PageSize 0 means no
	// paging at all, so callers pass this unless told otherwise.
	DefaultPageSize = 1000
	// DefaultTimeout bounds each LDAP request once connected (one page of
	// the read, a look-up).
	DefaultTimeout = 2 * time.Minute
	// DefaultConnectTimeout bounds each step of connecting: the DNS
	// look-up, the TCP connection, the TLS handshake, StartTLS, the bind,
	// the rootDSE.
	// A directory that is up answers these in well under a second; one
	// that says nothing for this long is not answering at all.
	DefaultConnectTimeout = 30 * time.Second
	// DefaultUserFilter selects user accounts in Active Directory (and on a
	// test slapd with upnsync's AD schema).
	DefaultUserFilter = "(&(objectCategory=person)(objectClass=user))"
)

// Options say which directory to read and how.
type Options struct {
	// URL is ldap://host[:port], ldaps://host[:port] or ldif:PATH.
	URL string
	// Bases are search bases, each a DN or a DNS domain name
	// (corp.example.com becomes DC=corp,DC=example,DC=com). Empty: the
	// rootDSE's defaultNamingContext, else its first namingContexts value.
	Bases []string
	// Login is the bind identity (a UPN or a DN) and Password its password.
	// Both are required unless Anonymous is set.
	Login    string
	Password string
	// PasswordFile is the file Password was read from, if any: the log's
	// ldapsearch command names it (-y FILE) instead of asking (-W).
	PasswordFile string
	// Anonymous reads without binding, on purpose.
	Anonymous bool
	// KerberosKeytab binds with Kerberos (SASL GSSAPI) with the keys of a
	// keytab, as Login (a principal; empty: the keytab's first one);
	// KerberosCCache with the tickets of a credential cache (kinit's);
	// IntegratedAuth (Windows) as the account the process runs as. None
	// of them takes a password. Krb5Conf is the krb5.conf (default
	// $KRB5_CONFIG, else /etc/krb5.conf).
	KerberosKeytab string
	KerberosCCache string
	Krb5Conf       string
	IntegratedAuth bool
	// NTLM binds with NTLM (Login as DOMAIN\name or a UPN, and Password)
	// instead of a simple bind: where Kerberos is not available.
	NTLM bool
	// CAFile is a PEM file of CA certificates trusted in addition to the
	// system's.
	CAFile string
	// StartTLS upgrades an ldap:// connection to TLS before binding.
	StartTLS bool
	// AllowPlaintextBind permits a simple bind over plain ldap:// (the
	// password then crosses the network in clear).
	AllowPlaintextBind bool
	// PageSize is the paged-results page size; 0 reads without the paging
	// control (one search, reported incomplete if the server stops it at
	// its size limit). Callers normally pass DefaultPageSize.
	PageSize int
	// UserFilter replaces DefaultUserFilter.
	UserFilter string
	// Filter is an extra clause ANDed with the user filter (--filter).
	Filter string
	// GlobalCatalog reads the Global Catalog (ports 3268 and 3269, DNS
	// records _gc._tcp) instead of one domain's directory.
	GlobalCatalog bool
	// Resolver finds domain controllers (SRV records) and host names;
	// nil: the system's.
	Resolver *net.Resolver
	// NetBIOSDomain sets Person.Domain; empty: the nETBIOSName of the
	// person's domain in AD's Partitions container, else the upper-cased
	// first DC label of the person's DN.
	NetBIOSDomain string
	// Timeout bounds each request once connected (one page of the read);
	// 0 means DefaultTimeout. ConnectTimeout bounds each step of
	// connecting (DNS, TCP, TLS, StartTLS, the bind); 0 means
	// DefaultConnectTimeout.
	Timeout        time.Duration
	ConnectTimeout time.Duration
	// Fields say which attributes fill which Person fields. Sources left
	// empty take mapping.DefaultFields.
	Fields mapping.Fields
	// Logger receives warnings (such as objectGUID values of the wrong
	// length); nil discards them.
	Logger *slog.Logger
	// Columns maps the columns of a csv: or xlsx: export to fields when
	// their names are not the usual ones: upn=Email Address,guid=Object ID.
	Columns string
}

// connectLimit bounds each step of connecting, and names the option that
// set it: ConnectTimeout, or Timeout when that is shorter (connecting
// never waits longer than a page may).
func (o Options) connectLimit() (time.Duration, string) {
	connect, timeout := o.ConnectTimeout, o.Timeout
	if connect <= 0 {
		connect = DefaultConnectTimeout
	}
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	if timeout < connect {
		return timeout, "--timeout"
	}
	return connect, "--connect-timeout"
}

// String describes the options without the password, so that printing
// Options by mistake cannot leak it.
func (o Options) String() string {
	pw := ""
	if o.Password != "" {
		pw = "(set)"
	}
	return fmt.Sprintf("{URL:%s Bases:%q Login:%q Password:%s Anonymous:%t KerberosKeytab:%q KerberosCCache:%q Krb5Conf:%q IntegratedAuth:%t NTLM:%t CAFile:%q StartTLS:%t AllowPlaintextBind:%t PageSize:%d UserFilter:%q Filter:%q GlobalCatalog:%t NetBIOSDomain:%q Timeout:%s ConnectTimeout:%s}",
		redactURL(o.URL), o.Bases, o.Login, pw, o.Anonymous, o.KerberosKeytab, o.KerberosCCache, o.Krb5Conf, o.IntegratedAuth, o.NTLM, o.CAFile, o.StartTLS, o.AllowPlaintextBind, o.PageSize, o.UserFilter, o.Filter, o.GlobalCatalog, o.NetBIOSDomain, o.Timeout, o.ConnectTimeout)
}

// GoString is used by %#v: it is as careful as String.
func (o Options) GoString() string { return "directory.Options" + o.String() }

// LogValue keeps the password out of structured logs.
func (o Options) LogValue() slog.Value { return slog.StringValue(o.String()) }

// Error is a directory error an administrator can act on: Error() is one
// line naming what failed and what to do; Unwrap gives the cause (an
// *ldap.Error, a net or TLS error, context.Canceled).
type Error struct {
	Msg string
	Err error
}

func (e *Error) Error() string { return e.Msg }
func (e *Error) Unwrap() error { return e.Err }

func newError(cause error, format string, args ...any) *Error {
	return &Error{Msg: oneLine(fmt.Sprintf(format, args...)), Err: cause}
}

// ErrNotSupported is wrapped by Open for directory kinds not built yet.
var ErrNotSupported = errors.New("not supported yet")

// Open returns the directory the URL names. For LDAP it checks the options
// before sending anything, then connects and binds, so that a wrong
// password or an untrusted certificate is reported here; reads reconnect
// when the connection was lost in between.
func Open(opts Options) (upnsync.Directory, error) {
	warnOverlaps(opts)
	raw := strings.TrimSpace(opts.URL)
	if raw == "" {
		if domain := LocatorDomain(opts.Bases); domain != "" {
			return openLocated(context.Background(), opts, domain)
		}
		return nil, errors.New("no directory given: use --directory ldaps://dc1.corp.example.com, ldap://HOST with --start-tls, ldif:PATH, csv:PATH or xlsx:PATH, or --domain corp.example.com to find its domain controllers through DNS")
	}
	scheme, rest, ok := strings.Cut(raw, ":")
	if !ok {
		return nil, fmt.Errorf("directory %q has no kind: use ldaps://HOST, ldap://HOST, ldif:PATH, csv:PATH or xlsx:PATH", redactURL(raw))
	}
	switch strings.ToLower(scheme) {
	case "ldap", "ldaps":
		return openLDAP(opts)
	case "ldif":
		return openLDIF(rest, opts)
	case "csv":
		return openCSV(rest, opts)
	case "xlsx":
		return openXLSX(rest, opts)
	}
	return nil, fmt.Errorf("directory %q: unknown kind %q: use ldaps://HOST, ldap://HOST, ldif:PATH, csv:PATH or xlsx:PATH", redactURL(raw), scheme)
}

// Kind tells which kind of directory a --directory value names (ldap,
// ldif, csv or xlsx), for reports; "" when it names none. No value at all
// is an LDAP directory whose domain controllers Open finds through DNS.
func Kind(url string) string {
	if strings.TrimSpace(url) == "" {
		return "ldap" // Open finds the domain controllers through DNS
	}
	scheme, _, ok := strings.Cut(strings.TrimSpace(url), ":")
	if !ok {
		return ""
	}
	switch s := strings.ToLower(scheme); s {
	case "ldap", "ldaps":
		return "ldap"
	case "ldif", "csv", "xlsx", "entra":
		return s
	}
	return ""
}

// oneLine makes a message fit on one line: servers' diagnostics may carry
// newlines and NUL bytes.
func oneLine(s string) string {
	if !strings.ContainsAny(s, "\r\n\t\x00") {
		return s
	}
	s = strings.Map(func(r rune) rune {
		switch r {
		case '\r', '\n', '\t':
			return ' '
		case 0:
			return -1
		}
		return r
	}, s)
	return strings.Join(strings.Fields(s), " ")
}
