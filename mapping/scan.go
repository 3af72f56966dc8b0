package mapping

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
)

const (
	// maxDepth is far beyond the three levels a mapping file uses; it only
	// stops pathological nesting early.
	maxDepth = 100
	// maxElements keeps the etree pass (a few hundred bytes per element)
	// small even for a file just under maxFileSize made of tiny elements.
	maxElements = 100_000
)

// node is where one element sits in the text. etree keeps no positions, so
// this pass with encoding/xml records them; nodes are in document order,
// the same order as a pre-order walk of the etree tree.
type node struct {
	start      int // offset of '<'
	innerStart int // just past the start tag's '>'
	innerEnd   int // offset of the end tag's '<' (== innerStart == end when self-closing)
	end        int // just past the element's last '>'
	line       int
	parent     int // index into the node slice, -1 for the root
}

func (n node) selfClosing() bool { return n.innerEnd == n.end }

// lines maps byte offsets to 1-based line numbers. Like encoding/xml's own
// SyntaxError.Line it counts '\n' only, so both kinds of error agree.
type lines []int

func newLines(body []byte) lines {
	l := lines{0}
	for i, c := range body {
		if c == '\n' {
			l = append(l, i+1)
		}
	}
	return l
}

func (l lines) at(off int) int {
	return sort.Search(len(l), func(i int) bool { return l[i] > off })
}

// passThrough stops encoding/xml from refusing a declared encoding such as
// "utf-16": decode has already turned the text into UTF-8.
func passThrough(_ string, r io.Reader) (io.Reader, error) { return r, nil }

// scan checks that body is one well-formed, harmless XML document and
// returns the positions of its elements.
func scan(file string, body []byte, ln lines) ([]node, error) {
	dec := xml.NewDecoder(bytes.NewReader(body))
	dec.Strict = true
	dec.CharsetReader = passThrough
	var (
		nodes      []node
		open       []int
		rootClosed bool
	)
	for {
		off := int(dec.InputOffset())
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, syntaxError(file, err, ln.at(int(dec.InputOffset())), nodes, open)
		}
		after := int(dec.InputOffset())
		switch t := tok.(type) {
		case xml.StartElement:
			line := ln.at(off)
			switch {
			case rootClosed:
				return nil, errorf(file, line,
					"a second top-level element <%s> after </%s>: a mapping file has exactly one <mappings> element; remove the extra one or move it inside",
					t.Name.Local, rawName(body, nodes[0].start))
			case len(open) >= maxDepth:
				return nil, errorf(file, line,
					"elements nested more than %d deep: a mapping file uses three levels (<mappings>, <mapping>, <attribute>); this is not a mapping file", maxDepth)
			case len(nodes) >= maxElements:
				return nil, errorf(file, line,
					"more than %d elements: a mapping file has a few dozen; this is not a mapping file", maxElements)
			}
			parent := -1
			if len(open) > 0 {
				parent = open[len(open)-1]
			}
			nodes = append(nodes, node{start: off, innerStart: after, line: line, parent: parent})
			open = append(open, len(nodes)-1)
		case xml.EndElement:
			n := &nodes[open[len(open)-1]]
			open = open[:len(open)-1]
			n.innerEnd, n.end = off, after
			rootClosed = len(open) == 0
		case xml.CharData:
			if len(open) == 0 && len(bytes.TrimSpace(t)) > 0 {
				return nil, strayText(file, ln.at(off+firstNonSpace(t)), t, len(nodes) > 0)
			}
		case xml.Directive:
			return nil, directiveError(file, ln.at(off), t)
		}
	}
	if len(nodes) == 0 {
		return nil, errorf(file, 1,
			"no XML element in the file: it should hold <mappings> with a <mapping Name=\"User\"> inside; copy ADSIReaderLDAPMappings.xml from the Octopus installation folder")
	}
	return nodes, nil
}

