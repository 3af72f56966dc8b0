package doctor

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/upnsync/upnsync/config"
	"github.com/upnsync/upnsync/internal/plural"
	"github.com/upnsync/upnsync/internal/progress"
	"github.com/upnsync/upnsync/internal/run"
	"github.com/upnsync/upnsync/mapping"
	upnsync "github.com/upnsync/upnsync/sync"
	"github.com/upnsync/upnsync/sync/directory"
	"github.com/upnsync/upnsync/sync/directory/entra"
)

// The directory's checks: for LDAP, one per step a run takes (DNS, TCP,
// TLS, bind, rootDSE, each base, change tracking, the clock); for an
// export, a whole read.

var ldapChecks = []string{"DNS", "TCP", "TLS", "bind", "rootDSE", "base", "changes", "clock"}

func skipFrom(d *doctor, first, why string) {
	on := false
	for _, name := range ldapChecks {
		if name == first {
			on = true
		}
		if on && (name != "changes" || d.tracking) {
			d.skip(name, why)
		}
	}
}

func doctorDirectory(ctx context.Context, d *doctor, s *config.Settings, fields mapping.Fields) {
	d.tracking = s.Incremental || s.DirSync
	if s.Directory == "" {
		domain := directory.LocatorDomain(s.Domains)
		if domain == "" {
			d.fail("directory", "no directory given", "give --directory URL (or /Directory:URL), e.g. ldaps://dc1.corp.example.com, or --domain corp.example.com to find its domain controllers through DNS")
			return
		}
		opts := run.DirectoryOptions(s, fields)
		name, dcs, err := directory.LocateDCs(ctx, opts, domain)
		if err != nil {
			d.fail("DC locator", err.Error(), "")
			skipFrom(d, "DNS", "no domain controller found")
			return
		}
		var list []string
		for _, dc := range dcs {
			list = append(list, fmt.Sprintf("%s (priority %d, weight %d)", dc.Address, dc.Priority, dc.Weight))
		}
		// The checks below go to the first domain controller, as a run
		// tries it first; a run falls over to the next ones.
		d.pass("DC locator", fmt.Sprintf("%s: %s; checking the first, over StartTLS", name, strings.Join(list, ", ")))
		located := *s
		o := directory.LocatedOptions(opts, dcs[0])
		located.Directory, located.StartTLS, located.GlobalCatalog = o.URL, o.StartTLS, o.GlobalCatalog
		s = &located
	}
	if tenant, isEntra, err := entra.ParseURL(s.Directory); isEntra {
		doctorEntra(ctx, d, s, fields, tenant, err)
		return
	}
	kind, _, _ := strings.Cut(strings.ToLower(strings.TrimSpace(s.Directory)), ":")
	if kind != "ldap" && kind != "ldaps" {
		doctorFileDirectory(ctx, d, s, fields)
		return
	}
	p, err := directory.NewProbe(run.DirectoryOptions(s, fields))
	if err != nil {
		d.fail("directory", err.Error(), "")
		skipFrom(d, "DNS", "the directory settings are not usable")
		return
	}
	defer p.Close()
	dialLimit := s.ConnectTimeout

	// DNS
	host := p.Host()
	if ip := net.ParseIP(strings.Trim(host, "[]")); ip != nil {
		d.pass("DNS", host+" is an IP address (no look-up needed; the certificate must name this address)")
	} else {
		lctx, cancel := context.WithTimeout(ctx, dialLimit)
		addrs, err := net.DefaultResolver.LookupHost(lctx, host)
		cancel()
		if err != nil {
			d.fail("DNS", fmt.Sprintf("cannot resolve %q: %s", host, dnsReason(err)),
				"check the host name in --directory and this machine's DNS servers (for AD: a domain controller's name, e.g. dc1.corp.example.com)")
			skipFrom(d, "TCP", "the host name does not resolve")
			return
		}
		d.pass("DNS", fmt.Sprintf("%s resolves to %s", host, strings.Join(addrs, ", ")))
	}

	// TCP
	start := time.Now()
	conn, err := (&net.Dialer{Timeout: dialLimit}).DialContext(ctx, "tcp", p.Address())
	if err != nil {
		detail, fix := tcpFailure(p.Address(), dialLimit, err)
		d.fail("TCP", detail, fix)
		skipFrom(d, "TLS", "nothing to talk to")
		return
	}
	conn.Close()
	d.pass("TCP", fmt.Sprintf("%s accepts connections (%s)", p.Address(), time.Since(start).Round(100*time.Microsecond)))

	// TLS
	tlsOK := true
	switch p.Encryption() {
	case "":
		if s.Anonymous {
			d.warn("TLS", p.URL()+" is not encrypted: what is read crosses the network in clear", "use ldaps:// or --start-tls")
		} else {
			d.warn("TLS", p.URL()+" is not encrypted: the password crosses the network in clear (--allow-plaintext-bind)", "use ldaps:// or --start-tls")
		}
	default:
		info, err := p.CheckTLS(ctx)
		switch days := int(time.Until(info.NotAfter).Hours() / 24); {
		case err != nil:
			tlsOK = false
			d.fail("TLS", err.Error(), "")
		case days < certWarnDays:
			d.warn("TLS", tlsDetail(p, info, days), fmt.Sprintf("renew the directory's certificate before %s: runs fail once it expires", info.NotAfter.Format("2006-01-02")))
		default:
			d.pass("TLS", tlsDetail(p, info, days))
		}
	}

	// bind
	if !tlsOK {
		skipFrom(d, "bind", "TLS must work first")
		return
	}
	if err := p.Bind(); err != nil {
		d.fail("bind", err.Error(), "")
		skipFrom(d, "rootDSE", "the bind must work first")
		return
	}
	if s.Anonymous {
		d.pass("bind", "anonymous (--anonymous): no bind")
	} else {
		how := fmt.Sprintf("as %q", s.Login)
		switch {
		case s.IntegratedAuth:
			how = "with integrated authentication (Kerberos as the account upnsync runs as)"
		case s.KerberosKeytab != "" && s.Login == "":
			how = "with Kerberos as the first principal of keytab " + s.KerberosKeytab
		case s.KerberosKeytab != "":
			how = fmt.Sprintf("with Kerberos as %q (keytab %s)", s.Login, s.KerberosKeytab)
		case s.KerberosCCache != "":
			how = "with Kerberos (credential cache " + s.KerberosCCache + ")"
		case s.NTLM:
			how = fmt.Sprintf("with NTLM as %q", s.Login)
		}
		d.pass("bind", fmt.Sprintf("bound to %s %s", p.URL(), how))
	}

	// rootDSE
	root, err := p.RootDSE()
	if err != nil {
		d.fail("rootDSE", err.Error(), "")
	} else {
		detail := rootDSEDetail(root)
		if s.PageSize > 0 && !root.Supports(directory.ControlPaging) {
			d.fail("rootDSE", detail+"; paged results (1.2.840.113556.1.4.319) are not announced",
				"use a directory that pages results (AD does), or --page-size 0 (a read is then not provable past the server's size limit)")
		} else {
			d.pass("rootDSE", detail)
		}
	}

	// base
	bases, err := p.Bases()
	if err != nil {
		d.fail("base", err.Error(), "give the search base with --domain")
	}
	doctorOverlaps(d, s.Domains)
	for _, base := range bases {
		info, err := p.CountUsers(ctx, base, doctorCountLimit)
		switch {
		case err != nil:
			d.fail("base", err.Error(), "")
		case info.Users == 0:
			emptyBase(ctx, d, p, base)
		case info.AtLeast:
			d.pass("base", fmt.Sprintf("%s exists: more than %s users (counting stopped there)", base, progress.Thousands(int64(info.Users))))
		default:
			d.pass("base", fmt.Sprintf("%s exists: %s %s in %s", base, progress.Thousands(int64(info.Users)), plural.Noun(info.Users, "user"), plural.Count(info.Pages, "page")))
		}
		d.note("a run reads it like: " + p.LDAPSearchLine(base))
	}

	// change tracking
	if s.Incremental || s.DirSync {
		opt := "--incremental"
		if s.DirSync {
			opt = "--dirsync"
		}
		pos, terr := p.CheckChangeTracking(ctx, s.DirSync)
		switch {
		case terr != nil:
			d.fail("changes", terr.Error(), "")
		case s.DirSync:
			d.pass("changes", fmt.Sprintf("%s: DirSync searches are allowed for this account; the DC is %s", opt, pos))
		default:
			d.pass("changes", fmt.Sprintf("%s: the DC is %s", opt, pos))
		}
	}

	// clock
	if err != nil || root.CurrentTime.IsZero() {
		d.skip("clock", "the directory does not publish its time (currentTime in the rootDSE, as AD does); check that this machine's clock is synchronised (NTP)")
		return
	}
	doctorClock(d, root.CurrentTime, time.Now())
}

