package mapping

import (
	"bytes"
	"encoding/binary"
	"regexp"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/ianaindex"
)

// maxFileSize bounds what is read and parsed: the shipped file is a few
// kilobytes, so anything this large is the wrong file or an attack.
const maxFileSize = 10 << 20

// textEncoding is how the file's bytes encode its text. Windows Notepad
// saves "Unicode" as UTF-16LE with a BOM and "ANSI" as Windows-1252, and
// administrators do edit this file in Notepad, so the encoding the bytes
// and the XML declaration give is decoded rather than refused; AddUPN
// writes the file back in the encoding it came in.
type textEncoding struct {
	utf16 byteOrder // nil for 8-bit text
	bom   bool
	// eightBit is the declared single-byte encoding (Windows-1252,
	// ISO-8859-1 or -15); nil for UTF-8 and UTF-16.
	eightBit *charmap.Charmap
}

type byteOrder interface {
	binary.ByteOrder
	binary.AppendByteOrder
}

var (
	bomUTF8    = []byte{0xEF, 0xBB, 0xBF}
	bomUTF16LE = []byte{0xFF, 0xFE}
	bomUTF16BE = []byte{0xFE, 0xFF}
)

// The single-byte encodings a mapping file may declare: what Notepad's
// "ANSI" is on a Western European Windows, and its ISO cousins.
var eightBitNames = map[*charmap.Charmap]string{
	charmap.Windows1252: "Windows-1252",
	charmap.ISO8859_1:   "ISO-8859-1",
	charmap.ISO8859_15:  "ISO-8859-15",
}

const readable = "UTF-8, UTF-16, Windows-1252, ISO-8859-1 and ISO-8859-15"

