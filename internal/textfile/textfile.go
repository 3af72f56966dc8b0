// Package textfile opens the text files administrators export from
// Windows tools as UTF-8 whatever they were saved as: UTF-8 with or without
// a byte order mark, or UTF-16 (PowerShell's Out-File and `>`, Export-Csv
// -Encoding Unicode), and bounds their lines; internal/csvfile reads CSV
// on top of it, and the LDIF reader uses it too.
package textfile

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
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

// Bounds of Limit's readers for exported user lists: no line of such a
// file comes near a megabyte, and a record (lines joined by a quoted value)
// near four. encoding/csv holds a whole record, however long, so a file
// with a huge line, or a double quote that opens a value and is never
// closed, would otherwise be read whole into memory.
const (
	MaxLine   = 1 << 20
	MaxRecord = 4 << 20
)

// TooLongError says where a Limited reader stopped.
type TooLongError struct {
	// Line is the number of the line that was too long, or the line the
	// reader had reached when a record was.
	Line int
	// Record is set when a record (since Mark) was too long, not a line.
	Record bool
	Limit  int64
}

func (e *TooLongError) Error() string {
	line, why := e.At(0)
	return fmt.Sprintf("line %d: %s", line, why)
}

// At is where to report the error and why, for messages that put
// FILE:LINE first: the long line itself, or next, the line the caller's
// parser expected the unfinished record to start on (0: unknown).
func (e *TooLongError) At(next int) (line int, why string) {
	if !e.Record {
		return e.Line, fmt.Sprintf("line longer than %d MiB: this is not an export of users (or it holds a huge value)", e.Limit>>20)
	}
	if next <= 0 {
		next = e.Line
	}
	return next, fmt.Sprintf("a value that begins here runs on past %d MiB (to line %d): a double quote that opens a value is probably never closed; close it", e.Limit>>20, e.Line)
}

// Limited is a reader that fails once a line, or the text since the last
// Mark, grows past its bounds, and that tells whether the text ended
// without a line break (where a copy was cut off).
type Limited struct {
	r         io.Reader
	line      int   // lines ended so far
	lineLen   int64 // bytes of the current line
	sinceMark int64
	last      byte
	read      bool
	eof       bool
}

// Limit wraps r with MaxLine and MaxRecord.
func Limit(r io.Reader) *Limited { return &Limited{r: r} }

func (l *Limited) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	b := p[:n]
	if n > 0 {
		l.read, l.last = true, b[n-1]
	}
	l.sinceMark += int64(n)
	l.eof = l.eof || errors.Is(err, io.EOF)
	for len(b) > 0 && l.lineLen <= MaxLine {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			l.lineLen += int64(len(b))
			break
		}
		if l.lineLen += int64(i); l.lineLen <= MaxLine {
			l.line++
			l.lineLen = 0
		}
		b = b[i+1:]
	}
	switch {
	case l.lineLen > MaxLine:
		return n, &TooLongError{Line: l.line + 1, Limit: MaxLine}
	case l.sinceMark > MaxRecord:
		return n, &TooLongError{Line: l.line + 1, Record: true, Limit: MaxRecord}
	}
	return n, err
}

// Mark starts a new record: the reader's caller has parsed one.
func (l *Limited) Mark() { l.sinceMark = 0 }

// Unterminated reports, once the reader returned io.EOF, whether the text
// was not empty and its last line had no line break.
func (l *Limited) Unterminated() bool { return l.read && l.last != '\n' }

// CutLine is the number of the last line when the text was read to its end
// and that line has no line break, else 0: a parser's error on that line
// (too few values, a quote not closed) is the cut, not a mistake in it.
func (l *Limited) CutLine() int {
	if !l.eof || !l.Unterminated() {
		return 0
	}
	return l.line + 1
}

// CutOff is the advice for a text file whose last line has no line break:
// every tool that exports ends each line, so it was probably cut off, but
// a file written or trimmed by hand may just lack the last one. in says
// more about where (" (in the entry X)", or ""); again says how to make
// the file again ("export it again").
func CutOff(in, again string) string {
	return "the file ends in the middle of this line" + in + ", without a line break: it was cut off (an interrupted copy or a full disk); " + again +
		". If the file is complete, end its last line with a line break: open it in Excel or a text editor and save it again (or run `echo >> FILE` on Linux, `echo.>> FILE` in a Windows command prompt)"
}
