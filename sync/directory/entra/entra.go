// Package entra reads people from Microsoft Entra ID through Microsoft
// Graph (--directory entra:TENANT): GET /v1.0/users page by page,
// following @odata.nextLink to the end, streaming each page through a JSON
// decoder, with the same completeness proof as an LDAP read (every page
// read, the last without a nextLink). Sign-in goes through azidentity
// (client secret or certificate, managed identity, workload identity, the
// Azure CLI). Delta reads (/users/delta) let an incremental run read only
// what changed. docs/entra.md is the administrator's side of it.
package entra

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"

	"github.com/upnsync/upnsync/internal/backoff"
	"github.com/upnsync/upnsync/internal/trust"
	"github.com/upnsync/upnsync/mapping"
	upnsync "github.com/upnsync/upnsync/sync"
)

// Scheme is the kind of a --directory value this package reads:
// entra:TENANT.
const Scheme = "entra"

// Defaults of Options.
const (
	DefaultAuthorityHost = "https://login.microsoftonline.com/"
	DefaultGraphEndpoint = "https://graph.microsoft.com"
	DefaultTimeout       = 2 * time.Minute
	DefaultRetries       = 3
	// DefaultPageLimit bounds one page of users as received: 999 users
	// take about 1 MB; a page over the limit is an error naming it.
	DefaultPageLimit = 64 << 20
	// PageSize is the $top of a full read: Graph's maximum for users.
	PageSize = 999
	// NoRetries as Options.Retries retries no throttled answer.
	NoRetries = -1
)

// Options say which tenant to read and how to sign in. Fill them from
// the settings; Open checks them.
type Options struct {
	// Tenant is a tenant ID or a verified domain (contoso.onmicrosoft.com):
	// what follows entra: in --directory (see ParseURL).
	Tenant string
	// ClientID is the app registration's Application (client) ID, for a
	// client secret, a certificate or a workload identity.
	ClientID string
	// ClientSecret (from --client-secret-file or UPNSYNC_CLIENT_SECRET):
	// never printed.
	ClientSecret string
	// ClientCertificate is a PEM or PFX file with the certificate and its
	// private key; CertificatePassword opens a protected PFX.
	ClientCertificate   string
	CertificatePassword string
	// ManagedIdentity signs in as the Azure resource's managed identity:
	// the system-assigned one, or the user-assigned one whose client ID
	// is ManagedIdentityClientID.
	ManagedIdentity         bool
	ManagedIdentityClientID string
	// AuthorityHost and GraphEndpoint name a national cloud or a test
	// server (https only). Empty: Microsoft's global cloud; a Graph
	// endpoint is derived from a known national authority host and must
	// be given with any other.
	AuthorityHost string
	GraphEndpoint string
	// CAFile is a PEM file of CA certificates trusted, besides the
	// system's, for the authority and Graph.
	CAFile string
	// IncludeGuests takes guests (userType Guest, #EXT# UPNs) in; by
	// default they are skipped with the reason.
	IncludeGuests bool
	// NetBIOSDomain sets Person.Domain of synchronised users; empty: the
	// upper-cased first label of their on-premises domain.
	NetBIOSDomain string
	// Fields say which LDAP attributes of the mapping file fill the
	// Person fields; they map to Graph properties through the table of
	// properties.go (docs/entra.md).
	Fields mapping.Fields
	// Timeout bounds each request (a page, body included, or a token) and
	// each wait for Retry-After; Retries bounds the throttled answers
	// (429, 503, 504) retried per request. 0: the defaults; Retries
	// NoRetries (below zero): none.
	Timeout time.Duration
	Retries int
	// PageLimit bounds the bytes of one page; 0: DefaultPageLimit.
	PageLimit int64
	// Logger receives warnings (custom source anchors, throttling); nil
	// discards them.
	Logger *slog.Logger
}

