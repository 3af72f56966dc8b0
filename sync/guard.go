package sync

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/upnsync/upnsync/internal/plural"
)

// Default thresholds. The removal guard is on by default, like Entra
// Connect's accidental-delete prevention (500 objects): a run that would
// remove more than DefaultMaxRemovals entries, or entries of more than
// DefaultMaxRemovalPercent of the Octopus users, stops before writing.
const (
	DefaultMaxRemovals       = 500
	DefaultMaxRemovalPercent = 10.0
	// DefaultMaxReadDrop: a base that gives more than 5% fewer people than
	// in the last complete read stops the run (G7): a lost read right or a
	// wrong filter shows so before anyone looks gone.
	DefaultMaxReadDrop = 5.0
	// MinReadDrop: a base that gives this many people fewer, or fewer
	// still, never trips G7, whatever the percentage: the comings and
	// goings of a small directory (25 people, 2 gone: 8%) are no alarm.
	MinReadDrop = 10
)

// Limits are the thresholds of the guards that stop a run before it
// writes anything (docs/design.md, rules G2 to G5). A negative value
// switches a guard off.
type Limits struct {
	// MaxChanges and MaxChangePercent bound the users written, as a count
	// and as a share of the Octopus users in the store.
	MaxChanges       int
	MaxChangePercent float64
	// MaxRemovals and MaxRemovalPercent bound the entries of departed
	// people removed.
	MaxRemovals       int
	MaxRemovalPercent float64
	// MaxReadDrop bounds how far below the last complete read of the same
	// base a base's count of people may fall, in percent (G7).
	MaxReadDrop float64
	// AllowEmptyRead lets a complete read of nobody through (G8).
	AllowEmptyRead bool
}

// NoLimits switches every threshold guard off.
var NoLimits = Limits{MaxChanges: -1, MaxChangePercent: -1, MaxRemovals: -1, MaxRemovalPercent: -1,
	MaxReadDrop: -1, AllowEmptyRead: true}

// DefaultLimits are the guards of a run given no threshold option: the
// removal guards, the read-drop guard (and the empty-read guard, always on
// unless AllowEmptyRead).
var DefaultLimits = Limits{MaxChanges: -1, MaxChangePercent: -1,
	MaxRemovals: DefaultMaxRemovals, MaxRemovalPercent: DefaultMaxRemovalPercent, MaxReadDrop: DefaultMaxReadDrop}

// GuardStop is one guard a plan trips. Message names the count, the
// threshold and the options that change or override it.
type GuardStop struct {
	Guard     string
	Count     int
	Threshold int
	Option    string
	Message   string
}

// Guard names, as the JSON report gives them.
const (
	GuardMaxChanges        = "max-changes"
	GuardMaxChangePercent  = "max-change-percent"
	GuardMaxRemovals       = "max-removals"
	GuardMaxRemovalPercent = "max-removal-percent"
	GuardMaxReadDrop       = "max-read-drop"
	GuardEmptyRead         = "empty-read"
)

// Forceable reports whether --force lets a run through this guard (G6):
// every threshold guard, but not the empty-read guard (G8), which only
// --allow-empty-read lets through: with --force alone, an empty read
// with --remove-departed would remove everything upnsync ever added.
func (g GuardStop) Forceable() bool { return g.Guard != GuardEmptyRead }

// LastRead is what the store keeps of the last complete read of a
// directory (internal/run): the people each base gave, and when. G7
// compares a read with it.
type LastRead struct {
	Time  time.Time
	Bases []BaseCount
}

// people is how many people base gave in the last read (bases compare in
// any letter case).
func (r *LastRead) people(base string) (int, bool) {
	for _, b := range r.Bases {
		if strings.EqualFold(b.Base, base) {
			return b.Entries, true
		}
	}
	return 0, false
}

// stop is the GuardStop of a guard that trips (Limits.Check, rules.go):
// its message names the count, the threshold and the options that change
// or override it.
func stop(guard, win string, n, threshold int, what, value, arg string) GuardStop {
	return GuardStop{Guard: guard, Count: n, Threshold: threshold, Option: "--" + guard,
		Message: fmt.Sprintf("%s (--%s %s); check the plan, then raise --%s (/%s:%s) or let this one run through with --force (/Force)",
			what, guard, value, guard, win, arg)}
}

func exceed(n int) string {
	if n == 1 {
		return "exceeds"
	}
	return "exceed"
}

// share is the largest count within p percent of n.
func share(p float64, n int) int {
	return int(math.Floor(p * float64(n) / 100))
}

func percent(k, n int) string {
	if n == 0 {
		return "all"
	}
	return fmtPercent(100*float64(k)/float64(n)) + "%"
}

func fmtPercent(p float64) string {
	return strconv.FormatFloat(math.Round(p*10)/10, 'f', -1, 64)
}

func count(n int, noun string) string { return plural.Count(n, noun) }
