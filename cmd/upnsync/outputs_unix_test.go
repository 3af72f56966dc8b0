//go:build unix

package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/upnsync/upnsync/internal/testenv"
)

// Every command that writes a file, given a device, a pipe or a link:
// the device stays a device, the pipe's reader gets the content, the link
// stays a link to the file written.
func TestEveryOutputToADevicePipeOrLink(t *testing.T) {
	d := newDemo(t)
	null := testenv.CharDevice(t, d.dir, "null", testenv.NullDevice)
	in := func(name string) string { return filepath.Join(d.dir, name) }
	if code, _, errOut := cli(t, nil, d.gnu("--report", "json", "--report-file", in("dry.json"))...); code != exitPending {
		t.Fatalf("dry run: %d %s", code, errOut)
	}
	commands := func(out string) [][]string {
		return [][]string{
			d.gnu("--report-file", out),
			d.gnu("--summary-file", out),
			d.gnu("--metrics-file", out),
			d.gnu("--log-file-path", out),
			append([]string{"plan", "--out", out}, d.gnu()...),
			{"store", "export", "--store", d.store, out},
			{"mapping", "add-upn", d.mapping, out},
			{"report", "html", in("dry.json"), out},
		}
	}
	for _, args := range commands(null) {
		if code, _, errOut := cli(t, nil, args...); code != exitOK && code != exitPending {
			t.Errorf("%q: exit %d\n%s", args, code, errOut)
		}
		if fi, err := os.Lstat(null); err != nil || fi.Mode()&fs.ModeCharDevice == 0 {
			t.Fatalf("%q replaced the device: %v %v", args, fi.Mode(), err)
		}
	}
	for i, args := range commands(in("pipe")) {
		fifo := in("pipe")
		os.Remove(fifo)
		if err := syscall.Mkfifo(fifo, 0o600); err != nil {
			t.Fatal(err)
		}
		got := make(chan string, 1)
		go func() {
			data, _ := os.ReadFile(fifo)
			got <- string(data)
		}()
		if code, _, errOut := cli(t, nil, args...); code != exitOK && code != exitPending {
			t.Errorf("%q: exit %d\n%s", args, code, errOut)
		}
		select {
		case s := <-got:
			if len(s) == 0 {
				t.Errorf("%q: the pipe's reader got nothing", args)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("%q: nothing came through the pipe (case %d)", args, i)
		}
		if fi, _ := os.Lstat(fifo); fi.Mode()&fs.ModeNamedPipe == 0 {
			t.Errorf("%q replaced the pipe", args)
		}
	}
	for _, args := range commands(in("link")) {
		os.Remove(in("link"))
		os.Remove(in("target"))
		if err := os.Symlink("target", in("link")); err != nil {
			t.Fatal(err)
		}
		if code, _, errOut := cli(t, nil, args...); code != exitOK && code != exitPending {
			t.Errorf("%q: exit %d\n%s", args, code, errOut)
		}
		if fi, err := os.Lstat(in("link")); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
			t.Errorf("%q replaced the link", args)
		}
		if fi, err := os.Stat(in("target")); err != nil || fi.Size() == 0 {
			t.Errorf("%q: the link's target: %v", args, err)
		}
	}
}

// "-" is standard output for the files a command writes, and only that
// file goes there.
func TestDashIsStandardOutput(t *testing.T) {
	d := newDemo(t)
	code, out, _ := cli(t, nil, "store", "export", "--store", d.store, "-")
	// Every CSV upnsync writes starts with a UTF-8 byte order mark.
	if code != exitOK || !strings.HasPrefix(out, "\ufeffID,") || strings.Contains(out, "Exported") {
		t.Errorf("store export -: exit %d\n%s", code, out)
	}
	code, out, errOut := cli(t, nil, append([]string{"plan", "--out", "-", "--report-file", filepath.Join(d.dir, "r.txt")}, d.gnu()...)...)
	if code != exitPending || !strings.HasPrefix(out, "{\n  \"format\": \"upnsync-plan\"") || !strings.Contains(out, "report in "+filepath.Join(d.dir, "r.txt")) {
		t.Errorf("plan --out -: exit %d\n%.300s\n%s", code, out, errOut)
	}
	if code, _, errOut := cli(t, nil, append([]string{"plan", "--out", "-"}, d.gnu()...)...); code != exitError || !strings.Contains(errOut, "--out -: standard output already has the report") {
		t.Errorf("plan --out - with the report on standard output: exit %d %s", code, errOut)
	}
}
