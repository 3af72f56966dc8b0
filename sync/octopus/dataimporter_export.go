package octopus

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/xuri/excelize/v2"

	"github.com/upnsync/upnsync/internal/csvfile"
	"github.com/upnsync/upnsync/internal/workbook"
	upnsync "github.com/upnsync/upnsync/sync"
)

// exportUser is one Octopus user of an export, with what DataImporter
// needs to find it again.
type exportUser struct {
	upnsync.User
	EmployeeID string
	// Row is where the user is in the export (a line or a sheet row).
	Row int
}

// The columns of an Octopus users export this store understands.
const (
	exID = iota
	exFirstName
	exLastName
	exEmail
	exWindowsUsername
	exExternalID
	exActive
	exEmployeeID
	numExport
)

// exportNames are the names written by `upnsync store export` and
// DataImporter's own column names first, then other spellings seen in
// exports from Octopus's lists and from Excel, compared on letters and
// digits only, in any letter case ("First name" is "FirstName").
var exportNames = [numExport][]string{
	exID:              {"id", "userid"},
	exFirstName:       {"firstname", "givenname"},
	exLastName:        {"lastname", "surname"},
	exEmail:           {"email", "emailaddress", "mail"},
	exWindowsUsername: {"windowsusername", "windowsusernames"},
	exExternalID:      {"externalidentifier", "externalid"},
	exActive:          {"active"},
	exEmployeeID:      {"employeeid", "employeenumber"},
}

