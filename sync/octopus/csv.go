package octopus

import (
	"context"
	"database/sql"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/upnsync/upnsync/internal/csvfile"
	upnsync "github.com/upnsync/upnsync/sync"
)

// Columns are the CSV columns of `upnsync store import|export`, in the order
// export writes them. They are the names Octopus's DataImporter uses.
var Columns = []string{"ID", "FirstName", "LastName", "Email", "WindowsUsername", "ExternalIdentifier", "Active"}

const (
	colID = iota
	colFirstName
	colLastName
	colEmail
	colWindowsUsername
	colExternalID
	colActive
	numColumns
)

// dbColumns are the users table columns of Columns, index for index.
var dbColumns = [numColumns]string{"id", "first_name", "last_name", "email", "windows_usernames", "external_id", "active"}

// ReadCSV parses and validates a users CSV file (name is used in errors)
// and calls fn for each user with the line it starts on. It stops at the
// first problem and returns it as FILE:LINE: what is wrong and what to do.
// A column missing from the header leaves that field empty (Active: true).
// The file is read as internal/csvfile reads every CSV: ',' or ';', UTF-8
// or UTF-16, PowerShell's #TYPE line.
func ReadCSV(r io.Reader, name string, fn func(line int, u upnsync.User) error) error {
	_, err := readCSV(r, name, fn)
	return err
}

// readCSV is ReadCSV that also tells which columns the file has, so that an
// import updates only those.
func readCSV(r io.Reader, name string, fn func(line int, u upnsync.User) error) (present [numColumns]bool, err error) {
	cr, err := csvfile.NewReader(r, name, csvfile.Options{
		Workbook: "in Excel use Save As, CSV UTF-8, or `upnsync store export` another store",
		Again:    "save or export it again",
	})
	if err != nil {
		return present, err
	}
	header, err := cr.Header()
	if errors.Is(err, io.EOF) {
		return present, fmt.Errorf("%s: the file is empty; its first line must be the header %s", name, strings.Join(Columns, ","))
	}
	if err != nil {
		return present, err
	}
	headerLine := cr.HeaderLine()
	index, err := parseHeader(name, headerLine, header, &present)
	if err != nil {
		return present, err
	}

	seen := map[string]int{}
	for {
		rec, line, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return present, nil
		}
		if err != nil {
			return present, err
		}
		u := upnsync.User{Active: true}
		var val [numColumns]string
		for i, c := range index {
			if c >= 0 && i < len(rec) {
				val[c] = rec[i]
			}
		}
		u.ID = strings.TrimSpace(val[colID])
		u.FirstName = val[colFirstName]
		u.LastName = val[colLastName]
		u.Email = val[colEmail]
		u.WindowsUsernames = val[colWindowsUsername]
		u.ExternalID = val[colExternalID]
		if u.ID == "" {
			return present, fmt.Errorf("%s:%d: ID is empty; every user needs a unique ID", name, line)
		}
		if first, dup := seen[u.ID]; dup {
			return present, fmt.Errorf("%s:%d: ID %q is also on line %d; each ID must appear once", name, line, u.ID, first)
		}
		seen[u.ID] = line
		if present[colActive] {
			a, ok := parseActive(val[colActive])
			if !ok {
				return present, fmt.Errorf("%s:%d: Active must be %s, or empty (meaning true), not %q", name, line, csvfile.BoolWords, val[colActive])
			}
			u.Active = a
		}
		if err := fn(line, u); err != nil {
			return present, err
		}
	}
}

// parseHeader maps each field of the header to its column. An unknown name
// is an error rather than a column to skip, so that a misspelt column does
// not silently leave a field unimported.
// columnOf is the column a header names, in any of the spellings an
// Octopus users export may use (exportNames: "EMailAddress", "Surname",
// "Windows usernames"...), or -1.
func columnOf(h string) int {
	n := normName(h)
	for c := range numColumns {
		if slices.Contains(exportNames[c], n) {
			return c
		}
	}
	return -1
}

// The store's columns are the first of an export's, in the same order.
var _ = [1]struct{}{}[exActive-colActive]

func parseHeader(name string, line int, header []string, present *[numColumns]bool) ([]int, error) {
	index := make([]int, len(header))
	where := [numColumns]int{}
	known := 0
	var unknown []int
	for i, h := range header {
		h = strings.TrimSpace(h)
		index[i] = -1
		if c := columnOf(h); c >= 0 {
			index[i] = c
			known++
		}
		if index[i] < 0 {
			unknown = append(unknown, i)
		}
	}
	if known == 0 {
		return nil, fmt.Errorf("%s:%d: the first line is not a header; add the header line %s (any order, any letter case)", name, line, strings.Join(Columns, ","))
	}
	for _, i := range unknown {
		if strings.TrimSpace(header[i]) == "" {
			return nil, fmt.Errorf("%s:%d: column %d of the header has no name (a trailing separator?); the columns are %s", name, line, i+1, strings.Join(Columns, ","))
		}
		return nil, fmt.Errorf("%s:%d: unknown column %q; the columns are %s", name, line, strings.TrimSpace(header[i]), strings.Join(Columns, ","))
	}
	for i, c := range index {
		if present[c] {
			return nil, fmt.Errorf("%s:%d: column %s appears twice (columns %d and %d); keep one", name, line, Columns[c], where[c]+1, i+1)
		}
		present[c] = true
		where[c] = i
	}
	if !present[colID] {
		return nil, fmt.Errorf("%s:%d: the header has no ID column; every user needs one", name, line)
	}
	return index, nil
}

