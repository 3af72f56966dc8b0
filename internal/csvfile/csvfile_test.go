package csvfile

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"golang.org/x/text/encoding/unicode"
)

func utf16(t *testing.T, order unicode.Endianness, s string) string {
	t.Helper()
	b, err := unicode.UTF16(order, unicode.UseBOM).NewEncoder().String(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type row struct {
	line int
	rec  string
}

func readAll(t *testing.T, data string) (header []string, rows []row, r *Reader, err error) {
	t.Helper()
	r, err = NewReader(strings.NewReader(data), "f.csv", Options{Workbook: "save it as CSV", Again: "export it again"})
	if err != nil {
		return nil, nil, nil, err
	}
	header, err = r.Header()
	if err != nil {
		return nil, nil, r, err
	}
	for {
		rec, line, err := r.Read()
		if errors.Is(err, io.EOF) {
			return header, rows, r, nil
		}
		if err != nil {
			return header, rows, r, err
		}
		rows = append(rows, row{line, strings.Join(rec, "|")})
	}
}

// The same two users, as every Windows tool in every locale writes them.
func TestReadsWhatWindowsWrites(t *testing.T) {
	want := []row{{2, "1|Émilie|Lefèvre"}, {3, "2|Jean, fils|Côté"}}
	plain := "ID,First,Last\n1,Émilie,Lefèvre\n2,\"Jean, fils\",Côté\n"
	semi := "ID;First;Last\r\n1;Émilie;Lefèvre\r\n2;Jean, fils;Côté\r\n"
	tab := "ID\tFirst\tLast\r\n1\tÉmilie\tLefèvre\r\n2\tJean, fils\tCôté\r\n"
	typed := "#TYPE System.Management.Automation.PSCustomObject\r\n\"ID\";\"First\";\"Last\"\r\n\"1\";\"Émilie\";\"Lefèvre\"\r\n\"2\";\"Jean, fils\";\"Côté\"\r\n"
	for _, tt := range []struct {
		name, data string
		comma      rune
		enc        string
		skip       int
	}{
		{"UTF-8", plain, ',', "UTF-8", 0},
		{"UTF-8 with BOM, ';', CRLF (French Excel)", "\xef\xbb\xbf" + semi, ';', "UTF-8 with BOM", 0},
		{"UTF-16 LE, tabs (Excel's Unicode text)", utf16(t, unicode.LittleEndian, tab), '\t', "UTF-16 LE", 0},
		{"UTF-16 BE", utf16(t, unicode.BigEndian, semi), ';', "UTF-16 BE", 0},
		{"UTF-16 LE with #TYPE (PowerShell 5 Export-Csv -Encoding Unicode)", utf16(t, unicode.LittleEndian, typed), ';', "UTF-16 LE", 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h, rows, r, err := readAll(t, tt.data)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(h, "|") != "ID|First|Last" || r.Comma != tt.comma || r.Encoding.Name != tt.enc {
				t.Errorf("header %q, comma %q, encoding %q", h, r.Comma, r.Encoding.Name)
			}
			w := append([]row(nil), want...)
			for i := range w {
				w[i].line += tt.skip
			}
			if len(rows) != len(w) || rows[0] != w[0] || rows[1] != w[1] {
				t.Errorf("rows %v, want %v", rows, w)
			}
		})
	}
}

func TestErrorsNameTheLine(t *testing.T) {
	typed := "#TYPE x\n"
	for _, tt := range []struct{ name, data, want string }{
		{"workbook", "PK\x03\x04rest", "f.csv:1: this is an Excel workbook (or another zip file), not CSV text: save it as CSV"},
		{"no final line break", "a,b\n1,2\n3,4", "f.csv:3: the file ends in the middle of this line, without a line break: it was cut off (an interrupted copy or a full disk); export it again. If the file is complete, end its last line with a line break: open it in Excel or a text editor and save it again (or run `echo >> FILE` on Linux, `echo.>> FILE` in a Windows command prompt)"},
		{"no final line break after #TYPE", typed + "a,b\n1,2", "f.csv:3: the file ends in the middle of this line"},
		{"cut inside quotes", "a,b\n1,\"2", "f.csv:2: the file ends in the middle of this line"},
		{"field count, ';'", "a;b\n1;2;3\n", "f.csv:2: this line has a different number of values than the header's 2 columns: put values that contain a semicolon in double quotes"},
		{"field count after #TYPE", typed + "a,b\n1,2\n1,2,3\n", "f.csv:4: this line has a different number of values"},
		{"quote not closed after #TYPE", typed + "a,b\n\"1,2\n3,4\n", "f.csv:3: a quoted value starting on this line is not closed properly (seen up to line 4)"},
		{"ANSI", "a,b\n1,caf\xe9\n", "f.csv:2: column b is not valid UTF-8: the file is probably saved as ANSI"},
		{"NUL", "a,b\n1,x\x00\n", "f.csv:2: column b contains a NUL byte"},
		{"huge line after #TYPE", typed + "a,b\n1,2\n3," + strings.Repeat("x", 1<<20+1) + "\n5,6\n", "f.csv:4: line longer than 1 MiB"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, _, _, err := readAll(t, tt.data)
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("error\n %v\nwant it to start with\n %s", err, tt.want)
			}
		})
	}
	if _, err := NewReader(strings.NewReader(""), "f.csv", Options{}); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := readAll(t, "\xef\xbb\xbf"); !errors.Is(err, io.EOF) {
		t.Errorf("empty file: %v, want io.EOF from Header", err)
	}
}

// Blank rows (only separators, as Excel leaves below a table) are skipped,
// and a file may end with one.
func TestBlankRows(t *testing.T) {
	_, rows, _, err := readAll(t, "a;b\n;\n1;2\n ; \n;")
	if err != nil || len(rows) != 1 || rows[0] != (row{3, "1|2"}) {
		t.Errorf("rows %v, err %v", rows, err)
	}
}

func TestBool(t *testing.T) {
	for _, v := range []string{"true", "TRUE", "Yes", "y", "Oui", "OUI", "vrai", "VRAI", "1", " True "} {
		if b, ok := Bool(v); !b || !ok {
			t.Errorf("Bool(%q) = %v, %v", v, b, ok)
		}
	}
	for _, v := range []string{"false", "False", "NO", "n", "non", "Non", "faux", "FAUX", "0"} {
		if b, ok := Bool(v); b || !ok {
			t.Errorf("Bool(%q) = %v, %v", v, b, ok)
		}
	}
	for _, v := range []string{"", "maybe", "2", "ja", "o"} {
		if _, ok := Bool(v); ok {
			t.Errorf("Bool(%q) accepted", v)
		}
	}
}

// What NewWriter writes opens in Excel on a French Windows: BOM, CRLF, the
// separator asked for, values quoted when they hold it.
func TestWriter(t *testing.T) {
	var b bytes.Buffer
	w, err := NewWriter(&b, ';')
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]string{"ID", "Nom"})
	w.Write([]string{"1", "Lefèvre; Émilie"})
	w.Flush()
	if got, want := b.String(), "\xef\xbb\xbfID;Nom\r\n1;\"Lefèvre; Émilie\"\r\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	// And reads back.
	_, rows, r, err := readAll(t, b.String())
	if err != nil || r.Comma != ';' || len(rows) != 1 || rows[0].rec != "1|Lefèvre; Émilie" {
		t.Errorf("read back: %v %v", rows, err)
	}
	if _, err := NewWriter(&b, '|'); err == nil {
		t.Error("'|' accepted as a separator")
	}
}
