package octopus

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
)

// ParseColumns reads --store-columns: comma-separated key=column pairs whose
// keys are the users table's default column names (id, first_name,
// last_name, email, windows_usernames, external_id, active) or the CSV
// column names (ID, FirstName, ...), in any letter case. An empty column
// says the table has no such column (allowed for all but id and
// windows_usernames). It returns the column of each field.
func ParseColumns(spec string) ([numColumns]string, error) {
	cols := dbColumns
	if strings.TrimSpace(spec) == "" {
		return cols, nil
	}
	seen := map[int]bool{}
	for _, part := range strings.Split(spec, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			return cols, fmt.Errorf("--store-columns: %q is not key=column (for example windows_usernames=win_names)", part)
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		i := -1
		for c := range numColumns {
			if strings.EqualFold(k, dbColumns[c]) || strings.EqualFold(k, Columns[c]) {
				i = c
			}
		}
		if i < 0 {
			return cols, fmt.Errorf("--store-columns: unknown key %q; the keys are %s", k, strings.Join(dbColumns[:], ", "))
		}
		if seen[i] {
			return cols, fmt.Errorf("--store-columns: %s is given twice", dbColumns[i])
		}
		seen[i] = true
		if v == "" && (i == colID || i == colWindowsUsername) {
			return cols, fmt.Errorf("--store-columns: %s needs a column: the store cannot work without it", dbColumns[i])
		}
		if v != "" {
			if err := checkIdentifier(v); err != nil {
				return cols, fmt.Errorf("--store-columns: %s=%q: %v", dbColumns[i], v, err)
			}
		}
		cols[i] = v
	}
	for i := range numColumns {
		for j := i + 1; j < numColumns; j++ {
			if cols[i] != "" && cols[i] == cols[j] {
				return cols, fmt.Errorf("--store-columns: %s and %s are both the column %q", dbColumns[i], dbColumns[j], cols[i])
			}
		}
	}
	return cols, nil
}

// ParseTable reads --store-table: a table name, optionally qualified by its
// schema (octopus.users). Names are taken as written, letter case included,
// and quoted in every statement.
func ParseTable(s string) (pgx.Identifier, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		s = DefaultTable
	}
	parts := strings.Split(s, ".")
	if len(parts) > 2 {
		return nil, fmt.Errorf("--store-table %q: give TABLE or SCHEMA.TABLE", s)
	}
	for _, p := range parts {
		if err := checkIdentifier(p); err != nil {
			return nil, fmt.Errorf("--store-table %q: %v", s, err)
		}
	}
	return pgx.Identifier(parts), nil
}

// checkIdentifier accepts what PostgreSQL accepts as a quoted identifier.
// Quoting (pgx.Identifier) makes any such name safe in a statement; the
// checks are for clear errors instead of the server's.
func checkIdentifier(s string) error {
	switch {
	case s == "":
		return errors.New("empty name")
	case len(s) > 63:
		return errors.New("longer than PostgreSQL's 63 bytes")
	case !utf8.ValidString(s):
		return errors.New("not valid UTF-8")
	case strings.ContainsRune(s, 0):
		return errors.New("contains a NUL byte")
	case strings.TrimSpace(s) != s:
		return errors.New("starts or ends with a space")
	}
	return nil
}

// col is the quoted column of field i.
func (s *pgStore) col(i int) string { return pgx.Identifier{s.cols[i]}.Sanitize() }

// read is the select expression of field i: text, ” when absent or NULL.
func (s *pgStore) read(i int) string {
	if s.cols[i] == "" {
		return "''"
	}
	return "COALESCE(u." + s.col(i) + "::text, '')"
}

// param is parameter n as a value of field i's column: sent as text and
// converted by the server, so that a table whose id is an integer or whose
// external id is a uuid works as well as one of text columns.
func (s *pgStore) param(n, i int) string {
	p := "$" + strconv.Itoa(n) + "::text"
	switch t := s.types[i]; {
	case t == "" || t == "text":
	case strings.HasPrefix(t, "character"):
		p = "CAST(" + p + " AS " + t + ")"
	default:
		// An empty CSV value is no value for a number or a uuid.
		p = "CAST(NULLIF(" + p + ", '') AS " + t + ")"
	}
	return p
}

// activeText is how Active is written to the column's type.
func (s *pgStore) activeText(active bool) string {
	switch t := s.types[colActive]; {
	case strings.Contains(t, "int") || strings.HasPrefix(t, "numeric"):
		if active {
			return "1"
		}
		return "0"
	}
	return strconv.FormatBool(active)
}

// parseActiveText reads the active column as text: empty (NULL or no
// column) is active, as in the SQLite store.
func parseActiveText(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "false", "f", "0", "no", "n", "off":
		return false
	}
	return true
}

// userSelect is the select list of a user row.
func (s *pgStore) userSelect() string {
	parts := make([]string, 0, numColumns)
	parts = append(parts, "u."+s.col(colID)+"::text")
	for i := colFirstName; i < numColumns; i++ {
		parts = append(parts, s.read(i))
	}
	return strings.Join(parts, ", ")
}

// orderByID sorts by the id's bytes, as the SQLite store does, whatever the
// database's collation: both stores then hand the engine users in the same
// order, and reports come out identical.
func (s *pgStore) orderByID() string { return `u.` + s.col(colID) + `::text COLLATE "C"` }
