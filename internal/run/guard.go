package run

import (
	"strings"
)

// guard checks the guards before anything is written: the read's (G7,
// G8: sync.Limits.CheckRead) and the thresholds (G2 to G5). When a guard
// stops the run it writes the report that says why and returns the
// outcome, with stop set; otherwise it returns, with --force, the messages
// of the guards let through (G6; never G8's).
func guard(ss *session, p *planned) (forced []string, o Outcome, stop bool) {
	s, log := ss.s, ss.log
	lim := limits(s)
	stops := append(lim.CheckRead(&p.plan, baseCounts(s, p.plan.Read), p.hist.lastRead(), p.hist.scope.String()),
		lim.Check(&p.plan)...)
	if len(stops) == 0 {
		return nil, Outcome{}, false
	}
	p.meta.Guards = stops
	var msgs []string
	stopping := !s.Force
	for _, st := range stops {
		msgs = append(msgs, st.Message)
		stopping = stopping || !st.Forceable()
	}
	if !stopping {
		p.meta.Forced = true
		for _, st := range stops {
			log.Warn("--force lets this run through a safety guard", "guard", st.Guard, "count", st.Count,
				"threshold", st.Threshold, "message", st.Message)
		}
		return msgs, Outcome{}, false
	}
	for _, st := range stops {
		log.Error("stopped by a safety guard: nothing written: "+st.Message, "guard", st.Guard)
	}
	p.meta.Stopped = "a safety guard stopped the run: " + joinLines(msgs)
	if p.inc != nil {
		p.inc.info.NotAdvanced = "a safety guard stopped the run: the next run reads these changes again"
	}
	return nil, ss.finish(&p.plan, p.meta, Outcome{Stopped: p.meta.Stopped}), true
}

// joinLines joins the guards' messages into one sentence.
func joinLines(msgs []string) string { return strings.Join(msgs, "; and ") }

// pending is the outcome of a plan that is not written: a dry run's, a
// saved plan's.
func pending(p *planned) Outcome {
	return Outcome{Pending: p.plan.Changes.Len(), Conflicts: len(p.plan.Conflicts)}
}
