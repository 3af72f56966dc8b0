package octopus

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	upnsync "github.com/upnsync/upnsync/sync"
)

// importChunk is the number of upserts sent in one round trip.
const importChunk = 1000

// createTable creates the users table (and its schema) with the configured
// column names. The id sorts bytewise (COLLATE "C"), so that reading users
// in id order follows its primary key index.
func (s *pgStore) createTable(ctx context.Context, tx pgx.Tx) error {
	if len(s.table) == 2 {
		if _, err := tx.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS `+pgx.Identifier{s.table[0]}.Sanitize()); err != nil {
			return s.explain("cannot create schema "+s.table[0], err)
		}
	}
	defs := [numColumns]string{
		colID:              `text COLLATE "C" PRIMARY KEY`,
		colFirstName:       "text",
		colLastName:        "text",
		colEmail:           "text",
		colWindowsUsername: "text NOT NULL DEFAULT ''",
		colExternalID:      "text",
		colActive:          "boolean NOT NULL DEFAULT true",
	}
	var parts []string
	for i := range numColumns {
		if s.cols[i] != "" {
			parts = append(parts, s.col(i)+" "+defs[i])
		}
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE `+s.tableName+` (`+strings.Join(parts, ", ")+`)`); err != nil {
		return s.explain("cannot create table "+s.tableName, err)
	}
	return nil
}

// ImportCSV upserts the file's users by ID in one transaction, after the
// whole file has been validated: a bad line leaves the database as it was,
// and a table that did not exist is not created. Users not in the file are
// left alone; for users already in the table only the file's columns are
// updated.
func (s *pgStore) ImportCSV(ctx context.Context, r io.Reader, name string) (ImportResult, error) {
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
	for c := range numColumns {
		if present[c] && s.cols[c] == "" {
			return res, fmt.Errorf("%s: column %s has nowhere to go: --store-columns says table %s has no %s column; nothing was imported",
				name, Columns[c], s.tableName, dbColumns[c])
		}
	}

	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return res, s.explain("cannot import "+name, err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	created := false
	if !s.exists {
		if err := s.createTable(ctx, tx); err != nil {
			return res, err
		}
		created = true
		for i := range numColumns {
			s.types[i] = ""
		}
		s.types[colActive] = "boolean"
	}
	if err := s.ensureSchema(ctx, tx); err != nil {
		return res, err
	}

	// Inserted rows get every mapped column (absent ones empty, active
	// true); an update sets only the file's columns, and only when one of
	// them differs, so that RETURNING tells created, updated and unchanged
	// apart (xmax is 0 on a freshly inserted row).
	var cols, vals, set, old, neu []string
	var fields []int
	for c := range numColumns {
		if s.cols[c] == "" {
			continue
		}
		fields = append(fields, c)
		cols = append(cols, s.col(c))
		vals = append(vals, s.param(len(fields), c))
		if c != colID && present[c] {
			set = append(set, s.col(c)+" = excluded."+s.col(c))
			old = append(old, "u."+s.col(c))
			neu = append(neu, "excluded."+s.col(c))
		}
	}
	q := `INSERT INTO ` + s.tableName + ` AS u (` + strings.Join(cols, ", ") + `) VALUES (` + strings.Join(vals, ", ") + `) ON CONFLICT (` + s.col(colID) + `) `
	if len(set) == 0 {
		q += `DO NOTHING`
	} else {
		q += `DO UPDATE SET ` + strings.Join(set, ", ") + ` WHERE (` + strings.Join(old, ", ") + `, NULL) IS DISTINCT FROM (` + strings.Join(neu, ", ") + `, NULL)`
	}
	q += ` RETURNING (xmax::text = '0')`

	for lo := 0; lo < len(rows); lo += importChunk {
		chunk := rows[lo:min(lo+importChunk, len(rows))]
		var b pgx.Batch
		for _, row := range chunk {
			u := &row.user
			all := [numColumns]string{u.ID, u.FirstName, u.LastName, u.Email, u.WindowsUsernames, u.ExternalID, s.activeText(u.Active)}
			args := make([]any, 0, len(fields))
			for _, c := range fields {
				args = append(args, all[c])
			}
			b.Queue(q, args...)
		}
		br := tx.SendBatch(ctx, &b)
		for _, row := range chunk {
			var inserted bool
			err := br.QueryRow().Scan(&inserted)
			switch {
			case errors.Is(err, pgx.ErrNoRows):
				res.Unchanged++
			case err != nil:
				br.Close()
				if created {
					s.exists = false
				}
				return ImportResult{Read: res.Read}, s.explain(fmt.Sprintf("%s:%d: user %q: nothing was imported", name, row.line, row.user.ID), err)
			case inserted:
				res.Created++
			default:
				res.Updated++
			}
		}
		if err := br.Close(); err != nil {
			return ImportResult{Read: res.Read}, s.explain("cannot import "+name+"; nothing was imported", err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return ImportResult{Read: res.Read}, s.explain("cannot import "+name+"; nothing was imported", err)
	}
	s.exists = true
	s.schemaCreated()
	return res, nil
}

// ExportCSV writes every user in id order with the columns of Columns,
// streaming from one query.
func (s *pgStore) ExportCSV(ctx context.Context, cw *csv.Writer) (int, error) {
	if s.pool == nil {
		return 0, fmt.Errorf("store %s: the store is closed", s.Describe())
	}
	if err := cw.Write(Columns); err != nil {
		return 0, fmt.Errorf("cannot write the export: %v", err)
	}
	n := 0
	if s.exists {
		rows, err := s.pool.Query(ctx, `SELECT `+s.userSelect()+` FROM `+s.tableName+` u WHERE u.`+s.col(colID)+` IS NOT NULL ORDER BY `+s.orderByID())
		if err != nil {
			return 0, s.explain("cannot export users", err)
		}
		defer rows.Close()
		rec := make([]string, numColumns)
		var active string
		dest := []any{&rec[colID], &rec[colFirstName], &rec[colLastName], &rec[colEmail], &rec[colWindowsUsername], &rec[colExternalID], &active}
		for rows.Next() {
			if err := rows.Scan(dest...); err != nil {
				return n, s.explain("cannot export users", err)
			}
			rec[colActive] = strconv.FormatBool(parseActiveText(active))
			if err := cw.Write(rec); err != nil {
				return n, fmt.Errorf("cannot write the export after %s: %v", users(n), err)
			}
			n++
		}
		if err := rows.Err(); err != nil {
			return n, s.explain("cannot export users", err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return n, fmt.Errorf("cannot write the export after %s: %v", users(n), err)
	}
	return n, nil
}
