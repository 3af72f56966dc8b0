// Package schedule is --schedule: reading a cron spec, warning about the
// runs that daylight saving time skips or repeats, and the scheduler that
// runs a sync at each scheduled time until it is stopped.
package schedule

import (
	"fmt"
	"strings"
	"time"

	// Time zones for CRON_TZ= on machines without a zone database of their
	// own (Windows, distroless images).
	_ "time/tzdata"

	"github.com/robfig/cron/v3"
)

// Parse reads a --schedule spec: five fields, a descriptor (@daily,
// @every 30m), optionally after CRON_TZ=Zone. robfig/cron panics on some
// malformed specs (CRON_TZ=UTC with nothing after it), so the parse is
// guarded: a typo is an error message, never a crash.
func Parse(spec string) (sched cron.Schedule, err error) {
	spec = strings.TrimSpace(spec)
	defer func() {
		if p := recover(); p != nil {
			sched, err = nil, scheduleError(spec, "not a schedule upnsync can read")
			if tz, rest, _ := strings.Cut(spec, "="); (tz == "CRON_TZ" || tz == "TZ") && !strings.Contains(strings.TrimSpace(rest), " ") {
				err = scheduleError(spec, tz+"= names a time zone but no schedule follows it")
			}
		}
	}()
	sched, err = cron.ParseStandard(spec)
	if err != nil {
		return nil, scheduleError(spec, err.Error())
	}
	body := spec
	if strings.HasPrefix(body, "CRON_TZ=") || strings.HasPrefix(body, "TZ=") {
		_, body, _ = strings.Cut(body, " ")
	}
	// robfig/cron turns @every 0s or 500ms into every second without a
	// word: refuse what would not run as written.
	if d, ok := strings.CutPrefix(strings.TrimSpace(body), "@every "); ok {
		if every, perr := time.ParseDuration(strings.TrimSpace(d)); perr == nil && every < time.Second {
			return nil, scheduleError(spec, "@every needs a duration of at least 1s")
		}
	}
	return sched, nil
}

func scheduleError(spec, why string) error {
	why = strings.TrimSuffix(why, ".")
	return fmt.Errorf(`--schedule %q: %s; use 5 fields (minute hour day-of-month month day-of-week) such as "30 1 * * *", or @daily, @hourly, @every 30m, optionally after a time zone: "CRON_TZ=Europe/Paris 30 1 * * *"`, spec, why)
}

// Zone names the time zone a schedule runs in.
func Zone(sched cron.Schedule) string {
	if spec, ok := sched.(*cron.SpecSchedule); ok && spec.Location != nil && spec.Location != time.Local {
		return spec.Location.String()
	}
	name, _ := time.Now().Zone()
	return "local time (" + name + ")"
}
