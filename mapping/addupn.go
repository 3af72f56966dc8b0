package mapping

import (
	"bytes"
	"strings"
)

// AddUPN does for the administrator the edit that switches UPN sync on:
// it adds <attribute LDAPAttribute="userPrincipalName" OctopusAttribute="UPN"/>
// as the last entry of the user mapping. Every other byte of data is kept
// (comments, declaration, BOM, encoding, line endings, indentation), and the
// new entry copies its neighbours' spelling, quotes and indentation, so that
// a diff shows one added line.
//
// When the mapping already has a UPN entry, AddUPN returns data itself and
// changed=false, which makes running it again harmless; it returns an error
// if the existing UPN entries do not validate, since then the file is not
// usable as it is.
func AddUPN(file string, data []byte) (out []byte, changed bool, err error) {
	p, err := parse(file, data)
	if err != nil {
		return nil, false, err
	}
	if _, ok := p.m.UPN(); ok {
		if err := p.m.Validate(); err != nil {
			return nil, false, err
		}
		return data, false, nil
	}
	// The file is written back in its own encoding: that must give back
	// every byte it has now, or the edit would change more than one line.
	if same, err := p.enc.encode(p.body); err != nil || !bytes.Equal(same, data) {
		return nil, false, errorf(file, p.m.Line,
			"the file would not be written back byte for byte in its own encoding: add %s to %s by hand, and please report this",
			upnElement, describe("mapping", p.m.Name))
	}
	from, to, text := p.insertion()
	body := make([]byte, 0, len(p.body)+len(text))
	body = append(append(append(body, p.body[:from]...), text...), p.body[to:]...)
	out, err = p.enc.encode(body)
	if err != nil {
		return nil, false, errorf(file, p.m.Line, "cannot write the file back in its encoding (%v): add %s to %s by hand", err, upnElement, describe("mapping", p.m.Name))
	}
	// Checked rather than trusted: a file written wrong would stop the
	// administrator's next run, far from the cause.
	m, err := Parse(file, out)
	if err == nil {
		err = m.Validate()
	}
	if err != nil {
		return nil, false, errorf(file, p.m.Line,
			"adding the UPN entry gave a file that does not read back (%v): add %s to %s by hand, and please report this",
			err, upnElement, describe("mapping", p.m.Name))
	}
	return out, true, nil
}

// insertion says which bytes of p.body to replace with what text.
func (p *parsed) insertion() (from, to int, text string) {
	elem := p.upnElementText()
	if len(p.attrs) > 0 {
		return p.afterSibling(p.nodes[p.attrs[len(p.attrs)-1]], elem)
	}
	return p.intoEmptyMapping(p.nodes[p.user], elem)
}

func (p *parsed) afterSibling(sib node, elem string) (int, int, string) {
	indent, ownLine := p.indentOf(sib.start)
	if !ownLine {
		// Entries written side by side (a one-line file): keep doing so.
		return sib.end, sib.end, string(trailingBlanks(p.body[:sib.start])) + elem
	}
	at := p.endOfLine(sib.end)
	return at, at, p.newline(at) + indent + elem
}

func (p *parsed) intoEmptyMapping(u node, elem string) (int, int, string) {
	name := rawName(p.body, u.start)
	indent, ownLine := p.indentOf(u.start)
	if !ownLine {
		if u.selfClosing() {
			return p.selfCloseStart(u), u.end, ">" + elem + "</" + name + ">"
		}
		return u.innerEnd, u.innerEnd, elem
	}
	nl := p.newline(u.start)
	child := indent + p.indentUnit()
	if u.selfClosing() {
		return p.selfCloseStart(u), u.end, ">" + nl + child + elem + nl + indent + "</" + name + ">"
	}
	// After anything already inside (a comment, say), before the blank
	// space that leads to </mapping>.
	at := u.innerEnd
	for at > u.innerStart && isBlank(p.body[at-1]) {
		at--
	}
	text := nl + child + elem
	if !bytes.ContainsAny(p.body[at:u.innerEnd], "\r\n") {
		text += nl + indent
	}
	return at, at, text
}

// selfCloseStart is where the blank space before "/>" begins, so that
// <mapping Name="User" /> becomes <mapping Name="User">.
func (p *parsed) selfCloseStart(u node) int {
	i := u.end - len("/>")
	for i > u.start && isBlank(p.body[i-1]) {
		i--
	}
	return i
}

// indentOf returns the blank space between the start of off's line and off,
// and whether that is all there is (the element begins its line).
func (p *parsed) indentOf(off int) (string, bool) {
	i := off
	for i > 0 && (p.body[i-1] == ' ' || p.body[i-1] == '\t') {
		i--
	}
	own := i == 0 || p.body[i-1] == '\n' || p.body[i-1] == '\r'
	return string(p.body[i:off]), own
}

