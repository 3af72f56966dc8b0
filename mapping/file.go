package mapping

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/upnsync/upnsync/internal/atomicfile"
)

// DefaultFileName is the name Octopus ships the mapping file under.
const DefaultFileName = "ADSIReaderLDAPMappings.xml"

// Load reads, parses and validates a mapping file: what a sync run needs
// before it reads the directory. A file without the UPN entry is an error
// that says how to add it.
func Load(path string) (*Mapping, error) {
	m, err := ParseFile(path)
	if err != nil {
		return nil, err
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return m, nil
}

// ParseFile reads and parses a mapping file without requiring the UPN
// entry, so that `upnsync mapping check` can list a file before saying
// what is missing from it.
func ParseFile(path string) (*Mapping, error) {
	data, err := readFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// AddUPNFile runs AddUPN on the file in and writes the result to out, or
// back to in when out is "" or names the same file. changed reports whether
// the UPN entry had to be added. A file that already has it is not touched
// at all (its modification time stays); a separate out is written only when
// its content would differ. Writing goes through a temporary file in the
// same folder and a rename, so a crash leaves the old file or the new one,
// never half of one, and the file keeps its permissions.
func AddUPNFile(in, out string) (changed bool, err error) {
	data, err := readFile(in)
	if err != nil {
		return false, err
	}
	res, changed, err := AddUPN(in, data)
	if err != nil {
		return false, err
	}
	target := in
	if out != "" && !samePath(in, out) {
		target = out
	}
	if target == in && !changed {
		return false, nil
	}
	mode, err := targetMode(in, target)
	if err != nil {
		return false, err
	}
	if fi, err := os.Stat(target); err == nil && fi.Mode().IsRegular() && target != in {
		// (Never read a pipe or a device: reading a pipe waits for a
		// writer, which would be this very command.)
		if old, err := os.ReadFile(target); err == nil && bytes.Equal(old, res) {
			return changed, nil
		}
	}
	return changed, writeAtomic(target, res, mode)
}

func readFile(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fileError(path, err)
	}
	if fi.IsDir() {
		return nil, folderError(path)
	}
	if fi.Size() > maxFileSize {
		return nil, tooLarge(path, fi.Size())
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fileError(path, err)
	}
	defer f.Close()
	// The size from Stat may be wrong (a file still growing, a pipe).
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, fileError(path, err)
	}
	if len(data) > maxFileSize {
		return nil, tooLarge(path, int64(len(data)))
	}
	return data, nil
}

func fileError(path string, err error) error {
	e := &Error{File: path, Err: err}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		e.Msg = "no such file: copy " + DefaultFileName + " from the Octopus installation folder and pass its path"
	case errors.Is(err, fs.ErrPermission):
		e.Msg = "permission denied: run upnsync as an account that may read and write this file, or copy it to a folder of your own"
	default:
		e.Msg = "cannot use the file: " + osReason(err)
	}
	return e
}

// osReason drops the path an *fs.PathError repeats; the message already
// starts with it.
func osReason(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Op + ": " + pe.Err.Error()
	}
	return err.Error()
}

func folderError(path string) error {
	msg := "is a folder, not a file: pass the path of the mapping file itself"
	if fi, err := os.Stat(filepath.Join(path, DefaultFileName)); err == nil && !fi.IsDir() {
		msg += ", e.g. " + filepath.Join(path, DefaultFileName)
	}
	return &Error{File: path, Msg: msg}
}

func tooLarge(path string, size int64) error {
	return &Error{File: path, Msg: fmt.Sprintf(
		"the file is %.1f MiB, and a mapping file is a few kilobytes (upnsync reads at most %d MiB): check that this is %s",
		float64(size)/(1<<20), maxFileSize>>20, DefaultFileName)}
}

func samePath(a, b string) bool {
	fa, err1 := os.Stat(a)
	fb, err2 := os.Stat(b)
	if err1 == nil && err2 == nil {
		return os.SameFile(fa, fb)
	}
	aa, err1 := filepath.Abs(a)
	ab, err2 := filepath.Abs(b)
	return err1 == nil && err2 == nil && aa == ab
}

// targetMode is the permission the written file gets: the target's own when
// it exists, else the source's, so that a copy is as private as its origin.
func targetMode(in, target string) (fs.FileMode, error) {
	fi, err := os.Stat(target)
	switch {
	case err == nil && fi.IsDir():
		return 0, &Error{File: target, Msg: "is a folder: pass a file path for the output, e.g. " + filepath.Join(target, DefaultFileName)}
	case err == nil:
		return fi.Mode().Perm(), nil
	case !errors.Is(err, fs.ErrNotExist):
		return 0, fileError(target, err)
	}
	fi, err = os.Stat(in)
	if err != nil {
		return 0, fileError(in, err)
	}
	return fi.Mode().Perm(), nil
}

func writeAtomic(path string, data []byte, mode fs.FileMode) error {
	err := atomicfile.Write(path, mode, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
	if err != nil {
		return writeError(path, err)
	}
	return nil
}

func writeError(path string, err error) error {
	msg := "cannot write: " + osReason(err)
	if errors.Is(err, fs.ErrPermission) {
		msg = "cannot write: permission denied: run upnsync as an account that may write this folder, or pass an output path elsewhere"
	}
	return &Error{File: path, Msg: msg, Err: err}
}
