package csvfile

import (
	"encoding/csv"
	"fmt"
	"io"
)

// bom is UTF-8's byte order mark: without it, Excel reads a CSV file in
// the machine's ANSI code page and garbles every accent.
var bom = []byte{0xEF, 0xBB, 0xBF}

// NewWriter starts a CSV file that Excel opens as it should on any
// Windows: a UTF-8 byte order mark, CRLF line ends, and sep between values
// (',' by default; ';' for Excel where the decimal mark is a comma, as in
// French, which otherwise shows every row in one column).
func NewWriter(w io.Writer, sep rune) (*csv.Writer, error) {
	if sep == 0 {
		sep = ','
	}
	if err := CheckSeparator(sep); err != nil {
		return nil, err
	}
	if _, err := w.Write(bom); err != nil {
		return nil, err
	}
	cw := csv.NewWriter(w)
	cw.Comma = sep
	cw.UseCRLF = true
	return cw, nil
}

// CheckSeparator says whether sep can separate CSV values.
func CheckSeparator(sep rune) error {
	switch sep {
	case ',', ';', '\t':
		return nil
	}
	return fmt.Errorf("%q cannot separate CSV values: use ',', ';' or a tab", sep)
}
