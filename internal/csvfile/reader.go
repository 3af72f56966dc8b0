// Package csvfile is where upnsync reads and writes CSV: every CSV file it
// reads (`store import`, the DataImporter store's Octopus export, the csv:
// directory) goes through Reader, and every one it writes (`store export`,
// the CSV report, the rewritten Octopus export) through NewWriter, so that
// the rules for what Windows tools write, in any locale, are kept once:
//
//   - the separator is ',', ';' (Excel where the decimal mark is a comma, as
//     in French) or a tab (Excel's "Unicode text"), whichever the header
//     line has most of;
//   - the text is UTF-8 with or without a byte order mark, or UTF-16 (with a
//     BOM: Excel's "Unicode text", PowerShell 5's Export-Csv -Encoding
//     Unicode; or without one), decoded by internal/textfile;
//   - PowerShell 5's Export-Csv first line "#TYPE ..." is skipped, and line
//     numbers in errors still count it;
//   - a line or a record past internal/textfile's bounds, and a last line
//     without its line break (where a copy was cut off), are errors;
//   - what upnsync writes opens in Excel on any Windows: UTF-8 with a byte
//     order mark, CRLF line ends, and the separator asked for.
package csvfile

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/upnsync/upnsync/internal/textfile"
)

// Options are what differs between the files read.
type Options struct {
	// Workbook is what to do when the file is an Excel workbook (a zip
	// file) rather than CSV text, e.g. "read it with --directory xlsx:FILE".
	Workbook string
	// Again is how to make the file again, for the errors that mean it is
	// damaged or cut off, e.g. "export the users again".
	Again string
	// Ragged lets records have a different number of values than the
	// header (a spreadsheet's short rows); otherwise that is an error.
	Ragged bool
}

// Reader reads one CSV file. Errors it returns start with NAME:LINE and say
// what to do.
type Reader struct {
	name     string
	opts     Options
	cr       *csv.Reader
	lim      *textfile.Limited
	skipped  int // lines before the CSV text (PowerShell's #TYPE line)
	header   []string
	lastLine int
	// lastBlank is set when the last record read was blank (only
	// separators), which a cut-off copy cannot end with.
	lastBlank bool

	// Encoding is what the file was saved as.
	Encoding textfile.Encoding
	// Comma is the separator found in the header line.
	Comma rune
}

// NewReader sniffs the encoding, a #TYPE line and the separator of r; name
// is the file's name in errors.
func NewReader(r io.Reader, name string, opts Options) (*Reader, error) {
	if opts.Again == "" {
		opts.Again = "save or export it again"
	}
	raw := bufio.NewReaderSize(r, 64<<10)
	if b, _ := raw.Peek(4); string(b) == "PK\x03\x04" {
		return nil, fmt.Errorf("%s:1: this is an Excel workbook (or another zip file), not CSV text: %s", name, opts.Workbook)
	}
	text, enc := textfile.Reader(raw)
	// Bounded: encoding/csv holds a whole record, however long.
	lim := textfile.Limit(text)
	br := bufio.NewReaderSize(lim, 64<<10)
	rd := &Reader{name: name, opts: opts, lim: lim, Encoding: enc}
	// PowerShell 5's Export-Csv starts with "#TYPE <type name>" unless
	// given -NoTypeInformation.
	if b, _ := br.Peek(5); strings.EqualFold(string(b), "#TYPE") {
		if _, err := br.ReadString('\n'); err != nil && !errors.Is(err, io.EOF) {
			return nil, rd.fail(err, 1)
		}
		rd.skipped = 1
	}
	rd.Comma = Separator(firstLine(br))
	rd.cr = csv.NewReader(br)
	rd.cr.Comma = rd.Comma
	rd.cr.ReuseRecord = true
	if opts.Ragged {
		rd.cr.FieldsPerRecord = -1
	}
	return rd, nil
}

// Header reads the first record, the column names, with blank space
// trimmed. io.EOF means the file is empty. The names are not checked to be
// text: what a header must hold is the caller's (a file of binary junk is
// "not a header" there). The slice is the Reader's own copy.
func (r *Reader) Header() ([]string, error) {
	rec, _, err := r.read(false)
	if err != nil {
		return nil, err
	}
	r.header = append([]string(nil), rec...)
	for i := range r.header {
		r.header[i] = strings.TrimSpace(r.header[i])
	}
	return r.header, nil
}

// HeaderLine is the line the header is on (2 after a #TYPE line).
func (r *Reader) HeaderLine() int { return 1 + r.skipped }

// Read returns the next record that holds a value, with the line it
// starts on, or io.EOF at the end of a complete file. The record is reused
// by the next call. Every value is valid UTF-8 without NUL.
func (r *Reader) Read() ([]string, int, error) {
	for {
		rec, line, err := r.read(true)
		if err != nil {
			return nil, 0, err
		}
		if r.lastBlank {
			continue
		}
		for i, v := range rec {
			if err := r.checkText(line, i, v); err != nil {
				return nil, 0, err
			}
		}
		return rec, line, nil
	}
}

