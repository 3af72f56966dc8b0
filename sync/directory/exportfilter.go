package directory

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"

	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/go-ldap/ldap/v3"
	"golang.org/x/text/cases"
)

// An LDAP filter evaluated on the entries of an export, as the directory
// would have evaluated it (docs/reference.md, "Scope on exports"). Only
// what can be evaluated as Active Directory does is accepted; the rest is
// refused when the filter is compiled, never guessed.

// Matching rules of Active Directory's bit tests.
const (
	ruleBitAnd = "1.2.840.113556.1.4.803"
	ruleBitOr  = "1.2.840.113556.1.4.804"
)

// syntax is how the values of an attribute compare.
type syntax int

const (
	synText     syntax = iota // caseIgnoreMatch: no letter case, runs of spaces as one
	synDN                     // distinguishedNameMatch
	synInteger                // integerMatch and integerOrderingMatch
	synTime                   // generalizedTimeMatch and its ordering
	synBinary                 // octetStringMatch: byte for byte
	synCategory               // objectCategory: a DN, or a class name AD maps to one
)

// syntaxes are the attributes of a user entry whose values are not text,
// by lower-case name.
var syntaxes = map[string]syntax{
	"distinguishedname": synDN, "memberof": synDN, "member": synDN, "manager": synDN, "directreports": synDN,
	"managedby": synDN, "managedobjects": synDN, "secretary": synDN, "seealso": synDN, "owner": synDN,
	"assistant": synDN, "homemdb": synDN, "publicdelegates": synDN, "altrecipient": synDN,
	"objectcategory":     synCategory,
	"useraccountcontrol": synInteger, "usnchanged": synInteger, "usncreated": synInteger, "primarygroupid": synInteger,
	"badpwdcount": synInteger, "logoncount": synInteger, "samaccounttype": synInteger, "countrycode": synInteger,
	"accountexpires": synInteger, "pwdlastset": synInteger, "lastlogon": synInteger, "lastlogontimestamp": synInteger,
	"badpasswordtime": synInteger, "lockouttime": synInteger, "instancetype": synInteger, "grouptype": synInteger,
	"msds-user-account-control-computed": synInteger, "msds-supportedencryptiontypes": synInteger,
	"uidnumber": synInteger, "gidnumber": synInteger,
	"whenchanged": synTime, "whencreated": synTime, "modifytimestamp": synTime, "createtimestamp": synTime,
	"objectguid": synBinary, "objectsid": synBinary, "msds-consistencyguid": synBinary, "thumbnailphoto": synBinary,
	"jpegphoto": synBinary, "usercertificate": synBinary, "sidhistory": synBinary,
}

func syntaxOf(attr string) syntax { return syntaxes[strings.ToLower(attr)] }

// categories maps the class names AD accepts in (objectCategory=NAME) to
// the category they stand for (the classes' defaultObjectCategory).
var categories = map[string]string{
	"user": "person", "person": "person", "inetorgperson": "person", "organizationalperson": "person",
	"contact": "person", "organizationalunit": "organizational-unit",
}

// filterNode is one item of a compiled filter.
type filterNode struct {
	op   int // ldap.FilterAnd ... ldap.FilterExtensibleMatch
	kids []*filterNode
	attr int // index into the scope's attributes
	syn  syntax
	rule string // a bit test's matching rule
	// the assertion, prepared for its syntax
	text    string
	num     int64
	when    time.Time
	dn      *ldap.DN
	initial string
	any     []string
	final   string
	// pkt is the item as compiled, written out for errors (item).
	pkt *ber.Packet
}

// item is the filter item as written (go-ldap's spelling), for errors:
// quoted when it holds a line break or another control character, so that
// an error stays one line.
func (n *filterNode) item() string {
	s, err := ldap.DecompileFilter(n.pkt)
	if err != nil {
		return "(?)"
	}
	if strings.IndexFunc(s, unicode.IsControl) >= 0 {
		return strconv.Quote(s)
	}
	return s
}

// filterCompiler compiles filters for one scope, collecting the
// attributes they name.
type filterCompiler struct {
	attrs  *[]string
	option string // --filter or --user-filter
	source string // the export, for errors
	fold   cases.Caser
}

