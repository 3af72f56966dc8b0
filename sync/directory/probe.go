package directory

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/go-ldap/ldap/v3"
)

// Controls `upnsync doctor` looks for in the rootDSE.
const (
	// ControlPaging is paged results (RFC 2696): needed to read past AD's
	// 1000-entry limit.
	ControlPaging = ldap.ControlTypePaging
	// ControlDirSync is AD's change tracking, for incremental reads.
	ControlDirSync = ldap.ControlTypeDirSync
	// ControlDomainScope keeps AD from returning referrals to other
	// naming contexts.
	ControlDomainScope = "1.2.840.113556.1.4.1339"
)

// Probe checks an LDAP directory one step at a time for `upnsync doctor`:
// the TLS certificate, the bind, the rootDSE, each base. Each step fails
// with the message a run would give, and sends nothing a run would not
// (the password only in the bind, over the connection a run would use).
type Probe struct {
	d *ldapDirectory
}

// NewProbe checks the options as Open does, without touching the network.
// It accepts ldap:// and ldaps:// URLs only.
func NewProbe(opts Options) (*Probe, error) {
	raw := strings.TrimSpace(opts.URL)
	scheme, _, _ := strings.Cut(raw, ":")
	if s := strings.ToLower(scheme); s != "ldap" && s != "ldaps" {
		return nil, fmt.Errorf("directory %q is not an LDAP URL (ldaps://HOST or ldap://HOST)", redactURL(raw))
	}
	d, err := newLDAP(opts)
	if err != nil {
		return nil, err
	}
	return &Probe{d: d}, nil
}

// URL is scheme://host[:port], without credentials.
func (p *Probe) URL() string { return p.d.url }

// Host is the host name (or address) of the directory.
func (p *Probe) Host() string { return p.d.host }

// Address is host:port, with the scheme's default port when the URL has
// none.
func (p *Probe) Address() string {
	_, hostport, _ := strings.Cut(p.d.url, "://")
	if _, port, err := net.SplitHostPort(hostport); err == nil && port != "" {
		return hostport
	}
	port := "389"
	if strings.HasPrefix(p.d.url, "ldaps:") {
		port = "636"
	}
	return net.JoinHostPort(p.d.host, port)
}

// Encryption says how the connection is protected: "ldaps", "starttls", or
// "" for none.
func (p *Probe) Encryption() string {
	switch {
	case strings.HasPrefix(p.d.url, "ldaps:"):
		return "ldaps"
	case p.d.opts.StartTLS:
		return "starttls"
	}
	return ""
}

// TLSInfo describes the certificate a directory presented.
type TLSInfo struct {
	Version string // TLS 1.3
	Subject string
	Issuer  string
	// Names are the certificate's DNS names and IP addresses.
	Names []string
	// NotAfter is when the first certificate of the verified chain to
	// expire does (usually the server's own).
	NotAfter time.Time
	// Chain lists the subjects of the verified chain, server first.
	Chain []string
}

