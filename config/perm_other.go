//go:build !unix

package config

import "os"

// groupReadableByRoot: file modes are not checked where there are none.
func groupReadableByRoot(os.FileInfo) bool { return false }
