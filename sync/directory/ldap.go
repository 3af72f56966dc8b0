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
	"github.com/upnsync/upnsync/sync/directory/internal/wire"
)

type ldapDirectory struct {
	opts     Options // Password kept for reconnecting; never printed
	url      string  // scheme://host[:port], no credentials
	host     string  // host name or IP for certificate verification
	bases    []string
	filter   string
	pageSize int
	timeout  time.Duration // a request once connected
	// connectTimeout bounds each step of connecting: --connect-timeout,
	// or --timeout when that is shorter (connectOption names which).
	connectTimeout time.Duration
	connectOption  string
	tls            *tls.Config
	dec            *decoder
	log            *slog.Logger

	// The connection (connect.go): go-ldap's, on the Tap that takes the
	// bulk read's entries out of the stream; root is its rootDSE, once
	// read (rootdse.go).
	mu   sync.Mutex
	conn *ldap.Conn
	tap  *wire.Tap
	root *ldap.Entry
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
	// once passes each person once during a read of several bases.
	once *onceGuard
	// passwordFile is the password file when ldapsearch -y reads it as
	// upnsync does (ldapsearch.go).
	passwordFile string
	// principalName is the Kerberos principal a keytab bind is made as
	// (NAME@REALM), once known.
	principalName string

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
	if passwordFileFits(opts.PasswordFile, opts.Password) {
		d.passwordFile = opts.PasswordFile
	}
	d.connectTimeout, d.connectOption = opts.connectLimit()

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
		return nil, fmt.Errorf("refusing to send the password of \"%s\" in clear text to %s: use ldaps:// or --start-tls (or --allow-plaintext-bind to accept the risk)", opts.Login, d.url)
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
	if d.bases, _, err = SearchBases(bases); err != nil {
		return nil, err
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
	}
	d.conn, d.tap, d.root = nil, nil, nil
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
	// On Open's connection; a new one only when that one was lost.
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
		// start again once on a new connection. (Not after a response
		// upnsync refused: the connection is closed then, but not lost.)
		refused := errors.Is(err, wire.ErrMalformed) || errors.Is(err, wire.ErrLimit)
		if reused && attempt == 0 && res.Entries == 0 && res.Pages == 0 && res.Referrals == 0 && !refused && d.connLost(err) && ctx.Err() == nil {
			d.dropConn()
			continue
		}
		d.dropConn() // leftovers of an unfinished page must not reach the next read
		return res, err
	}
}

func (d *ldapDirectory) fail(res *upnsync.ReadResult, err error) error {
	res.Complete = false
	res.Why = err.Error()
	return err
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
