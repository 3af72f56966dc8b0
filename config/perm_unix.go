//go:build unix

package config

import (
	"os"
	"syscall"
)

// groupReadableByRoot accepts a password file that root owns and only its
// group may also read (mode 0640 or less), as libpq does for .pgpass and
// key files: that is how Kubernetes mounts a Secret for a non-root
// container (owner root, group the pod's fsGroup), and only root could
// have given the group access.
func groupReadableByRoot(fi os.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && st.Uid == 0 && fi.Mode().Perm()&0o037 == 0
}
