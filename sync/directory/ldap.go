package directory

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/go-ldap/ldap/v3"

	upnsync "github.com/upnsync/upnsync/sync"
)

// pageSlack is room in the result buffer beyond one page for referrals and
// the page's closing item. go-ldap drops a response it cannot hand over
// within the request timeout, so the buffer must hold a whole page: a slow
// consumer then never stalls the connection.
const pageSlack = 64

type ldapDirectory struct {
	opts     Options // Password kept for reconnecting; never printed
	url      string  // scheme://host[:port], no credentials
	host     string  // host name or IP for certificate verification
	bases    []string
	filter   string
	pageSize int
	timeout  time.Duration
	tls      *tls.Config
	dec      *decoder
	log      *slog.Logger
	// goLDAPPaging makes paged reads go through go-ldap instead of the
	// wire reader (wireread.go): tests compare the two.
	goLDAPPaging bool

	mu   sync.Mutex
	conn *ldap.Conn
	// noGUIDDN is set once the server refused a <GUID=...> DN (not AD);
	// nc is the naming context searched instead.
	noGUIDDN bool
	nc       string
	// domainScope is set when the directory announces AD's domain-scope
	// control: reads then send it, and AD returns no continuation
	// references to other naming contexts.
	domainScope bool
	// located names the DNS SRV records the directory was found through.
	located string

	// Tracked reads (delta.go): tracked is set by ChangedSince or DirSync;
	// minUSN narrows the filter to uSNChanged >= minUSN; dirsync reads with
	// the DirSync control from cookie; pinned is the connection Position
	// read the DC's identity on; syncNC the domain's naming context.
	tracked bool
	minUSN  int64
	dirsync bool
	cookie  []byte
	pinned  *ldap.Conn
	syncNC  string
}

