package directory

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/upnsync/upnsync/internal/csvfile"
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

	cr, err := csvfile.NewReader(f, d.path, csvfile.Options{
		Workbook: "read it with --directory xlsx:" + d.path,
		Again:    "export it again",
	})
	if err != nil {
		return fail(newError(nil, "%s", err))
	}
	where := func(line int) string { return fmt.Sprintf("%s:%d", d.path, line) }
	header, err := cr.Header()
	if errors.Is(err, io.EOF) {
		return fail(newError(nil, "%s: the file is empty; export the users with a header line (Export-Csv writes one)", d.path))
	}
	if err != nil {
		return fail(newError(err, "%s", err))
	}
	for i, h := range header {
		if !utf8.ValidString(h) {
			return fail(newError(nil, "%s: column %d of the header is not valid UTF-8; export again with -Encoding UTF8 (or Unicode)", where(cr.HeaderLine()), i+1))
		}
		if err := headerText(h); err != nil {
			return fail(newError(nil, "%s: column %d of the header %v", where(cr.HeaderLine()), i+1, err))
		}
	}
	cols, err := resolveColumns(header, d.opts.Columns, withDefaults(d.opts.Fields))
	if err != nil {
		return fail(newError(err, "%s: %v", where(cr.HeaderLine()), err))
	}
	d.log.Info("reading a CSV export", "file", d.path, "encoding", cr.Encoding.Name, "separator", string(cr.Comma), "columns", cols.describe())
	d.scope.start()
	if err := d.scope.header(header, cols.idx[fDN] >= 0); err != nil {
		return fail(newError(err, "%s: %v", where(cr.HeaderLine()), err))
	}

	var domains domainCache
	for {
		if err := ctx.Err(); err != nil {
			return fail(newError(err, "the read of %s was cancelled after %d entries; the read is incomplete", d.Describe(), res.Entries))
		}
		rec, line, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fail(newError(nil, "%s", err))
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
		if !cr.Encoding.BOM && strings.Contains(p.UPN, "?") {
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
	if err := d.scope.finish(); err != nil {
		return fail(newError(err, "%v", err))
	}
	if res.Entries == 0 {
		return fail(newError(nil, "%s: the export has a header but no users; export the users again", d.path))
	}
	res.Pages, res.Complete = 1, true
	return res, nil
}
