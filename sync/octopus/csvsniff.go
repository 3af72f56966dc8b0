package octopus

import (
	"bufio"
	"bytes"
	"fmt"
	"strings"
)

// sniffCSV recognises, from the first bytes, files that are not UTF-8 CSV
// but are what administrators save by mistake, so that the error says what
// to do instead of "the first line is not a header".
func sniffCSV(br *bufio.Reader, name string) error {
	b, _ := br.Peek(4)
	switch {
	case bytes.HasPrefix(b, []byte("\xff\xfe")), bytes.HasPrefix(b, []byte("\xfe\xff")):
		return fmt.Errorf("%s:1: the file is UTF-16 (Excel's \"Unicode Text\"); save it as CSV UTF-8 (Comma delimited)", name)
	case bytes.HasPrefix(b, []byte("PK\x03\x04")):
		return fmt.Errorf("%s:1: this is an Excel workbook (or another zip file), not CSV text; in Excel use Save As, CSV UTF-8 (Comma delimited)", name)
	}
	return nil
}

// semicolonHeader recognises a header whose columns are separated by ';',
// as Excel writes CSV where the comma is the decimal separator.
func semicolonHeader(name string, line int, header []string) error {
	if len(header) != 1 || !strings.Contains(header[0], ";") {
		return nil
	}
	for _, h := range strings.Split(header[0], ";") {
		for _, col := range Columns {
			if strings.EqualFold(strings.TrimSpace(h), col) {
				return fmt.Errorf("%s:%d: the columns are separated by ';', not ','; save the file as CSV UTF-8 (Comma delimited), or replace the semicolons", name, line)
			}
		}
	}
	return nil
}