func openLDAP(opts Options) (*ldapDirectory, error) {
	d, err := newLDAP(opts)
	if err != nil {
		return nil, err
	}
	if err := d.connect(); err != nil {
		return nil, err
	}
	if err := d.readDomainInfo(); err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

// newLDAP checks the options and prepares the reader without touching the
// network.
func newLDAP(opts Options) (*ldapDirectory, error) {
	raw := strings.TrimSpace(opts.URL)
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // url.Error repeats the URL, which may hold a password
		}
		return nil, fmt.Errorf("directory URL %q is not valid: %v", redactURL(raw), err)
	}
	scheme := strings.ToLower(u.Scheme)
	if u.User != nil {
		return nil, fmt.Errorf("directory URL %q holds credentials: put none in the URL; use --login and --password-file (or UPNSYNC_PASSWORD)", redactURL(raw))
	}
	if u.Host == "" || u.Hostname() == "" {
		return nil, fmt.Errorf("directory URL %q names no host: use %s://dc1.corp.example.com", raw, scheme)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("directory URL %q: the parts after the host (?attributes?scope?filter) are not supported: use --domain for the base and --filter for the filter", raw)
	}
	if opts.GlobalCatalog && u.Port() == "" {
		// The Global Catalog's own ports, as AD's tools use them.
		port := "3268"
		if scheme == "ldaps" {
			port = "3269"
		}
		u.Host = net.JoinHostPort(u.Hostname(), port)
	}
	d := &ldapDirectory{
		opts:     opts,
		url:      scheme + "://" + u.Host,
		host:     u.Hostname(),
		filter:   DefaultUserFilter,
		pageSize: opts.PageSize,
		timeout:  opts.Timeout,
		dec:      newDecoder(opts.Fields, opts.NetBIOSDomain),
		log:      opts.Logger,
	}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	if d.timeout <= 0 {
		d.timeout = DefaultTimeout
	}

	// Credentials: refuse before anything is sent.
	if err := checkKerberos(opts); err != nil {
		return nil, err
	}
	switch {
	case opts.Anonymous && opts.Login != "":
		return nil, errors.New("--anonymous and --login exclude each other: give one of them")
	case !opts.Anonymous && !opts.kerberos() && (opts.Login == "" || opts.Password == ""):
		return nil, errors.New("give --login and a password (--password-file or UPNSYNC_PASSWORD), or --anonymous; or bind with Kerberos: --kerberos-keytab FILE, --kerberos-ccache FILE, --integrated-auth (Windows)")
	}
	switch {
	case scheme == "ldaps" && opts.StartTLS:
		return nil, fmt.Errorf("--start-tls is for ldap:// URLs: %s is already encrypted", d.url)
	case scheme == "ldap" && !opts.StartTLS && opts.kerberos() && !opts.AllowPlaintextBind:
		return nil, fmt.Errorf("refusing a Kerberos bind over unencrypted ldap:// to %s: upnsync neither signs nor seals LDAP traffic (and AD requires signing): use ldaps:// or --start-tls", d.url)
	case scheme == "ldap" && !opts.StartTLS && opts.NTLM && !opts.AllowPlaintextBind:
		return nil, fmt.Errorf("refusing an NTLM bind over unencrypted ldap:// to %s: upnsync neither signs nor seals LDAP traffic (and AD requires signing): use ldaps:// or --start-tls", d.url)
	case scheme == "ldap" && !opts.StartTLS && !opts.Anonymous && !opts.AllowPlaintextBind:
		return nil, fmt.Errorf("refusing to send the password of %q in clear text to %s: use ldaps:// or --start-tls (or --allow-plaintext-bind to accept the risk)", opts.Login, d.url)
	}

	if f := strings.TrimSpace(opts.UserFilter); f != "" {
		if _, err := ldap.CompileFilter(f); err != nil {
			return nil, fmt.Errorf("--user-filter %q is not a valid LDAP filter: %s (example: %s)", f, ldapErrText(err), DefaultUserFilter)
		}
		d.filter = f
	}
	if f := strings.TrimSpace(opts.Filter); f != "" {
		extra, err := extraFilter(f)
		if err != nil {
			return nil, err
		}
		d.filter = "(&" + d.filter + extra + ")"
	}
	if opts.PageSize < 0 || opts.PageSize > math.MaxInt32 {
		return nil, fmt.Errorf("page size %d is out of range: use 1 to 1000 (0 reads without paging)", opts.PageSize)
	}

	bases := opts.Bases
	if len(bases) == 0 && u.Path != "" && u.Path != "/" {
		p, err := url.PathUnescape(strings.TrimPrefix(u.Path, "/"))
		if err != nil {
			return nil, fmt.Errorf("directory URL %q: the base DN after the host is not valid: %v", raw, err)
		}
		bases = []string{p}
	}
	seen := map[string]bool{}
	for _, b := range bases {
		dn, err := BaseFromDomain(b)
		if err != nil {
			return nil, err
		}
		if k := strings.ToLower(dn); !seen[k] {
			seen[k] = true
			d.bases = append(d.bases, dn)
		}
	}

	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if opts.CAFile != "" {
		pem, err := os.ReadFile(opts.CAFile)
		if err != nil {
			return nil, fmt.Errorf("cannot read the CA file given with --ca-file: %v", err)
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("CA file %s holds no PEM certificate (-----BEGIN CERTIFICATE-----): give the CA certificate in PEM form", opts.CAFile)
		}
	}
	d.tls = &tls.Config{RootCAs: pool, ServerName: d.host, MinVersion: tls.VersionTLS12}
	return d, nil
}

