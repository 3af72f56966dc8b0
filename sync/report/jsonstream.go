package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"sync"
	"unicode/utf8"

	upnsync "github.com/upnsync/upnsync/sync"
)

// jsonList is one list of the JSON report, produced item by item: item
// appends the i-th item to e.
type jsonList struct {
	name string
	n    int
	item func(e *jsonEnc, i int)
}

// jsonStyle is how streamJSON writes: the JSON report, or the HTML
// report's data block.
type jsonStyle int

const (
	// jsonIndented: the JSON report, indented by two spaces, with <, > and
	// & as they are (OU=R&D stays readable).
	jsonIndented jsonStyle = iota
	// jsonInHTML: for a <script type="application/json"> block: each list
	// item on one line, and <, >, & and U+2028/U+2029 escaped (\u003c...),
	// so that no value can close the element ("</script>") or start a
	// comment ("<!--") inside it.
	jsonInHTML
)

// streamJSON writes r as the JSON report, with each list's items encoded
// and written one at a time in the place of the list's empty value
// ("name": []) in r. The head (r, small) goes through encoding/json; the
// items, hundreds of thousands at a first run, are appended to buffers by
// jsonEnc, in the form encoding/json gives them (TestJSONItems compares
// the two), written out every writeBuffer bytes: no value is encoded twice
// and no pass goes over the output again to indent it. A long list is
// encoded by as many goroutines as there are processors, block by block,
// and written in order (encodeBlocks): once the directory is read, the
// report is all that is left to do. In jsonIndented style the bytes are
// those json.Encoder would write for r with the lists filled.
func streamJSON(out io.Writer, r *jsonReport, lists []jsonList, style jsonStyle) error {
	head, err := encodeJSON(r, "", "  ", style == jsonInHTML)
	if err != nil {
		return err
	}
	e := newJSONEnc(style, writeBuffer+64<<10)
	var werr error
	flush := func() {
		if werr == nil && len(e.b) > 0 {
			_, werr = out.Write(e.b)
		}
		e.b = e.b[:0]
	}
	rest := head
	for _, l := range lists {
		// An object key at depth one: a newline and two spaces can only be
		// structure, never inside a JSON string, where a newline is \n.
		marker := []byte("\n  \"" + l.name + "\": []")
		i := bytes.Index(rest, marker)
		if i < 0 {
			return fmt.Errorf("JSON report: no %q list to fill", l.name)
		}
		e.b = append(e.b, rest[:i+len(marker)-1]...) // up to and with the "["
		rest = rest[i+len(marker)-1:]                // from the "]"
		if workers := runtime.GOMAXPROCS(0); workers > 1 && l.n >= jsonParallelItems {
			if flush(); werr != nil {
				return werr
			}
			if err := encodeBlocks(out, l, style, workers); err != nil {
				return err
			}
		} else {
			for k := 0; k < l.n; k++ {
				e.item(l, k)
				if len(e.b) >= writeBuffer {
					if flush(); werr != nil {
						return werr
					}
				}
			}
		}
		if l.n > 0 {
			e.b = append(e.b, "\n  "...)
		}
	}
	e.b = append(e.b, rest...)
	e.b = append(e.b, '\n')
	flush()
	return werr
}

// A list of at least jsonParallelItems items is encoded jsonBlock items
// at a time by several goroutines (variables for the tests).
var (
	jsonParallelItems = 8192
	jsonBlock         = 1024
)

// encodeBlocks writes the items of l, encoded block by block by workers
// goroutines, in order. At most a few blocks per worker are held at a
// time; a write that fails stops the encoding.
func encodeBlocks(out io.Writer, l jsonList, style jsonStyle, workers int) error {
	type block struct {
		lo, hi int
		done   chan []byte
	}
	work := make(chan block, 2*workers)
	order := make(chan block, 2*workers)
	free := make(chan []byte, 5*workers)
	stop := make(chan struct{})
	go func() {
		defer close(order)
		defer close(work)
		for lo := 0; lo < l.n; lo += jsonBlock {
			b := block{lo: lo, hi: min(lo+jsonBlock, l.n), done: make(chan []byte, 1)}
			// A block goes to the workers before the writer waits for it.
			select {
			case work <- b:
			case <-stop:
				return
			}
			select {
			case order <- b:
			case <-stop:
				return
			}
		}
	}()
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e := newJSONEnc(style, 0)
			for b := range work {
				select {
				case e.b = <-free:
				default:
					e.b = nil
				}
				for k := b.lo; k < b.hi; k++ {
					e.item(l, k)
				}
				b.done <- e.b
			}
		}()
	}
	var err error
	for b := range order {
		buf := <-b.done
		if err == nil {
			if _, err = out.Write(buf); err != nil {
				close(stop)
			}
		}
		select {
		case free <- buf[:0]:
		default:
		}
	}
	wg.Wait()
	return err
}

