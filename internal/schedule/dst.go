package schedule

import (
	"fmt"
	"time"

	"github.com/robfig/cron/v3"
)

// DSTWarnings says when a schedule falls in an hour that a daylight saving
// time change skips or repeats in its time zone, within span from now: in
// Europe/Paris a 02:30 run does not happen on the last Sunday of March and
// happens twice on the last Sunday of October (robfig/cron follows the
// wall clock). Schedules that run every hour are not warned about: they
// do not aim at one hour. @every schedules count elapsed time and are
// never affected.
func DSTWarnings(sched cron.Schedule, from time.Time, span time.Duration) []string {
	spec, ok := sched.(*cron.SpecSchedule)
	if !ok || spec.Location == nil || spec.Hour&allHours == allHours {
		return nil
	}
	loc := spec.Location
	var out []string
	for _, tr := range zoneTransitions(loc, from, from.Add(span)) {
		// Wall clock times as UTC values, so that arithmetic on them is
		// not itself bent by the zone.
		before := time.Unix(tr.at.Unix()+int64(tr.offBefore), 0).UTC()
		after := time.Unix(tr.at.Unix()+int64(tr.offAfter), 0).UTC()
		start, end, what, effect := before, after, "skips", "will not happen"
		if after.Before(before) {
			start, end, what, effect = after, before, "repeats", "will happen twice"
		}
		var hits []string
		for t := start; t.Before(end); t = t.Add(time.Minute) {
			if specMatches(spec, t) {
				hits = append(hits, t.Format("15:04"))
			}
		}
		if len(hits) == 0 {
			continue
		}
		runs := hits[0]
		if len(hits) > 1 {
			runs = fmt.Sprintf("%s (and %d more)", hits[0], len(hits)-1)
		}
		out = append(out, fmt.Sprintf("the schedule falls in the hour that daylight saving time %s in %s on %s (%s to %s): the run at %s %s that day; pick a time outside that hour, or a zone without daylight saving time (CRON_TZ=UTC)",
			what, loc, start.Format("2006-01-02"), start.Format("15:04"), end.Format("15:04"), runs, effect))
	}
	return out
}

const allHours = 1<<24 - 1

type zoneTransition struct {
	at                  time.Time
	offBefore, offAfter int // seconds east of UTC
}

// zoneTransitions finds when loc's UTC offset changes between from and to,
// hour by hour and then to the second (zones change offsets at whole
// minutes, never twice within an hour).
func zoneTransitions(loc *time.Location, from, to time.Time) []zoneTransition {
	offset := func(t time.Time) int { _, off := t.In(loc).Zone(); return off }
	var out []zoneTransition
	t := from.Truncate(time.Hour)
	prev := offset(t)
	for t.Before(to) {
		next := t.Add(time.Hour)
		off := offset(next)
		if off != prev {
			lo, hi := t, next // offset(lo) == prev, offset(hi) == off
			for hi.Sub(lo) > time.Second {
				mid := lo.Add(hi.Sub(lo) / 2)
				if offset(mid) == prev {
					lo = mid
				} else {
					hi = mid
				}
			}
			out = append(out, zoneTransition{at: hi, offBefore: prev, offAfter: off})
		}
		t, prev = next, off
	}
	return out
}

// specMatches reports whether the schedule fires at wall clock time t
// (read in UTC), with robfig/cron's day rule: when day-of-month or
// day-of-week is *, both must match, otherwise either.
func specMatches(s *cron.SpecSchedule, t time.Time) bool {
	const starBit = 1 << 63
	if s.Minute&(1<<uint(t.Minute())) == 0 || s.Hour&(1<<uint(t.Hour())) == 0 || s.Month&(1<<uint(t.Month())) == 0 {
		return false
	}
	dom := s.Dom&(1<<uint(t.Day())) != 0
	dow := s.Dow&(1<<uint(t.Weekday())) != 0
	if s.Dom&starBit != 0 || s.Dow&starBit != 0 {
		return dom && dow
	}
	return dom || dow
}
