// Package workbook bounds what reading an .xlsx file may cost before
// excelize opens it. An .xlsx file is a zip archive of XML parts, and
// excelize trusts it: by default it unpacks up to 16 GB, keeps every part
// other than large sheets and shared strings in memory, and decodes a
// row, a shared string or an attribute whole, however large. A file that
// came from elsewhere (an export copied from a share, a mail attachment)
// may be a zip bomb or hold one giant value; Check refuses those with a
// message that says what is wrong, and Options gives excelize the same
// bound on unpacking.
//
// The bounds are far above any user export: Excel itself keeps a cell
// under 32,767 characters and a sheet under 1,048,576 rows.
package workbook

import (
	"archive/zip"
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/xuri/excelize/v2"
)

const (
	// MaxUnpacked bounds the sum of the unpacked sizes of every part.
	MaxUnpacked = 1 << 30
	// MaxInMemory bounds the parts excelize reads into memory: every part
	// but the sheets and the shared strings larger than xmlInMemory,
	// which it unpacks to temporary files.
	MaxInMemory = 256 << 20
	// MaxParts bounds the number of parts (each is an entry of a map).
	MaxParts = 10000
	// MaxToken bounds a tag or a text between two tags of a sheet or of the
	// shared strings, and a shared string: what excelize's XML decoder
	// holds at once.
	MaxToken = 1 << 20
	// MaxRow bounds one row of a sheet, which excelize decodes whole.
	MaxRow = 16 << 20

	// xmlInMemory is excelize's UnzipXMLSizeLimit (its default).
	xmlInMemory = excelize.StreamChunkSize
)

// Options are excelize's options with Check's bound on unpacking.
func Options() excelize.Options {
	return excelize.Options{UnzipSizeLimit: MaxUnpacked, UnzipXMLSizeLimit: xmlInMemory}
}

// Check refuses a workbook that would cost more than the bounds to read.
// Errors start with path. It does not say whether the file is a valid
// workbook: excelize does, and a file that is no zip archive is left to it
// (so that its own message, and the caller's hint, apply).
func Check(path string) error {
	zr, err := zip.OpenReader(path)
	if err != nil {
		return nil // not a zip archive: excelize says what it is
	}
	defer zr.Close()
	if len(zr.File) > MaxParts {
		return fmt.Errorf("%s: the workbook has %d parts (more than %d): it is not a user export; export the users again", path, len(zr.File), MaxParts)
	}
	var total, inMemory uint64
	for _, f := range zr.File {
		size := f.UncompressedSize64
		total += size
		if total > MaxUnpacked {
			return fmt.Errorf("%s: the workbook unpacks to more than %s (part %s alone to %s): it is a zip bomb, or far larger than a user export; export the users again, or as CSV",
				path, mib(MaxUnpacked), f.Name, mib(size))
		}
		if !(isSheet(f.Name) || isSharedStrings(f.Name)) || size <= xmlInMemory {
			inMemory += size
		}
		if inMemory > MaxInMemory {
			return fmt.Errorf("%s: the workbook's parts other than its sheets unpack to more than %s (part %s: %s): it is not a user export; export the users again, or as CSV",
				path, mib(MaxInMemory), f.Name, mib(size))
		}
	}
	for _, f := range zr.File {
		if !isSheet(f.Name) && !isSharedStrings(f.Name) {
			continue
		}
		if err := scanPart(f); err != nil {
			return fmt.Errorf("%s: %v", path, err)
		}
	}
	return nil
}

func isSheet(name string) bool {
	n := strings.ToLower(strings.ReplaceAll(name, `\`, "/"))
	return strings.HasPrefix(n, "xl/worksheets/") && strings.HasSuffix(n, ".xml")
}

func isSharedStrings(name string) bool {
	return strings.EqualFold(strings.ReplaceAll(name, `\`, "/"), "xl/sharedStrings.xml")
}

func mib(n uint64) string {
	if n >= 1<<30 {
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}

// scanPart streams one XML part and measures, without decoding it, the
// longest stretch between two '<' (a tag or a text), each row of a sheet
// and each shared string.
func scanPart(f *zip.File) error {
	rc, err := f.Open()
	if err != nil {
		return fmt.Errorf("the workbook is damaged (part %s: %v); save it again in Excel, or export as CSV", f.Name, err)
	}
	defer rc.Close()
	sst := isSharedStrings(f.Name)
	br := bufio.NewReaderSize(rc, 64<<10)
	var off int64
	last, open := int64(0), int64(-1) // where the last '<' was; where the open row or string began
	tooLong := func(what string, limit int64, at int64) error {
		return fmt.Errorf("part %s holds %s longer than %s (at byte %d of the part): Excel keeps a cell under 32,767 characters, so this is not a user export; export the users again",
			f.Name, what, mib(uint64(limit)), at)
	}
	for {
		chunk, err := br.ReadSlice('<')
		off += int64(len(chunk))
		if errors.Is(err, bufio.ErrBufferFull) || errors.Is(err, io.EOF) {
			if off-last > MaxToken {
				return tooLong("a value or tag", MaxToken, last)
			}
			if errors.Is(err, io.EOF) {
				limit, what := int64(MaxRow), "an unclosed row"
				if sst {
					limit, what = MaxToken, "an unclosed shared string"
				}
				if open >= 0 && off-open > limit {
					return tooLong(what, limit, open)
				}
				return nil
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("the workbook is damaged (part %s: %v); save it again in Excel, or export as CSV", f.Name, err)
		}
		at := off - 1
		if at-last > MaxToken {
			return tooLong("a value or tag", MaxToken, last)
		}
		last = at
		name, _ := br.Peek(5)
		switch {
		case !sst && tag(name, "row"), sst && tag(name, "si"):
			open = at
		case !sst && tag(name, "/row") && open >= 0:
			if at-open > MaxRow {
				return tooLong("a row", MaxRow, open)
			}
			open = -1
		case sst && tag(name, "/si") && open >= 0:
			if at-open > MaxToken {
				return tooLong("a shared string", MaxToken, open)
			}
			open = -1
		}
	}
}

// tag reports whether b, the bytes after a '<', start the element name.
func tag(b []byte, name string) bool {
	if len(b) < len(name) || string(b[:len(name)]) != name {
		return false
	}
	if len(b) == len(name) {
		return true
	}
	switch b[len(name)] {
	case ' ', '>', '/', '\t', '\r', '\n':
		return true
	}
	return false
}

// IsZip reports whether the file starts as a zip archive does (an .xlsx
// file is one): when excelize cannot read such a file, it is a workbook
// that was damaged or cut off, rather than another kind of file.
func IsZip(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	var b [4]byte
	_, err = io.ReadFull(f, b[:])
	return err == nil && string(b[:]) == "PK\x03\x04"
}