// connect dials, upgrades with StartTLS if asked, and binds.
func (d *ldapDirectory) connect() error {
	if d.opts.NTLM {
		return d.connectNTLM()
	}
	conn, raw, err := d.dial()
	if err != nil {
		return d.dialError(err)
	}
	conn.SetTimeout(d.timeout)
	if d.opts.StartTLS {
		cfg := d.tls.Clone()
		cfg.ServerName = d.host // StartTLS does not take it from the URL
		deadline(raw, d.timeout)
		if err := conn.StartTLS(cfg); err != nil {
			conn.Close()
			return d.startTLSError(err)
		}
	}
	if d.opts.kerberos() {
		deadline(raw, d.timeout)
		if err := d.kerberosBind(conn); err != nil {
			conn.Close()
			return err
		}
	} else if !d.opts.Anonymous {
		deadline(raw, d.timeout)
		if err := conn.Bind(d.opts.Login, d.opts.Password); err != nil {
			conn.Close()
			return d.bindError(err)
		}
	}
	deadline(raw, 0)
	d.conn = conn
	return nil
}

// readDomainInfo reads what the directory says about itself once bound:
// the domain's naming context when no base was given, whether it supports
// AD's domain-scope control, and, on AD, the NetBIOS name of each domain of
// the forest from the Partitions container. Only the base is essential:
// without the rest a read still works, with referrals counted and NetBIOS
// names taken from DNs, and the log says so.
func (d *ldapDirectory) readDomainInfo() error {
	req := ldap.NewSearchRequest("", ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=*)", []string{"defaultNamingContext", "namingContexts", "configurationNamingContext", "supportedControl"}, nil)
	sr, err := d.conn.Search(req)
	if err != nil || len(sr.Entries) == 0 {
		if len(d.bases) == 0 {
			if err == nil {
				return fmt.Errorf("%s returned no rootDSE (or this account may not read it): give the base with --domain", d.url)
			}
			what, _ := d.describeOpError(err, "")
			return newError(err, "cannot read the rootDSE of %s to find the domain's naming context: %s; give the base with --domain", d.url, what)
		}
		why := "it returned none"
		if err != nil {
			why = ldapErrText(err)
		}
		d.log.Warn("cannot read the rootDSE: the domain-scope control is not sent, and NetBIOS domain names come from the DNs (--netbios-domain sets one)",
			"directory", d.url, "error", why)
		return nil
	}
	root := sr.Entries[0]
	if len(d.bases) == 0 {
		switch {
		case d.opts.GlobalCatalog:
			// The whole forest: the Global Catalog answers a subtree
			// search of the empty base with every domain's users.
			d.bases = []string{""}
		case root.GetEqualFoldAttributeValue("defaultNamingContext") != "":
			d.bases = []string{root.GetEqualFoldAttributeValue("defaultNamingContext")}
		default:
			vs := root.GetEqualFoldAttributeValues("namingContexts")
			if len(vs) == 0 || vs[0] == "" {
				return fmt.Errorf("%s announces no naming context in its rootDSE (or this account may not read it): give the base with --domain", d.url)
			}
			d.bases = []string{vs[0]}
		}
	}
	for _, c := range root.GetEqualFoldAttributeValues("supportedControl") {
		if c == ControlDomainScope {
			d.domainScope = true
		}
	}
	if cfg := root.GetEqualFoldAttributeValue("configurationNamingContext"); cfg != "" && d.opts.NetBIOSDomain == "" {
		d.readNetBIOSNames(cfg)
	}
	return nil
}