func normName(s string) string {
	var b strings.Builder
	for _, r := range s {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String()
}

// exportFile is an Octopus users export read whole.
type exportFile struct {
	path  string
	users []exportUser
	// has tells which columns the file has; unknown lists the others.
	has     [numExport]bool
	unknown []string
	// comma is the separator of a CSV export, which a rewrite keeps.
	comma rune
}

// readExport reads an Octopus users export (.csv or .xlsx). Columns it does
// not know are ignored (Octopus's list exports have many). A user needs a
// first or last name or an ID; a user without an ID column value gets its
// EmployeeID, else its row ("#12"), as its id in reports.
func readExport(path string) (*exportFile, error) {
	ext := strings.ToLower(filepath.Ext(path))
	var rows func(fn func(row int, rec []string) error) error
	var where func(row int) string
	ex := &exportFile{path: path}
	switch ext {
	case ".csv", ".txt":
		rows = func(fn func(int, []string) error) error { return csvRows(path, &ex.comma, fn) }
		where = func(row int) string { return fmt.Sprintf("%s:%d", path, row) }
	case ".xlsx", ".xlsm":
		rows = func(fn func(int, []string) error) error { return xlsxRows(path, fn) }
		where = func(row int) string { return fmt.Sprintf("%s: row %d", path, row) }
	default:
		return nil, fmt.Errorf("Octopus export %s: give a .csv or .xlsx file", path)
	}
	var index []int
	var header []string
	seen := map[string]int{}
	err := rows(func(row int, rec []string) error {
		if index == nil {
			// The header is quoted in errors below: it must be text.
			for i, h := range rec {
				if !utf8.ValidString(h) || strings.IndexFunc(h, unicode.IsControl) >= 0 {
					return fmt.Errorf("%s: column %d of the header is not text (a control character, or not UTF-8): this is not an Octopus users export saved as UTF-8", where(row), i+1)
				}
			}
			header = append([]string(nil), rec...)
			index = make([]int, len(rec))
			for i, h := range rec {
				index[i] = -1
				n := normName(h)
				for c, names := range exportNames {
					for _, name := range names {
						if n == name {
							index[i] = c
						}
					}
				}
				if index[i] < 0 {
					if strings.TrimSpace(h) != "" {
						ex.unknown = append(ex.unknown, h)
					}
					continue
				}
				if ex.has[index[i]] {
					return fmt.Errorf("%s: column %q appears twice (as %s); keep one", where(row), h, exportNames[index[i]][0])
				}
				ex.has[index[i]] = true
			}
			if !ex.has[exFirstName] && !ex.has[exLastName] && !ex.has[exWindowsUsername] {
				return fmt.Errorf("%s: this is not an Octopus users export: no FirstName, LastName or WindowsUsername column among %s",
					where(row), strings.Join(header, ", "))
			}
			return nil
		}
		var v [numExport]string
		for i, c := range index {
			if c >= 0 && i < len(rec) {
				v[c] = rec[i]
			}
		}
		for i, val := range rec {
			if !utf8.ValidString(val) || strings.IndexByte(val, 0) >= 0 {
				name := fmt.Sprint("column ", i+1)
				if i < len(header) {
					name = header[i]
				}
				return fmt.Errorf("%s: %s is not valid text; save the export as UTF-8", where(row), name)
			}
		}
		u := exportUser{Row: row, EmployeeID: strings.TrimSpace(v[exEmployeeID]), User: upnsync.User{
			ID: strings.TrimSpace(v[exID]), FirstName: strings.TrimSpace(v[exFirstName]), LastName: strings.TrimSpace(v[exLastName]),
			Email: strings.TrimSpace(v[exEmail]), WindowsUsernames: v[exWindowsUsername], ExternalID: strings.TrimSpace(v[exExternalID]), Active: true,
		}}
		if ex.has[exActive] {
			a, ok := parseActive(v[exActive])
			if !ok {
				return fmt.Errorf("%s: Active must be %s, or empty (meaning yes), not %q", where(row), csvfile.BoolWords, v[exActive])
			}
			u.Active = a
		}
		if u.ID == "" {
			u.ID = u.EmployeeID
		}
		if u.ID == "" {
			u.ID = fmt.Sprintf("#%d", row)
		}
		if first, dup := seen[strings.ToLower(u.ID)]; dup {
			return fmt.Errorf("%s: ID %q is also on row %d; each user must appear once", where(row), u.ID, first)
		}
		seen[strings.ToLower(u.ID)] = row
		ex.users = append(ex.users, u)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if index == nil {
		return nil, fmt.Errorf("Octopus export %s is empty; export the users with a header row", path)
	}
	return ex, nil
}

// csvRows streams the records of a CSV file in any of the encodings and
// separators Windows tools write, with their line numbers.
// comma is set to the file's separator.
func csvRows(path string, comma *rune, fn func(row int, rec []string) error) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("cannot read Octopus export %s: %v", path, unwrapPathError(err))
	}
	defer f.Close()
	cr, err := csvfile.NewReader(f, path, csvfile.Options{
		Workbook: "name it .xlsx",
		Again:    "export the users again",
		Ragged:   true,
	})
	if err != nil {
		return err
	}
	*comma = cr.Comma
	header, err := cr.Header()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil
		}
		return err
	}
	if err := fn(cr.HeaderLine(), header); err != nil {
		return err
	}
	for {
		rec, line, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := fn(line, rec); err != nil {
			return err
		}
	}
}

// xlsxRows streams the rows of the first sheet of a workbook.
func xlsxRows(path string, fn func(row int, rec []string) error) error {
	if err := workbook.Check(path); err != nil {
		return err
	}
	f, err := excelize.OpenFile(path, workbook.Options())
	if err != nil {
		if workbook.IsZip(path) {
			return fmt.Errorf("cannot read Octopus export %s: the workbook is damaged or cut off (%v); export the users again", path, err)
		}
		return fmt.Errorf("cannot read Octopus export %s: %v; is it an .xlsx workbook?", path, unwrapPathError(err))
	}
	defer f.Close()
	sheets := f.GetSheetList()
	if len(sheets) == 0 {
		return fmt.Errorf("Octopus export %s has no sheet", path)
	}
	rows, err := f.Rows(sheets[0])
	if err != nil {
		return fmt.Errorf("cannot read Octopus export %s: %v", path, err)
	}
	defer rows.Close()
	for row := 1; rows.Next(); row++ {
		rec, err := rows.Columns()
		if err != nil {
			return fmt.Errorf("%s: row %d: %v", path, row, err)
		}
		if blankRecord(rec) {
			continue
		}
		if err := fn(row, rec); err != nil {
			return err
		}
	}
	return rows.Error()
}

func blankRecord(rec []string) bool {
	for _, v := range rec {
		if strings.TrimSpace(v) != "" {
			return false
		}
	}
	return true
}

func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
