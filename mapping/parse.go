package mapping

import (
	"bytes"
	"strconv"
	"strings"

	"github.com/beevik/etree"
)

// parsed is a Mapping together with what AddUPN needs to edit its text.
type parsed struct {
	m     *Mapping
	enc   textEncoding
	body  []byte
	nodes []node
	elems []*etree.Element // elems[i] is the element at nodes[i]
	index map[*etree.Element]int
	user  int   // node of the user mapping
	attrs []int // nodes of the user mapping's <attribute> children
}

// Parse reads a mapping file's text: its encoding, XML syntax and
// structure, and every entry of the user mapping. It does not require the
// UPN entry (AddUPN parses files that lack it); Validate does. file names
// the data in errors and in Mapping.File; nothing is read from it.
func Parse(file string, data []byte) (*Mapping, error) {
	p, err := parse(file, data)
	if err != nil {
		return nil, err
	}
	return p.m, nil
}

func parse(file string, data []byte) (*parsed, error) {
	body, enc, err := decode(file, data)
	if err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, errorf(file, 1,
			"the file is empty: copy ADSIReaderLDAPMappings.xml from the Octopus installation folder and pass the copy's path")
	}
	if line, ok := htmlPage(body); ok {
		return nil, errorf(file, line,
			"this is an HTML page (a web page saved from a browser), not a mapping file: copy ADSIReaderLDAPMappings.xml from the Octopus installation folder, or paste the example's text into a text editor and save it as ADSIReaderLDAPMappings.xml")
	}
	nodes, err := scan(file, body, newLines(body))
	if err != nil {
		return nil, err
	}
	doc := etree.NewDocument()
	doc.ReadSettings = etree.ReadSettings{
		CharsetReader:          passThrough,
		PreserveDuplicateAttrs: true, // so that duplicates can be reported
		MaxDepth:               maxDepth + 1,
	}
	// scan has accepted the text, so etree failing or seeing a different
	// tree would be a bug here, not a problem with the file.
	if err := doc.ReadFromBytes(body); err != nil {
		return nil, errorf(file, 1, "cannot read the XML (%v): please report this to the upnsync maintainers with the file", err)
	}
	elems := preorder(doc.Root())
	if len(elems) != len(nodes) {
		return nil, errorf(file, 1, "the XML reads differently in two passes: please report this to the upnsync maintainers with the file")
	}
	p := &parsed{enc: enc, body: body, nodes: nodes, elems: elems, index: make(map[*etree.Element]int, len(elems))}
	for i, e := range elems {
		p.index[e] = i
	}
	if err := p.readStructure(file); err != nil {
		return nil, err
	}
	return p, nil
}

func preorder(root *etree.Element) []*etree.Element {
	var out []*etree.Element
	stack := []*etree.Element{root}
	for len(stack) > 0 {
		e := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		out = append(out, e)
		kids := e.ChildElements()
		for i := len(kids) - 1; i >= 0; i-- {
			stack = append(stack, kids[i])
		}
	}
	return out
}

func (p *parsed) line(e *etree.Element) int { return p.nodes[p.index[e]].line }

func (p *parsed) readStructure(file string) error {
	root := p.elems[0]
	if !strings.EqualFold(root.Tag, "mappings") {
		return errorf(file, p.nodes[0].line,
			"the top element is <%s>, not <mappings>: this is not an ADSIReaderLDAPMappings.xml file; pass the path of a copy of the one in the Octopus installation folder",
			rawName(p.body, p.nodes[0].start))
	}
	var user *etree.Element
	var others []string
	for _, c := range root.ChildElements() {
		if !strings.EqualFold(c.Tag, "mapping") {
			continue
		}
		vals, err := p.attrValues(file, c)
		if err != nil {
			return err
		}
		name := strings.TrimSpace(vals["name"])
		if !isUserMapping(name) {
			others = append(others, name)
			continue
		}
		if user != nil {
			return errorf(file, p.line(c),
				"a second user mapping %s; the first is %s at line %d, and there must be one: move this one's entries into the first and delete it",
				describe(c.Tag, name), describe(user.Tag, p.m.Name), p.m.Line)
		}
		user = c
		p.user = p.index[c]
		p.m = &Mapping{File: file, Name: name, Line: p.line(c)}
	}
	if user == nil {
		return noUserMapping(file, p.nodes[0].line, others)
	}
	p.m.Others = others
	for _, c := range user.ChildElements() {
		a, err := p.readAttribute(file, c)
		if err != nil {
			return err
		}
		p.m.Attributes = append(p.m.Attributes, a)
		p.attrs = append(p.attrs, p.index[c])
	}
	return nil
}

