package sync

import (
	"fmt"
	"math"
	"strconv"
)

// Default thresholds. The removal guard is on by default, like Entra
// Connect's accidental-delete prevention (500 objects): a run that would
// remove more than DefaultMaxRemovals entries, or entries of more than
// DefaultMaxRemovalPercent of the Octopus users, stops before writing.
const (
	DefaultMaxRemovals       = 500
	DefaultMaxRemovalPercent = 10.0
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
}

// NoLimits switches every threshold guard off.
var NoLimits = Limits{MaxChanges: -1, MaxChangePercent: -1, MaxRemovals: -1, MaxRemovalPercent: -1}

// DefaultLimits are the guards of a run given no threshold option: only
// the removal guard.
var DefaultLimits = Limits{MaxChanges: -1, MaxChangePercent: -1,
	MaxRemovals: DefaultMaxRemovals, MaxRemovalPercent: DefaultMaxRemovalPercent}

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
)

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

func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	if noun == "entry" {
		return strconv.Itoa(n) + " entries"
	}
	return strconv.Itoa(n) + " " + noun + "s"
}