func (fc *filterCompiler) attrIndex(name string) int {
	name, _, _ = strings.Cut(name, ";")
	for i, a := range *fc.attrs {
		if strings.EqualFold(a, name) {
			return i
		}
	}
	*fc.attrs = append(*fc.attrs, name)
	return len(*fc.attrs) - 1
}

func (fc *filterCompiler) refuse(item, why string) error {
	return fmt.Errorf("%s: %s %s cannot be evaluated on the export %s; leave it out, or read the directory itself", fc.option, item, why, fc.source)
}

func (fc *filterCompiler) compile(p *ber.Packet) (*filterNode, error) {
	n := &filterNode{op: int(p.Tag), pkt: p}
	switch p.Tag {
	case ldap.FilterAnd, ldap.FilterOr, ldap.FilterNot:
		for _, c := range p.Children {
			k, err := fc.compile(c)
			if err != nil {
				return nil, err
			}
			n.kids = append(n.kids, k)
		}
		return n, nil
	case ldap.FilterPresent:
		name := p.Data.String()
		if !validAttr(name) {
			return nil, fmt.Errorf("%s: %q is not an attribute name", fc.option, name)
		}
		n.attr = fc.attrIndex(name)
		return n, nil
	case ldap.FilterApproxMatch:
		return nil, fc.refuse(n.item(), "(~=, an approximate match, which each directory defines its own way)")
	case ldap.FilterEqualityMatch, ldap.FilterGreaterOrEqual, ldap.FilterLessOrEqual:
		return n, fc.assertion(n, p.Children[0].Data.String(), p.Children[1].Data.String())
	case ldap.FilterSubstrings:
		return n, fc.substrings(n, p)
	case ldap.FilterExtensibleMatch:
		return n, fc.extensible(n, p)
	}
	return nil, fc.refuse(n.item(), "(an unknown kind of filter item)")
}

func (fc *filterCompiler) assertion(n *filterNode, name, value string) error {
	if !validAttr(name) {
		return fmt.Errorf("%s: %q is not an attribute name", fc.option, name)
	}
	n.attr, n.syn = fc.attrIndex(name), syntaxOf(name)
	ordering := n.op != ldap.FilterEqualityMatch
	switch n.syn {
	case synInteger:
		v, err := strconv.ParseInt(strings.TrimSpace(value), 10, 64)
		if err != nil {
			return fmt.Errorf("%s: %s: %s holds numbers, and %q is not one", fc.option, n.item(), name, value)
		}
		n.num = v
		return nil
	case synTime:
		t, err := parseGeneralizedTime(value)
		if err != nil {
			return fmt.Errorf("%s: %s: %s holds times, and %q is not one in LDAP's form (20240102030405.0Z)", fc.option, n.item(), name, value)
		}
		n.when = t
		return nil
	}
	if ordering {
		return fc.refuse(n.item(), "(>= and <= are evaluated on numbers and times only: text and DNs have no order an export can reproduce)")
	}
	switch n.syn {
	case synDN:
		dn, err := ldap.ParseDN(value)
		if err != nil {
			return fmt.Errorf("%s: %s: %s holds DNs, and %q is not one: %s", fc.option, n.item(), name, value, ldapErrText(err))
		}
		n.dn = dn
	case synCategory:
		n.text = categoryName(value)
		if dn, err := ldap.ParseDN(value); err == nil && strings.Contains(value, "=") {
			n.dn = dn
		}
	case synBinary:
		n.text = value
	default:
		n.text = fc.fold.String(spaces(value))
	}
	return nil
}

func (fc *filterCompiler) substrings(n *filterNode, p *ber.Packet) error {
	name := p.Children[0].Data.String()
	if !validAttr(name) {
		return fmt.Errorf("%s: %q is not an attribute name", fc.option, name)
	}
	n.attr, n.syn = fc.attrIndex(name), syntaxOf(name)
	if n.syn != synText {
		return fc.refuse(n.item(), "(substrings apply to text; "+name+" does not hold text)")
	}
	for _, c := range p.Children[1].Children {
		v := fc.fold.String(c.Data.String())
		switch c.Tag {
		case ldap.FilterSubstringsInitial:
			n.initial = v
		case ldap.FilterSubstringsAny:
			n.any = append(n.any, v)
		case ldap.FilterSubstringsFinal:
			n.final = v
		}
	}
	return nil
}