// String describes the options without the secret or password.
func (o Options) String() string {
	set := func(s string) string {
		if s == "" {
			return ""
		}
		return "(set)"
	}
	return fmt.Sprintf("{Tenant:%q ClientID:%q ClientSecret:%s ClientCertificate:%q CertificatePassword:%s ManagedIdentity:%t ManagedIdentityClientID:%q AuthorityHost:%q GraphEndpoint:%q CAFile:%q IncludeGuests:%t NetBIOSDomain:%q Timeout:%s Retries:%d PageLimit:%d}",
		o.Tenant, o.ClientID, set(o.ClientSecret), o.ClientCertificate, set(o.CertificatePassword), o.ManagedIdentity,
		o.ManagedIdentityClientID, o.AuthorityHost, o.GraphEndpoint, o.CAFile, o.IncludeGuests, o.NetBIOSDomain, o.Timeout, o.Retries, o.PageLimit)
}

// GoString is used by %#v: it is as careful as String.
func (o Options) GoString() string { return "entra.Options" + o.String() }

// LogValue keeps the secret out of structured logs.
func (o Options) LogValue() slog.Value { return slog.StringValue(o.String()) }

// ParseURL reads a --directory value entra:TENANT; ok is false for any
// other kind.
func ParseURL(raw string) (tenant string, ok bool, err error) {
	scheme, rest, found := strings.Cut(strings.TrimSpace(raw), ":")
	if !found || !strings.EqualFold(scheme, Scheme) {
		return "", false, nil
	}
	tenant = strings.TrimSpace(rest)
	if tenant == "" {
		return "", true, errors.New("entra: names no tenant: use entra:TENANT with the tenant ID or a verified domain (entra:contoso.onmicrosoft.com)")
	}
	if !validTenant(tenant) {
		return "", true, fmt.Errorf("entra:%s: %q is not a tenant ID or domain name (letters, digits, dots and hyphens only)", tenant, tenant)
	}
	return tenant, true, nil
}

func validTenant(t string) bool {
	if t == "" || len(t) > 253 {
		return false
	}
	for _, r := range t {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-') {
			return false
		}
	}
	return true
}

// Directory reads the users of one Entra ID tenant. It is safe for
// concurrent use; reads are serialised.
type Directory struct {
	opts      Options
	tenant    string
	authority *url.URL
	endpoint  *url.URL
	scope     string
	http      *http.Client
	cred      azcore.TokenCredential
	auth      authInfo
	timeout   time.Duration
	retries   int
	pageLimit int64
	log       *slog.Logger
	m         *mapper
	// wait pauses for a Retry-After (tests shorten it).
	wait func(context.Context, time.Duration) error

	mu  sync.Mutex
	tok azcore.AccessToken
	// delta: see delta.go.
	delta      bool
	deltaFrom  string
	deltaState DeltaResult
}

var _ upnsync.Directory = (*Directory)(nil)

