// Package runlock makes sure that only one upnsync run writes to a store at
// a time: an OS file lock (flock on Unix, LockFileEx on Windows) on a lock
// file beside the store's record. The file also says who holds the lock
// and since when, so that a second run can tell the administrator. The
// operating system releases the lock when its holder dies, however it
// dies, so a killed run never leaves a lock that blocks the next one; its
// details stay in the file and the next run reports them as stale.
//
// gofrs/flock was considered: on Windows it locks the file's first byte,
// which makes the holder's details unreadable to the second run (Windows
// locks are mandatory). Here the locked byte lies far beyond the end of
// the file instead.
package runlock

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/upnsync/upnsync/internal/atomicfile"
)

// Holder says who holds a lock. It never holds a password: Command is the
// subcommand and mode, not the command line.
type Holder struct {
	PID     int       `json:"pid"`
	Host    string    `json:"host"`
	User    string    `json:"user,omitempty"`
	Command string    `json:"command"`
	Since   time.Time `json:"since"`
}

// Describe is the holder in words: pid 123 on host h (user u), `cmd`,
// since TIME (5m ago).
func (h Holder) Describe(now time.Time) string {
	if h.PID == 0 {
		return "a process that has not written its details yet"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "pid %d on %s", h.PID, h.Host)
	if h.User != "" {
		fmt.Fprintf(&b, " (user %s)", h.User)
	}
	if h.Command != "" {
		fmt.Fprintf(&b, ", `%s`", h.Command)
	}
	if !h.Since.IsZero() {
		fmt.Fprintf(&b, ", since %s (%s ago)", h.Since.UTC().Format("2006-01-02 15:04:05 UTC"), now.Sub(h.Since).Round(time.Second))
	}
	return b.String()
}

// HeldError is returned when another process holds the lock.
type HeldError struct {
	Path   string
	Holder Holder
	Waited time.Duration
}

func (e *HeldError) Error() string {
	what := fmt.Sprintf("another upnsync run holds the lock %s: %s", e.Path, e.Holder.Describe(time.Now()))
	if e.Waited > 0 {
		return fmt.Sprintf("%s; waited %s; try again when it has finished (or wait longer with --wait-lock)", what, e.Waited)
	}
	return what + "; try again when it has finished, or wait for it with --wait-lock DURATION (/WaitLock:DURATION)"
}

// Lock is a held lock.
type Lock struct {
	f    *os.File
	path string
	// Stale is the holder a previous run left in the file when it ended
	// without releasing the lock (killed, crashed, machine stopped): the
	// operating system released it; the details are for the log.
	Stale *Holder
}

// pollEvery is how often a waiting run tries again.
const pollEvery = 200 * time.Millisecond

// Acquire takes the lock at path for me, waiting up to wait (0: not at
// all) while another process holds it. The file is created if missing,
// readable by its owner only (atomicfile.Private).
func Acquire(ctx context.Context, path string, me Holder, wait time.Duration) (*Lock, error) {
	f, err := openLockFile(path)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	for {
		ok, err := tryLock(f)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("cannot lock %s: %v", path, err)
		}
		if ok && !samePath(f, path) {
			// The holder removed the file as it let go (Remove): this lock
			// is on a file nobody else will open. Take the one at path.
			f.Close()
			if f, err = openLockFile(path); err != nil {
				return nil, err
			}
			continue
		}
		if ok {
			break
		}
		held := &HeldError{Path: path, Holder: readHolder(path)}
		if time.Since(start) >= wait {
			f.Close()
			if wait > 0 {
				held.Waited = wait
			}
			return nil, held
		}
		t := time.NewTimer(min(pollEvery, wait-time.Since(start)))
		select {
		case <-ctx.Done():
			t.Stop()
			f.Close()
			return nil, fmt.Errorf("stopped while waiting for the lock %s (held by %s): %w", path, held.Holder.Describe(time.Now()), ctx.Err())
		case <-t.C:
		}
	}
	l := &Lock{f: f, path: path}
	if prev := readHolderFile(f); prev.PID != 0 {
		l.Stale = &prev
	}
	if me.Since.IsZero() {
		me.Since = time.Now()
	}
	data, _ := json.Marshal(me)
	if err := writeHolder(f, append(data, '\n')); err != nil {
		l.Release()
		return nil, fmt.Errorf("cannot write to the lock file %s: %v", path, err)
	}
	return l, nil
}

// Release empties the file (a clean end leaves no holder behind) and
// unlocks it. The file stays: removing it would let a waiting process lock
// a file that a third one then recreates.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Truncate(0)
	if e := unlock(l.f); err == nil {
		err = e
	}
	if e := l.f.Close(); err == nil {
		err = e
	}
	l.f = nil
	return err
}

// Remove releases the lock and deletes its file: for a lock beside a
// store that does not exist (a command that failed before creating it),
// whose file would only be left behind. A process waiting for the lock
// meanwhile finds its file gone once it gets the lock, and takes the lock
// on a new one (Acquire), so two runs never hold two files at once. On
// Windows the file is deleted after it is closed, and only when no other
// process has it open (then it stays, in use).
func (l *Lock) Remove() error {
	if l == nil || l.f == nil {
		return nil
	}
	if removeWhileLocked {
		err := os.Remove(l.path)
		if e := l.Release(); err == nil {
			err = e
		}
		return err
	}
	err := l.Release()
	os.Remove(l.path) // fails while another process has it open: it stays
	return err
}

// openLockFile opens (or creates) the lock file at path.
func openLockFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if errors.Is(err, fs.ErrNotExist) {
		f, err = atomicfile.CreateNew(path, atomicfile.Private)
		if errors.Is(err, fs.ErrExist) {
			f, err = os.OpenFile(path, os.O_RDWR, 0)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("cannot open the lock file %s: %v; run as the account that runs upnsync on this store, or give it write access to the folder", path, unwrap(err))
	}
	return f, nil
}

// samePath tells whether the open file f is still the file at path.
func samePath(f *os.File, path string) bool {
	a, err := f.Stat()
	if err != nil {
		return false
	}
	b, err := os.Stat(path)
	return err == nil && os.SameFile(a, b)
}

// Path is the lock file.
func (l *Lock) Path() string { return l.path }

func writeHolder(f *os.File, data []byte) error {
	if err := f.Truncate(0); err != nil {
		return err
	}
	if _, err := f.WriteAt(data, 0); err != nil {
		return err
	}
	return f.Sync()
}

// maxHolder bounds what is read of a lock file.
const maxHolder = 4096

func readHolder(path string) Holder {
	f, err := os.Open(path)
	if err != nil {
		return Holder{}
	}
	defer f.Close()
	return readHolderFile(f)
}

func readHolderFile(f *os.File) Holder {
	data, err := io.ReadAll(io.NewSectionReader(f, 0, maxHolder))
	if err != nil && !errors.Is(err, io.EOF) {
		return Holder{}
	}
	var h Holder
	if json.Unmarshal([]byte(strings.TrimSpace(string(data))), &h) != nil {
		return Holder{}
	}
	return h
}

func unwrap(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
