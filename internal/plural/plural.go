// Package plural spells counts with their noun, for every report, log line
// and message: "1 page", "2 pages", "3 entries", "1 person", "2 people".
package plural

import "strconv"

// Count is n and noun, the noun in the plural unless n is 1.
func Count(n int, noun string) string {
	return strconv.Itoa(n) + " " + Noun(n, noun)
}

// Noun is noun in the plural unless n is 1: person becomes people, a
// consonant and y becomes ies (entry, entries), s and x take es, others
// take s.
func Noun(n int, noun string) string {
	if n == 1 || noun == "" {
		return noun
	}
	switch last := noun[len(noun)-1]; {
	case noun == "person":
		return "people"
	case last == 'y' && len(noun) > 1 && !isVowel(noun[len(noun)-2]):
		return noun[:len(noun)-1] + "ies"
	case last == 's' || last == 'x':
		return noun + "es"
	}
	return noun + "s"
}

func isVowel(c byte) bool {
	switch c {
	case 'a', 'e', 'i', 'o', 'u':
		return true
	}
	return false
}