func trailingBlanks(b []byte) []byte {
	i := len(b)
	for i > 0 && (b[i-1] == ' ' || b[i-1] == '\t') {
		i--
	}
	return b[i:]
}

func isBlank(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// endOfLine moves an insertion point past what shares the sibling's line
// and belongs to it (blanks, a one-line comment), so that a trailing
// comment stays with its entry.
func (p *parsed) endOfLine(off int) int {
	b := p.body
	i := off
	for {
		for i < len(b) && (b[i] == ' ' || b[i] == '\t') {
			i++
		}
		if !bytes.HasPrefix(b[i:], []byte("<!--")) {
			break
		}
		n := bytes.Index(b[i+4:], []byte("-->"))
		if n < 0 || bytes.ContainsAny(b[i:i+4+n], "\r\n") {
			return off
		}
		i += 4 + n + 3
	}
	if i == len(b) || b[i] == '\r' || b[i] == '\n' {
		return i
	}
	return off
}

// newline is the line ending used where text is inserted: the one of the
// line at off, else the nearest before it.
func (p *parsed) newline(off int) string {
	b := p.body
	if i := bytes.IndexAny(b[off:], "\r\n"); i >= 0 {
		i += off
		if b[i] == '\r' && (i+1 == len(b) || b[i+1] != '\n') {
			return "\r"
		}
		if b[i] == '\r' {
			return "\r\n"
		}
		return "\n"
	}
	if i := bytes.LastIndexAny(b[:off], "\r\n"); i >= 0 {
		switch {
		case b[i] == '\r':
			return "\r"
		case i > 0 && b[i-1] == '\r':
			return "\r\n"
		}
	}
	return "\n"
}

// indentUnit is one level of the file's indentation, learnt from the first
// element indented more than its parent.
func (p *parsed) indentUnit() string {
	// Each node's indentation is computed once: a parent's, recomputed for
	// each of many children, would make a hostile file quadratic.
	type indent struct {
		text string
		own  bool
	}
	ind := make([]indent, len(p.nodes))
	for i, n := range p.nodes {
		text, own := p.indentOf(n.start)
		ind[i] = indent{text, own}
		if n.parent < 0 {
			continue
		}
		c, pa := ind[i], ind[n.parent]
		if c.own && pa.own && len(c.text) > len(pa.text) && strings.HasPrefix(c.text, pa.text) {
			return c.text[len(pa.text):]
		}
	}
	if bytes.Contains(p.body, []byte("\n\t")) {
		return "\t"
	}
	return "  "
}

// upnElementText spells the new entry the way the file spells its others:
// element and attribute names, quote character, self-closing style and
// attribute order of the last entry of the user mapping, or of any entry.
func (p *parsed) upnElementText() string {
	name, ldapKey, octKey, q, end := "attribute", "LDAPAttribute", "OctopusAttribute", `"`, "/>"
	octFirst := false
	if src := p.styleSource(); src >= 0 {
		n, e := p.nodes[src], p.elems[src]
		name = rawName(p.body, n.start)
		li, oi := -1, -1
		for i, a := range e.Attr {
			switch {
			case a.Space != "":
			case li < 0 && strings.EqualFold(a.Key, "LDAPAttribute"):
				ldapKey, li = a.Key, i
			case oi < 0 && strings.EqualFold(a.Key, "OctopusAttribute"):
				octKey, oi = a.Key, i
			}
		}
		octFirst = li >= 0 && oi >= 0 && oi < li
		tag := p.body[n.start:n.innerStart]
		if i := bytes.IndexByte(tag, '='); i >= 0 {
			if rest := bytes.TrimLeft(tag[i+1:], " \t\r\n"); len(rest) > 0 && rest[0] == '\'' {
				q = "'"
			}
		}
		switch {
		case !n.selfClosing():
			end = "></" + name + ">"
		case len(tag) >= 3 && isBlank(tag[len(tag)-3]):
			end = " />"
		}
	}
	a1 := ldapKey + "=" + q + "userPrincipalName" + q
	a2 := octKey + "=" + q + octopusUPN + q
	if octFirst {
		a1, a2 = a2, a1
	}
	return "<" + name + " " + a1 + " " + a2 + end
}

// styleSource is the node whose spelling the new entry copies, or -1.
func (p *parsed) styleSource() int {
	if len(p.attrs) > 0 {
		return p.attrs[len(p.attrs)-1]
	}
	for i, n := range p.nodes {
		if n.parent > 0 && p.nodes[n.parent].parent == 0 &&
			strings.EqualFold(p.elems[i].Tag, "attribute") && strings.EqualFold(p.elems[n.parent].Tag, "mapping") {
			return i
		}
	}
	return -1
}
