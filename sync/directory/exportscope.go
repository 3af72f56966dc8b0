package directory

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"unicode/utf8"

	"github.com/go-ldap/ldap/v3"
	"github.com/upnsync/upnsync/internal/plural"
	"golang.org/x/text/cases"
)

// exportScope keeps, of an export's entries, the people a search of the
// directory with the same --domain, --user-filter and --filter would have
// returned: those whose DN is at or under a base, and that the filters
// select, evaluated on the exported attributes (exportfilter.go). It
// refuses what it cannot do as the directory would: --domain on an export
// without DNs, a filter naming an attribute the export does not carry.
//
// A nil *exportScope keeps everyone upnsync's own test finds a user.
type exportScope struct {
	source string // the export, for messages: csv:people.csv
	log    *slog.Logger
	bases  []scopeBase
	// user replaces upnsync's own test of what is a user (--user-filter);
	// extra is --filter. Either may be nil.
	user, extra               *filterNode
	userText, extraText       string
	attrs                     []string // the attributes the filters name
	fold                      cases.Caser
	tabular                   bool // csv: or xlsx:, not ldif:
	cols                      []int
	vals                      [][]string
	carried                   []bool // ldif: some entry had the attribute
	entries, candidates, kept int
	entriesUnder, keptUnder   []int // per base: any entry at or under it; people kept under it
}

type scopeBase struct {
	text string // as given
	dn   *ldap.DN
	// fast is the base as lower-case type=value pairs when that text
	// compares as a plain suffix of a DN without escapes (most bases).
	fast string
}

// newExportScope compiles the scope options for an export (source names
// it: ldif:FILE); nil when none is given.
func newExportScope(opts Options, source string, tabular bool) (*exportScope, error) {
	user, extra := strings.TrimSpace(opts.UserFilter), strings.TrimSpace(opts.Filter)
	if len(opts.Bases) == 0 && user == "" && extra == "" {
		return nil, nil
	}
	s := &exportScope{source: source, log: opts.Logger, fold: cases.Fold(), tabular: tabular}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	// A base inside another is left out (warnOverlaps names it), as for
	// a directory: the entries under each base are counted for the outer
	// one.
	bases, _, err := SearchBases(opts.Bases)
	if err != nil {
		return nil, fmt.Errorf("--domain: %v", err)
	}
	for _, text := range bases {
		dn, _ := ldap.ParseDN(text) // SearchBases parsed it
		s.bases = append(s.bases, scopeBase{text: text, dn: dn, fast: fastDN(dn)})
	}
	fc := &filterCompiler{attrs: &s.attrs, source: source, fold: s.fold}
	if user != "" {
		fc.option = "--user-filter"
		p, err := ldap.CompileFilter(user)
		if err != nil {
			return nil, fmt.Errorf("--user-filter %q is not a valid LDAP filter: %s (example: %s)", user, ldapErrText(err), DefaultUserFilter)
		}
		if s.user, err = fc.compile(p); err != nil {
			return nil, err
		}
		s.userText = user
	}
	if extra != "" {
		f, err := extraFilter(extra)
		if err != nil {
			return nil, err
		}
		p, _ := ldap.CompileFilter(f)
		fc.option = "--filter"
		if s.extra, err = fc.compile(p); err != nil {
			return nil, err
		}
		s.extraText = f
	}
	if tabular {
		for _, a := range s.attrs {
			if syntaxOf(a) == synBinary && !strings.EqualFold(a, attrObjectGUID) {
				return nil, fmt.Errorf("a filter compares %s, a binary attribute, which a CSV or workbook export holds as text that upnsync cannot compare; leave it out", a)
			}
		}
	}
	s.vals = make([][]string, len(s.attrs))
	return s, nil
}

// fastDN is the base as "ou=staff,dc=corp" when each RDN is one plain
// type=value (no character that would be escaped, no spaces at the ends).
func fastDN(dn *ldap.DN) string {
	var parts []string
	for _, r := range dn.RDNs {
		if len(r.Attributes) != 1 {
			return ""
		}
		a := r.Attributes[0]
		if a.Value == "" || strings.ContainsAny(a.Value, ",+\"\\<>;=#") || strings.TrimSpace(a.Value) != a.Value {
			return ""
		}
		parts = append(parts, strings.ToLower(a.Type)+"="+a.Value)
	}
	return strings.Join(parts, ",")
}

// start prepares a new read of the export.
func (s *exportScope) start() {
	if s == nil {
		return
	}
	s.entries, s.candidates, s.kept = 0, 0, 0
	s.entriesUnder = make([]int, len(s.bases))
	s.keptUnder = make([]int, len(s.bases))
	s.carried = make([]bool, len(s.attrs))
	s.clear()
}

