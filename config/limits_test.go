package config

import "testing"

// The thresholds as parsed: 0 is a limit, not "off"; off and a missing
// option are -1 (off), but for the removal guards' defaults. A mutation
// that reads 0 as unset would let every run through --max-changes 0.
func TestThresholdsParseTheirBoundaries(t *testing.T) {
	base := []string{"--config-file-path", "m.xml", "--directory", "ldif:x.ldif"}
	for _, c := range []struct {
		args                  []string
		changes, removals     int
		changePct, removalPct float64
		maxLength             int
	}{
		{nil, -1, DefaultMaxRemovals, -1, DefaultMaxRemovalPercent, 250},
		{[]string{"--max-changes", "0", "--max-change-percent", "0", "--max-removals", "0", "--max-removal-percent", "0"}, 0, 0, 0, 0, 250},
		{[]string{"/MaxChanges:0", "/MaxChangePercent:0%"}, 0, DefaultMaxRemovals, 0, DefaultMaxRemovalPercent, 250},
		{[]string{"--max-changes", "off", "--max-change-percent", "off", "--max-removals", "off", "--max-removal-percent", "off"}, -1, -1, -1, -1, 250},
		{[]string{"--max-changes", "1", "--max-change-percent", "100", "--max-length", "1"}, 1, DefaultMaxRemovals, 100, DefaultMaxRemovalPercent, 1},
		{[]string{"--max-length", "250"}, -1, DefaultMaxRemovals, -1, DefaultMaxRemovalPercent, 250},
	} {
		s, err := Parse(append(append([]string(nil), base...), c.args...), func(string) string { return "" })
		if err != nil {
			t.Fatalf("%q: %v", c.args, err)
		}
		if s.MaxChanges != c.changes || s.MaxRemovals != c.removals || s.MaxChangePercent != c.changePct ||
			s.MaxRemovalPercent != c.removalPct || s.MaxLength != c.maxLength {
			t.Errorf("%q: max-changes %d, max-removals %d, max-change-percent %v, max-removal-percent %v, max-length %d; want %d %d %v %v %d",
				c.args, s.MaxChanges, s.MaxRemovals, s.MaxChangePercent, s.MaxRemovalPercent, s.MaxLength,
				c.changes, c.removals, c.changePct, c.removalPct, c.maxLength)
		}
	}
	for _, args := range [][]string{{"--max-changes", "-1"}, {"--max-change-percent", "100.5"}, {"--max-length", "0"}} {
		if _, err := Parse(append(append([]string(nil), base...), args...), func(string) string { return "" }); err == nil {
			t.Errorf("%q was accepted", args)
		}
	}
}
