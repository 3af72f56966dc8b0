package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/upnsync/upnsync/config"
	"github.com/upnsync/upnsync/mapping"
	upnsync "github.com/upnsync/upnsync/sync"
	"github.com/upnsync/upnsync/sync/directory"
	"github.com/upnsync/upnsync/sync/octopus"
)

// Doctor's limits: how many users it counts under a base (a count of a
// million users would take a minute and prove nothing more), how long a
// DNS look-up or a TCP connection may take, and when a certificate's or a
// clock's state becomes a warning or a failure.
const (
	doctorCountLimit    = 100_000
	doctorDialLimit     = 30 * time.Second
	certWarnDays        = 30
	clockWarnSkew       = time.Minute
	clockFailSkew       = 5 * time.Minute // Kerberos' default tolerance
	clockGranularity    = 2 * time.Second // currentTime has whole seconds
	doctorIndent        = "      "
	doctorCheckNameSize = 13
)

type checkStatus string

const (
	statusPass checkStatus = "PASS"
	statusWarn checkStatus = "WARN"
	statusFail checkStatus = "FAIL"
	statusSkip checkStatus = "SKIP"
)

// doctor prints one line per check as it completes, with the fix under
// each failure or warning.
type doctor struct {
	w      io.Writer
	counts map[checkStatus]int
	failed []string
	// tracking is set with --incremental or --dirsync: the "changes"
	// check is then one of the directory's checks.
	tracking bool
}

func (d *doctor) report(status checkStatus, name, detail, fix string) {
	d.counts[status]++
	if status == statusFail {
		d.failed = append(d.failed, name)
	}
	fmt.Fprintf(d.w, "%s  %-*s %s\n", status, doctorCheckNameSize, name, detail)
	if fix != "" {
		fmt.Fprintf(d.w, "%sfix: %s\n", doctorIndent, fix)
	}
}

func (d *doctor) pass(name, detail string)      { d.report(statusPass, name, detail, "") }
func (d *doctor) warn(name, detail, fix string) { d.report(statusWarn, name, detail, fix) }
func (d *doctor) fail(name, detail, fix string) { d.report(statusFail, name, detail, fix) }
func (d *doctor) skip(name, why string)         { d.report(statusSkip, name, why, "") }
func (d *doctor) note(text string)              { fmt.Fprintf(d.w, "%s%s\n", doctorIndent, text) }

// runDoctor checks, before a first run, everything a run with the same
// options needs: the mapping file, the directory (DNS, TCP, TLS, bind,
// rootDSE, each base), the store, the clock and the output files. It
// writes nothing anywhere but its own output, and exits 0 only when no
// check failed (warnings and skipped checks do not fail it).
func runDoctor(ctx context.Context, s *config.Settings, stdout, stderr io.Writer) int {
	if len(s.Args) > 0 {
		return fail(stderr, "doctor takes no arguments, only the options of a run; see upnsync --help")
	}
	d := &doctor{w: stdout, counts: map[checkStatus]int{}}
	fmt.Fprintf(stdout, "upnsync doctor (%s): checking what a run with these options needs; nothing is written.\n\n", version)

	doctorSettings(d, s)
	fields := doctorMapping(d, s)
	doctorDirectory(ctx, d, s, fields)
	doctorStore(ctx, d, s)
	doctorOutputs(d, s)
	if s.Schedule != "" {
		doctorSchedule(d, s)
	}

	fmt.Fprintln(stdout)
	extra := ""
	if n := d.counts[statusWarn]; n > 0 {
		extra += fmt.Sprintf(", %d with a warning", n)
	}
	if n := d.counts[statusSkip]; n > 0 {
		extra += fmt.Sprintf(", %d skipped", n)
	}
	if len(d.failed) > 0 {
		fmt.Fprintf(stdout, "%d of %d checks failed (%s)%s: fix them and run upnsync doctor again.\n",
			len(d.failed), total(d.counts), strings.Join(d.failed, ", "), extra)
		return exitError
	}
	fmt.Fprintf(stdout, "All checks passed (%d%s).\n", total(d.counts), extra)
	return exitOK
}

func total(counts map[checkStatus]int) int {
	n := 0
	for _, c := range counts {
		n += c
	}
	return n
}