// readNetBIOSNames reads the nETBIOSName of each domain of the forest from
// the crossRef objects of the Partitions container (where nCName is the
// domain's naming context), so that DOMAIN\name entries match a domain
// whose NetBIOS name is not its first DNS label (example.com's EXAMPLE may
// well be CORP). A failure leaves the names derived from DNs, with a
// warning.
func (d *ldapDirectory) readNetBIOSNames(configNC string) {
	base := "CN=Partitions," + configNC
	req := ldap.NewSearchRequest(base, ldap.ScopeSingleLevel, ldap.NeverDerefAliases, 0, 0, false,
		"(&(objectClass=crossRef)(nETBIOSName=*))", []string{"nCName", "nETBIOSName", "dnsRoot"}, nil)
	sr, err := d.conn.Search(req)
	if err != nil {
		d.log.Warn("cannot read the NetBIOS domain names from the Partitions container: they are taken from the DNs (the first DC= label, upper case); --netbios-domain sets one",
			"base", base, "error", ldapErrText(err))
		return
	}
	names := map[string]string{}
	var found []string
	for _, e := range sr.Entries {
		nb := strings.TrimSpace(e.GetEqualFoldAttributeValue("nETBIOSName"))
		dns := domainOfSuffix(e.GetEqualFoldAttributeValue("nCName")).dns
		if nb == "" || dns == "" {
			continue
		}
		names[dns] = nb
		found = append(found, dns+"="+nb)
	}
	if len(names) == 0 {
		d.log.Warn("the Partitions container names no domain's NetBIOS name: they are taken from the DNs (the first DC= label, upper case); --netbios-domain sets one",
			"base", base)
		return
	}
	d.dec.domains = domainCache{netbios: names}
	d.log.Info("NetBIOS domain names from the directory", "domains", strings.Join(found, "; "))
}

// extraFilter checks the clause of --filter: one LDAP filter, in
// parentheses (added when left out).
func extraFilter(f string) (string, error) {
	if !strings.HasPrefix(f, "(") {
		f = "(" + f + ")"
	}
	if _, err := ldap.CompileFilter(f); err != nil {
		return "", fmt.Errorf("--filter %q is not a valid LDAP filter: %s; give one clause such as (department=Sales) or (!(userAccountControl:1.2.840.113556.1.4.803:=2)), with ( ) * \\ in values written \\28 \\29 \\2a \\5c",
			f, ldapErrText(err))
	}
	return f, nil
}

// controls are the controls every read of the users sends besides paging.
func (d *ldapDirectory) controls() []ldap.Control {
	if d.domainScope {
		return []ldap.Control{ldap.NewControlString(ControlDomainScope, false, "")}
	}
	return nil
}

// discoverBases reads the rootDSE for the domain's naming context (the
// Global Catalog: the whole forest, as readDomainInfo).
func (d *ldapDirectory) discoverBases() error {
	if d.opts.GlobalCatalog {
		d.bases = []string{""}
		return nil
	}
	req := ldap.NewSearchRequest("", ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=*)", []string{"defaultNamingContext", "namingContexts"}, nil)
	sr, err := d.conn.Search(req)
	if err != nil {
		what, _ := d.describeOpError(err, "")
		return newError(err, "cannot read the rootDSE of %s to find the domain's naming context: %s; give the base with --domain", d.url, what)
	}
	for _, e := range sr.Entries {
		if v := e.GetEqualFoldAttributeValue("defaultNamingContext"); v != "" {
			d.bases = []string{v}
			return nil
		}
		if vs := e.GetEqualFoldAttributeValues("namingContexts"); len(vs) > 0 && vs[0] != "" {
			d.bases = []string{vs[0]}
			return nil
		}
	}
	return fmt.Errorf("%s announces no naming context in its rootDSE (or this account may not read it): give the base with --domain", d.url)
}

// Describe names the directory and its bases, never the credentials.
func (d *ldapDirectory) Describe() string {
	s := d.url
	if d.located != "" {
		s += ", found through " + d.located + ","
	}
	names := make([]string, len(d.bases))
	for i, b := range d.bases {
		names[i] = b
		if b == "" {
			names[i] = "the whole forest"
		}
	}
	switch len(d.bases) {
	case 0:
		return s
	case 1:
		return s + " (base " + names[0] + ")"
	}
	return s + " (bases " + strings.Join(names, "; ") + ")"
}

// Close closes the connection.
func (d *ldapDirectory) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.dropConn()
	return nil
}

func (d *ldapDirectory) dropConn() {
	if d.conn != nil {
		d.conn.Close()
		d.conn = nil
	}
}

