//go:build !unix && !windows

package runlock

import (
	"errors"
	"os"
)

// removeWhileLocked: a file may be deleted while it is open and locked
// (Lock.Remove).
const removeWhileLocked = true

func tryLock(*os.File) (bool, error) {
	return false, errors.New("file locks are not supported on this operating system")
}

func unlock(*os.File) error { return nil }