func doctorClock(d *doctor, server, local time.Time) {
	skew := local.Sub(server)
	abs := skew
	if abs < 0 {
		abs = -abs
	}
	ahead := "ahead of"
	if skew < 0 {
		ahead = "behind"
	}
	detail := fmt.Sprintf("this machine's clock is %s %s the directory's", abs.Round(time.Second), ahead)
	fix := "synchronise the clocks with the domain's time source (Windows: w32tm /resync; Linux: chronyc makestep or timedatectl set-ntp true)"
	switch {
	case abs > clockFailSkew:
		d.fail("clock", detail+" (Kerberos and AD refuse more than 5 minutes)", fix)
	case abs > clockWarnSkew:
		d.warn("clock", detail, fix)
	case abs <= clockGranularity:
		d.pass("clock", "this machine's clock agrees with the directory's (within 2 s)")
	default:
		d.pass("clock", detail)
	}
}

func tlsDetail(p *directory.Probe, info directory.TLSInfo, days int) string {
	how := "ldaps"
	if p.Encryption() == "starttls" {
		how = "StartTLS"
	}
	if info.Version != "" {
		how += ", " + info.Version
	}
	return fmt.Sprintf("%s; certificate %q for %s, issued by %q, trusted; expires %s (in %d days)",
		how, info.Subject, strings.Join(info.Names, ", "), info.Issuer, info.NotAfter.Format("2006-01-02"), days)
}