// decode returns the text as UTF-8 without a BOM, which is what
// encoding/xml and etree expect; offsets and lines are counted in it. The
// byte order mark (or its absence) and the XML declaration's encoding must
// agree: a file whose declaration says one thing while its bytes are
// another is refused with the fix, since a wrong guess would put garbled
// names into the file AddUPN writes back.
func decode(file string, data []byte) ([]byte, textEncoding, error) {
	if len(data) > maxFileSize {
		return nil, textEncoding{}, tooLarge(file, int64(len(data)))
	}
	var (
		body []byte
		enc  textEncoding
		err  error
		// how says how the bytes were recognised, for messages.
		how string
	)
	switch {
	case bytes.HasPrefix(data, []byte{0xFF, 0xFE, 0, 0}), bytes.HasPrefix(data, []byte{0, 0, 0xFE, 0xFF}):
		return nil, textEncoding{}, errorf(file, 1,
			"the file is saved as UTF-32, which upnsync does not read: save it as UTF-8 (Notepad: Save As, Encoding: UTF-8)")
	case bytes.HasPrefix(data, bomUTF8):
		enc, how = textEncoding{bom: true}, "it starts with a UTF-8 byte order mark"
		body = data[len(bomUTF8):]
	case bytes.HasPrefix(data, bomUTF16LE):
		how = "it starts with a UTF-16 byte order mark"
		body, enc, err = decodeUTF16(file, data[2:], textEncoding{utf16: binary.LittleEndian, bom: true})
	case bytes.HasPrefix(data, bomUTF16BE):
		how = "it starts with a UTF-16 byte order mark"
		body, enc, err = decodeUTF16(file, data[2:], textEncoding{utf16: binary.BigEndian, bom: true})
	// Without a BOM, UTF-16 still gives itself away: the first character of
	// an XML file is '<' and its other byte is zero.
	case len(data) >= 2 && data[0] == '<' && data[1] == 0:
		how = "every other byte is zero"
		body, enc, err = decodeUTF16(file, data, textEncoding{utf16: binary.LittleEndian})
	case len(data) >= 2 && data[0] == 0 && data[1] == '<':
		how = "every other byte is zero"
		body, enc, err = decodeUTF16(file, data, textEncoding{utf16: binary.BigEndian})
	default:
		body = data
	}
	if err != nil {
		return nil, enc, err
	}
	decl, line := declaredEncoding(body)
	if enc.utf16 != nil {
		if decl != "" && !isUTF16Name(decl) {
			return nil, enc, errorf(file, line,
				"the file is saved as UTF-16 (%s) but its XML declaration says encoding=%q: change the declaration to encoding=\"UTF-16\", or save the file as %s (Notepad: Save As, Encoding)",
				how, decl, decl)
		}
		return body, enc, nil
	}
	switch {
	case decl == "" || isUTF8Name(decl):
		body, err = checkUTF8(file, body)
		return body, enc, err
	case isUTF16Name(decl):
		return nil, enc, errorf(file, line,
			"the XML declaration says encoding=%q but the file is saved as 8-bit text (UTF-8 or ANSI), not UTF-16: change the declaration to encoding=\"UTF-8\" (or to the encoding the file is saved in)",
			decl)
	}
	cm := eightBit(decl)
	if cm == nil {
		return nil, enc, errorf(file, line,
			"the XML declaration says encoding=%q, which upnsync does not read (it reads %s): save the file as UTF-8 and change the declaration to encoding=\"UTF-8\"",
			decl, readable)
	}
	if enc.bom {
		return nil, enc, errorf(file, line,
			"the XML declaration says encoding=%q but %s, so the file is UTF-8: change the declaration to encoding=\"UTF-8\"",
			decl, how)
	}
	if i := bytes.IndexByte(body, 0); i >= 0 {
		return nil, enc, errorf(file, lineAt(body, i),
			"NUL byte: this is not a text file, or it is saved in another encoding than its declaration's %s; open it in a text editor and save it as UTF-8", decl)
	}
	if i := firstNonASCII(body); i >= 0 && utf8.Valid(body) {
		r, _ := utf8.DecodeRune(body[i:])
		return nil, enc, errorf(file, line,
			"the XML declaration says encoding=%q but the file is saved as UTF-8 (line %d has %q written as UTF-8): change the declaration to encoding=\"UTF-8\", or save the file as %s (Notepad: Save As, Encoding: ANSI)",
			decl, lineAt(body, i), r, eightBitNames[cm])
	}
	// Windows-1252 leaves five bytes (0x81, 0x8D, 0x8F, 0x90, 0x9D)
	// without a character: they decode to U+FFFD, which could not be
	// written back, so the file is not in the encoding it declares.
	for i, c := range body {
		if c >= 0x80 && cm.DecodeByte(c) == utf8.RuneError {
			return nil, enc, errorf(file, lineAt(body, i),
				"byte 0x%02X is not a character in %s, which the XML declaration says the file is saved in: the file is damaged or saved in another encoding; open it in a text editor and save it as UTF-8 with encoding=\"UTF-8\" in its declaration",
				c, eightBitNames[cm])
		}
	}
	enc.eightBit = cm
	out, err := cm.NewDecoder().Bytes(body)
	if err != nil {
		// A charmap decoder maps every byte; this cannot happen.
		return nil, enc, errorf(file, 1, "cannot decode the file as %s (%v): save it as UTF-8", decl, err)
	}
	return out, enc, nil
}

// declRE finds the encoding of an XML declaration at the start of the text
// (after blank space). The declaration is ASCII in every encoding decode
// reads, so the bytes can be searched before they are decoded.
var declRE = regexp.MustCompile(`^[ \t\r\n]*<\?xml[ \t\r\n][^>]*?\bencoding[ \t\r\n]*=[ \t\r\n]*(?:"([^"]*)"|'([^']*)')`)

// declaredEncoding returns the declared encoding ("" when none) and the
// line it is on.
func declaredEncoding(body []byte) (string, int) {
	head := body
	if len(head) > 1024 {
		head = head[:1024]
	}
	m := declRE.FindSubmatchIndex(head)
	if m == nil {
		return "", 1
	}
	v, at := m[2], 2
	if v < 0 {
		at = 4
	}
	return strings.TrimSpace(string(head[m[at]:m[at+1]])), lineAt(head, m[at])
}

func isUTF8Name(n string) bool {
	switch strings.ToLower(n) {
	case "utf-8", "utf8", "us-ascii", "ascii":
		return true
	}
	return false
}

