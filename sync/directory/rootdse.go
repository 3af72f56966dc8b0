package directory

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/go-ldap/ldap/v3"
)

// rootDSEAttrs is everything upnsync wants to know from a rootDSE: the
// naming contexts (bases, look-ups), the controls (domain scope, paging
// for doctor), the DC's identity and highest USN (incremental runs), and
// what doctor shows. One read per connection serves them all.
var rootDSEAttrs = []string{
	"defaultNamingContext", "namingContexts", "configurationNamingContext", "supportedControl",
	"supportedLDAPVersion", "dnsHostName", "vendorName", "vendorVersion", "currentTime",
	"highestCommittedUSN", "dsServiceName",
}

// errNoRootDSE: the search succeeded but returned no entry.
var errNoRootDSE = errors.New("no rootDSE")

// rootDSE reads the connection's rootDSE, once per connection.
func (d *ldapDirectory) rootDSE() (*ldap.Entry, error) {
	if d.root != nil {
		return d.root, nil
	}
	sr, err := d.conn.Search(baseSearch("", "(objectClass=*)", rootDSEAttrs))
	if err != nil {
		return nil, err
	}
	if len(sr.Entries) == 0 {
		return nil, errNoRootDSE
	}
	d.root = sr.Entries[0]
	return d.root, nil
}

// baseSearch is a search of one object. At most one entry is accepted
// (EnforceSizeLimit), whatever a server sends.
func baseSearch(dn, filter string, attrs []string, controls ...ldap.Control) *ldap.SearchRequest {
	req := ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 1, 0, false, filter, attrs, controls)
	req.EnforceSizeLimit = true
	return req
}

// readDomainInfo reads what the directory says about itself once bound:
// the domain's naming context when no base was given, whether it supports
// AD's domain-scope control, and, on AD, the NetBIOS name of each domain of
// the forest from the Partitions container. Only the base is essential:
// without the rest a read still works, with referrals counted and NetBIOS
// names taken from DNs, and the log says so.
func (d *ldapDirectory) readDomainInfo() error {
	// Still part of connecting: the first requests after the bind, small
	// ones, bounded by the connect timeout.
	d.conn.SetTimeout(d.connectTimeout)
	defer d.conn.SetTimeout(d.timeout)
	root, err := d.rootDSE()
	if err != nil {
		if berr := d.broken("reading the rootDSE"); berr != nil {
			return berr
		}
		if len(d.bases) == 0 {
			return d.noRootDSE(err)
		}
		why := "it returned none"
		if !errors.Is(err, errNoRootDSE) {
			why = ldapErrText(err)
		}
		d.log.Warn("cannot read the rootDSE: the domain-scope control is not sent, and NetBIOS domain names come from the DNs (--netbios-domain sets one)",
			"directory", d.url, "error", why)
		return nil
	}
	if len(d.bases) == 0 {
		if err := d.basesFrom(root); err != nil {
			return err
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
	return d.broken("reading the NetBIOS domain names")
}

// noRootDSE explains a rootDSE that could not be read when the base must
// come from it.
func (d *ldapDirectory) noRootDSE(err error) error {
	if errors.Is(err, errNoRootDSE) {
		return fmt.Errorf("%s returned no rootDSE (or this account may not read it): give the base with --domain", d.url)
	}
	what, _ := d.describeOpError(err, "")
	return newError(err, "cannot read the rootDSE of %s to find the domain's naming context: %s; give the base with --domain", d.url, what)
}

// basesFrom sets the search base from the rootDSE: the domain's default
// naming context, else the first naming context; for the Global Catalog,
// the whole forest (a subtree search of the empty base).
func (d *ldapDirectory) basesFrom(root *ldap.Entry) error {
	switch {
	case d.opts.GlobalCatalog:
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
	return nil
}

// discoverBases sets the search base from the rootDSE (for doctor, which
// reads it step by step).
func (d *ldapDirectory) discoverBases() error {
	if d.opts.GlobalCatalog {
		d.bases = []string{""}
		return nil
	}
	root, err := d.rootDSE()
	if err != nil {
		if berr := d.broken("reading the rootDSE"); berr != nil {
			return berr
		}
		return d.noRootDSE(err)
	}
	return d.basesFrom(root)
}

// maxPartitions bounds the crossRef objects read from the Partitions
// container: one per domain and application partition of the forest.
const maxPartitions = 10000

// readNetBIOSNames reads the nETBIOSName of each domain of the forest from
// the crossRef objects of the Partitions container (where nCName is the
// domain's naming context), so that DOMAIN\name entries match a domain
// whose NetBIOS name is not its first DNS label (example.com's EXAMPLE may
// well be CORP). A failure leaves the names derived from DNs, with a
// warning.
func (d *ldapDirectory) readNetBIOSNames(configNC string) {
	base := "CN=Partitions," + configNC
	req := ldap.NewSearchRequest(base, ldap.ScopeSingleLevel, ldap.NeverDerefAliases, maxPartitions, 0, false,
		"(&(objectClass=crossRef)(nETBIOSName=*))", []string{"nCName", "nETBIOSName", "dnsRoot"}, nil)
	req.EnforceSizeLimit = true
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

// readsWhole tells whether a read covers every user of the directory
// (upnsync.ReadResult.Whole): the default user filter, and every base the
// root of a naming context the rootDSE announces (or the Global Catalog's
// empty base, the whole forest). It asks nothing of the server: without
// the rootDSE the connection read when it opened, it cannot tell: false.
func (d *ldapDirectory) readsWhole() bool {
	if d.filter != DefaultUserFilter || len(d.bases) == 0 || d.root == nil {
		return false
	}
	ncs := d.root.GetEqualFoldAttributeValues("namingContexts")
	for _, b := range d.bases {
		if b == "" && d.opts.GlobalCatalog {
			continue
		}
		if !slices.ContainsFunc(ncs, func(nc string) bool { return sameDN(nc, b) }) {
			return false
		}
	}
	return true
}
