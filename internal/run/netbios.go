package run

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	upnsync "github.com/upnsync/upnsync/sync"
	"github.com/upnsync/upnsync/sync/report"
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
	// source is where the names came from (directory.NetBIOSSource).
	source string
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

// report puts the names and their source in the report's header and the
// log, and each DOMAIN\sam hint of the plan in the report's notes and the
// log: the one source of truth for both is what the read used.
func (n *netbiosNames) report(meta *report.Meta, plan *upnsync.Plan, log *slog.Logger) {
	if names := n.String(); names != "" {
		meta.NetBIOSSource = n.source
		log.Info("NetBIOS domain names of the people read", "names", names, "source", report.NetBIOSText(*meta))
	}
	for _, h := range plan.DomainHints {
		note := domainHintNote(h, n.String())
		meta.Notes = append(meta.Notes, note)
		log.Warn(note)
	}
}

// domainHintNote says what a DomainHint means and what to do.
func domainHintNote(h upnsync.DomainHint, netbios string) string {
	who := h.Person.DN
	if who == "" {
		who = h.Person.UPN
	}
	other, _, _ := strings.Cut(h.Entry, `\`)
	read := ""
	if netbios != "" {
		read = " (read with NetBIOS name " + netbios + ")"
	}
	user := h.UserID
	if h.UserName != "" {
		user += " (" + h.UserName + ")"
	}
	return fmt.Sprintf("unmatched %s%s: user %s lists %s; if %s is the domain's NetBIOS name, run with --netbios-domain %s (or /NetbiosDomain:%s) to match it",
		who, read, user, h.Entry, other, other, other)
}
