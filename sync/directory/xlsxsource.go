package directory

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/xuri/excelize/v2"

	"github.com/upnsync/upnsync/internal/workbook"
	upnsync "github.com/upnsync/upnsync/sync"
)

// xlsxDirectory reads people from the first sheet of an Excel workbook (an
// export saved from Excel, or Export-Excel), row by row.
type xlsxDirectory struct{ exportSource }

func openXLSX(path string, opts Options) (*xlsxDirectory, error) {
	d := &xlsxDirectory{}
	if err := d.init("xlsx", path, opts); err != nil {
		return nil, err
	}
	return d, nil
}

// cellName is the Excel name of a cell (C12), for errors.
func cellName(col, row int) string {
	n, err := excelize.CoordinatesToCellName(col+1, row)
	if err != nil {
		return fmt.Sprintf("row %d column %d", row, col+1)
	}
	return n
}

// Read streams the people of the first sheet to fn: the first non-empty
// row is the header, empty rows are skipped.
func (d *xlsxDirectory) Read(ctx context.Context, fn func(upnsync.Person) error) (upnsync.ReadResult, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var res upnsync.ReadResult
	fail := func(err error) (upnsync.ReadResult, error) {
		res.Complete, res.Why = false, err.Error()
		return res, err
	}
	if err := workbook.Check(d.path); err != nil {
		return fail(newError(err, "%v", err))
	}
	f, err := excelize.OpenFile(d.path, workbook.Options())
	if err != nil {
		if workbook.IsZip(d.path) {
			return fail(newError(err, "cannot read workbook %s: it is damaged or cut off (%v); copy or export it again", d.path, err))
		}
		return fail(newError(err, "cannot read workbook %s: %v; is it an .xlsx file (not .xls or .csv)?", d.path, err))
	}
	defer f.Close()
	sheets := f.GetSheetList()
	if len(sheets) == 0 {
		return fail(newError(nil, "workbook %s has no sheet", d.path))
	}
	sheet := sheets[0]
	rows, err := f.Rows(sheet)
	if err != nil {
		return fail(newError(err, "cannot read sheet %q of %s: %v", sheet, d.path, err))
	}
	defer rows.Close()
	where := func(col, row int) string {
		return fmt.Sprintf("%s: sheet %q, cell %s", d.path, sheet, cellName(col, row))
	}

	var (
		header  []string
		cols    columnMap
		domains domainCache
	)
	for row := 1; rows.Next(); row++ {
		if err := ctx.Err(); err != nil {
			return fail(newError(err, "the read of %s was cancelled at row %d; the read is incomplete", d.Describe(), row))
		}
		rec, err := rows.Columns()
		if err != nil {
			return fail(newError(err, "%s: sheet %q, row %d: %v", d.path, sheet, row, err))
		}
		if blank(rec) {
			continue
		}
		for i, v := range rec {
			if !utf8.ValidString(v) || strings.IndexByte(v, 0) >= 0 {
				return fail(newError(nil, "%s: the value is not valid text", where(i, row)))
			}
		}
		if header == nil {
			for i, h := range rec {
				if err := headerText(h); err != nil {
					return fail(newError(nil, "%s: the header %v", where(i, row), err))
				}
			}
			header = append([]string(nil), rec...)
			cols, err = resolveColumns(header, d.opts.Columns, withDefaults(d.opts.Fields))
			if err != nil {
				return fail(newError(err, "%s: sheet %q, row %d: %v", d.path, sheet, row, err))
			}
			d.log.Info("reading a workbook export", "file", d.path, "sheet", sheet, "columns", cols.describe())
			d.scope.start()
			if err := d.scope.header(header, cols.idx[fDN] >= 0); err != nil {
				return fail(newError(err, "%s: sheet %q, row %d: %v", d.path, sheet, row, err))
			}
			if len(sheets) > 1 {
				d.log.Warn("the workbook has several sheets; only the first is read", "file", d.path, "sheet", sheet)
			}
			continue
		}
		if keep, err := d.scope.row(rec, cols.value(rec, fDN)); err != nil || !keep {
			if err != nil {
				return fail(newError(err, "%s: sheet %q, row %d: %v", d.path, sheet, row, err))
			}
			continue
		}
		p, cerr := cols.person(rec, &domains, d.opts.NetBIOSDomain)
		if cerr != nil {
			return fail(newError(nil, "%s (%s): %s", where(cerr.col, row), header[cerr.col], cerr.msg))
		}
		res.Entries++
		if err := fn(p); err != nil {
			if ctxErr := ctx.Err(); ctxErr != nil && errors.Is(err, ctxErr) {
				return fail(newError(err, "the read of %s was cancelled at row %d; the read is incomplete", d.Describe(), row))
			}
			return fail(newError(err, "the read of %s stopped at row %d: %v; the read is incomplete", d.Describe(), row, err))
		}
	}
	if err := rows.Error(); err != nil {
		return fail(newError(err, "cannot read sheet %q of %s: %v; the read is incomplete", sheet, d.path, err))
	}
	if header == nil {
		return fail(newError(nil, "%s: sheet %q is empty; export the users with a header row", d.path, sheet))
	}
	if err := d.scope.finish(); err != nil {
		return fail(newError(err, "%v", err))
	}
	if res.Entries == 0 {
		return fail(newError(nil, "%s: sheet %q has a header but no users; export the users again", d.path, sheet))
	}
	res.Pages, res.Complete = 1, true
	return res, nil
}