func rootDSEDetail(r directory.RootDSE) string {
	yes := func(b bool) string {
		if b {
			return "yes"
		}
		return "no"
	}
	parts := []string{}
	if r.DNSHostName != "" {
		parts = append(parts, "server "+r.DNSHostName)
	} else if r.VendorName != "" {
		parts = append(parts, "server "+strings.TrimSpace(r.VendorName+" "+r.VendorVersion))
	}
	nc := strings.Join(r.NamingContexts, "; ")
	if nc == "" {
		nc = "(none announced)"
	}
	parts = append(parts, "naming contexts "+nc)
	if r.DefaultNamingContext != "" {
		parts = append(parts, "default "+r.DefaultNamingContext)
	}
	parts = append(parts, fmt.Sprintf("controls: paged results %s, DirSync %s, domain scope %s",
		yes(r.Supports(directory.ControlPaging)), yes(r.Supports(directory.ControlDirSync)), yes(r.Supports(directory.ControlDomainScope))))
	return strings.Join(parts, "; ")
}

func dnsReason(err error) string {
	var de *net.DNSError
	if errors.As(err, &de) {
		switch {
		case de.IsNotFound:
			return "no such name in DNS"
		case de.IsTimeout:
			return "the DNS servers did not answer in time"
		}
		return de.Err
	}
	return err.Error()
}

func tcpFailure(addr string, limit time.Duration, err error) (detail, fix string) {
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED) || strings.Contains(strings.ToLower(err.Error()), "refused"):
		return fmt.Sprintf("%s refused the connection: nothing listens on that port", addr),
			"check the port (ldaps:// 636, ldap:// 389, the Global Catalog 3268/3269) and that the directory service runs"
	case errors.As(err, &ne) && ne.Timeout():
		return fmt.Sprintf("no answer from %s within %s", addr, limit),
			"check the host, the port, and any firewall between this machine and the directory"
	}
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		err = oe.Err
	}
	return fmt.Sprintf("cannot connect to %s: %v", addr, err), "check the host, the port and the network route"
}

// doctorFileDirectory checks an export (ldif:PATH) by reading it whole, as
// a run would.
func doctorFileDirectory(ctx context.Context, d *doctor, s *config.Settings, fields mapping.Fields) {
	dir, err := directory.Open(run.DirectoryOptions(s, fields))
	if err != nil {
		d.fail("directory", err.Error(), "")
		return
	}
	doctorOverlaps(d, s.Domains)
	defer dir.Close()
	n := 0
	res, err := dir.Read(ctx, func(upnsync.Person) error { n++; return nil })
	switch {
	case err != nil:
		d.fail("directory", err.Error(), "")
	case !res.Complete:
		d.fail("directory", fmt.Sprintf("%s: the read is not complete: %s", dir.Describe(), res.Why), "")
	default:
		d.pass("directory", fmt.Sprintf("%s: %s users, read completely", dir.Describe(), progress.Thousands(int64(n))))
	}
	d.note("DNS, TCP, TLS, bind, rootDSE, base and clock apply to LDAP directories only")
}

// doctorOverlaps warns about each --domain base inside another one: a run
// reads it through the outer one only, and says so in its log.
func doctorOverlaps(d *doctor, domains []string) {
	_, overlaps, err := directory.SearchBases(domains)
	if err != nil {
		return // the directory's own checks report a base that is not valid
	}
	for _, o := range overlaps {
		d.warn("base", o.String(), o.Fix())
	}
}
