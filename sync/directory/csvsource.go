package directory

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/upnsync/upnsync/internal/textfile"
	upnsync "github.com/upnsync/upnsync/sync"
)

// csvDirectory reads people from a CSV export (Get-ADUser | Export-Csv,
// Get-MgUser | Export-Csv, the Entra admin center's "Download users"),
// streaming: one record at a time.
type csvDirectory struct{ exportSource }

func openCSV(path string, opts Options) (*csvDirectory, error) {
	d := &csvDirectory{}
	if err := d.init("csv", path, opts); err != nil {
		return nil, err
	}
	return d, nil
}

// exportSource is what the csv: and xlsx: directories share: the checked
// file, the options, a logger, and the lock that keeps reads one at a time.
type exportSource struct {
	kind, path string
	opts       Options
	log        *slog.Logger
	scope      *exportScope // --domain, --user-filter, --filter; nil: none
	mu         sync.Mutex
}

func (e *exportSource) init(kind, path string, opts Options) error {
	if err := checkExportFile(kind, path); err != nil {
		return err
	}
	if _, err := parseColumnSpec(opts.Columns); err != nil {
		return err
	}
	e.kind, e.path, e.opts, e.log = kind, path, opts, opts.Logger
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	var err error
	e.scope, err = newExportScope(opts, e.Describe(), true)
	return err
}

func (e *exportSource) Describe() string { return e.kind + ":" + e.path }
func (e *exportSource) Close() error     { return nil }

func checkExportFile(kind, path string) error {
	if path == "" {
		return fmt.Errorf("%s: names no file: use %s:PATH, for example %s:users.%s", kind, kind, kind, kind)
	}
	st, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("cannot read %s file %s: %s", strings.ToUpper(kind), path, pathErrText(err))
	}
	if st.IsDir() {
		return fmt.Errorf("%s file %s is a folder: name the exported file", strings.ToUpper(kind), path)
	}
	return nil
}

