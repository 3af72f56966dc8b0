//go:build unix

package atomicfile

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/upnsync/upnsync/internal/testenv"
)

// NullDevice makes a null device in dir (never /dev/null itself).
func NullDevice(t *testing.T, dir string) string {
	return testenv.CharDevice(t, dir, "null", testenv.NullDevice)
}

func writeString(s string) func(io.Writer) error {
	return func(w io.Writer) error { _, err := io.WriteString(w, s); return err }
}

// A character device is written, never replaced: as root, a rename over
// /dev/null turned it into a regular file for every program after.
func TestWriteToADeviceKeepsTheDevice(t *testing.T) {
	dir := t.TempDir()
	null := NullDevice(t, dir)
	if err := Check(null); err != nil {
		t.Fatalf("Check(%s): %v", null, err)
	}
	if err := Write(null, Shared, writeString("the report")); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Lstat(null)
	if err != nil || fi.Mode()&fs.ModeCharDevice == 0 {
		t.Fatalf("%s is no longer a character device: %v %v", null, fi.Mode(), err)
	}
	assertNoTemporaries(t, dir, 1)
}

// A named pipe is written in place: whatever reads it gets the content.
func TestWriteToAPipe(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "report.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Check(fifo); err != nil {
		t.Fatalf("Check: %v", err)
	}
	got := make(chan string, 1)
	go func() {
		data, _ := os.ReadFile(fifo)
		got <- string(data)
	}()
	if err := Write(fifo, Private, writeString("through the pipe")); err != nil {
		t.Fatal(err)
	}
	select {
	case s := <-got:
		if s != "through the pipe" {
			t.Fatalf("the reader got %q", s)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the reader got nothing")
	}
	if fi, _ := os.Lstat(fifo); fi.Mode()&fs.ModeNamedPipe == 0 {
		t.Fatalf("the pipe became %v", fi.Mode())
	}
	assertNoTemporaries(t, dir, 1)
}

// A link to a device writes the device; a link to a path that does not
// exist yet creates that path and stays a link.
func TestWriteThroughLinks(t *testing.T) {
	dir := t.TempDir()
	null := NullDevice(t, dir)
	link := filepath.Join(dir, "to-null")
	if err := os.Symlink("null", link); err != nil {
		t.Fatal(err)
	}
	if err := Write(link, Shared, writeString("x")); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Lstat(null); fi.Mode()&fs.ModeCharDevice == 0 {
		t.Fatalf("the device became %v", fi.Mode())
	}
	dangling := filepath.Join(dir, "last-report.txt")
	if err := os.Symlink(filepath.Join(dir, "reports", "night.txt"), dangling); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "reports"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := Check(dangling); err != nil {
		t.Fatal(err)
	}
	if err := Write(dangling, Shared, writeString("night")); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(dangling); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		t.Fatalf("the link was replaced: %v", err)
	}
	if data, _ := os.ReadFile(filepath.Join(dir, "reports", "night.txt")); string(data) != "night" {
		t.Fatalf("the link's target holds %q", data)
	}
}

// "-" is the standard output the caller gives.
func TestWriteToStandardOutput(t *testing.T) {
	var out bytes.Buffer
	if err := WriteTo(Stdout, &out, Private, writeString("to stdout")); err != nil || out.String() != "to stdout" {
		t.Fatalf("%q %v", out.String(), err)
	}
	if err := Check(Stdout); err != nil {
		t.Fatal(err)
	}
}

// A folder, or a socket, where a file is expected is refused before and
// at the write; nothing is created.
func TestWriteRefusesWhatIsNotAFile(t *testing.T) {
	dir := t.TempDir()
	folder := filepath.Join(dir, "reports")
	if err := os.Mkdir(folder, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := Check(folder); err == nil || !strings.Contains(err.Error(), "is a folder") {
		t.Errorf("Check(folder): %v", err)
	}
	if err := Write(folder, Shared, writeString("x")); err == nil || !strings.Contains(err.Error(), "is a folder") {
		t.Errorf("Write(folder): %v", err)
	}
	if err := Check(filepath.Join(dir, "missing", "report.txt")); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("Check(missing folder): %v", err)
	}
	assertNoTemporaries(t, dir, 1)
}

// A folder this account may not write is refused by Check (not as root,
// which may write anywhere).
func TestCheckAReadOnlyFolder(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root writes into any folder")
	}
	dir := t.TempDir()
	os.Chmod(dir, 0o500)
	t.Cleanup(func() { os.Chmod(dir, 0o700) })
	if err := Check(filepath.Join(dir, "r.txt")); err == nil || !strings.Contains(err.Error(), "cannot create files") {
		t.Fatalf("Check: %v", err)
	}
}

// The modes are exact whatever the umask: 0 would make them world
// readable, 077 would hide a log from its group.
func TestModesIgnoreTheUmask(t *testing.T) {
	for _, umask := range []int{0, 0o22, 0o77} {
		old := syscall.Umask(umask)
		dir := t.TempDir()
		for _, perm := range []fs.FileMode{Private, Shared} {
			path := filepath.Join(dir, "replaced-"+perm.String())
			if err := Write(path, perm, writeString("x")); err != nil {
				t.Fatal(err)
			}
			created := filepath.Join(dir, "created-"+perm.String())
			f, err := CreateNew(created, perm)
			if err != nil {
				t.Fatal(err)
			}
			f.Close()
			opened := filepath.Join(dir, "opened-"+perm.String())
			g, err := os.OpenFile(opened, os.O_CREATE|os.O_WRONLY, 0o666)
			if err != nil {
				t.Fatal(err)
			}
			g.Close()
			if err := Created(opened, perm); err != nil {
				t.Fatal(err)
			}
			for _, p := range []string{path, created, opened} {
				if fi, _ := os.Stat(p); fi.Mode().Perm() != perm {
					t.Errorf("umask %03o: %s has mode %v, want %v", umask, filepath.Base(p), fi.Mode().Perm(), perm)
				}
			}
		}
		if _, err := CreateNew(filepath.Join(dir, "created-"+Private.String()), Private); !errors.Is(err, fs.ErrExist) {
			t.Errorf("CreateNew over an existing file: %v", err)
		}
		syscall.Umask(old)
	}
}

// CheckAppend: a log file may be appended to, a log folder (existing, or
// created under a folder that exists) may take files, a device or a pipe
// is written.
func TestCheckAppend(t *testing.T) {
	dir := t.TempDir()
	null := NullDevice(t, dir)
	file := filepath.Join(dir, "upnsync.log")
	os.WriteFile(file, []byte("old\n"), 0o640)
	for _, p := range []string{null, file, dir, filepath.Join(dir, "logs", "2026") + "/", filepath.Join(dir, "new.log")} {
		if err := CheckAppend(p); err != nil {
			t.Errorf("CheckAppend(%s): %v", p, err)
		}
	}
	if err := CheckAppend(filepath.Join(file, "logs") + "/"); err == nil || !strings.Contains(err.Error(), "is a file, not a folder") {
		t.Errorf("CheckAppend under a file: %v", err)
	}
	if data, _ := os.ReadFile(file); string(data) != "old\n" {
		t.Errorf("CheckAppend changed the log: %q", data)
	}
	if _, err := os.Stat(filepath.Join(dir, "logs")); err == nil {
		t.Error("CheckAppend created a folder")
	}
}
