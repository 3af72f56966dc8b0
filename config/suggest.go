package config

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// nearest is the candidate closest to name by edit distance, if it is
// close enough to be the one meant: one edit for names of up to four
// letters, two up to eight, three beyond (up to 64). Failing that, the one candidate
// that begins with name (at least three letters). fold compares without
// letter case. "" when none is near.
func nearest(name string, candidates []string, fold bool) string {
	if fold {
		name = strings.ToLower(name)
	}
	n := utf8.RuneCountInString(name)
	if n == 0 || n > 64 {
		return "" // no name is that long: not worth the comparisons
	}
	limit := 3
	switch {
	case n <= 4:
		limit = 1
	case n <= 8:
		limit = 2
	}
	best, bestD := "", limit+1
	for _, c := range candidates {
		cc := c
		if fold {
			cc = strings.ToLower(c)
		}
		if d := editDistance(name, cc); d < bestD {
			best, bestD = c, d
		}
	}
	if best != "" {
		return best
	}
	if n < 3 {
		return ""
	}
	prefixed := ""
	for _, c := range candidates {
		cc := c
		if fold {
			cc = strings.ToLower(c)
		}
		if strings.HasPrefix(cc, name) {
			if prefixed != "" {
				return ""
			}
			prefixed = c
		}
	}
	return prefixed
}

// editDistance is the Levenshtein distance between a and b, in runes,
// with a transposition of two neighbours counting as one edit.
func editDistance(a, b string) int {
	x, y := []rune(a), []rune(b)
	prev2 := make([]int, len(y)+1)
	prev := make([]int, len(y)+1)
	cur := make([]int, len(y)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(x); i++ {
		cur[0] = i
		for j := 1; j <= len(y); j++ {
			cost := 1
			if x[i-1] == y[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && x[i-1] == y[j-2] && x[i-2] == y[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(y)]
}

// unknownOption is the error for an option upnsync does not know, with
// the nearest known one in the same spelling: --aply suggests --apply,
// /Aply /Apply, -apply --apply. Only the name is quoted, never the value
// (it could be a mistyped password option's password).
func unknownOption(arg string) error {
	var shown, suggestion string
	switch {
	case strings.HasPrefix(arg, "/"):
		name, _, _ := strings.Cut(arg[1:], ":")
		shown = "/" + name
		var wins []string
		for _, o := range options {
			if !o.envOnly {
				wins = append(wins, o.win)
			}
		}
		if near := nearest(name, wins, true); near != "" {
			suggestion = "/" + near
		}
	default:
		name, _, _ := strings.Cut(strings.TrimLeft(arg, "-"), "=")
		shown = arg
		if i := strings.IndexByte(arg, '='); i >= 0 {
			shown = arg[:i]
		}
		var longs []string
		for _, o := range options {
			if !o.envOnly {
				longs = append(longs, o.long)
			}
		}
		if near := nearest(strings.ToLower(name), longs, false); near != "" {
			suggestion = "--" + near
		}
	}
	msg := "unknown option " + shown
	if suggestion != "" {
		msg += fmt.Sprintf(" (did you mean %s?)", suggestion)
	}
	return usagef("%s; see upnsync --help", msg)
}
