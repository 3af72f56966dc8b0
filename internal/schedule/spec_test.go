package schedule

import (
	"strings"
	"testing"
	"time"

	"github.com/robfig/cron/v3"
)

func TestParseScheduleAcceptsCronForms(t *testing.T) {
	for _, spec := range []string{"30 1 * * *", "@daily", "@hourly", "@every 30m", "@every 1s", "CRON_TZ=Europe/Paris 30 1 * * 1-5",
		"TZ=America/New_York @daily", "  0 */6 * * *  "} {
		if _, err := Parse(spec); err != nil {
			t.Errorf("Parse(%q): %v", spec, err)
		}
	}
}

// The DST warning names the day and what happens, for the schedule's own
// zone, computed from the zone's transitions.
func TestDSTWarnings(t *testing.T) {
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	year := 365 * 24 * time.Hour
	tests := []struct {
		spec string
		want []string
	}{
		{"CRON_TZ=Europe/Paris 30 2 * * *", []string{
			"skips in Europe/Paris on 2026-03-29 (02:00 to 03:00): the run at 02:30 will not happen",
			"repeats in Europe/Paris on 2026-10-25 (02:00 to 03:00): the run at 02:30 will happen twice"}},
		{"CRON_TZ=Europe/Paris 30 1 * * *", nil},
		{"CRON_TZ=America/New_York 30 1 * * *", []string{"repeats in America/New_York on 2026-11-01 (01:00 to 02:00): the run at 01:30 will happen twice"}},
		{"CRON_TZ=America/New_York 15,45 2 * * *", []string{"skips in America/New_York on 2026-03-08 (02:00 to 03:00): the run at 02:15 (and 1 more) will not happen"}},
		// Only on Sundays: the changes are on Sundays in both zones.
		{"CRON_TZ=Europe/Paris 30 2 * * 0", []string{"on 2026-03-29", "on 2026-10-25"}},
		// Only on Mondays: never on a change day.
		{"CRON_TZ=Europe/Paris 30 2 * * 1", nil},
		// Only in June: no change then.
		{"CRON_TZ=Europe/Paris 30 2 * 6 *", nil},
		{"CRON_TZ=UTC 30 2 * * *", nil},
		{"CRON_TZ=Asia/Tokyo 30 2 * * *", nil},
		{"CRON_TZ=Europe/Paris 0 * * * *", nil}, // hourly: aims at no hour
		{"CRON_TZ=Europe/Paris @every 1h", nil},
	}
	for _, tt := range tests {
		sched, err := Parse(tt.spec)
		if err != nil {
			t.Fatalf("%s: %v", tt.spec, err)
		}
		got := DSTWarnings(sched, from, year)
		if len(got) != len(tt.want) {
			t.Errorf("%s: %d warnings, want %d: %q", tt.spec, len(got), len(tt.want), got)
			continue
		}
		for i, w := range tt.want {
			if !strings.Contains(got[i], w) {
				t.Errorf("%s: warning %q lacks %q", tt.spec, got[i], w)
			}
		}
	}
}

// specMatches agrees with robfig/cron's own Next for every minute of two
// weeks: the DST warning tests the same rule the scheduler uses.
func TestSpecMatchesAgreesWithCron(t *testing.T) {
	for _, spec := range []string{"30 2 * * *", "*/20 1-3 * * 1-5", "0 12 1,15 * *", "0 12 1 * 1", "5 4 * * 0", "0 0 * 3 *"} {
		s, err := cron.ParseStandard("CRON_TZ=UTC " + spec)
		if err != nil {
			t.Fatal(err)
		}
		ss := s.(*cron.SpecSchedule)
		start := time.Date(2026, 2, 25, 0, 0, 0, 0, time.UTC)
		for tm := start; tm.Before(start.Add(14 * 24 * time.Hour)); tm = tm.Add(time.Minute) {
			fires := s.Next(tm.Add(-time.Second)).Equal(tm)
			if specMatches(ss, tm) != fires {
				t.Fatalf("%s at %s: specMatches %v, cron fires %v", spec, tm, !fires, fires)
			}
		}
	}
}
