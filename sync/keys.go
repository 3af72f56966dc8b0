package sync

import (
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
	s = strings.TrimSpace(s)
	if len(s) == 38 && s[0] == '{' && s[37] == '}' {
		s = s[1:37]
	}
	return lowerInto(b, s)
}

// NormalizeGUID gives a GUID string the canonical form used as key: no
// braces or spaces, lower case. Other strings are only trimmed and
// lower-cased, so a DN kept in ExternalIdentifier by older installs still
// compares equal to itself.
func NormalizeGUID(s string) string {
	s = strings.TrimSpace(s)
	if len(s) == 38 && s[0] == '{' && s[37] == '}' {
		s = s[1:37]
	}
	return strings.ToLower(s)
}

// IsGUID reports whether s (normalized) has the canonical 8-4-4-4-12 form.
func IsGUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < 36; i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
				return false
			}
		}
	}
	return true
}

// isGUIDBytes is IsGUID on bytes.
func isGUIDBytes(b []byte) bool {
	if len(b) != 36 {
		return false
	}
	for i, c := range b {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
				return false
			}
		}
	}
	return true
}