// Read streams every user of every base to fn, page by page.
func (d *ldapDirectory) Read(ctx context.Context, fn func(upnsync.Person) error) (upnsync.ReadResult, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.dec.badGUIDs, d.dec.badGUIDFirst = 0, ""
	defer d.warnBadGUIDs()
	if d.tracked {
		return d.readTracked(ctx, fn)
	}
	if d.pageSize > 0 && !d.goLDAPPaging {
		return d.readWire(ctx, fn)
	}

	for attempt := 0; ; attempt++ {
		reused := d.conn != nil && !d.conn.IsClosing()
		if !reused {
			d.dropConn()
			if err := ctx.Err(); err != nil {
				r := upnsync.ReadResult{}
				return r, d.fail(&r, newError(err, "the read was cancelled before it started: %v", err))
			}
			if err := d.connect(); err != nil {
				r := upnsync.ReadResult{Why: err.Error()}
				return r, err
			}
		}
		res, err := d.readAll(ctx, fn)
		if err == nil {
			return res, nil
		}
		// A reused connection the server had dropped while idle (AD closes
		// idle connections after 900 s) fails before anything is read:
		// start again once on a new connection.
		if reused && attempt == 0 && res.Entries == 0 && res.Pages == 0 && res.Referrals == 0 && d.connLost(err) && ctx.Err() == nil {
			d.dropConn()
			continue
		}
		d.dropConn() // leftovers of an unfinished page must not reach the next read
		return res, err
	}
}

func (d *ldapDirectory) readAll(ctx context.Context, fn func(upnsync.Person) error) (upnsync.ReadResult, error) {
	var res upnsync.ReadResult
	for _, base := range d.bases {
		res.Bases = append(res.Bases, upnsync.BaseCount{Base: base})
		bc := &res.Bases[len(res.Bases)-1]
		d.log.Info("search", "base", base, "ldapsearch", d.ldapsearchLine(base))
		var err error
		if d.pageSize > 0 {
			err = d.readPaged(ctx, base, fn, &res, bc)
		} else {
			err = d.readUnpaged(ctx, base, fn, &res, bc)
		}
		if err != nil {
			return res, d.fail(&res, err)
		}
	}
	res.Complete = true
	return res, nil
}

func (d *ldapDirectory) fail(res *upnsync.ReadResult, err error) error {
	res.Complete = false
	res.Why = err.Error()
	return err
}

func (d *ldapDirectory) searchRequest(base string, controls []ldap.Control) *ldap.SearchRequest {
	return ldap.NewSearchRequest(base, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
		d.readFilter(), d.dec.attrs, append(controls, d.controls()...))
}

// readPaged reads one base with one SearchAsync per page, each with a fresh
// paging control carrying the previous page's cookie. A page is proven
// complete only by the arrival of its closing paging control.
func (d *ldapDirectory) readPaged(ctx context.Context, base string, fn func(upnsync.Person) error, res *upnsync.ReadResult, bc *upnsync.BaseCount) error {
	var cookie []byte
	for {
		if err := ctx.Err(); err != nil {
			return d.cancelled(err, res)
		}
		paging := ldap.NewControlPaging(uint32(d.pageSize))
		paging.SetCookie(cookie)
		req := d.searchRequest(base, []ldap.Control{paging})

		pctx, cancel := context.WithCancel(ctx)
		resp := d.conn.SearchAsync(pctx, req, d.pageSize+pageSlack)
		closed := false
		var next []byte
		done := ctx.Done()
		for resp.Next() {
			if e := resp.Entry(); e != nil {
				select {
				case <-done:
					cancel()
					return d.cancelled(ctx.Err(), res)
				default:
				}
				res.Entries++
				bc.Entries++
				if err := fn(d.dec.entry(e)); err != nil {
					cancel()
					if ctxErr := ctx.Err(); ctxErr != nil && errors.Is(err, ctxErr) {
						return d.cancelled(ctxErr, res)
					}
					return d.stopped(err, res)
				}
				continue
			}
			if resp.Referral() != "" {
				res.Referrals++
				bc.Referrals++
				continue
			}
			if c, ok := ldap.FindControl(resp.Controls(), ldap.ControlTypePaging).(*ldap.ControlPaging); ok {
				closed = true
				next = c.Cookie
			}
		}
		cancel()
		if err := resp.Err(); err != nil {
			return d.searchError(err, base, res)
		}
		if err := ctx.Err(); err != nil {
			return d.cancelled(err, res)
		}
		if !closed {
			return newError(&lostError{d.conn.GetLastError()}, "%s; the read is incomplete", d.lostAfter(res))
		}
		res.Pages++
		bc.Pages++
		if len(next) == 0 {
			return nil
		}
		cookie = next
	}
}