func doctorSettings(d *doctor, s *config.Settings) {
	what := "dry run (add --apply to write)"
	if s.Apply {
		what = "apply"
	}
	pw := "no password"
	if src := s.PasswordSource(); src != "none" {
		pw = "password from " + src
	}
	switch {
	case s.IntegratedAuth:
		pw = "integrated authentication (Kerberos as the account upnsync runs as)"
	case s.KerberosKeytab != "":
		pw = "Kerberos with keytab " + s.KerberosKeytab
	case s.KerberosCCache != "":
		pw = "Kerberos with credential cache " + s.KerberosCCache
	}
	if src := s.StorePasswordSource(); src != "none" {
		pw += "; store password from " + src
	}
	// The URL as redacted for the log: a password in it stays out.
	d.pass("settings", fmt.Sprintf("%s; directory %s; store %s; %s", what, orNone(s.Directory), config.RedactStoreURL(s.Store), pw))
	for _, w := range s.Warnings {
		d.warn("settings", w, "")
	}
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func doctorMapping(d *doctor, s *config.Settings) mapping.Fields {
	if s.ConfigFile == "" {
		d.fail("mapping file", "no mapping file given",
			"give --config-file-path FILE (or /ConfigFilePath:FILE): a copy of Octopus's ADSIReaderLDAPMappings.xml, then run upnsync mapping add-upn FILE")
		return mapping.DefaultFields
	}
	m, err := mapping.Load(s.ConfigFile)
	if err != nil {
		d.fail("mapping file", err.Error(), "")
		return mapping.DefaultFields
	}
	upn, _ := m.UPN()
	d.pass("mapping file", fmt.Sprintf("%s: user mapping %q, %d entries; the UPN comes from %s (line %d)",
		s.ConfigFile, m.Name, len(m.Attributes), upn.LDAP, upn.Line))
	return m.Fields()
}

// directoryOptions are the directory's settings, for a run and for doctor
// alike.
func directoryOptions(s *config.Settings, fields mapping.Fields) directory.Options {
	return directory.Options{
		URL: s.Directory, Bases: s.Domains, Login: s.Login, Password: s.Password.Reveal(),
		Anonymous: s.Anonymous, CAFile: s.CAFile, StartTLS: s.StartTLS,
		KerberosKeytab: s.KerberosKeytab, KerberosCCache: s.KerberosCCache, Krb5Conf: s.Krb5Conf,
		IntegratedAuth: s.IntegratedAuth, NTLM: s.NTLM,
		AllowPlaintextBind: s.AllowPlaintextBind, PageSize: s.PageSize, UserFilter: s.UserFilter, Filter: s.Filter, GlobalCatalog: s.GlobalCatalog,
		NetBIOSDomain: s.NetBIOSDomain, Timeout: s.Timeout, Fields: fields, Columns: s.Columns,
	}
}

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
		opts := directoryOptions(s, fields)
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
	kind, _, _ := strings.Cut(strings.ToLower(strings.TrimSpace(s.Directory)), ":")
	if kind != "ldap" && kind != "ldaps" {
		doctorFileDirectory(ctx, d, s, fields)
		return
	}
	p, err := directory.NewProbe(directoryOptions(s, fields))
	if err != nil {
		d.fail("directory", err.Error(), "")
		skipFrom(d, "DNS", "the directory settings are not usable")
		return
	}
	defer p.Close()
	dialLimit := min(s.Timeout, doctorDialLimit)

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
	for _, base := range bases {
		info, err := p.CountUsers(ctx, base, doctorCountLimit)
		switch {
		case err != nil:
			d.fail("base", err.Error(), "")
		case info.Users == 0:
			d.warn("base", fmt.Sprintf("%s exists but holds no entry the user filter matches", base),
				"check --domain and --user-filter (for non-AD directories e.g. (objectClass=inetOrgPerson))")
		case info.AtLeast:
			d.pass("base", fmt.Sprintf("%s exists: more than %s users (counting stopped there)", base, thousands(int64(info.Users))))
		default:
			d.pass("base", fmt.Sprintf("%s exists: %s users in %d pages", base, thousands(int64(info.Users)), info.Pages))
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
	dir, err := directory.Open(directoryOptions(s, fields))
	if err != nil {
		d.fail("directory", err.Error(), "")
		return
	}
	defer dir.Close()
	n := 0
	res, err := dir.Read(ctx, func(upnsync.Person) error { n++; return nil })
	switch {
	case err != nil:
		d.fail("directory", err.Error(), "")
	case !res.Complete:
		d.fail("directory", fmt.Sprintf("%s: the read is not complete: %s", dir.Describe(), res.Why), "")
	default:
		d.pass("directory", fmt.Sprintf("%s: %s users, read completely", dir.Describe(), thousands(int64(n))))
	}
	d.note("DNS, TCP, TLS, bind, rootDSE, base and clock apply to LDAP directories only")
}

func doctorStore(ctx context.Context, d *doctor, s *config.Settings) {
	// Opened as a run with --apply opens it (which writes nothing by
	// itself), so that the store can tell whether it could be written.
	store, err := octopus.Open(ctx, s.Store, storeOptions(s, octopus.Options{State: s.State}))
	if err != nil {
		d.fail("store", err.Error(), "")
		return
	}
	defer store.Close()
	n := 0
	if err := store.Users(ctx, func(upnsync.User) error { n++; return nil }); err != nil {
		d.fail("store", err.Error(), "")
		return
	}
	wc, ok := store.(octopus.WriteChecker)
	if !ok {
		d.pass("store", fmt.Sprintf("%s opens: %s users (whether --apply could write was not checked for this kind of store)", store.Describe(), thousands(int64(n))))
		return
	}
	if err := wc.CheckWritable(ctx); err != nil {
		if s.Apply {
			d.fail("store", fmt.Sprintf("%s: %s users, but --apply cannot write: %v", store.Describe(), thousands(int64(n)), err), "")
		} else {
			d.warn("store", fmt.Sprintf("%s: %s users; a dry run works, --apply would not: %v", store.Describe(), thousands(int64(n)), err), "")
		}
		return
	}
	d.pass("store", fmt.Sprintf("%s: %s users; writable (checked without writing to it)", store.Describe(), thousands(int64(n))))
}

// doctorOutputs checks that the files a run writes can be written, by
// creating and removing a test file beside each.
func doctorOutputs(d *doctor, s *config.Settings) {
	type output struct{ option, path string }
	var outs []output
	for _, o := range []output{{"--log-file-path", s.LogFile}, {"--report-file", s.ReportFile},
		{"--summary-file", s.SummaryFile}, {"--metrics-file", s.MetricsFile}} {
		if o.path != "" {
			outs = append(outs, o)
		}
	}
	if len(outs) == 0 {
		return
	}
	var ok []string
	for _, o := range outs {
		dir := filepath.Dir(o.path)
		if o.option == "--log-file-path" {
			fi, err := os.Stat(o.path)
			switch {
			case err == nil && fi.IsDir():
				dir = o.path
			case strings.HasSuffix(o.path, "/") || strings.HasSuffix(o.path, `\`):
				// A run creates the folder: its parent must take it.
				dir = filepath.Dir(filepath.Clean(o.path))
			}
		}
		if err := canCreateIn(dir); err != nil {
			d.fail("output files", fmt.Sprintf("%s %s: %v", o.option, o.path, err),
				"create the folder, or give this account the right to write in it")
			continue
		}
		ok = append(ok, o.option+" "+o.path)
	}
	if len(ok) == len(outs) {
		d.pass("output files", "can be written: "+strings.Join(ok, "; "))
	}
}

func canCreateIn(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("the folder %s does not exist", dir)
		}
		return fmt.Errorf("the folder %s: %v", dir, unwrapPathErr(err))
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a folder", dir)
	}
	f, err := os.CreateTemp(dir, ".upnsync-check-*.tmp")
	if err != nil {
		return fmt.Errorf("cannot create files in %s: %v", dir, unwrapPathErr(err))
	}
	name := f.Name()
	f.Close()
	return os.Remove(name)
}

func doctorSchedule(d *doctor, s *config.Settings) {
	sched, err := parseSchedule(s.Schedule)
	if err != nil {
		d.fail("schedule", err.Error(), "")
		return
	}
	t := time.Now()
	loc := time.Local
	if spec, ok := sched.(*cron.SpecSchedule); ok && spec.Location != nil {
		loc = spec.Location
	}
	var next []string
	for range 3 {
		t = sched.Next(t)
		next = append(next, t.In(loc).Format("2006-01-02 15:04 MST"))
	}
	d.pass("schedule", fmt.Sprintf("%q in %s: next runs %s", s.Schedule, scheduleZone(sched), strings.Join(next, ", ")))
	for _, w := range dstWarnings(sched, time.Now(), 366*24*time.Hour) {
		d.warn("schedule", w, "")
	}
}
