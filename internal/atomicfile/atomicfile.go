// Package atomicfile is where upnsync writes the files it creates: it
// replaces a file so that a reader (DataImporter, the textfile collector,
// an administrator's script, the next run) sees either the old content or
// the new, never half of it, even when upnsync is killed or the disk fills
// part way; it writes a device or a pipe directly; it gives every file it
// creates one of two modes, whatever the umask (docs/safety.md, "File
// modes"); and it checks, before a run writes anything, that a path can be
// written (Check).
package atomicfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
)

// The modes of the files upnsync creates. Every one of them holds people's
// names, e-mail addresses or Windows usernames, or what was done to them.
const (
	// Private is for what only upnsync's own account reads: the SQLite
	// store and its journal, the state database, saved plans, store
	// exports, lock files.
	Private fs.FileMode = 0o600
	// Shared is for what other people or programs read through the file's
	// group (the folder's group, on a folder with the setgid bit): logs
	// (support), reports and HTML pages (reviewers), the run summary and
	// metrics (monitoring), a DataImporter workbook (Octopus's
	// DataImporter). Never other users.
	Shared fs.FileMode = 0o640
)

// Stdout is the path that names standard output: what is written to it
// goes to the writer the caller gives for standard output.
const Stdout = "-"

// Write writes what write produces to path, to standard output for "-"
// (WriteTo with os.Stdout).
func Write(path string, perm fs.FileMode, write func(io.Writer) error) error {
	return WriteTo(path, os.Stdout, perm, write)
}

// WriteTo writes what write produces to path:
//   - "-" is stdout;
//   - a character device (/dev/null, NUL) or a named pipe is written
//     directly, as a shell's redirection would: it is never replaced;
//   - a regular file, or a path that does not exist yet, is replaced
//     atomically: the content goes to a temporary file in the same folder
//     (a rename is atomic only within one file system), flushed to disk,
//     given perm, then renamed over path. On any error path is left as it
//     was and the temporary file is removed;
//   - anything else (a folder, a block device, a socket) is an error.
//
// A symbolic link is followed, to its end even when that does not exist
// yet: the file it points at is written and the link stays a link.
func WriteTo(path string, stdout io.Writer, perm fs.FileMode, write func(io.Writer) error) error {
	if path == Stdout {
		return write(stdout)
	}
	target, fi, err := resolve(path)
	if err != nil {
		return err
	}
	if fi != nil && !fi.Mode().IsRegular() {
		if !direct(fi) {
			return &os.PathError{Op: "write", Path: path, Err: notAFile(fi)}
		}
		return writeDirect(target, write)
	}
	return replace(target, perm, write)
}

// direct tells the paths written in place: character devices and pipes.
func direct(fi fs.FileInfo) bool {
	m := fi.Mode()
	return m&fs.ModeNamedPipe != 0 || m&fs.ModeCharDevice != 0
}

// notAFile says why a path that is not a regular file cannot be written.
func notAFile(fi fs.FileInfo) error {
	switch m := fi.Mode(); {
	case m.IsDir():
		return errors.New("it is a folder, not a file: give a file name")
	case m&fs.ModeDevice != 0:
		return errors.New("it is a block device, not a file")
	case m&fs.ModeSocket != 0:
		return errors.New("it is a socket, not a file")
	}
	return fmt.Errorf("it is not a regular file (%v)", fi.Mode().Type())
}

func writeDirect(path string, write func(io.Writer) error) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func replace(path string, perm fs.FileMode, write func(io.Writer) error) error {
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

// maxLinks bounds the symbolic links followed, as the kernel does (40).
const maxLinks = 40

// resolve follows path's symbolic links to the path written and its
// FileInfo (nil when it does not exist yet). A link whose target does not
// exist resolves to that target, which the write then creates.
func resolve(path string) (string, fs.FileInfo, error) {
	p := path
	for range maxLinks {
		fi, err := os.Lstat(p)
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
			// ENOTDIR: a file where a folder of the path should be, which
			// the checks name.
			return p, nil, nil
		}
		if err != nil {
			return p, nil, err
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			return p, fi, nil
		}
		to, err := os.Readlink(p)
		if err != nil {
			return p, nil, err
		}
		if !filepath.IsAbs(to) {
			to = filepath.Join(filepath.Dir(p), to)
		}
		p = to
	}
	return p, nil, &os.PathError{Op: "open", Path: path, Err: errors.New("too many levels of symbolic links")}
}

// CreateNew creates a file that must not exist yet, with exactly perm
// (the umask is not applied), for the files that are not replaced whole
// (a database, a log, a lock).
func CreateNew(path string, perm fs.FileMode) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return nil, err
	}
	if err := f.Chmod(perm); err != nil && runtime.GOOS != "windows" {
		f.Close()
		os.Remove(path)
		return nil, err
	}
	return f, nil
}

// Created gives a regular file this run has just created exactly perm,
// whatever the umask was when it was created (a log file opened by
// another package). Anything else (a device, a pipe) is left as it is.
func Created(path string, perm fs.FileMode) error {
	fi, err := os.Stat(path)
	if err != nil || !fi.Mode().IsRegular() || runtime.GOOS == "windows" {
		return err
	}
	if fi.Mode().Perm() == perm {
		return nil
	}
	return os.Chmod(path, perm)
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