func (r *Reader) read(body bool) ([]string, int, error) {
	r.lim.Mark()
	rec, err := r.cr.Read()
	if errors.Is(err, io.EOF) {
		// Every tool that exports CSV ends each line: a last line without
		// its line break was cut off, and its last value may be cut short
		// (a UPN, a user's Windows usernames).
		if body && r.lim.Unterminated() && !r.lastBlank {
			return nil, 0, fmt.Errorf("%s:%d: %s", r.name, r.lastLine, r.cutOff())
		}
		return nil, 0, io.EOF
	}
	if err != nil {
		return nil, 0, r.fail(err, r.lastLine+1)
	}
	line, _ := r.cr.FieldPos(0)
	r.lastLine, r.lastBlank = line+r.skipped, blank(rec)
	return rec, r.lastLine, nil
}

// Where is the line and column, 1-based, that field i of the last record
// read starts at.
func (r *Reader) Where(i int) (line, column int) {
	l, c := r.cr.FieldPos(i)
	return l + r.skipped, c
}

// Column names column i for messages: its header name, or its number.
func (r *Reader) Column(i int) string {
	if i < len(r.header) && r.header[i] != "" && utf8.ValidString(r.header[i]) {
		return r.header[i]
	}
	return fmt.Sprintf("%d", i+1)
}

func (r *Reader) checkText(line, i int, v string) error {
	if !utf8.ValidString(v) {
		return fmt.Errorf("%s:%d: column %s is not valid UTF-8: the file is probably saved as ANSI; save it as \"CSV UTF-8\" (Excel: Save As, CSV UTF-8), or export it again in UTF-8 (PowerShell: Export-Csv -Encoding UTF8; csvde: -u, which writes UTF-16)", r.name, line, r.Column(i))
	}
	if strings.IndexByte(v, 0) >= 0 {
		return fmt.Errorf("%s:%d: column %s contains a NUL byte: this is not a text file, or a UTF-16 file without its byte order mark; save it as \"CSV UTF-8\"", r.name, line, r.Column(i))
	}
	return nil
}

func (r *Reader) cutOff() string { return textfile.CutOff("", r.opts.Again) }

// fail turns encoding/csv's errors into NAME:LINE messages that say how
// to fix the file; next is the line the failed record began on, as far as
// the caller knows.
func (r *Reader) fail(err error, next int) error {
	var tl *textfile.TooLongError
	if errors.As(err, &tl) {
		// The limited reader counts the #TYPE line, as next does.
		line, why := tl.At(next)
		return fmt.Errorf("%s:%d: %s", r.name, line, why)
	}
	var pe *csv.ParseError
	if !errors.As(err, &pe) {
		return fmt.Errorf("%s: cannot read the file: %v", r.name, err)
	}
	start, at := pe.StartLine+r.skipped, pe.Line+r.skipped
	if cut := r.lim.CutLine(); cut > 0 && at == cut {
		return fmt.Errorf("%s:%d: %s", r.name, start, r.cutOff())
	}
	sep := separatorName(r.Comma)
	switch {
	case errors.Is(pe.Err, csv.ErrFieldCount):
		return fmt.Errorf("%s:%d: this line has a different number of values than the header's %d columns: put values that contain %s in double quotes", r.name, start, len(r.header), sep)
	case errors.Is(pe.Err, csv.ErrBareQuote):
		return fmt.Errorf("%s:%d: column %d: a double quote inside a value that does not start with one: put the whole value in double quotes and double each quote inside it (\"\")", r.name, at, pe.Column)
	case errors.Is(pe.Err, csv.ErrQuote):
		if start != at {
			return fmt.Errorf("%s:%d: a quoted value starting on this line is not closed properly (seen up to line %d): close it with a double quote and double each quote inside it (\"\")", r.name, start, at)
		}
		return fmt.Errorf("%s:%d: a quoted value is not closed properly: close it with a double quote and double each quote inside it (\"\")", r.name, start)
	}
	return fmt.Errorf("%s:%d: %v", r.name, start, pe.Err)
}

func separatorName(c rune) string {
	switch c {
	case ';':
		return "a semicolon"
	case '\t':
		return "a tab"
	}
	return "a comma"
}

func blank(rec []string) bool {
	for _, v := range rec {
		if strings.TrimSpace(v) != "" {
			return false
		}
	}
	return true
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

// firstLine returns the first line buffered in br (without its line end),
// without consuming it.
func firstLine(br *bufio.Reader) []byte {
	b, _ := br.Peek(1)
	if len(b) == 0 {
		return nil
	}
	b, _ = br.Peek(br.Buffered())
	if i := strings.IndexByte(string(b), '\n'); i >= 0 {
		b = b[:i]
	}
	return []byte(strings.TrimSuffix(string(b), "\r"))
}

// Bool reads a yes/no column (Active, Enabled) as Excel and Windows tools
// write it in English or French, in any letter case: true/false, yes/no,
// y/n, oui/non, vrai/faux, 1/0. ok is false for anything else, the empty
// value included (its meaning is the caller's).
func Bool(v string) (value, ok bool) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true", "yes", "y", "oui", "vrai", "1":
		return true, true
	case "false", "no", "n", "non", "faux", "0":
		return false, true
	}
	return false, false
}

// BoolWords lists what Bool accepts, for messages.
const BoolWords = "true/false, yes/no, oui/non, vrai/faux or 1/0"
