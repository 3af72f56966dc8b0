package directory

import (
	"fmt"
	"strings"

	"github.com/go-ldap/ldap/v3"
)

// Overlap is a search base inside another one given with it: a subtree
// search of the outer one returns the inner one's people already, so the
// inner one is not searched (searched too, its people would be read
// twice, and each would conflict with itself as a duplicate UPN).
type Overlap struct {
	Inner, Outer string
}

// String says what happens, for the log and doctor.
func (o Overlap) String() string {
	return fmt.Sprintf("search base %s is inside search base %s: its people are read once, through %s",
		o.Inner, baseName(o.Outer), baseName(o.Outer))
}

// Fix says what to do.
func (o Overlap) Fix() string { return "leave --domain " + o.Inner + " out" }

func baseName(b string) string {
	if b == "" {
		return "the whole forest"
	}
	return b
}

// SearchBases turns --domain values into the search bases to read: each a
// DN (BaseFromDomain), without repeats (compared as DNs: attribute types
// and values without regard to case, escapes decoded, spaces around
// separators ignored) and without a base that is inside another one. The
// bases keep the order given; overlaps name each base left out with the
// outermost base that holds it.
func SearchBases(values []string) ([]string, []Overlap, error) {
	type base struct {
		text string
		dn   *ldap.DN
	}
	var given []base
	for _, v := range values {
		text, err := BaseFromDomain(v)
		if err != nil {
			return nil, nil, err
		}
		dn, err := ldap.ParseDN(text)
		if err != nil {
			return nil, nil, fmt.Errorf("search base %q is not a valid DN: %s", text, ldapErrText(err))
		}
		given = append(given, base{text, dn})
	}
	var bases []string
	var overlaps []Overlap
	for i, b := range given {
		outer := -1 // the outermost base that holds b
		repeat := false
		for j, o := range given {
			switch {
			case j == i:
			case o.dn.EqualFold(b.dn):
				repeat = repeat || j < i // the first of equal bases stays
			case o.dn.AncestorOfFold(b.dn) && (outer < 0 || len(o.dn.RDNs) < len(given[outer].dn.RDNs)):
				outer = j
			}
		}
		switch {
		case outer >= 0:
			if !repeat {
				overlaps = append(overlaps, Overlap{Inner: b.text, Outer: given[outer].text})
			}
		case !repeat:
			bases = append(bases, b.text)
		}
	}
	return bases, overlaps, nil
}

// warnOverlaps names, in the log, each base left out because another one
// holds it (the reader reports bases that are not valid itself).
func warnOverlaps(opts Options) {
	if opts.Logger == nil || len(opts.Bases) < 2 {
		return
	}
	_, overlaps, err := SearchBases(opts.Bases)
	if err != nil {
		return
	}
	for _, o := range overlaps {
		opts.Logger.Warn(o.String() + "; " + o.Fix())
	}
}

// onceGuard passes each person once when several bases are read, whatever
// the bases (a base given in a form SearchBases cannot compare, such as
// AD's <GUID=...>, may still overlap another): by objectGUID, else by DN.
type onceGuard struct {
	seen    map[string]struct{}
	repeats int
}

func newOnceGuard(bases int) *onceGuard {
	if bases < 2 {
		return nil
	}
	return &onceGuard{seen: map[string]struct{}{}}
}

// first reports whether the person with this GUID and DN is met for the
// first time; a nil guard passes everyone.
func (g *onceGuard) first(guid, dn string) bool {
	if g == nil {
		return true
	}
	key := guid
	if key == "" {
		key = "dn:" + strings.ToLower(dn)
	}
	if _, ok := g.seen[key]; ok {
		g.repeats++
		return false
	}
	g.seen[strings.Clone(key)] = struct{}{}
	return true
}

// sameDN compares two DNs as DNs (letter case, spacing and escapes aside).
func sameDN(a, b string) bool {
	da, err1 := ldap.ParseDN(a)
	db, err2 := ldap.ParseDN(b)
	if err1 != nil || err2 != nil {
		return strings.EqualFold(a, b)
	}
	return da.EqualFold(db)
}