// CheckTLS fetches the directory's certificate chain and verifies it as a
// run would: against the system's CAs and --ca-file, for the host name of
// the URL. The connection is closed without a bind: nothing is sent on it
// but the TLS handshake (and the StartTLS request).
func (p *Probe) CheckTLS(ctx context.Context) (TLSInfo, error) {
	d := p.d
	var chain []*x509.Certificate
	var version uint16
	switch p.Encryption() {
	case "ldaps":
		// Diagnosis only: the chain is verified below, and this
		// connection is closed without sending anything.
		conn, err := d.dial(&tls.Config{ServerName: d.host, MinVersion: tls.VersionTLS12, InsecureSkipVerify: true}) //nolint:gosec // verified by hand below
		if err != nil {
			return TLSInfo{}, err
		}
		st := conn.(*tls.Conn).ConnectionState()
		conn.Close()
		chain, version = st.PeerCertificates, st.Version
	case "starttls":
		certs, err := d.probeCertificates(ctx)
		if err != nil {
			return TLSInfo{}, err
		}
		chain, version = certs, 0
	default:
		return TLSInfo{}, errors.New("the connection is not encrypted")
	}
	if len(chain) == 0 {
		return TLSInfo{}, fmt.Errorf("%s presented no certificate", d.url)
	}
	opts := x509.VerifyOptions{Roots: d.tls.RootCAs, DNSName: d.host, Intermediates: x509.NewCertPool()}
	for _, c := range chain[1:] {
		opts.Intermediates.AddCert(c)
	}
	leaf := chain[0]
	info := TLSInfo{Subject: leaf.Subject.String(), Issuer: leaf.Issuer.String(), Names: strings.Split(certNames(leaf), ", "),
		NotAfter: leaf.NotAfter}
	if version != 0 {
		info.Version = tls.VersionName(version)
	}
	verified, err := leaf.Verify(opts)
	if err != nil {
		return info, d.certError(err, err, chain)
	}
	for _, c := range verified[0] {
		info.Chain = append(info.Chain, c.Subject.String())
		if c.NotAfter.Before(info.NotAfter) {
			info.NotAfter = c.NotAfter
		}
	}
	return info, nil
}

// Bind connects and binds as a run does (StartTLS first when asked).
func (p *Probe) Bind() error {
	p.d.dropConn()
	return p.d.connect()
}

// RootDSE is what the directory says about itself.
type RootDSE struct {
	NamingContexts       []string
	DefaultNamingContext string
	SupportedControls    []string
	SupportedLDAPVersion []string
	DNSHostName          string
	VendorName           string
	VendorVersion        string
	// CurrentTime is the server's clock (AD publishes it; OpenLDAP does
	// not); zero when absent.
	CurrentTime time.Time
}

// Supports reports whether the directory announces the control.
func (r RootDSE) Supports(oid string) bool {
	for _, c := range r.SupportedControls {
		if c == oid {
			return true
		}
	}
	return false
}

// RootDSE reads the rootDSE on the bound connection, as Open does.
func (p *Probe) RootDSE() (RootDSE, error) {
	d := p.d
	if d.conn == nil {
		return RootDSE{}, errors.New("not connected")
	}
	e, err := d.rootDSE()
	if errors.Is(err, errNoRootDSE) {
		return RootDSE{}, fmt.Errorf("%s returned no rootDSE (this account may not read it)", d.url)
	}
	if err != nil {
		if berr := d.broken("reading the rootDSE"); berr != nil {
			return RootDSE{}, berr
		}
		what, hint := d.describeOpError(err, "")
		return RootDSE{}, newError(err, "cannot read the rootDSE of %s: %s", d.url, joinHint(what, hint))
	}
	r := RootDSE{
		NamingContexts:       e.GetEqualFoldAttributeValues("namingContexts"),
		DefaultNamingContext: e.GetEqualFoldAttributeValue("defaultNamingContext"),
		SupportedControls:    e.GetEqualFoldAttributeValues("supportedControl"),
		SupportedLDAPVersion: e.GetEqualFoldAttributeValues("supportedLDAPVersion"),
		DNSHostName:          e.GetEqualFoldAttributeValue("dnsHostName"),
		VendorName:           e.GetEqualFoldAttributeValue("vendorName"),
		VendorVersion:        e.GetEqualFoldAttributeValue("vendorVersion"),
	}
	if v := e.GetEqualFoldAttributeValue("currentTime"); v != "" {
		if t, err := ber.ParseGeneralizedTime([]byte(v)); err == nil {
			r.CurrentTime = t
		}
	}
	return r, nil
}

// Bases are the search bases a run would read: those given, else the
// rootDSE's default naming context. Needs a bound connection when none
// were given.
func (p *Probe) Bases() ([]string, error) {
	if len(p.d.bases) > 0 {
		return p.d.bases, nil
	}
	if p.d.conn == nil {
		return nil, errors.New("not connected")
	}
	if err := p.d.discoverBases(); err != nil {
		return nil, err
	}
	return p.d.bases, nil
}

