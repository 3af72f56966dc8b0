package report

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
)

// jsonList is one list of the JSON report, produced item by item.
type jsonList struct {
	name string
	n    int
	item func(i int) any
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
// ("name": []) in r. In jsonIndented style the bytes are those
// json.Encoder would write for r with the lists filled.
func streamJSON(out io.Writer, r *jsonReport, lists []jsonList, style jsonStyle) error {
	escapeHTML := style == jsonInHTML
	itemPrefix, itemIndent, itemSep := "    ", "  ", "\n    "
	if style == jsonInHTML {
		itemPrefix, itemIndent, itemSep = "", "", "\n"
	}
	head, err := encodeJSON(r, "", "  ", escapeHTML)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(out, 256<<10)
	rest := head
	for _, l := range lists {
		// An object key at depth one: a newline and two spaces can only be
		// structure, never inside a JSON string, where a newline is \n.
		marker := []byte("\n  \"" + l.name + "\": []")
		i := bytes.Index(rest, marker)
		if i < 0 {
			return fmt.Errorf("JSON report: no %q list to fill", l.name)
		}
		w.Write(rest[:i+len(marker)-1]) // up to and with the "["
		rest = rest[i+len(marker)-1:]   // from the "]"
		for k := 0; k < l.n; k++ {
			b, err := encodeJSON(l.item(k), itemPrefix, itemIndent, escapeHTML)
			if err != nil {
				return err
			}
			if k > 0 {
				w.WriteByte(',')
			}
			w.WriteString(itemSep)
			w.Write(b)
		}
		if l.n > 0 {
			w.WriteString("\n  ")
		}
	}
	w.Write(rest)
	w.WriteByte('\n')
	return w.Flush()
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