// encodeJSON is json.MarshalIndent, escaping <, > and & only when
// escapeHTML is set: they appear in DNs (OU=R&D) and would be unreadable
// as \u0026 in the JSON report. (encoding/json always escapes U+2028 and
// U+2029.) An empty indent writes the value on one line.
func encodeJSON(v any, prefix, indent string, escapeHTML bool) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(escapeHTML)
	if indent != "" {
		enc.SetIndent(prefix, indent)
	}
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// jsonEnc appends the report's list items as encoding/json writes them:
// compact, or indented by two spaces after the prefix nl holds ("\n" and
// the item's own indentation).
type jsonEnc struct {
	// sep goes before each item (after a comma but for the first).
	sep    []byte
	b      []byte
	html   bool
	indent bool
	nl     []byte // newline, prefix and two spaces per open object or array
	// empty is set while the innermost open object or array has nothing
	// in it yet.
	empty bool
}

// newJSONEnc is an encoder of list items in style, with a buffer of
// capacity size.
func newJSONEnc(style jsonStyle, size int) *jsonEnc {
	e := &jsonEnc{b: make([]byte, 0, size), html: style == jsonInHTML, sep: []byte("\n")}
	if style == jsonIndented {
		// Items are at depth two: "    " before each line of theirs.
		e.indent, e.nl, e.sep = true, []byte("\n    "), []byte("\n    ")
	}
	return e
}

// item appends the k-th item of l, with what separates it from the one
// before.
func (e *jsonEnc) item(l jsonList, k int) {
	if k > 0 {
		e.b = append(e.b, ',')
	}
	e.b = append(e.b, e.sep...)
	l.item(e, k)
}

func (e *jsonEnc) open(c byte) {
	e.b = append(e.b, c)
	if e.indent {
		e.nl = append(e.nl, ' ', ' ')
	}
	e.empty = true
}

func (e *jsonEnc) close(c byte) {
	if e.indent {
		e.nl = e.nl[:len(e.nl)-2]
		if !e.empty {
			e.b = append(e.b, e.nl...)
		}
	}
	e.b = append(e.b, c)
	e.empty = false
}

// elem starts a value inside an array, or a field (key) inside an object.
func (e *jsonEnc) elem() {
	if !e.empty {
		e.b = append(e.b, ',')
	}
	e.empty = false
	if e.indent {
		e.b = append(e.b, e.nl...)
	}
}

// key starts the field name of an object; its value follows.
func (e *jsonEnc) key(name string) {
	e.elem()
	e.b = append(e.b, '"')
	e.b = append(e.b, name...)
	e.b = append(e.b, '"', ':')
	if e.indent {
		e.b = append(e.b, ' ')
	}
}

func (e *jsonEnc) str(s string) { e.b = appendJSONString(e.b, s, e.html) }

func (e *jsonEnc) boolean(v bool) { e.b = strconv.AppendBool(e.b, v) }

// strs writes a list of strings; nil is [] (the report's lists are always
// present).
func (e *jsonEnc) strs(list []string) {
	e.open('[')
	for _, s := range list {
		e.elem()
		e.str(s)
	}
	e.close(']')
}

// The items, field by field in the order of the json structs in json.go
// (jsonChange, jsonConfl, jsonPerson, jsonSkip, jsonDeparture, jsonPinned), which
// TestJSONItems encodes with encoding/json to compare.

