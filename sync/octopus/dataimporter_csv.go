package octopus

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/xuri/excelize/v2"

	"github.com/upnsync/upnsync/internal/atomicfile"
	"github.com/upnsync/upnsync/internal/csvfile"
	upnsync "github.com/upnsync/upnsync/sync"
)

// ImportCSV upserts the file's users by ID into the Octopus export the
// store reads (--octopus-export), all or nothing, and rewrites it with the
// columns of `store export` (plus EmployeeID when any user has one). That
// makes a DataImporter store testable and seedable like the others. An
// export with columns upnsync does not keep is refused rather than
// stripped.
func (s *diStore) ImportCSV(ctx context.Context, r io.Reader, name string) (ImportResult, error) {
	var res ImportResult
	if s.readOnly {
		return res, fmt.Errorf("store %s: cannot import %s: the store was opened read-only (dry run); nothing was written", s.Describe(), name)
	}
	if len(s.ex.unknown) > 0 {
		return res, fmt.Errorf("store %s: cannot import %s into %s: it has columns upnsync does not keep (%s) and rewriting it would drop them; import into a new --octopus-export file",
			s.Describe(), name, s.export, strings.Join(s.ex.unknown, ", "))
	}
	var rows []importRow
	present, err := readCSV(r, name, func(line int, u upnsync.User) error {
		rows = append(rows, importRow{line, u})
		return nil
	})
	if err != nil {
		return res, err
	}
	res.Read = len(rows)
	users := append([]exportUser(nil), s.ex.users...)
	pos := map[string]int{}
	for i, u := range users {
		pos[u.ID] = i
	}
	for _, row := range rows {
		in := row.user
		i, ok := pos[in.ID]
		if !ok {
			pos[in.ID] = len(users)
			users = append(users, exportUser{User: in})
			res.Created++
			continue
		}
		u := &users[i]
		before := *u
		set := func(c int, dst *string, v string) {
			if present[c] {
				*dst = v
			}
		}
		set(colFirstName, &u.FirstName, in.FirstName)
		set(colLastName, &u.LastName, in.LastName)
		set(colEmail, &u.Email, in.Email)
		set(colWindowsUsername, &u.WindowsUsernames, in.WindowsUsernames)
		set(colExternalID, &u.ExternalID, in.ExternalID)
		if present[colActive] {
			u.Active = in.Active
		}
		if u.User.FirstName == before.FirstName && u.LastName == before.LastName && u.Email == before.Email &&
			u.WindowsUsernames == before.WindowsUsernames && u.ExternalID == before.ExternalID && u.Active == before.Active {
			res.Unchanged++
		} else {
			res.Updated++
		}
	}
	if err := ctx.Err(); err != nil {
		return ImportResult{Read: res.Read}, fmt.Errorf("store %s: import of %s interrupted: %w; nothing was imported", s.Describe(), name, err)
	}
	ex := &exportFile{path: s.export, users: users, has: s.ex.has, comma: s.ex.comma}
	for c := range numExport {
		ex.has[c] = ex.has[c] || c != exEmployeeID
	}
	if err := writeExport(ex); err != nil {
		return ImportResult{Read: res.Read}, fmt.Errorf("store %s: cannot write %s: %v; nothing was imported", s.Describe(), s.export, err)
	}
	s.ex = ex
	s.index()
	return res, nil
}

// exportRecord is a user in the columns of `store export`, plus EmployeeID.
func exportRecord(u *exportUser, withEmployee bool) []string {
	rec := []string{u.ID, u.FirstName, u.LastName, u.Email, u.WindowsUsernames, u.ExternalID, strconv.FormatBool(u.Active)}
	if withEmployee {
		rec = append(rec, u.EmployeeID)
	}
	return rec
}

// writeExport rewrites an export file (.csv or .xlsx) atomically.
func writeExport(ex *exportFile) error {
	header := append([]string(nil), Columns...)
	if ex.has[exEmployeeID] {
		header = append(header, "EmployeeID")
	}
	if strings.EqualFold(filepath.Ext(ex.path), ".xlsx") {
		f := excelize.NewFile()
		defer f.Close()
		put := func(row int, rec []string) error {
			for j, v := range rec {
				cell, _ := excelize.CoordinatesToCellName(j+1, row)
				if err := f.SetCellStr("Sheet1", cell, v); err != nil {
					return err
				}
			}
			return nil
		}
		if err := put(1, header); err != nil {
			return err
		}
		for i := range ex.users {
			if err := put(i+2, exportRecord(&ex.users[i], ex.has[exEmployeeID])); err != nil {
				return err
			}
		}
		return atomicfile.Write(ex.path, atomicfile.Private, func(w io.Writer) error { return f.Write(w) })
	}
	return atomicfile.Write(ex.path, atomicfile.Private, func(w io.Writer) error {
		cw, err := csvfile.NewWriter(w, ex.comma)
		if err != nil {
			return err
		}
		cw.Write(header)
		for i := range ex.users {
			cw.Write(exportRecord(&ex.users[i], ex.has[exEmployeeID]))
		}
		cw.Flush()
		return cw.Error()
	})
}

// ExportCSV writes the export's users in id order with the columns of
// Columns, as every store does.
func (s *diStore) ExportCSV(ctx context.Context, cw *csv.Writer) (int, error) {
	if err := cw.Write(Columns); err != nil {
		return 0, fmt.Errorf("cannot write the export: %v", err)
	}
	n := 0
	for _, u := range s.sorted() {
		if err := ctx.Err(); err != nil {
			return n, fmt.Errorf("store %s: export interrupted: %w", s.Describe(), err)
		}
		if err := cw.Write(exportRecord(u, false)); err != nil {
			return n, fmt.Errorf("cannot write the export after %s: %v", users(n), err)
		}
		n++
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return n, fmt.Errorf("cannot write the export after %s: %v", users(n), err)
	}
	return n, nil
}