// Read streams the people of the file to fn. The read is complete at a
// clean end of file.
func (d *csvDirectory) Read(ctx context.Context, fn func(upnsync.Person) error) (upnsync.ReadResult, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var res upnsync.ReadResult
	fail := func(err error) (upnsync.ReadResult, error) {
		res.Complete, res.Why = false, err.Error()
		return res, err
	}
	f, err := os.Open(d.path)
	if err != nil {
		return fail(newError(err, "cannot read CSV file %s: %s", d.path, pathErrText(err)))
	}
	defer f.Close()

	raw := bufio.NewReaderSize(f, 64<<10)
	if b, _ := raw.Peek(4); string(b) == "PK\x03\x04" {
		return fail(newError(nil, "%s:1: this is an Excel workbook (or another zip file), not CSV text: read it with --directory xlsx:%s", d.path, d.path))
	}
	text, enc := textfile.Reader(raw)
	// Bounded: encoding/csv holds a whole record, however long.
	lim := textfile.Limit(text)
	br := bufio.NewReaderSize(lim, 64<<10)

	// PowerShell 5's Export-Csv starts with "#TYPE <type name>" unless
	// given -NoTypeInformation.
	skipped := 0
	if b, _ := br.Peek(5); strings.EqualFold(string(b), "#TYPE") {
		if _, err := br.ReadString('\n'); err != nil && !errors.Is(err, io.EOF) {
			return fail(newError(err, "cannot read CSV file %s: %v", d.path, err))
		}
		skipped = 1
	}
	sep := textfile.Separator(textfile.FirstLine(br))

	cr := csv.NewReader(br)
	cr.Comma = sep
	cr.ReuseRecord = true
	where := func(line int) string { return fmt.Sprintf("%s:%d", d.path, line+skipped) }

	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return fail(newError(nil, "%s: the file is empty; export the users with a header line (Export-Csv writes one)", d.path))
	}
	if err != nil {
		return fail(d.csvErr(cr, lim, err, skipped, 1))
	}
	header = append([]string(nil), header...)
	for i, h := range header {
		if !utf8.ValidString(h) {
			return fail(newError(nil, "%s: column %d of the header is not valid UTF-8; export again with -Encoding UTF8 (or Unicode)", where(1), i+1))
		}
		if err := headerText(h); err != nil {
			return fail(newError(nil, "%s: column %d of the header %v", where(1), i+1, err))
		}
	}
	cols, err := resolveColumns(header, d.opts.Columns, withDefaults(d.opts.Fields))
	if err != nil {
		return fail(newError(err, "%s: %v", where(1), err))
	}
	d.log.Info("reading a CSV export", "file", d.path, "encoding", enc.Name, "separator", string(sep), "columns", cols.describe())
	d.scope.start()
	if err := d.scope.header(header, cols.idx[fDN] >= 0); err != nil {
		return fail(newError(err, "%s: %v", where(1), err))
	}

	var domains domainCache
	lastLine, lastBlank := 1, false
	for {
		if err := ctx.Err(); err != nil {
			return fail(newError(err, "the read of %s was cancelled after %d entries; the read is incomplete", d.Describe(), res.Entries))
		}
		lim.Mark()
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fail(d.csvErr(cr, lim, err, skipped, lastLine+1))
		}
		line, _ := cr.FieldPos(0)
		lastLine, lastBlank = line, blank(rec)
		if lastBlank {
			continue
		}
		for i, v := range rec {
			if !utf8.ValidString(v) {
				return fail(newError(nil, "%s: column %s is not valid UTF-8; the file looks like an ANSI export: export again with -Encoding UTF8", where(line), header[i]))
			}
			if strings.IndexByte(v, 0) >= 0 {
				return fail(newError(nil, "%s: column %s contains a NUL byte; is the file UTF-16 without its byte order mark?", where(line), header[i]))
			}
		}
		if keep, err := d.scope.row(rec, cols.value(rec, fDN)); err != nil || !keep {
			if err != nil {
				return fail(newError(err, "%s: %v", where(line), err))
			}
			continue
		}
		p, cerr := cols.person(rec, &domains, d.opts.NetBIOSDomain)
		if cerr != nil {
			return fail(newError(nil, "%s: column %s: %s", where(line), header[cerr.col], cerr.msg))
		}
		if !enc.BOM && strings.Contains(p.UPN, "?") {
			// Windows PowerShell 5.1's Export-Csv writes ASCII unless told
			// otherwise and turns every other letter into '?': writing such
			// a UPN would put a wrong name into Octopus.
			return fail(newError(nil, "%s: the UPN %q contains '?': Windows PowerShell's Export-Csv writes ASCII by default and replaces letters such as é with '?'; export again with Export-Csv -Encoding UTF8", where(line), p.UPN))
		}
		res.Entries++
		if err := fn(p); err != nil {
			if ctxErr := ctx.Err(); ctxErr != nil && errors.Is(err, ctxErr) {
				return fail(newError(err, "the read of %s was cancelled at %s; the read is incomplete", d.Describe(), where(line)))
			}
			return fail(newError(err, "the read of %s stopped at %s: %v; the read is incomplete", d.Describe(), where(line), err))
		}
	}
	// Export-Csv, Excel and the Entra admin center end every line: a last
	// line without its line break is where a copy was cut off, and its
	// last value may be cut short (a UPN without its end).
	if lim.Unterminated() && !lastBlank {
		return fail(newError(nil, "%s: %s", where(lastLine), cutOff))
	}
	if err := d.scope.finish(); err != nil {
		return fail(newError(err, "%v", err))
	}
	if res.Entries == 0 {
		return fail(newError(nil, "%s: the export has a header but no users; export the users again", d.path))
	}
	res.Pages, res.Complete = 1, true
	return res, nil
}

// cutOff says that the last line of an export lacks its line break.
const cutOff = "the file ends in the middle of this line, without a line break: the export was cut off (an interrupted copy or a full disk); export it again (if the file is complete, end it with a line break)"

// csvErr turns encoding/csv's errors into FILE:LINE messages that say how
// to fix the file.
// next is the line (of the CSV text, after a #TYPE line) the record that
// failed began on, as far as the caller knows.
func (d *csvDirectory) csvErr(cr *csv.Reader, lim *textfile.Limited, err error, skipped, next int) error {
	var tl *textfile.TooLongError
	if errors.As(err, &tl) {
		line, why := tl.At(next + skipped)
		return newError(err, "%s:%d: %s", d.path, line, why)
	}
	var pe *csv.ParseError
	if !errors.As(err, &pe) {
		return newError(err, "cannot read CSV file %s: %v; the read is incomplete", d.path, err)
	}
	if cut := lim.CutLine(); cut > 0 && pe.Line == cut {
		return newError(err, "%s:%d: %s", d.path, pe.StartLine+skipped, cutOff)
	}
	at := fmt.Sprintf("%s:%d", d.path, pe.StartLine+skipped)
	switch {
	case errors.Is(pe.Err, csv.ErrFieldCount):
		return newError(err, "%s: this line has a different number of values than the header; put values that contain the separator in double quotes", at)
	case errors.Is(pe.Err, csv.ErrBareQuote):
		return newError(err, "%s: column %d: a double quote inside a value that does not start with one; quote the whole value and double each quote inside it", at, pe.Column)
	case errors.Is(pe.Err, csv.ErrQuote):
		return newError(err, "%s: a quoted value is not closed (seen up to line %d); close it with a double quote", at, pe.Line+skipped)
	}
	return newError(err, "%s: %v", at, pe.Err)
}