// readUnpaged reads one base with a single search without the paging
// control. A server's size limit makes it incomplete (AD: 1000 entries).
func (d *ldapDirectory) readUnpaged(ctx context.Context, base string, fn func(upnsync.Person) error, res *upnsync.ReadResult, bc *upnsync.BaseCount) error {
	if err := ctx.Err(); err != nil {
		return d.cancelled(err, res)
	}
	sr, serr := d.conn.Search(d.searchRequest(base, nil))
	if sr != nil {
		res.Referrals += len(sr.Referrals)
		bc.Referrals += len(sr.Referrals)
		for i, e := range sr.Entries {
			if err := ctx.Err(); err != nil {
				return d.cancelled(err, res)
			}
			res.Entries++
			bc.Entries++
			if err := fn(d.dec.entry(e)); err != nil {
				return d.stopped(err, res)
			}
			sr.Entries[i] = nil // let it go as soon as it is used
		}
	}
	if serr != nil {
		return d.searchError(serr, base, res)
	}
	res.Pages++
	bc.Pages++
	return nil
}

func (d *ldapDirectory) cancelled(err error, res *upnsync.ReadResult) error {
	what := "was cancelled"
	if errors.Is(err, context.DeadlineExceeded) {
		what = "ran out of time"
	}
	return newError(err, "the read of %s %s after page %d (%d entries); the read is incomplete", d.url, what, res.Pages, res.Entries)
}

func (d *ldapDirectory) stopped(err error, res *upnsync.ReadResult) error {
	return newError(err, "the read of %s stopped after page %d (%d entries): %v; the read is incomplete", d.url, res.Pages, res.Entries, err)
}

func (d *ldapDirectory) warnBadGUIDs() {
	if d.dec.badGUIDs > 0 {
		d.log.Warn("objectGUID values of the wrong length were ignored (those people have no GUID)",
			"directory", d.url, "count", d.dec.badGUIDs, "first", d.dec.badGUIDFirst)
	}
}

// redactURL removes credentials from a URL for messages.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		if i := strings.Index(raw, "@"); err != nil && i >= 0 && strings.Contains(raw, "://") {
			s := raw[:strings.Index(raw, "://")+3]
			return s + "…@" + raw[i+1:]
		}
		return raw
	}
	u.User = nil
	return u.String()
}

// connectNTLM connects and binds with NTLM as the paged reader does (its
// wire connection: go-ldap has no SASL GSS-SPNEGO bind), then goes on with
// go-ldap on the same connection.
func (d *ldapDirectory) connectNTLM() error {
	ctx, cancel := context.WithTimeout(context.Background(), d.timeout)
	defer cancel()
	c, err := d.dialWire(ctx)
	if err != nil {
		return err
	}
	nc, err := c.NetConn()
	if err != nil {
		c.Close()
		return d.bindError(&ldap.Error{ResultCode: ldap.ErrorNetwork, Err: err})
	}
	_, isTLS := nc.(*tls.Conn)
	conn := ldap.NewConn(nc, isTLS)
	conn.Start()
	conn.SetTimeout(d.timeout)
	d.conn = conn
	return nil
}