func (e *jsonEnc) change(c *upnsync.Change) {
	e.open('{')
	e.key("user_id")
	e.str(c.UserID)
	e.key("name")
	e.str(c.UserName)
	e.key("external_id")
	e.str(c.ExternalID)
	e.key("match")
	e.str(string(c.Match))
	e.key("before")
	e.str(c.Before)
	e.key("after")
	e.str(c.After)
	e.key("added")
	e.strs(c.Added)
	e.key("replaced")
	e.open('[')
	for _, r := range c.Replaced {
		e.elem()
		e.open('{')
		e.key("old")
		e.str(r.Old)
		e.key("new")
		e.str(r.New)
		e.close('}')
	}
	e.close(']')
	e.key("dn")
	e.str(c.Person.DN)
	e.key("upn")
	e.str(c.Person.UPN)
	e.key("guid")
	e.str(c.Person.GUID)
	e.key("removed")
	e.strs(c.Removed)
	if c.Departed != "" {
		e.key("departed")
		e.str(string(c.Departed))
	}
	if len(c.Notes) > 0 {
		e.key("notes")
		e.strs(c.Notes)
	}
	e.close('}')
}

func (e *jsonEnc) conflict(c *upnsync.Conflict) {
	e.open('{')
	e.key("reason")
	e.str(c.Reason)
	e.key("upn")
	e.str(c.UPN)
	e.key("users")
	e.strs(c.Users)
	e.key("people")
	e.strs(c.People)
	e.key("detail")
	e.str(c.Detail)
	e.close('}')
}

func (e *jsonEnc) person(p *upnsync.Person) {
	e.open('{')
	e.key("dn")
	e.str(p.DN)
	e.key("upn")
	e.str(p.UPN)
	e.key("guid")
	e.str(p.GUID)
	e.close('}')
}

func (e *jsonEnc) skip(s *upnsync.Skip) {
	e.open('{')
	e.key("dn")
	e.str(s.DN)
	e.key("reason")
	e.str(s.Reason)
	e.close('}')
}

func (e *jsonEnc) departure(d *upnsync.Departure) {
	e.open('{')
	e.key("guid")
	e.str(d.GUID)
	e.key("reason")
	e.str(departureReason(d.Reason))
	e.key("dn")
	e.str(d.DN)
	e.key("detail")
	e.str(d.Detail)
	e.key("entries")
	e.open('[')
	for _, x := range d.Entries {
		e.elem()
		e.open('{')
		e.key("user_id")
		e.str(x.UserID)
		e.key("name")
		e.str(x.UserName)
		e.key("entry")
		e.str(x.Entry)
		e.close('}')
	}
	e.close(']')
	e.key("removed")
	e.boolean(d.Removed)
	if d.Kept != "" {
		e.key("kept")
		e.str(d.Kept)
	}
	e.close('}')
}

// pinned writes a user pinned to a missing object as jsonPinned: the
// fields after external_id only when they hold something (omitempty).
func (e *jsonEnc) pinned(pn *upnsync.Pinned) {
	e.open('{')
	e.key("user_id")
	e.str(pn.UserID)
	e.key("name")
	e.str(pn.UserName)
	e.key("external_id")
	e.str(pn.ExternalID)
	for _, f := range [...]struct{ k, v string }{{"match", string(pn.Match)}, {"dn", pn.Candidate.DN},
		{"upn", pn.Candidate.UPN}, {"guid", pn.Candidate.GUID}} {
		if f.v != "" {
			e.key(f.k)
			e.str(f.v)
		}
	}
	e.close('}')
}

// jsonSafe and jsonHTMLSafe are the bytes appendJSONString writes as they
// are (without and with the HTML escapes): printable ASCII but " and \.
var jsonSafe, jsonHTMLSafe = func() (safe, html [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		safe[c] = c != '"' && c != '\\'
		html[c] = safe[c] && c != '<' && c != '>' && c != '&'
	}
	return safe, html
}()

// appendJSONString appends s as a JSON string exactly as encoding/json
// writes it: ", \ and control characters escaped (\n, \r, \t, \b, \f or
// \u00XX), invalid UTF-8 as \ufffd, U+2028 and U+2029 as \u2028 and
// \u2029, and <, > and & as \u003c, \u003e and \u0026 with escapeHTML.
func appendJSONString(b []byte, s string, escapeHTML bool) []byte {
	const hex = "0123456789abcdef"
	safe := &jsonSafe
	if escapeHTML {
		safe = &jsonHTMLSafe
	}
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if safe[c] {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
