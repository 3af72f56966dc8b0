//go:build unix

package testenv

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// Device numbers of the character devices tests make (Linux's).
const (
	// NullDevice takes every write, as /dev/null does.
	NullDevice = 1<<8 | 3
	// FullDevice fails every write with "no space left on device", as
	// /dev/full does.
	FullDevice = 1<<8 | 7
)

// CharDevice makes a character device node named name in dir (a test's
// own folder, never /dev) with the device number dev (NullDevice,
// FullDevice), for tests of what upnsync does with an output that is a
// device. Making one needs root: without that right the test is skipped,
// except in CI (CI=true), which runs as root, where it fails.
func CharDevice(t testing.TB, dir, name string, dev int) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := syscall.Mknod(path, syscall.S_IFCHR|0o666, dev); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("mknod %s: %v (CI runs as root)", path, err)
		}
		t.Skipf("cannot make a device node here (%v): run as root", err)
	}
	return path
}
