package main

import "runtime/debug"

// gcPercent is upnsync's GOGC. A run's heap is mostly the store's snapshot,
// which holds no pointers (sync/index.go), so a collection costs little;
// collecting when the heap has grown by 15%, rather than doubled as Go does
// by default, keeps the peak memory of a million-user run near what it
// really holds, for a few percent more CPU (figures in docs/performance.md).
const gcPercent = 15

// tuneGC applies gcPercent unless GOGC is set in the environment, which
// the Go runtime has then already applied.
func tuneGC(getenv func(string) string) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
}
