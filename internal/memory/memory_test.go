package memory

import (
	"runtime/debug"
	"testing"
)

func TestTuneGC(t *testing.T) {
	old := debug.SetGCPercent(100)
	defer debug.SetGCPercent(old)
	TuneGC(func(string) string { return "" })
	if got := debug.SetGCPercent(100); got != gcPercent {
		t.Errorf("GOGC unset: GC percent %d, want %d", got, gcPercent)
	}
	TuneGC(func(k string) string {
		if k == "GOGC" {
			return "100"
		}
		return ""
	})
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("GOGC=100 in the environment: GC percent %d, want it left at 100", got)
	}
}

// HoldPeak caps the memory at what the process holds and lets the heap
// double below that cap; GOGC or GOMEMLIMIT in the environment decide
// instead.
func TestHoldPeak(t *testing.T) {
	oldPercent, oldLimit := debug.SetGCPercent(gcPercent), debug.SetMemoryLimit(-1)
	defer func() { debug.SetGCPercent(oldPercent); debug.SetMemoryLimit(oldLimit) }()
	for _, env := range []string{"GOGC", "GOMEMLIMIT"} {
		HoldPeak(func(k string) string {
			if k == env {
				return "50"
			}
			return ""
		})
		if got, limit := debug.SetGCPercent(gcPercent), debug.SetMemoryLimit(-1); got != gcPercent || limit != oldLimit {
			t.Errorf("%s set: GC percent %d, limit %d; want them left as they were", env, got, limit)
		}
	}
	HoldPeak(func(string) string { return "" })
	limit := debug.SetMemoryLimit(-1)
	if got := debug.SetGCPercent(gcPercent); got != 100 || limit <= 1<<20 || limit >= oldLimit {
		t.Errorf("GC percent %d, limit %d: want 100 and what the process holds", got, limit)
	}
}

func TestHumanBytes(t *testing.T) {
	for n, want := range map[uint64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 43_200_000: "41.2 MiB", 3 << 30: "3.0 GiB"} {
		if got := HumanBytes(n); got != want {
			t.Errorf("HumanBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

// Peak is a plausible peak for a Go process (at least 1 MiB), whichever
// of the system's figure or Go's own it comes from.
func TestPeakIsPlausible(t *testing.T) {
	if p := Peak(); p < 1<<20 {
		t.Fatalf("peak memory %d bytes", p)
	}
}
