package main

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"
)

// The malformed workbooks of the bad-input corpus (testdata/bad/dirxlsx and
// testdata/bad/export) are made by this code, so that each can be made
// again and read here for what it is:
//
//	UPNSYNC_WRITE_BAD_WORKBOOKS=1 go test ./cmd/upnsync -run TestWriteBadWorkbooks
//
// Those too large to keep are made at test time (TestBadInputHugeExports).

var userRows = [][]any{
	{"UserPrincipalName", "SamAccountName", "GivenName", "Surname", "Enabled"},
	{"jane.doe@corp.example.com", "jdoe", "Jane", "Doe", true},
	{"john.smith@corp.example.com", "jsmith", "John", "Smith", true},
}

// workbook is an .xlsx file with rows on its first sheet.
func workbook(t testing.TB, rows [][]any) []byte {
	t.Helper()
	x := excelize.NewFile()
	defer x.Close()
	for i, r := range rows {
		cell, _ := excelize.CoordinatesToCellName(1, i+1)
		if err := x.SetSheetRow("Sheet1", cell, &r); err != nil {
			t.Fatal(err)
		}
	}
	var b bytes.Buffer
	if err := x.Write(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// part is a zip entry to put in a workbook in place of (or besides) its
// own: data deflated, declared with size when size is not 0 (a lie); or,
// with zeros, that many zero bytes streamed (an honest bomb, never held in
// memory: the tests run in one process, whose peak memory a log test
// reads).
type part struct {
	data  []byte
	size  uint64
	zeros int64
}

// rezip copies a workbook, replacing or adding parts.
func rezip(t testing.TB, src []byte, parts map[string]part) []byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(src), int64(len(src)))
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	zw.RegisterCompressor(zip.Deflate, func(w io.Writer) (io.WriteCloser, error) { return flate.NewWriter(w, flate.BestSpeed) })
	write := func(name string, p part) {
		if p.zeros > 0 {
			w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.CopyN(w, zeroReader{}, p.zeros); err != nil {
				t.Fatal(err)
			}
			return
		}
		var comp bytes.Buffer
		method := zip.Store
		if len(p.data) < 4096 {
			comp.Write(p.data)
		} else {
			method = zip.Deflate
			fw, _ := flate.NewWriter(&comp, flate.BestCompression)
			fw.Write(p.data)
			fw.Close()
		}
		size := p.size
		if size == 0 {
			size = uint64(len(p.data))
		}
		w, err := zw.CreateRaw(&zip.FileHeader{Name: name, Method: method, CRC32: crc32.ChecksumIEEE(p.data),
			CompressedSize64: uint64(comp.Len()), UncompressedSize64: size})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(comp.Bytes())
	}
	for _, f := range zr.File {
		if p, ok := parts[f.Name]; ok {
			write(f.Name, p)
			delete(parts, f.Name)
			continue
		}
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(rc)
		rc.Close()
		write(f.Name, part{data: data})
	}
	for name, p := range parts {
		write(name, p)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// sheetXML is a first sheet whose rows hold the given inline strings.
func sheetXML(rows ...[]string) []byte {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8" standalone="yes"?>` + "\n" +
		`<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>`)
	for i, r := range rows {
		fmt.Fprintf(&b, `<row r="%d">`, i+1)
		for j, v := range r {
			cell, _ := excelize.CoordinatesToCellName(j+1, i+1)
			fmt.Fprintf(&b, `<c r="%s" t="inlineStr"><is><t>%s</t></is></c>`, cell, v)
		}
		b.WriteString(`</row>`)
	}
	b.WriteString(`</sheetData></worksheet>`)
	return []byte(b.String())
}

func badWorkbooks(t testing.TB) map[string][]byte {
	good := workbook(t, userRows)
	header := []string{"UserPrincipalName", "SamAccountName"}
	manyCells := make([]string, 20)
	for i := range manyCells {
		manyCells[i] = strings.Repeat("r", 900<<10)
	}
	sst := `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>` + "\n" +
		`<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="2" uniqueCount="2"><si><t>UserPrincipalName</t></si><si><t>` +
		strings.Repeat("s", 2<<20) + `</t></si></sst>`
	sstSheet := `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>` + "\n" +
		`<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>` +
		`<row r="1"><c r="A1" t="s"><v>0</v></c></row><row r="2"><c r="A2" t="s"><v>1</v></c></row></sheetData></worksheet>`
	files := map[string][]byte{
		"dirxlsx/header-only.xlsx":          workbook(t, userRows[:1]),
		"dirxlsx/empty-sheet.xlsx":          workbook(t, nil),
		"dirxlsx/no-upn-column.xlsx":        workbook(t, [][]any{{"SamAccountName", "GivenName"}, {"jdoe", "Jane"}}),
		"dirxlsx/duplicate-upn-column.xlsx": workbook(t, [][]any{{"UserPrincipalName", "SamAccountName", "User principal name"}, {"jane.doe@corp.example.com", "jdoe", "ceo@corp.example.com"}}),
		// Excel writes a control character as _x001B_ (excelize would
		// write U+FFFD instead).
		"dirxlsx/control-char-in-header.xlsx": rezip(t, good, map[string]part{"xl/worksheets/sheet1.xml": {data: sheetXML([]string{"UserPrincipal_x001B_[2JName", "SamAccountName"}, []string{"jane.doe@corp.example.com", "jdoe"})}}),
		"dirxlsx/bad-guid.xlsx":               workbook(t, [][]any{{"UserPrincipalName", "ObjectGUID"}, {"jane.doe@corp.example.com", "892bf23f"}}),
		"dirxlsx/bad-enabled.xlsx":            workbook(t, [][]any{{"UserPrincipalName", "Enabled"}, {"jane.doe@corp.example.com", "sometimes"}}),
		"dirxlsx/upn-semicolon.xlsx":          workbook(t, [][]any{{"UserPrincipalName", "SamAccountName"}, {"jane.doe@corp.example.com;ceo@corp.example.com", "jdoe"}}),
		"dirxlsx/truncated.xlsx":              good[:len(good)/2],
		"dirxlsx/csv-text.xlsx":               []byte("UserPrincipalName,SamAccountName\r\njane.doe@corp.example.com,jdoe\r\n"),
		// A sheet that says it unpacks to 2 GiB: refused before unpacking.
		"dirxlsx/zip-bomb.xlsx": rezip(t, good, map[string]part{"xl/worksheets/sheet1.xml": {data: make([]byte, 1<<20), size: 2 << 30}}),
		// A sheet that unpacks to more than it says: the zip reader stops
		// at the size it declared.
		"dirxlsx/size-lie.xlsx":           rezip(t, good, map[string]part{"xl/worksheets/sheet1.xml": {data: sheetXML(header, []string{"jane.doe@corp.example.com", "jdoe"}), size: 100}}),
		"dirxlsx/huge-shared-string.xlsx": rezip(t, good, map[string]part{"xl/sharedStrings.xml": {data: []byte(sst)}, "xl/worksheets/sheet1.xml": {data: []byte(sstSheet)}}),
		"dirxlsx/huge-cell.xlsx":          rezip(t, good, map[string]part{"xl/worksheets/sheet1.xml": {data: sheetXML(header, []string{"jane.doe@corp.example.com", strings.Repeat("x", 3<<20)})}}),
		"dirxlsx/huge-row.xlsx":           rezip(t, good, map[string]part{"xl/worksheets/sheet1.xml": {data: sheetXML(header, manyCells)}}),

		"export/zip-bomb.xlsx":           rezip(t, workbook(t, [][]any{{"ID", "FirstName", "LastName", "WindowsUsername", "Active"}, {"1001", "Jane", "Doe", "jdoe", "true"}}), map[string]part{"xl/styles.xml": {data: make([]byte, 1<<20), size: 3 << 30}}),
		"export/huge-shared-string.xlsx": rezip(t, workbook(t, [][]any{{"ID", "FirstName"}, {"1001", "Jane"}}), map[string]part{"xl/sharedStrings.xml": {data: []byte(sst)}}),
		"export/truncated.xlsx":          good[:len(good)*2/3],
	}
	return files
}

func TestWriteBadWorkbooks(t *testing.T) {
	if os.Getenv("UPNSYNC_WRITE_BAD_WORKBOOKS") == "" {
		t.Skip("set UPNSYNC_WRITE_BAD_WORKBOOKS=1 to write the corpus's workbooks")
	}
	for name, data := range badWorkbooks(t) {
		if err := os.WriteFile(filepath.Join(badDir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// Inputs too large to keep in the corpus, made here: each is refused with
// one error line naming the file, before it is read into memory, and
// nothing is written.
func TestBadInputHugeExports(t *testing.T) {
	d := newDemo(t)
	parts := map[string]part{}
	for i := range 10001 {
		parts[fmt.Sprintf("xl/media/image%d.png", i)] = part{data: []byte("x")}
	}
	for _, tt := range []struct {
		name, kind string
		data       []byte
		want       string
	}{
		// A double quote never closed: encoding/csv would hold the rest of
		// the file as one value.
		{"runaway-quote.csv", "csv", []byte("UserPrincipalName,GivenName\r\njane.doe@corp.example.com,\"Jane\r\n" + strings.Repeat("john.smith@corp.example.com,John\r\n", 5<<20/34)),
			"{file}:2: a value that begins here runs on past 4 MiB (to line 1"},
		// A zip bomb that tells the truth about its size: 300 MiB of
		// zeros in a part excelize would read into memory.
		{"styles-bomb.xlsx", "xlsx", rezip(t, workbook(t, userRows), map[string]part{"xl/styles.xml": {zeros: 300 << 20}}),
			"{file}: the workbook's parts other than its sheets unpack to more than 256.0 MiB (part xl/styles.xml: 300.0 MiB): it is not a user export"},
		{"many-parts.xlsx", "xlsx", rezip(t, workbook(t, userRows), parts),
			"{file}: the workbook has 10011 parts (more than 10000): it is not a user export"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(d.dir, tt.name)
			if err := os.WriteFile(path, tt.data, 0o600); err != nil {
				t.Fatal(err)
			}
			before := fileHash(t, d.db)
			code, out, errOut := cli(t, nil, "--config-file-path", d.mapping, "--directory", tt.kind+":"+path, "--store", d.store, "--apply")
			noStack(t, out, errOut)
			want := strings.ReplaceAll(tt.want, "{file}", path)
			if msg := errorLine(t, errOut); code != exitError || !strings.Contains(msg, want) {
				t.Fatalf("exit %d: %s\nwant %s", code, msg, want)
			}
			if fileHash(t, d.db) != before {
				t.Fatal("the store changed")
			}
		})
	}
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