// parseActive reads the Active column; empty means active because that is
// what a user added by hand to a sheet most likely is.
func parseActive(v string) (active, ok bool) {
	if strings.TrimSpace(v) == "" {
		return true, true
	}
	return csvfile.Bool(v)
}

type importRow struct {
	line int
	user upnsync.User
}

// ImportCSV upserts the file's users by ID in one transaction, after the
// whole file has been validated: a bad line leaves the store as it was (and
// a store that did not exist yet is not created). Users not in the file are
// left alone; for users already in the store only the file's columns are
// updated.
func (s *sqliteStore) ImportCSV(ctx context.Context, r io.Reader, name string) (ImportResult, error) {
	var res ImportResult
	if err := s.checkWritable("cannot import " + name); err != nil {
		return res, err
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
	if err := s.ensureSchema(ctx); err != nil {
		return res, err
	}

	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return res, s.explain("cannot import "+name, err)
	}
	defer tx.Rollback()
	insert, err := tx.PrepareContext(ctx, `INSERT INTO users(id, first_name, last_name, email, windows_usernames, external_id, active)
		VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO NOTHING`)
	if err != nil {
		return res, s.explain("cannot import "+name, err)
	}
	defer insert.Close()

	// The update sets only the file's columns and matches only when one of
	// them differs, so that RowsAffected tells updated from unchanged.
	var set, differ []string
	for c := colFirstName; c < numColumns; c++ {
		if present[c] {
			set = append(set, dbColumns[c]+" = ?")
			differ = append(differ, dbColumns[c]+" IS NOT ?")
		}
	}
	var update *sql.Stmt
	if len(set) > 0 {
		update, err = tx.PrepareContext(ctx, `UPDATE users SET `+strings.Join(set, ", ")+
			` WHERE id = ? AND (`+strings.Join(differ, " OR ")+`)`)
		if err != nil {
			return res, s.explain("cannot import "+name, err)
		}
		defer update.Close()
	}

	args := make([]any, 0, 2*numColumns)
	for _, row := range rows {
		u := &row.user
		fail := func(err error) (ImportResult, error) {
			return ImportResult{Read: res.Read}, s.explain(fmt.Sprintf("%s:%d: user %q: nothing was imported", name, row.line, u.ID), err)
		}
		vals := [numColumns]any{u.ID, u.FirstName, u.LastName, u.Email, u.WindowsUsernames, u.ExternalID, boolInt(u.Active)}
		r, err := insert.ExecContext(ctx, vals[:]...)
		if err != nil {
			return fail(err)
		}
		if n, err := r.RowsAffected(); err != nil {
			return fail(err)
		} else if n == 1 {
			res.Created++
			continue
		}
		if update == nil {
			res.Unchanged++
			continue
		}
		args = args[:0]
		for c := colFirstName; c < numColumns; c++ {
			if present[c] {
				args = append(args, vals[c])
			}
		}
		args = append(args, u.ID)
		for c := colFirstName; c < numColumns; c++ {
			if present[c] {
				args = append(args, vals[c])
			}
		}
		r, err = update.ExecContext(ctx, args...)
		if err != nil {
			return fail(err)
		}
		if n, err := r.RowsAffected(); err != nil {
			return fail(err)
		} else if n == 1 {
			res.Updated++
		} else {
			res.Unchanged++
		}
	}
	if err := tx.Commit(); err != nil {
		return ImportResult{Read: res.Read}, s.explain("cannot import "+name+"; nothing was imported", err)
	}
	return res, nil
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// ExportCSV writes every user in id order with the columns of Columns,
// Active as true/false. It streams, so a large store is never held in
// memory.
func (s *sqliteStore) ExportCSV(ctx context.Context, cw *csv.Writer) (int, error) {
	if s.db == nil {
		return 0, fmt.Errorf("store %s: the store is closed", s.Describe())
	}
	if err := cw.Write(Columns); err != nil {
		return 0, fmt.Errorf("cannot write the export: %v", err)
	}
	n := 0
	if !s.pending {
		tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
		if err != nil {
			return 0, s.explain("cannot export users", err)
		}
		defer tx.Rollback()
		rec := make([]string, numColumns)
		err = s.scanUsers(ctx, tx, func(u *upnsync.User) error {
			rec[colID], rec[colFirstName], rec[colLastName] = u.ID, u.FirstName, u.LastName
			rec[colEmail], rec[colWindowsUsername], rec[colExternalID] = u.Email, u.WindowsUsernames, u.ExternalID
			rec[colActive] = strconv.FormatBool(u.Active)
			if err := cw.Write(rec); err != nil {
				return fmt.Errorf("cannot write the export after %s: %v", users(n), err)
			}
			n++
			return nil
		})
		if err != nil {
			return n, err
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return n, fmt.Errorf("cannot write the export after %s: %v", users(n), err)
	}
	return n, nil
}
