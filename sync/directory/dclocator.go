package directory

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"

	"github.com/go-ldap/ldap/v3"
)

// LocatorDomain is the DNS domain whose domain controllers Open looks up
// when no directory URL is given: the first --domain that is a DNS name
// (corp.example.com), else the DC= components of the first DN that has
// them. "" when there is none.
func LocatorDomain(bases []string) string {
	for _, b := range bases {
		b = strings.TrimSpace(b)
		if b != "" && !strings.Contains(b, "=") {
			if _, err := BaseFromDomain(b); err == nil {
				return strings.ToLower(strings.TrimSuffix(b, "."))
			}
		}
	}
	for _, b := range bases {
		if _, dns := DomainOfDN(strings.TrimSpace(b)); dns != "" {
			return dns
		}
	}
	return ""
}

// srvName is the DNS name of the SRV records of a domain's domain
// controllers (or Global Catalog servers), as Windows' locator asks.
func srvName(opts Options, domain string) (service string, name string) {
	service = "ldap"
	if opts.GlobalCatalog {
		service = "gc"
	}
	return service, "_" + service + "._tcp." + domain
}

// openLocated finds the domain controllers of domain through DNS SRV
// records and opens the first that works, in the records' order: by
// priority, and at random weighted by weight within a priority (RFC 2782;
// net.LookupSRV orders them so). A domain controller that cannot be
// reached, or whose TLS fails, is logged and the next one tried; a refused
// password is not, since every domain controller would refuse it alike (and
// each attempt counts towards the account's lockout).
//
// Located domain controllers are read over StartTLS on the port of their
// SRV record (389, or 3268 for the Global Catalog), with the certificate
// verified for the record's host name: AD announces its LDAP port, not
// LDAPS, and StartTLS protects the bind as well.
func openLocated(ctx context.Context, opts Options, domain string) (*ldapDirectory, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// Options that are wrong for every domain controller (a CA file that
	// cannot be read, a bad filter) are refused before DNS is asked.
	if _, err := newLDAP(LocatedOptions(opts, DC{Address: net.JoinHostPort(domain, "389")})); err != nil {
		return nil, err
	}
	name, dcs, err := LocateDCs(ctx, opts, domain)
	if err != nil {
		return nil, err
	}
	var targets []string
	for _, dc := range dcs {
		targets = append(targets, dc.Address)
	}
	log.Info("domain controllers found in DNS", "srv", name, "targets", strings.Join(targets, " "))
	var failed []string
	var last error
	for i, dc := range dcs {
		o := LocatedOptions(opts, dc)
		log.Info("trying domain controller", "srv", name, "attempt", i+1, "of", len(dcs), "address", dc.Address,
			"priority", dc.Priority, "weight", dc.Weight)
		d, err := openLDAP(o)
		if err == nil {
			d.located = name
			log.Info("connected to domain controller", "srv", name, "address", dc.Address)
			return d, nil
		}
		log.Warn("domain controller failed", "srv", name, "address", dc.Address, "error", err.Error())
		if !fallOver(err) {
			return nil, err
		}
		failed = append(failed, dc.Address)
		last = err
	}
	// Each failure is in the log; the error names them all and the last
	// one's cause (its hints speak of --directory: here the address came
	// from the SRV record).
	return nil, newError(last, "no domain controller of %s could be used (%d tried, from the DNS records %s: %s); the last failed with: %v",
		domain, len(failed), name, strings.Join(failed, ", "), last)
}

// DC is a domain controller found through DNS.
type DC struct {
	// Address is host:port, the host without the trailing dot.
	Address          string
	Priority, Weight uint16
}

// LocatedOptions are the options that read the domain controller dc:
// StartTLS on the port of its SRV record.
func LocatedOptions(opts Options, dc DC) Options {
	opts.URL, opts.StartTLS = "ldap://"+dc.Address, true
	opts.GlobalCatalog = false // the port comes from the record
	return opts
}

// LocateDCs looks up the SRV records of domain's domain controllers
// (_ldap._tcp.DOMAIN, or _gc._tcp.DOMAIN for the Global Catalog) and
// returns their name and the domain controllers in the order to try them.
func LocateDCs(ctx context.Context, opts Options, domain string) (string, []DC, error) {
	service, name := srvName(opts, domain)
	resolver := opts.Resolver
	if resolver == nil {
		resolver = net.DefaultResolver
	}
	timeout, _ := opts.connectLimit()
	lctx, cancel := context.WithTimeout(ctx, timeout)
	_, srvs, err := resolver.LookupSRV(lctx, service, "tcp", domain)
	cancel()
	hint := "check the DNS name in --domain and that this machine uses the domain's DNS servers, or name a domain controller with --directory ldaps://dc1." + domain
	if err != nil {
		var dnsErr *net.DNSError
		if errors.As(err, &dnsErr) && dnsErr.IsNotFound {
			return name, nil, newError(err, "cannot find a domain controller of %s: DNS has no SRV record %s; %s", domain, name, hint)
		}
		return name, nil, newError(err, "cannot find a domain controller of %s: the DNS lookup of %s failed (%s); %s", domain, name, oneLine(err.Error()), hint)
	}
	var dcs []DC
	for _, s := range srvs {
		host := strings.TrimSuffix(s.Target, ".")
		if host == "" { // "." means the service is not offered (RFC 2782)
			continue
		}
		dcs = append(dcs, DC{Address: net.JoinHostPort(host, strconv.Itoa(int(s.Port))), Priority: s.Priority, Weight: s.Weight})
	}
	if len(dcs) == 0 {
		return name, nil, newError(nil, "cannot find a domain controller of %s: the SRV records %s name none; %s", domain, name, hint)
	}
	return name, dcs, nil
}

// fallOver reports whether another domain controller may do better after
// err: not after a wrong password or a bad option, the same everywhere,
// nor after a file that cannot be read or a Kerberos refusal of the
// client's principal or keys (a service principal is the DC's own).
func fallOver(err error) bool {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return false
	}
	var ke *kerberosError
	if errors.As(err, &ke) {
		return ke.transient || ke.code == krbSPrincipalUnknown
	}
	var le *ldap.Error
	if errors.As(err, &le) {
		switch le.ResultCode {
		case ldap.LDAPResultInvalidCredentials, ldap.LDAPResultInvalidDNSyntax,
			ldap.LDAPResultInappropriateAuthentication:
			return false
		}
		return true
	}
	var de *Error
	return errors.As(err, &de) && de.Err != nil
}
