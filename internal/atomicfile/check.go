package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/upnsync/upnsync/internal/fileerr"
)

// Check says, before anything is written, whether WriteTo can write path:
// "-" always; a character device or a pipe this account may write; a
// regular file or a new path whose folder exists and takes new files
// (tried by creating and removing an empty file there, the only test that
// Windows' ACLs and read-only mounts both answer). A folder, a block
// device or a socket, a missing folder or one this account may not write
// are errors that say what to do; they do not repeat the path.
func Check(path string) error {
	if path == Stdout {
		return nil
	}
	target, fi, err := resolve(path)
	switch {
	case err != nil:
		return fileerr.Reason(err)
	case fi == nil || fi.Mode().IsRegular():
		return canCreateIn(filepath.Dir(target))
	case direct(fi):
		return canWrite(target)
	}
	return notAFile(fi)
}

// CheckAppend is Check for a path that is appended to, or is a folder
// files are created in, created with its parents when missing (a log):
// an existing file must take appends, an existing folder new files, and
// for a path that does not exist yet the nearest folder that does must
// take new files.
func CheckAppend(path string) error {
	target, fi, err := resolve(path)
	switch {
	case err != nil:
		return fileerr.Reason(err)
	case fi == nil:
		dir := filepath.Dir(filepath.Clean(target))
		for {
			st, err := os.Stat(dir)
			if err == nil && !st.IsDir() {
				return fmt.Errorf("%s is a file, not a folder", dir)
			}
			if err == nil || filepath.Dir(dir) == dir {
				return canCreateIn(dir)
			}
			dir = filepath.Dir(dir)
		}
	case fi.IsDir():
		return canCreateIn(target)
	case fi.Mode().IsRegular():
		f, err := os.OpenFile(target, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			return fmt.Errorf("cannot append to it: %v; give this account the right to write it", fileerr.Reason(err))
		}
		return f.Close()
	case direct(fi):
		return canWrite(target)
	}
	return notAFile(fi)
}

// canCreateIn checks that dir is a folder in which this account can create
// a file, by creating and removing an empty one.
func canCreateIn(dir string) error {
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("the folder %s does not exist; create it first", dir)
	case err != nil:
		return fmt.Errorf("the folder %s: %v", dir, fileerr.Reason(err))
	case !fi.IsDir():
		return fmt.Errorf("%s is not a folder", dir)
	}
	f, err := os.CreateTemp(dir, ".upnsync-check-*.tmp")
	if err != nil {
		return fmt.Errorf("cannot create files in the folder %s: %v; give this account the right to write there", dir, fileerr.Reason(err))
	}
	name := f.Name()
	f.Close()
	return os.Remove(name)
}