func syntaxError(file string, err error, line int, nodes []node, open []int) error {
	var se *xml.SyntaxError
	if !errors.As(err, &se) {
		return errorf(file, line, "not well-formed XML: %s: fix the file at this line", strings.TrimPrefix(err.Error(), "xml: "))
	}
	if se.Msg == "unexpected EOF" {
		if len(open) > 0 {
			n := nodes[open[len(open)-1]]
			return errorf(file, se.Line,
				"the file ends before the element opened at line %d is closed: the file is cut short or a closing tag is missing; complete it or copy it again", n.line)
		}
		return errorf(file, se.Line,
			"the file ends in the middle of a tag: the file is cut short; complete it or copy it again")
	}
	if strings.Contains(se.Msg, " closed by </") && len(open) > 0 {
		n := nodes[open[len(open)-1]]
		return errorf(file, se.Line,
			"not well-formed XML: %s; the element was opened at line %d: end it with \"/>\" or close it before this line", se.Msg, n.line)
	}
	return errorf(file, se.Line,
		"not well-formed XML: %s: fix the file at this line (the usual causes are a missing quote, '>' or closing tag, or an '&' that should be written &amp;)", se.Msg)
}

func strayText(file string, line int, text []byte, afterRoot bool) error {
	t := string(bytes.TrimSpace(text))
	if i := strings.IndexAny(t, "\r\n"); i >= 0 {
		t = t[:i]
	}
	if len(t) > 40 {
		t = t[:40] + "..."
	}
	if afterRoot {
		return errorf(file, line, "text %q after the end of the document: delete it", t)
	}
	return errorf(file, line,
		"not an XML file: found text %q where the <mappings> element should start; pass the path of a copy of ADSIReaderLDAPMappings.xml", t)
}

func directiveError(file string, line int, d xml.Directive) error {
	word, _, _ := strings.Cut(strings.TrimSpace(string(d)), " ")
	if strings.EqualFold(word, "DOCTYPE") {
		return errorf(file, line,
			"DOCTYPE not allowed: a mapping file needs no document type, and its entity declarations could expand without limit; delete the <!DOCTYPE ...> declaration")
	}
	return errorf(file, line, "<!%s ...> declaration not allowed: a mapping file needs none; delete it", word)
}

// htmlPage recognises a web page, which a browser's "save as" of a
// documentation page gives: its first markup (after blank space, comments
// such as Internet Explorer's "saved from url", and an XML declaration) is
// <!DOCTYPE html> or <html>. It returns that markup's line.
func htmlPage(body []byte) (int, bool) {
	i := 0
	for {
		i += firstNonSpace(body[i:])
		rest := body[i:]
		switch {
		case bytes.HasPrefix(rest, []byte("<!--")):
			n := bytes.Index(rest[4:], []byte("-->"))
			if n < 0 {
				return 0, false
			}
			i += 4 + n + 3
			continue
		case bytes.HasPrefix(rest, []byte("<?")):
			n := bytes.Index(rest, []byte("?>"))
			if n < 0 {
				return 0, false
			}
			i += n + 2
			continue
		}
		head := strings.ToLower(string(rest[:min(len(rest), 16)]))
		if strings.HasPrefix(head, "<!doctype html") || head == "<html" || strings.HasPrefix(head, "<html>") ||
			strings.HasPrefix(head, "<html ") || strings.HasPrefix(head, "<html\n") || strings.HasPrefix(head, "<html\r") {
			return lineAt(body, i), true
		}
		return 0, false
	}
}

func firstNonSpace(b []byte) int {
	return len(b) - len(bytes.TrimLeft(b, " \t\r\n"))
}

// rawName is the element name exactly as written, prefix included, so that
// text AddUPN writes uses the file's own spelling.
func rawName(body []byte, start int) string {
	rest := body[start+1:]
	end := bytes.IndexAny(rest, " \t\r\n/>")
	if end < 0 {
		end = len(rest)
	}
	return string(rest[:end])
}

// describe names a mapping element for messages, e.g. `<mapping Name="User">`.
func describe(tag, name string) string {
	return fmt.Sprintf("<%s Name=%q>", tag, name)
}