func (fc *filterCompiler) extensible(n *filterNode, p *ber.Packet) error {
	var name, value string
	for _, c := range p.Children {
		switch c.Tag {
		case ldap.MatchingRuleAssertionMatchingRule:
			n.rule = c.Data.String()
		case ldap.MatchingRuleAssertionType:
			name = c.Data.String()
		case ldap.MatchingRuleAssertionMatchValue:
			value = c.Data.String()
		case ldap.MatchingRuleAssertionDNAttributes:
			if b, _ := c.Value.(bool); b {
				return fc.refuse(n.item(), "(:dn: matches the attributes of the DN)")
			}
		}
	}
	switch {
	case name == "":
		return fc.refuse(n.item(), "(a matching rule without an attribute)")
	case n.rule == "":
		n.op = ldap.FilterEqualityMatch // (attr:=value) is an equality match
		return fc.assertion(n, name, value)
	case n.rule != ruleBitAnd && n.rule != ruleBitOr:
		return fc.refuse(n.item(), "(only the matching rules "+ruleBitAnd+" and "+ruleBitOr+", AD's bit tests, are)")
	}
	if !validAttr(name) {
		return fmt.Errorf("%s: %q is not an attribute name", fc.option, name)
	}
	v, err := strconv.ParseInt(strings.TrimSpace(value), 10, 64)
	if err != nil {
		return fmt.Errorf("%s: %s: a bit test takes a number, and %q is not one", fc.option, n.item(), value)
	}
	n.attr, n.syn, n.num = fc.attrIndex(name), synInteger, v
	return nil
}

// eval evaluates the filter on an entry's values (vals[attr]).
func (n *filterNode) eval(vals [][]string, fold cases.Caser) (bool, error) {
	switch n.op {
	case ldap.FilterAnd:
		for _, k := range n.kids {
			if ok, err := k.eval(vals, fold); err != nil || !ok {
				return false, err
			}
		}
		return true, nil
	case ldap.FilterOr:
		for _, k := range n.kids {
			if ok, err := k.eval(vals, fold); err != nil || ok {
				return ok, err
			}
		}
		return false, nil
	case ldap.FilterNot:
		ok, err := n.kids[0].eval(vals, fold)
		return !ok, err
	case ldap.FilterPresent:
		return len(vals[n.attr]) > 0, nil
	}
	for _, v := range vals[n.attr] {
		ok, err := n.match(v, fold)
		if err != nil || ok {
			return ok, err
		}
	}
	return false, nil
}

// match tells whether one value satisfies the item.
func (n *filterNode) match(v string, fold cases.Caser) (bool, error) {
	switch n.syn {
	case synInteger:
		x, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return false, fmt.Errorf("%q is not a number, and %s compares it as one", v, n.item())
		}
		switch {
		case n.rule == ruleBitAnd:
			return x&n.num == n.num, nil
		case n.rule == ruleBitOr:
			return x&n.num != 0, nil
		case n.op == ldap.FilterGreaterOrEqual:
			return x >= n.num, nil
		case n.op == ldap.FilterLessOrEqual:
			return x <= n.num, nil
		}
		return x == n.num, nil
	case synTime:
		t, err := parseGeneralizedTime(v)
		if err != nil {
			return false, fmt.Errorf("%q is not a time in LDAP's form (20240102030405.0Z), and %s compares it as one", v, n.item())
		}
		switch n.op {
		case ldap.FilterGreaterOrEqual:
			return !t.Before(n.when), nil
		case ldap.FilterLessOrEqual:
			return !t.After(n.when), nil
		}
		return t.Equal(n.when), nil
	case synDN:
		dn, err := ldap.ParseDN(v)
		if err != nil {
			return false, fmt.Errorf("%q is not a DN, and %s compares it as one", clipString(v), n.item())
		}
		return n.dn.EqualFold(dn), nil
	case synCategory:
		if n.dn != nil && strings.Contains(v, "=") {
			if dn, err := ldap.ParseDN(v); err == nil {
				return n.dn.EqualFold(dn), nil
			}
		}
		return strings.EqualFold(categoryName(v), n.text), nil
	case synBinary:
		return v == n.text, nil
	}
	s := fold.String(spaces(v))
	if n.op == ldap.FilterEqualityMatch {
		return s == n.text, nil
	}
	return substringMatch(s, n.initial, n.any, n.final), nil
}

