//go:build unix

package atomicfile

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// canWrite checks that this account may write a device or a pipe, without
// opening it (opening a pipe waits for a reader; opening a device may do
// something).
func canWrite(path string) error {
	if err := unix.Access(path, unix.W_OK); err != nil {
		return fmt.Errorf("cannot write to it: %v", err)
	}
	return nil
}