func (s *exportScope) clear() {
	for i := range s.vals {
		s.vals[i] = s.vals[i][:0]
	}
}

// ldifValue takes one attribute value of the LDIF record being read.
func (s *exportScope) ldifValue(name, value []byte) {
	for i, a := range s.attrs {
		if len(a) == len(name) && equalFold(name, a) {
			s.vals[i] = append(s.vals[i], string(value))
			s.carried[i] = true
			return
		}
	}
}

// header maps the filters' attributes to the columns of a CSV or
// workbook export (by name, as the usual columns are matched), and checks
// that the export can be limited to the bases.
func (s *exportScope) header(header []string, hasDN bool) error {
	if s == nil {
		return nil
	}
	if len(s.bases) > 0 && !hasDN {
		return fmt.Errorf("--domain %s: the export %s has no DN column (DistinguishedName), so it cannot be limited to a base: export the DistinguishedName too, or leave --domain out", s.baseList(), s.source)
	}
	s.cols = make([]int, len(s.attrs))
	for i, a := range s.attrs {
		s.cols[i] = -1
		for j, h := range header {
			if normHeader(h) == normHeader(a) {
				s.cols[i] = j
				break
			}
		}
		if s.cols[i] < 0 {
			return fmt.Errorf("%s names %s, and the export %s has no such column (its columns: %s): export it too, or leave the filter out",
				s.optionsNaming(i), a, s.source, strings.Join(header, ", "))
		}
	}
	return nil
}

// row takes the values of a CSV or workbook row and decides whether it is
// one of the people the scope keeps.
func (s *exportScope) row(rec []string, dn string) (bool, error) {
	if s == nil {
		return true, nil
	}
	for i, c := range s.cols {
		v := ""
		if c < len(rec) {
			v = strings.TrimSpace(rec[c])
		}
		if v == "" {
			continue
		}
		if strings.HasPrefix(v, "Microsoft.ActiveDirectory.Management.") || v == "System.Object[]" || v == "System.String[]" {
			return false, fmt.Errorf("column %s holds %q, PowerShell's name for a list, not its values: export it with @{n='%s';e={$_.%s -join ';'}}", s.attrs[i], v, s.attrs[i], s.attrs[i])
		}
		switch syntaxOf(s.attrs[i]) {
		case synDN:
			s.vals[i] = append(s.vals[i], splitDNs(v)...)
		case synBinary:
			g := binaryGUID(v)
			if g == "" {
				return false, fmt.Errorf("column %s: %q is not a GUID, and a filter compares it", s.attrs[i], v)
			}
			s.vals[i] = append(s.vals[i], g)
		default:
			s.vals[i] = append(s.vals[i], v)
		}
	}
	if len(s.bases) > 0 && strings.TrimSpace(dn) == "" {
		s.clear()
		return false, fmt.Errorf("no DN, so --domain %s cannot tell whether this person is under it: export every DN, or leave --domain out", s.baseList())
	}
	return s.admit(dn, true)
}

// splitDNs splits a cell holding several DNs, which a semicolon (never
// part of a DN unescaped) separates.
func splitDNs(v string) []string {
	var out []string
	start := 0
	for i := 0; i < len(v); i++ {
		switch v[i] {
		case '\\':
			i++
		case ';':
			if p := strings.TrimSpace(v[start:i]); p != "" {
				out = append(out, p)
			}
			start = i + 1
		}
	}
	if p := strings.TrimSpace(v[start:]); p != "" {
		out = append(out, p)
	}
	return out
}

// admit decides whether the entry just read (its values are in s.vals)
// is one of the people the scope keeps; user says whether upnsync's own
// test finds it a user, which --user-filter replaces.
func (s *exportScope) admit(dn string, user bool) (bool, error) {
	if s == nil {
		return user, nil
	}
	defer s.clear()
	s.entries++
	under := -1
	if len(s.bases) > 0 {
		var err error
		if under, err = s.baseOf(dn); err != nil {
			return false, err
		}
	}
	if s.user != nil {
		ok, err := s.user.eval(s.vals, s.fold)
		if err != nil {
			return false, fmt.Errorf("--user-filter: %v", err)
		}
		user = ok
	}
	if !user {
		return false, nil
	}
	s.candidates++
	if len(s.bases) > 0 && under < 0 {
		return false, nil
	}
	if s.extra != nil {
		ok, err := s.extra.eval(s.vals, s.fold)
		if err != nil || !ok {
			if err != nil {
				err = fmt.Errorf("--filter: %v", err)
			}
			return false, err
		}
	}
	s.kept++
	if under >= 0 {
		s.keptUnder[under]++
	}
	return true, nil
}

