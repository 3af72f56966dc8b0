package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
)

// Profiling for performance work (docs/performance.md): with
// UPNSYNC_CPUPROFILE=FILE the whole process is CPU-profiled, and with
// UPNSYNC_MEMPROFILE=FILE a heap profile is written at exit. They are
// environment variables rather than options so that a scheduled task's
// command line never grows a debugging switch, and so that `go tool pprof`
// sees the real binary's run, not a test harness.
const (
	envCPUProfile = "UPNSYNC_CPUPROFILE"
	envMemProfile = "UPNSYNC_MEMPROFILE"
)

// startProfiling starts what the environment asks for and returns the
// function that finishes the profiles; problems are reported on stderr and
// never change the run's outcome.
func startProfiling(getenv func(string) string, stderr io.Writer) (stop func()) {
	var cpu *os.File
	if path := getenv(envCPUProfile); path != "" {
		f, err := os.Create(path)
		if err == nil {
			err = pprof.StartCPUProfile(f)
			if err != nil {
				f.Close()
			}
		}
		if err != nil {
			fmt.Fprintf(stderr, "upnsync: warning: %s: cannot write a CPU profile to %s: %v\n", envCPUProfile, path, err)
		} else {
			cpu = f
		}
	}
	memPath := getenv(envMemProfile)
	if memPath != "" {
		// Sample every allocation so that small per-entry allocations show.
		runtime.MemProfileRate = 4096
	}
	return func() {
		if cpu != nil {
			pprof.StopCPUProfile()
			cpu.Close()
		}
		if memPath == "" {
			return
		}
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		fmt.Fprintf(stderr, "upnsync: memory: heap from the OS %d MB (%d MB of it in use at exit), %d garbage collections, %.1f%% of CPU in the collector\n",
			ms.HeapSys>>20, ms.HeapInuse>>20, ms.NumGC, 100*ms.GCCPUFraction)
		f, err := os.Create(memPath)
		if err == nil {
			err = pprof.Lookup("allocs").WriteTo(f, 0)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			fmt.Fprintf(stderr, "upnsync: warning: %s: cannot write a heap profile to %s: %v\n", envMemProfile, memPath, err)
		}
	}
}
