// Package textfile opens the text files administrators export from
// Windows tools as UTF-8 whatever they were saved as: UTF-8 with or without
// a byte order mark, or UTF-16 (PowerShell's Out-File and `>`, Export-Csv
// -Encoding Unicode), and guesses a CSV file's separator.
package textfile

import (
	"bufio"
	"bytes"
	"io"

	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/transform"
)

// Encoding is what the first bytes of a file say it is.
type Encoding struct {
	// Name is for logs: "UTF-8", "UTF-8 with BOM", "UTF-16 LE", ...
	Name string
	// BOM is set when the file starts with a byte order mark, which is the
	// only sure sign that non-ASCII text survived the export.
	BOM bool
	dec transform.Transformer
}

// Reader returns r decoded to UTF-8 after sniffing its encoding; r is
// positioned past any byte order mark.
func Reader(r *bufio.Reader) (io.Reader, Encoding) {
	enc := sniff(r)
	if enc.dec == nil {
		return r, enc
	}
	return transform.NewReader(r, enc.dec), enc
}

func utf16(order unicode.Endianness) transform.Transformer {
	return unicode.UTF16(order, unicode.IgnoreBOM).NewDecoder()
}

// sniff recognises a BOM, or UTF-16 without one by its zero bytes (every
// other byte of ASCII text).
func sniff(br *bufio.Reader) Encoding {
	b, _ := br.Peek(4)
	switch {
	case bytes.HasPrefix(b, []byte{0xEF, 0xBB, 0xBF}):
		br.Discard(3)
		return Encoding{Name: "UTF-8 with BOM", BOM: true}
	case bytes.HasPrefix(b, []byte{0xFF, 0xFE}):
		br.Discard(2)
		return Encoding{Name: "UTF-16 LE", BOM: true, dec: utf16(unicode.LittleEndian)}
	case bytes.HasPrefix(b, []byte{0xFE, 0xFF}):
		br.Discard(2)
		return Encoding{Name: "UTF-16 BE", BOM: true, dec: utf16(unicode.BigEndian)}
	case len(b) >= 4 && b[0] != 0 && b[1] == 0 && b[2] != 0 && b[3] == 0:
		return Encoding{Name: "UTF-16 LE (no BOM)", dec: utf16(unicode.LittleEndian)}
	case len(b) >= 4 && b[0] == 0 && b[1] != 0 && b[2] == 0 && b[3] != 0:
		return Encoding{Name: "UTF-16 BE (no BOM)", dec: utf16(unicode.BigEndian)}
	}
	return Encoding{Name: "UTF-8"}
}

// Separator picks ',', ';' or tab, whichever the header line has most of
// outside double quotes (Excel writes ';' where the decimal mark is a
// comma); ',' when there is none.
func Separator(line []byte) rune {
	counts := map[rune]int{}
	quoted := false
	for _, r := range string(line) {
		switch {
		case r == '"':
			quoted = !quoted
		case !quoted && (r == ',' || r == ';' || r == '\t'):
			counts[r]++
		}
	}
	best := ','
	for _, r := range []rune{';', '\t'} {
		if counts[r] > counts[best] {
			best = r
		}
	}
	return best
}

// FirstLine returns the first line buffered in br (without its line end),
// without consuming it.
func FirstLine(br *bufio.Reader) []byte {
	b, _ := br.Peek(1)
	if len(b) == 0 {
		return nil
	}
	b, _ = br.Peek(br.Buffered())
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		b = b[:i]
	}
	return bytes.TrimSuffix(b, []byte{'\r'})
}