func isUserMapping(name string) bool {
	return strings.EqualFold(name, "User") || strings.EqualFold(name, "Employee")
}

func noUserMapping(file string, line int, others []string) error {
	found := "it holds no <mapping> element at all"
	if len(others) > 0 {
		names := make([]string, len(others))
		for i, n := range others {
			names[i] = strconv.Quote(n)
		}
		found = "the mappings found are " + strings.Join(names, ", ")
	}
	return errorf(file, line,
		"no user mapping: <mappings> has no <mapping Name=\"User\"> (older files call it Name=\"Employee\"); %s; add the user mapping, or copy ADSIReaderLDAPMappings.xml again from the Octopus installation folder",
		found)
}

func (p *parsed) readAttribute(file string, e *etree.Element) (Attribute, error) {
	line := p.line(e)
	if !strings.EqualFold(e.Tag, "attribute") {
		return Attribute{}, errorf(file, line,
			"unexpected element <%s> in %s: only <attribute LDAPAttribute=\"...\" OctopusAttribute=\"...\"/> entries belong there; correct its name or delete it",
			e.FullTag(), describe("mapping", p.m.Name))
	}
	if kids := e.ChildElements(); len(kids) > 0 {
		return Attribute{}, errorf(file, p.line(kids[0]),
			"unexpected element <%s> inside <%s>: an entry is one element, <attribute LDAPAttribute=\"...\" OctopusAttribute=\"...\"/>; delete it",
			kids[0].FullTag(), e.FullTag())
	}
	vals, err := p.attrValues(file, e)
	if err != nil {
		return Attribute{}, err
	}
	for _, req := range []string{"LDAPAttribute", "OctopusAttribute"} {
		if _, ok := vals[strings.ToLower(req)]; !ok {
			return Attribute{}, errorf(file, line,
				"<%s> has no %s%s: write each entry as <attribute LDAPAttribute=\"...\" OctopusAttribute=\"...\"/>",
				e.FullTag(), req, attrList(e))
		}
	}
	a := Attribute{
		LDAP:    strings.TrimSpace(vals["ldapattribute"]),
		Octopus: strings.TrimSpace(vals["octopusattribute"]),
		// Not trimmed: a space is a plausible separator.
		Separator: vals["separator"],
		Line:      line,
	}
	if s, ok := vals["index"]; ok {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			return Attribute{}, errorf(file, line,
				"Index %q is not a whole number: parts are counted from 0, so use Index=\"0\" for the first part and Index=\"1\" for the second", s)
		}
		a.Index, a.HasIndex = n, true
	}
	return a, checkEntry(file, a)
}

// attrValues returns an element's attributes by lower-case name: the file
// is hand-edited and "ldapattribute" means LDAPAttribute. Prefixed ones
// (xmlns:..., xsi:...) are not ours and are skipped.
func (p *parsed) attrValues(file string, e *etree.Element) (map[string]string, error) {
	vals := make(map[string]string, len(e.Attr))
	spelt := make(map[string]string, len(e.Attr))
	for _, a := range e.Attr {
		if a.Space != "" {
			continue
		}
		k := strings.ToLower(a.Key)
		if first, dup := spelt[k]; dup {
			also := ""
			if first != a.Key {
				also = " (also as " + a.Key + ": letter case does not matter here)"
			}
			return nil, errorf(file, p.line(e), "<%s> gives %s twice%s: keep one", e.FullTag(), first, also)
		}
		vals[k], spelt[k] = a.Value, a.Key
	}
	return vals, nil
}

// attrList helps spot a misspelt attribute name in a "has no X" message.
func attrList(e *etree.Element) string {
	if len(e.Attr) == 0 {
		return ""
	}
	keys := make([]string, len(e.Attr))
	for i, a := range e.Attr {
		keys[i] = a.FullKey()
	}
	return " (it has " + strings.Join(keys, ", ") + ")"
}