func isUTF16Name(n string) bool {
	switch strings.ToLower(n) {
	case "utf-16", "utf16", "utf-16le", "utf-16be", "unicode", "ucs-2", "iso-10646-ucs-2":
		return true
	}
	return false
}

// eightBit is the single-byte encoding a declared name stands for (any
// IANA alias: cp1252, latin1, ISO_8859-15...), or nil.
func eightBit(name string) *charmap.Charmap {
	e, err := ianaindex.IANA.Encoding(name)
	if err != nil || e == nil {
		if strings.EqualFold(name, "cp1252") || strings.EqualFold(name, "x-cp1252") {
			return charmap.Windows1252
		}
		return nil
	}
	for cm := range eightBitNames {
		if e == encoding.Encoding(cm) {
			return cm
		}
	}
	return nil
}

func firstNonASCII(b []byte) int {
	for i, c := range b {
		if c >= 0x80 {
			return i
		}
	}
	return -1
}

// encode is the inverse of decode, so that a file AddUPN did not need to
// touch elsewhere comes back byte for byte.
func (e textEncoding) encode(body []byte) ([]byte, error) {
	switch {
	case e.eightBit != nil:
		return e.eightBit.NewEncoder().Bytes(body)
	case e.utf16 == nil && e.bom:
		return append(append([]byte{}, bomUTF8...), body...), nil
	case e.utf16 == nil:
		return body, nil
	}
	units := utf16.Encode([]rune(string(body)))
	out := make([]byte, 0, 2+2*len(units))
	if e.bom {
		out = e.utf16.AppendUint16(out, 0xFEFF)
	}
	for _, u := range units {
		out = e.utf16.AppendUint16(out, u)
	}
	return out, nil
}

func checkUTF8(file string, body []byte) ([]byte, error) {
	if i := bytes.IndexByte(body, 0); i >= 0 {
		return nil, errorf(file, lineAt(body, i),
			"NUL byte: this is not a text file, or it is saved in an encoding upnsync does not read; open it in a text editor and save it as UTF-8")
	}
	for i := 0; i < len(body); {
		r, n := utf8.DecodeRune(body[i:])
		if r == utf8.RuneError && n == 1 {
			return nil, errorf(file, lineAt(body, i),
				"invalid UTF-8 (byte 0x%02X): the file is probably saved as ANSI (Windows-1252), and its XML declaration does not say so; save it as UTF-8, or make its first line <?xml version=\"1.0\" encoding=\"Windows-1252\"?>", body[i])
		}
		i += n
	}
	return body, nil
}

func decodeUTF16(file string, data []byte, enc textEncoding) ([]byte, textEncoding, error) {
	body := make([]byte, 0, len(data)/2+16)
	n := len(data) / 2
	for i := 0; i < n; i++ {
		u := enc.utf16.Uint16(data[2*i:])
		switch {
		case u == 0:
			return nil, enc, errorf(file, lineAt(body, len(body)),
				"NUL character: the file is damaged or not text; open it in a text editor and save it as UTF-8")
		case utf16.IsSurrogate(rune(u)):
			var r rune = utf8.RuneError
			if i+1 < n {
				r = utf16.DecodeRune(rune(u), rune(enc.utf16.Uint16(data[2*i+2:])))
			}
			if r == utf8.RuneError {
				return nil, enc, errorf(file, lineAt(body, len(body)),
					"invalid UTF-16 (a lone surrogate 0x%04X): the file is damaged; open it in a text editor and save it as UTF-8", u)
			}
			body = utf8.AppendRune(body, r)
			i++
		default:
			body = utf8.AppendRune(body, rune(u))
		}
	}
	if len(data)%2 != 0 {
		return nil, enc, errorf(file, lineAt(body, len(body)),
			"the UTF-16 file has an odd number of bytes, so it is cut short: copy it again, or save it as UTF-8")
	}
	return body, enc, nil
}

// lineAt is for the few errors found before the line index exists.
func lineAt(body []byte, off int) int {
	return 1 + bytes.Count(body[:off], []byte{'\n'})
}
