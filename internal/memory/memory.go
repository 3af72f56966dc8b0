// Package memory sets the collector for upnsync's runs and tells how much
// memory a run used.
package memory

import (
	"fmt"
	"runtime/debug"
	"runtime/metrics"
)

// How upnsync sets the collector (issue 7), and how it reports what a run
// used (the run summary and metrics, with Peak in memory_unix.go and
// memory_windows.go).

// gcPercent is upnsync's GOGC. A run's heap is mostly the store's snapshot,
// which holds no pointers (sync/index.go), so a collection costs little;
// collecting when the heap has grown by 15%, rather than doubled as Go does
// by default, keeps the peak memory of a million-user run near what it
// really holds, for a few percent more CPU (figures in docs/performance.md).
const gcPercent = 15

// TuneGC applies gcPercent unless GOGC is set in the environment, which
// the Go runtime has then already applied.
func TuneGC(getenv func(string) string) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
}

// HoldPeak lets the collector run less often once a run's largest
// structures exist (the plan is built: the store's snapshot and the
// changes, and none of the lookups of the read): from then on it collects
// when the process would hold more memory than it holds now, or when the
// heap has doubled, whichever comes first, instead of at every 15% of
// growth. Writing a first run's hundreds of thousands of changes and its
// report makes garbage the whole time; the peak is already behind. Unless
// GOGC or GOMEMLIMIT are set in the environment, which then decide.
func HoldPeak(getenv func(string) string) {
	if getenv("GOGC") != "" || getenv("GOMEMLIMIT") != "" {
		return
	}
	s := []metrics.Sample{{Name: "/memory/classes/total:bytes"}, {Name: "/memory/classes/heap/released:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 || s[1].Value.Kind() != metrics.KindUint64 {
		return
	}
	debug.SetMemoryLimit(int64(s[0].Value.Uint64() - s[1].Value.Uint64()))
	debug.SetGCPercent(100)
}

// goMemory is the memory the Go runtime holds from the system now: a
// stand-in for the peak where the system keeps no peak figure.
func goMemory() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/total:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}

// HumanBytes prints a size the way people read it: 41.2 MiB.
func HumanBytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
