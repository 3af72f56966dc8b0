package run

import (
	"context"
	"strings"
	"testing"
)

// The change guards from the command line to the exit code, on a plan of
// one change (Jane's): --max-changes 0 stops it (0 is a limit, not "no
// limit"), 1 lets it through; --max-change-percent 0 stops it, and a
// share that rounds down to no user of the 32 does too.
func TestChangeGuardsOnAOneChangePlan(t *testing.T) {
	for _, c := range []struct {
		args []string
		want int
	}{
		{[]string{"--max-changes", "0"}, ExitGuard},
		{[]string{"--max-changes", "1"}, ExitOK},
		{[]string{"--max-change-percent", "0"}, ExitGuard},
		{[]string{"--max-change-percent", "3"}, ExitGuard},  // 0.96 of 32 users: none
		{[]string{"--max-change-percent", "3.125"}, ExitOK}, // 1 of 32
	} {
		d := newDemo(t)
		d.onlyJane(t)
		o := Sync(context.Background(), d.env(), d.sync(t, append([]string{"--apply"}, c.args...)...))
		if ExitCode(o) != c.want {
			t.Errorf("%q: exit %d, want %d (%+v)", c.args, ExitCode(o), c.want, o)
		}
		if written := strings.Contains(d.field(t, "1001"), "jane.doe@"); written != (c.want == ExitOK) || o.Written != map[bool]int{true: 1}[written] {
			t.Errorf("%q: written %d, 1001 = %q", c.args, o.Written, d.field(t, "1001"))
		}
	}
}
