package main

import (
	"strings"
	"testing"
)

// Malformed specs are exit code 1 with the reason, never a panic, including
// those that make robfig/cron's parser panic.
func TestMalformedScheduleExits1WithTheReason(t *testing.T) {
	d := newDemo(t)
	tests := []struct{ spec, want string }{
		{"every night", "expected exactly 5 fields, found 2"},
		{"61 * * * *", "end of range (61) above maximum (59)"},
		{"* * *", "expected exactly 5 fields, found 3"},
		{"@every 1x", `unknown unit "x"`},
		{"@every 500ms", "@every needs a duration of at least 1s"},
		{"@every 0s", "@every needs a duration of at least 1s"},
		{"CRON_TZ=Nowhere/City 30 1 * * *", "unknown time zone Nowhere/City"},
		{"CRON_TZ=Europe/Paris", "CRON_TZ= names a time zone but no schedule follows it"},
		{"CRON_TZ=", "CRON_TZ= names a time zone but no schedule follows it"},
		{"TZ=UTC", "TZ= names a time zone but no schedule follows it"},
		{"@fortnightly", "unrecognized descriptor"},
	}
	for _, tt := range tests {
		code, out, errOut := cli(t, nil, d.gnu("--schedule", tt.spec)...)
		if code != exitError || !strings.Contains(errOut, tt.want) || !strings.Contains(errOut, `--schedule "`+tt.spec+`"`) ||
			!strings.Contains(errOut, "30 1 * * *") || strings.Contains(errOut, "goroutine") || strings.Contains(errOut, "panic") {
			t.Errorf("--schedule %q: exit %d, stderr %q, want exit 1 and %q", tt.spec, code, errOut, tt.want)
		}
		if out != "" {
			t.Errorf("--schedule %q ran something: %s", tt.spec, out)
		}
	}
}

func TestRunNowNeedsSchedule(t *testing.T) {
	d := newDemo(t)
	code, _, errOut := cli(t, nil, d.gnu("--run-now")...)
	if code != exitError || !strings.Contains(errOut, "--run-now only makes sense with --schedule") {
		t.Fatalf("exit %d %q", code, errOut)
	}
}
