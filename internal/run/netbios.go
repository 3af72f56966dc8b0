package run

import (
	"context"
	"slices"
	"strings"

	upnsync "github.com/upnsync/upnsync/sync"
)

// netbiosNames notes the NetBIOS domain names of the people a read
// streams, for the report's header: the names rule M2 matched
// DOMAIN\name entries with (Person.Domain: --netbios-domain, else what
// the directory's Partitions container or the DN gave each person). It
// is what the run used, not a guess; a read whose people carry no domain
// (an Entra ID export) leaves it empty.
type netbiosNames struct {
	last  string
	names []string // in order of first appearance, at most maxNetBIOSNames
	more  bool
}

// maxNetBIOSNames bounds the names a header lists (a forest has a
// handful of domains).
const maxNetBIOSNames = 10

func (n *netbiosNames) see(domain string) {
	if domain == "" || domain == n.last {
		return
	}
	n.last = domain
	switch {
	case slices.Contains(n.names, domain):
	case len(n.names) == maxNetBIOSNames:
		n.more = true
	default:
		n.names = append(n.names, domain)
	}
}

// String is the names for the report: "CORP", "CORP, EMEA", "CORP, ...
// and more".
func (n *netbiosNames) String() string {
	if n == nil {
		return ""
	}
	s := strings.Join(n.names, ", ")
	if n.more {
		s += " and more"
	}
	return s
}

// directory wraps d so that n sees the domain of each person it reads.
func (n *netbiosNames) directory(d upnsync.Directory) upnsync.Directory { return netbiosDir{d, n} }

type netbiosDir struct {
	upnsync.Directory
	n *netbiosNames
}

func (d netbiosDir) Read(ctx context.Context, fn func(upnsync.Person) error) (upnsync.ReadResult, error) {
	return d.Directory.Read(ctx, func(p upnsync.Person) error {
		if !p.Deleted && !p.Unselected {
			d.n.see(p.Domain)
		}
		return fn(p)
	})
}

// LocateGUID passes lookups through (a directory that cannot look up
// leaves departures unclassified, as without the wrapper).
func (d netbiosDir) LocateGUID(ctx context.Context, guid string) (upnsync.Whereabouts, error) {
	loc, ok := d.Directory.(upnsync.GUIDLocator)
	if !ok {
		return upnsync.Whereabouts{}, nil
	}
	return loc.LocateGUID(ctx, guid)
}