// Open checks the options and builds the credential; nothing is sent
// until SignIn or Read.
func Open(opts Options) (*Directory, error) {
	d := &Directory{opts: opts, tenant: strings.TrimSpace(opts.Tenant), timeout: opts.Timeout, retries: opts.Retries,
		pageLimit: opts.PageLimit, log: opts.Logger, wait: backoff.Wait}
	if !validTenant(d.tenant) {
		return nil, fmt.Errorf("entra: tenant %q is not a tenant ID or domain name: use entra:TENANT (entra:contoso.onmicrosoft.com)", d.tenant)
	}
	if d.timeout <= 0 {
		d.timeout = DefaultTimeout
	}
	switch {
	case d.retries == 0:
		d.retries = DefaultRetries
	case d.retries < 0:
		d.retries = 0
	}
	if d.pageLimit <= 0 {
		d.pageLimit = DefaultPageLimit
	}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	var err error
	if d.authority, err = httpsURL("--authority-host", opts.AuthorityHost, DefaultAuthorityHost); err != nil {
		return nil, err
	}
	graph := opts.GraphEndpoint
	if graph == "" {
		graph = DefaultGraphEndpoint
		if opts.AuthorityHost != "" {
			graph = ""
			for _, c := range clouds {
				if strings.EqualFold(c.authority, d.authority.Host) {
					graph = c.graph
				}
			}
			if graph == "" {
				return nil, fmt.Errorf("--authority-host %s is not one of Microsoft's clouds: give its Microsoft Graph endpoint with --graph-endpoint", opts.AuthorityHost)
			}
		}
	}
	if d.endpoint, err = httpsURL("--graph-endpoint", graph, ""); err != nil {
		return nil, err
	}
	if p := strings.Trim(d.endpoint.Path, "/"); p != "" {
		return nil, fmt.Errorf("--graph-endpoint %s: give the endpoint without a path (https://graph.microsoft.com), upnsync adds /v1.0/users", graph)
	}
	d.endpoint.Path = ""
	d.scope = d.endpoint.String() + "/.default"
	pool, err := trust.Pool(opts.CAFile)
	if err != nil {
		return nil, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	tr.ResponseHeaderTimeout = d.timeout
	d.http = &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error {
		return errors.New("Microsoft Graph answered with a redirect, which upnsync does not follow (the token would go along)")
	}}
	if d.m, err = newMapper(opts.Fields, opts.NetBIOSDomain, opts.IncludeGuests); err != nil {
		return nil, err
	}
	if d.cred, d.auth, err = opts.credential(d); err != nil {
		return nil, fmt.Errorf("entra:%s: %s", d.tenant, d.scrub(oneLine(err.Error())))
	}
	return d, nil
}

// httpsURL checks an https URL option.
func httpsURL(opt, raw, def string) (*url.URL, error) {
	if raw == "" {
		raw = def
	}
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Host == "" || u.RawQuery != "" || u.User != nil {
		return nil, fmt.Errorf("%s %q is not a URL such as https://host", opt, raw)
	}
	if !strings.EqualFold(u.Scheme, "https") {
		return nil, fmt.Errorf("%s %s: only https:// is accepted (tokens must not cross the network in clear)", opt, raw)
	}
	return u, nil
}

// Describe names the directory for reports: entra:TENANT.
func (d *Directory) Describe() string { return Scheme + ":" + d.tenant }

// Close lets idle connections go.
func (d *Directory) Close() error {
	d.http.CloseIdleConnections()
	return nil
}

// Auth says how the directory signs in (for doctor and the log).
func (d *Directory) Auth() AuthKind { return d.auth.kind }

// Select is the $select of a read: part of what a saved delta link
// means, so its fingerprint belongs to an incremental run's inputs.
func (d *Directory) Select() string { return d.m.selectList() }

// SignIn acquires a token, so that a wrong secret or a missing consent is
// reported before anything else happens.
func (d *Directory) SignIn(ctx context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	_, err := d.token(ctx)
	return err
}

// usersURL is the first page of a full read.
func (d *Directory) usersURL() string {
	// Property names are letters only: nothing to escape.
	return fmt.Sprintf("%s/v1.0/users?$select=%s&$top=%d", d.endpoint, d.m.selectList(), PageSize)
}

// Read streams every user of the tenant to fn (see Delta for a read of
// only what changed). The read is complete when every page was read and
// the last one had no nextLink.
func (d *Directory) Read(ctx context.Context, fn func(upnsync.Person) error) (upnsync.ReadResult, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.delta {
		return d.readDelta(ctx, fn)
	}
	// A full read of /users takes every user of the tenant (guests are
	// skipped after the read, still seen).
	res := upnsync.ReadResult{Whole: true}
	_, err := d.readPages(ctx, d.usersURL(), false, fn, &res)
	if err != nil {
		return d.fail(&res, err)
	}
	res.Complete = true
	return res, nil
}

// fail marks a read incomplete with the error's words.
func (d *Directory) fail(res *upnsync.ReadResult, err error) (upnsync.ReadResult, error) {
	res.Complete, res.Why = false, err.Error()
	return *res, err
}