// BaseInfo is what CountUsers found under a base.
type BaseInfo struct {
	// Users is the number of entries matching the user filter, counted
	// up to the limit given.
	Users int
	// AtLeast is set when counting stopped at the limit.
	AtLeast bool
	Pages   int
}

// CountUsers checks that base exists and counts the users a run would
// read under it, page by page without attributes, up to limit.
func (p *Probe) CountUsers(ctx context.Context, base string, limit int) (BaseInfo, error) {
	return p.CountWith(ctx, base, p.d.filter, limit)
}

// FilterParts are the parts of the filter a run reads with: the user
// filter (--user-filter, else DefaultUserFilter) and the --filter clause
// ("" without one), so that doctor can count with each and name the one
// that selects nobody.
func (p *Probe) FilterParts() (user, extra string) {
	user = strings.TrimSpace(p.d.opts.UserFilter)
	if user == "" {
		user = DefaultUserFilter
	}
	if f := strings.TrimSpace(p.d.opts.Filter); f != "" {
		extra, _ = extraFilter(f) // Open checked it
	}
	return user, extra
}

// CountWith is CountUsers with another filter.
func (p *Probe) CountWith(ctx context.Context, base, filter string, limit int) (BaseInfo, error) {
	d := p.d
	var info BaseInfo
	if d.conn == nil {
		return info, errors.New("not connected")
	}
	if _, err := d.conn.Search(baseSearch(base, "(objectClass=*)", []string{"1.1"})); err != nil {
		what, hint := d.describeOpError(err, base)
		return info, newError(err, "%s", joinHint(what, hint))
	}
	size := d.pageSize
	if size <= 0 {
		size = DefaultPageSize
	}
	var cookie []byte
	for {
		if err := ctx.Err(); err != nil {
			return info, err
		}
		paging := ldap.NewControlPaging(uint32(size))
		paging.SetCookie(cookie)
		req := ldap.NewSearchRequest(base, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
			filter, []string{"1.1"}, []ldap.Control{paging})
		// Counted as they stream by, never kept, whatever a server sends.
		resp := d.conn.SearchAsync(ctx, req, 64)
		var c *ldap.ControlPaging
		for resp.Next() {
			if resp.Entry() != nil {
				info.Users++
			} else if pc, ok := ldap.FindControl(resp.Controls(), ldap.ControlTypePaging).(*ldap.ControlPaging); ok {
				c = pc
			}
		}
		if err := ctx.Err(); err != nil {
			return info, err
		}
		err := resp.Err()
		if err == nil && c == nil && d.conn.IsClosing() {
			err = &lostError{d.conn.GetLastError()}
		}
		if err != nil {
			if berr := d.broken("counting the users under " + base); berr != nil {
				return info, berr
			}
			what, hint := d.describeOpError(err, base)
			return info, newError(err, "counting the users under %q: %s", base, joinHint(what, hint))
		}
		info.Pages++
		if c == nil || len(c.Cookie) == 0 {
			return info, nil
		}
		if info.Users >= limit {
			// Tell the server to drop the rest of the result (RFC 2696:
			// a page size of 0 with the cookie).
			abandon := ldap.NewControlPaging(0)
			abandon.SetCookie(c.Cookie)
			req.Controls = []ldap.Control{abandon}
			_, _ = d.conn.Search(req)
			info.AtLeast = true
			return info, nil
		}
		cookie = c.Cookie
	}
}

// LDAPSearchLine is the ldapsearch command equivalent to a run's read of
// base; it never holds the password.
func (p *Probe) LDAPSearchLine(base string) string { return p.d.ldapsearchLine(base) }

// Close closes the connection.
func (p *Probe) Close() error {
	p.d.dropConn()
	return nil
}
