package sync

import (
	"encoding/base64"
	"strings"
	"unicode"
	"unicode/utf8"
)

// appendGUID appends the 16 bytes of a canonical lower-case GUID string.
func appendGUID(b []byte, g string) []byte {
	for i := 0; i < len(g); i++ {
		if g[i] == '-' {
			continue
		}
		b = append(b, unhexLower(g[i])<<4|unhexLower(g[i+1]))
		i++
	}
	return b
}

func unhexLower(c byte) byte {
	if c <= '9' {
		return c - '0'
	}
	return c - 'a' + 10
}

// formatGUID writes the canonical string of 16 GUID bytes kept by
// appendGUID.
func formatGUID(dst *[36]byte, raw string) {
	const hex = "0123456789abcdef"
	j := 0
	for i := 0; i < 16; i++ {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			dst[j] = '-'
			j++
		}
		dst[j], dst[j+1] = hex[raw[i]>>4], hex[raw[i]&0xf]
		j += 2
	}
}

// lowerInto appends strings.ToLower(s) to b without allocating.
func lowerInto(b []byte, s string) []byte {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		for i := 0; i < len(s); i++ {
			c := s[i]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			b = append(b, c)
		}
		return b
	}
	// As strings.ToLower (strings.Map with unicode.ToLower): invalid
	// UTF-8 becomes U+FFFD.
	for _, r := range s {
		b = utf8.AppendRune(b, unicode.ToLower(r))
	}
	return b
}

func lowerTrimmed(b []byte, s string) []byte {
	return lowerInto(b, strings.TrimSpace(s))
}

// normalizeGUIDInto appends NormalizeGUID(s) to b without allocating.
func normalizeGUIDInto(b []byte, s string) []byte {
	s = trimGUID(s)
	var raw [16]byte
	switch {
	case len(s) == 32 && isHex(s):
		// The canonical form without its dashes.
		for i := 0; i < 32; i++ {
			if i == 8 || i == 12 || i == 16 || i == 20 {
				b = append(b, '-')
			}
			c := s[i]
			if 'A' <= c && c <= 'F' {
				c += 'a' - 'A'
			}
			b = append(b, c)
		}
		return b
	case len(s) == 24 && s[22] == '=' && s[23] == '=' && decodeGUID64(&raw, s):
		// base64 of the 16 bytes as the directory holds them, as
		// ldapsearch and ldifde print objectGUID.
		var g [36]byte
		o := adOrder(raw)
		formatGUID(&g, string(o[:]))
		return append(b, g[:]...)
	}
	return lowerInto(b, s)
}

// NormalizeGUID gives a GUID string the canonical form used as key: the
// 8-4-4-4-12 form in lower case, from that form with or without braces and
// dashes, in any letter case, or from the base64 of the 16 bytes as the
// directory holds them (ldapsearch and ldifde print objectGUID so). Other
// strings are only trimmed and lower-cased, so a DN kept in
// ExternalIdentifier by older installs still compares equal to itself.
func NormalizeGUID(s string) string {
	t := trimGUID(s)
	if len(t) == 36 && IsGUID(t) {
		return t // canonical already: no copy
	}
	return string(normalizeGUIDInto(nil, s))
}

// trimGUID takes the spaces and braces off a GUID string.
func trimGUID(s string) string {
	s = strings.TrimSpace(s)
	if n := len(s); n >= 2 && s[0] == '{' && s[n-1] == '}' && (n == 38 || n == 34) {
		s = s[1 : n-1]
	}
	return s
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// decodeGUID64 decodes the standard base64 of 16 bytes (24 characters,
// "==" at the end) into raw.
func decodeGUID64(raw *[16]byte, s string) bool {
	var buf [18]byte
	n, err := base64.StdEncoding.Decode(buf[:], []byte(s))
	if err != nil || n != 16 {
		return false
	}
	copy(raw[:], buf[:16])
	return true
}

// adOrder turns the 16 bytes of an objectGUID as the directory holds them
// into the order of its canonical string, and back: AD keeps the first
// three groups little-endian (bytes e004253f894fd311... are
// 3f2504e0-4f89-11d3-...). A GUID written from the raw bytes without that
// turn is the byte-swapped form (docs/design.md, rule C8).
func adOrder(b [16]byte) [16]byte {
	b[0], b[1], b[2], b[3] = b[3], b[2], b[1], b[0]
	b[4], b[5] = b[5], b[4]
	b[6], b[7] = b[7], b[6]
	return b
}

// swapGUIDBytes rewrites a canonical lower-case GUID in place as its
// byte-swapped form (adOrder on its bytes): the two are each other's
// swapped form.
func swapGUIDBytes(g []byte) {
	// Groups of two hex digits: 0-3 | 4-5 | 6-7 (at 0, 9, 14 of the text).
	swap := func(i, j int) { g[i], g[i+1], g[j], g[j+1] = g[j], g[j+1], g[i], g[i+1] }
	swap(0, 6)
	swap(2, 4)
	swap(9, 11)
	swap(14, 16)
}

// SwappedGUID is the byte-swapped form of a canonical GUID (docs/design.md,
// rule C8), or "" when guid is not canonical.
func SwappedGUID(guid string) string {
	g := normalizeGUIDInto(nil, guid)
	if !isGUIDBytes(g) {
		return ""
	}
	swapGUIDBytes(g)
	return string(g)
}

// IsGUID reports whether s (normalized) has the canonical 8-4-4-4-12 form.
func IsGUID(s string) bool { return isGUID(s) }

// isGUIDBytes is IsGUID on bytes.
func isGUIDBytes(b []byte) bool { return isGUID(b) }

// guidChar says, for each byte, whether it is a lower-case hexadecimal
// digit; the dashes are checked by position.
var guidChar = func() (t [256]bool) {
	for _, c := range "0123456789abcdef" {
		t[c] = true
	}
	return t
}()

// isGUID is the canonical form's check, once for strings and bytes: it
// runs for every person and every store user, so a table, not a switch.
func isGUID[T string | []byte](s T) bool {
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return false
	}
	ok := true
	for i := 0; i < 36; i++ {
		if i != 8 && i != 13 && i != 18 && i != 23 {
			ok = ok && guidChar[s[i]]
		}
	}
	return ok
}
