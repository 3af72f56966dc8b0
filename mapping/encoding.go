package mapping

import (
	"bytes"
	"encoding/binary"
	"unicode/utf16"
	"unicode/utf8"
)

// maxFileSize bounds what is read and parsed: the shipped file is a few
// kilobytes, so anything this large is the wrong file or an attack.
const maxFileSize = 10 << 20

// textEncoding is how the file's bytes encode its text. Windows Notepad
// saves "Unicode" as UTF-16LE with a BOM, and administrators do edit this
// file in Notepad, so UTF-16 is decoded rather than refused; AddUPN writes
// the file back in the encoding it came in.
type textEncoding struct {
	utf16 byteOrder // nil for UTF-8
	bom   bool
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

// decode returns the text as UTF-8 without a BOM, which is what
// encoding/xml and etree expect; offsets and lines are counted in it.
func decode(file string, data []byte) ([]byte, textEncoding, error) {
	if len(data) > maxFileSize {
		return nil, textEncoding{}, tooLarge(file, int64(len(data)))
	}
	switch {
	case bytes.HasPrefix(data, []byte{0xFF, 0xFE, 0, 0}), bytes.HasPrefix(data, []byte{0, 0, 0xFE, 0xFF}):
		return nil, textEncoding{}, errorf(file, 1,
			"the file is saved as UTF-32, which upnsync does not read: save it as UTF-8 (Notepad: Save As, Encoding: UTF-8)")
	case bytes.HasPrefix(data, bomUTF8):
		body, err := checkUTF8(file, data[len(bomUTF8):])
		return body, textEncoding{bom: true}, err
	case bytes.HasPrefix(data, bomUTF16LE):
		return decodeUTF16(file, data[2:], textEncoding{utf16: binary.LittleEndian, bom: true})
	case bytes.HasPrefix(data, bomUTF16BE):
		return decodeUTF16(file, data[2:], textEncoding{utf16: binary.BigEndian, bom: true})
	// Without a BOM, UTF-16 still gives itself away: the first character of
	// an XML file is '<' and its other byte is zero.
	case len(data) >= 2 && data[0] == '<' && data[1] == 0:
		return decodeUTF16(file, data, textEncoding{utf16: binary.LittleEndian})
	case len(data) >= 2 && data[0] == 0 && data[1] == '<':
		return decodeUTF16(file, data, textEncoding{utf16: binary.BigEndian})
	}
	body, err := checkUTF8(file, data)
	return body, textEncoding{}, err
}

// encode is the inverse of decode, so that a file AddUPN did not need to
// touch elsewhere comes back byte for byte.
func (e textEncoding) encode(body []byte) []byte {
	if e.utf16 == nil {
		if e.bom {
			return append(append([]byte{}, bomUTF8...), body...)
		}
		return body
	}
	units := utf16.Encode([]rune(string(body)))
	out := make([]byte, 0, 2+2*len(units))
	if e.bom {
		out = e.utf16.AppendUint16(out, 0xFEFF)
	}
	for _, u := range units {
		out = e.utf16.AppendUint16(out, u)
	}
	return out
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
				"invalid UTF-8 (byte 0x%02X): the file is probably saved as ANSI/Windows-1252; open it in a text editor and save it as UTF-8", body[i])
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