func substringMatch(s, initial string, any []string, final string) bool {
	if !strings.HasPrefix(s, initial) {
		return false
	}
	s = s[len(initial):]
	for _, a := range any {
		i := strings.Index(s, a)
		if i < 0 {
			return false
		}
		s = s[i+len(a):]
	}
	return strings.HasSuffix(s, final)
}

// spaces applies caseIgnoreMatch's insignificant-space handling: no
// leading or trailing spaces, and one space for each run of them.
func spaces(s string) string {
	if !strings.Contains(s, "  ") && strings.TrimSpace(s) == s {
		return s
	}
	return strings.Join(strings.Fields(s), " ")
}

// categoryName is what (objectCategory=X) compares: the category a class
// name stands for (user and person: person), or the first RDN's value of
// a category's DN (CN=Person,CN=Schema,...: person), in lower case.
func categoryName(v string) string {
	if strings.Contains(v, "=") {
		if dn, err := ldap.ParseDN(v); err == nil && len(dn.RDNs) > 0 && len(dn.RDNs[0].Attributes) > 0 {
			v = dn.RDNs[0].Attributes[0].Value
		}
	}
	v = strings.ToLower(strings.TrimSpace(v))
	if c, ok := categories[v]; ok {
		return c
	}
	return v
}

// parseGeneralizedTime reads LDAP's GeneralizedTime: YYYYMMDDHH[MM[SS]]
// with an optional fraction (. or ,) and Z or a ±HH[MM] offset.
func parseGeneralizedTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	bad := errors.New("not a GeneralizedTime")
	i := 0
	digits := func(n int) (int, bool) {
		if i+n > len(s) {
			return 0, false
		}
		v := 0
		for _, c := range []byte(s[i : i+n]) {
			if c < '0' || c > '9' {
				return 0, false
			}
			v = v*10 + int(c-'0')
		}
		i += n
		return v, true
	}
	year, ok1 := digits(4)
	month, ok2 := digits(2)
	day, ok3 := digits(2)
	hour, ok4 := digits(2)
	if !ok1 || !ok2 || !ok3 || !ok4 {
		return time.Time{}, bad
	}
	minute, sec, nsec := 0, 0, 0
	if m, ok := digits(2); ok {
		minute = m
		if sc, ok := digits(2); ok {
			sec = sc
		}
	}
	if i < len(s) && (s[i] == '.' || s[i] == ',') {
		i++
		start := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == start {
			return time.Time{}, bad
		}
		frac := s[start:i]
		if len(frac) > 9 {
			frac = frac[:9]
		}
		f, _ := strconv.Atoi(frac + strings.Repeat("0", 9-len(frac)))
		nsec = f
	}
	loc := time.UTC
	switch {
	case i < len(s) && s[i] == 'Z':
		i++
	case i < len(s) && (s[i] == '+' || s[i] == '-'):
		sign := 1
		if s[i] == '-' {
			sign = -1
		}
		i++
		h, ok := digits(2)
		if !ok {
			return time.Time{}, bad
		}
		m, _ := digits(2)
		loc = time.FixedZone("", sign*(h*3600+m*60))
	default:
		return time.Time{}, bad // a local time: no zone to compare it in
	}
	if i != len(s) || month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || sec > 60 {
		return time.Time{}, bad
	}
	return time.Date(year, time.Month(month), day, hour, minute, sec, nsec, loc), nil
}

// clipString shortens a value an error quotes.
func clipString(s string) string { return clip([]byte(s)) }

// binaryGUID turns the text of a GUID column into the 16 bytes an
// objectGUID filter compares ("" when it is not a GUID).
func binaryGUID(text string) string {
	g, err := parseGUIDText(strings.TrimSpace(text))
	if err != nil {
		return ""
	}
	raw, _ := GUIDBytes(g)
	return string(bytes.Clone(raw))
}
