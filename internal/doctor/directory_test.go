package doctor

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// The clock check compares with the directory's currentTime.
func TestDoctorClock(t *testing.T) {
	server := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		skew   time.Duration
		status string
		want   string
	}{
		{0, "PASS", "agrees with the directory's"},
		{1500 * time.Millisecond, "PASS", "agrees"},
		{-30 * time.Second, "PASS", "30s behind"},
		{3 * time.Minute, "WARN", "3m0s ahead of"},
		{-7 * time.Minute, "FAIL", "7m0s behind the directory's (Kerberos and AD refuse more than 5 minutes)"},
	}
	for _, tt := range tests {
		var buf bytes.Buffer
		d := &doctor{w: &buf, counts: map[checkStatus]int{}}
		doctorClock(d, server, server.Add(tt.skew))
		if !strings.HasPrefix(buf.String(), tt.status) || !strings.Contains(buf.String(), tt.want) {
			t.Errorf("skew %s: %q, want %s with %q", tt.skew, buf.String(), tt.status, tt.want)
		}
		if tt.status != "PASS" && !strings.Contains(buf.String(), "fix: synchronise the clocks") {
			t.Errorf("skew %s: no fix: %q", tt.skew, buf.String())
		}
	}
}