// baseOf is the first base the DN is at or under, or -1; it counts the
// entries under each base.
func (s *exportScope) baseOf(dn string) (int, error) {
	first := -1
	var parsed *ldap.DN
	for i := range s.bases {
		b := &s.bases[i]
		in, ok := fastUnder(dn, b.fast)
		if !ok {
			if parsed == nil {
				var err error
				if parsed, err = ldap.ParseDN(dn); err != nil {
					return -1, fmt.Errorf("%q is not a valid DN: %s", clipString(dn), ldapErrText(err))
				}
			}
			in = b.dn.EqualFold(parsed) || b.dn.AncestorOfFold(parsed)
		}
		if in {
			s.entriesUnder[i]++
			if first < 0 {
				first = i
			}
		}
	}
	return first, nil
}

// fastUnder compares a DN with a plain base (fastDN) as text: ok is false
// when the DN has what only a parse compares right (escapes, quotes,
// multi-valued RDNs, spaces around separators, bytes that are not UTF-8).
func fastUnder(dn, base string) (in, ok bool) {
	if base == "" {
		return false, false
	}
	for i := 0; i < len(dn); i++ {
		switch c := dn[i]; c {
		case '\\', '"', '+', ';', '#':
			return false, false
		case ',', '=':
			if i > 0 && dn[i-1] == ' ' || i+1 < len(dn) && dn[i+1] == ' ' {
				return false, false
			}
		}
	}
	if dn == "" || dn[0] == ' ' || dn[len(dn)-1] == ' ' || !utf8.ValidString(dn) {
		return false, false
	}
	if len(dn) < len(base) || !strings.EqualFold(dn[len(dn)-len(base):], base) {
		return false, true
	}
	return len(dn) == len(base) || dn[len(dn)-len(base)-1] == ',', true
}

// finish checks what only the whole export tells: a base with nothing at
// or under it (as a search of a base that does not exist fails), a filter
// attribute no entry of an LDIF export carries, and a scope that keeps
// nobody of the people the export holds.
func (s *exportScope) finish() error {
	if s == nil {
		return nil
	}
	for i, b := range s.bases {
		if s.entriesUnder[i] == 0 {
			return fmt.Errorf("--domain %s: no entry of the export %s is at or under this base: check the base (a typing mistake?), or export that part of the directory", b.text, s.source)
		}
	}
	if !s.tabular {
		for i, a := range s.attrs {
			if !s.carried[i] {
				return fmt.Errorf("%s names %s, and no entry of the export %s has it: export it too (a filter on an attribute the export lacks would match nobody, or everybody), or leave the filter out",
					s.optionsNaming(i), a, s.source)
			}
		}
	}
	switch {
	case s.kept > 0:
	case s.user != nil:
		return errors.New(s.describe(fmt.Sprintf("none of the %s of the export %s", plural.Count(s.entries, "entry"), s.source)) + ": check the options, or the export")
	case s.candidates > 0:
		return errors.New(s.describe(fmt.Sprintf("none of the %s of the export %s", plural.Count(s.candidates, "person"), s.source)) + ": check the options, or the export")
	}
	if s.candidates > 0 {
		s.log.Info("the export was limited as a search of the directory would be", "export", s.source, "kept", s.kept, "of", s.candidates,
			"bases", s.baseList(), "user_filter", s.userText, "filter", s.extraText)
	}
	return nil
}

// describe says what the scope selects: "none of ... is under --domain
// X and matches --filter Y".
func (s *exportScope) describe(who string) string {
	var parts []string
	if len(s.bases) > 0 {
		parts = append(parts, "is at or under --domain "+s.baseList())
	}
	if s.user != nil {
		parts = append(parts, "matches --user-filter "+s.userText)
	}
	if s.extra != nil {
		parts = append(parts, "matches --filter "+s.extraText)
	}
	return who + " " + strings.Join(parts, " and ")
}

func (s *exportScope) baseList() string {
	var out []string
	for _, b := range s.bases {
		out = append(out, b.text)
	}
	return strings.Join(out, "; ")
}

// optionsNaming says which filter option names attribute i.
func (s *exportScope) optionsNaming(i int) string {
	var out []string
	if s.user != nil && s.user.names(i) {
		out = append(out, "--user-filter")
	}
	if s.extra != nil && s.extra.names(i) {
		out = append(out, "--filter")
	}
	return strings.Join(out, " and ")
}

func (n *filterNode) names(attr int) bool {
	if len(n.kids) == 0 && n.op != ldap.FilterAnd && n.op != ldap.FilterOr && n.op != ldap.FilterNot {
		return n.attr == attr
	}
	for _, k := range n.kids {
		if k.names(attr) {
			return true
		}
	}
	return false
}
