//go:build unix

package memory

import (
	"runtime"
	"syscall"
)

// Peak is the process's peak resident set size in bytes (what `time
// -v` calls maximum resident set size), or Go's own view when the system
// does not say.
func Peak() uint64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil || ru.Maxrss <= 0 {
		return goMemory()
	}
	switch runtime.GOOS {
	case "darwin", "ios":
		return uint64(ru.Maxrss) // bytes there
	}
	return uint64(ru.Maxrss) * 1024 // kilobytes on Linux and the BSDs
}
