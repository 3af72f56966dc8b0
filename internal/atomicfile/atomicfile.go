// Package atomicfile replaces a file so that a reader (DataImporter, the
// textfile collector, an administrator's script, the next run) sees either
// the old content or the new, never half of it, even when upnsync is
// killed or the disk fills part way.
package atomicfile

import (
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
)

// Write writes what write produces to path with permissions perm: into a
// temporary file in the same folder (a rename is atomic only within one
// file system), flushed to disk, then renamed over path. On any error path
// is left as it was and the temporary file is removed. A path that is a
// symbolic link is followed, so that the file it points at is replaced and
// the link the administrator keeps stays a link.
func Write(path string, perm fs.FileMode, write func(io.Writer) error) error {
	if real, err := filepath.EvalSymlinks(path); err == nil {
		path = real
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".upnsync-*.tmp")
	if err != nil {
		return err
	}
	done := false
	defer func() {
		if !done {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := write(tmp); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), perm); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	done = true
	syncDir(filepath.Dir(path))
	return nil
}

// syncDir makes the rename itself durable where the system allows it;
// Windows does not let a folder be flushed, and NTFS journals the rename.
func syncDir(dir string) {
	if runtime.GOOS == "windows" {
		return
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}
