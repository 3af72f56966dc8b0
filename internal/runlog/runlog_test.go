package runlog

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/upnsync/upnsync/config"
)

// Two runs starting in the same second get two log files.
func TestLogFolderGivesEachRunItsOwnFile(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 3, 1, 1, 30, 0, 0, time.Local)
	var paths []string
	for range 3 {
		f, path, folder, _, err := openLogFile(dir, now)
		if err != nil || !folder {
			t.Fatal(err, folder)
		}
		f.Close()
		paths = append(paths, filepath.Base(path))
	}
	want := []string{"upnsync_20260301_013000.log", "upnsync_20260301_013000_2.log", "upnsync_20260301_013000_3.log"}
	if !slices.Equal(paths, want) {
		t.Fatalf("paths %q, want %q", paths, want)
	}
	// A named file is appended to, run after run.
	named := filepath.Join(dir, "upnsync.log")
	for range 2 {
		s := &config.Settings{LogFile: named, LogFormat: "text"}
		l, err := Open(s, os.Stderr, now)
		if err != nil {
			t.Fatal(err)
		}
		l.Logger().Info("run")
		l.Close()
	}
	data, _ := os.ReadFile(named)
	if strings.Count(string(data), "msg=run") != 2 {
		t.Fatalf("named log:\n%s", data)
	}
}

// Whether --log-file-path names a folder or a file does not hang on a
// trailing separator (which Windows' quoting eats): a path without a .log
// or .txt extension is a folder, created when missing; an existing file is
// appended to whatever its name, with a warning when its name says folder.
func TestLogPathFolderOrFile(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 3, 1, 1, 30, 0, 0, time.Local)
	for _, tt := range []struct {
		path   string
		folder bool
	}{
		{filepath.Join(dir, "logs"), true},
		{filepath.Join(dir, "Octopus config", "logs2") + string(filepath.Separator), true},
		{filepath.Join(dir, "deep", "logs.d"), true},
		{filepath.Join(dir, "upnsync.log"), false},
		{filepath.Join(dir, "upnsync.TXT"), false},
		{filepath.Join(dir, "upnsync.log"), false}, // existing now
		{filepath.Join(dir, "logs"), true},         // existing folder
	} {
		f, path, folder, warn, err := openLogFile(tt.path, now)
		if err != nil {
			t.Fatalf("%s: %v", tt.path, err)
		}
		f.Close()
		if folder != tt.folder || warn != "" {
			t.Errorf("%s: folder %v, want %v (warning %q)", tt.path, folder, tt.folder, warn)
		}
		fi, err := os.Stat(strings.TrimSuffix(tt.path, string(filepath.Separator)))
		if err != nil || fi.IsDir() != tt.folder {
			t.Errorf("%s: %v, folder on disk %v", tt.path, err, err == nil && fi.IsDir())
		}
		if tt.folder && filepath.Dir(path) != filepath.Clean(tt.path) {
			t.Errorf("%s: log written to %s", tt.path, path)
		}
	}
	// A file left by an older upnsync (or made by hand) named like a folder.
	old := filepath.Join(dir, "oldlogs")
	os.WriteFile(old, []byte("old\n"), 0o640)
	s := &config.Settings{LogFile: old, LogFormat: "text"}
	var stderr strings.Builder
	l, err := Open(s, &stderr, now)
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	if l.Path != old || !strings.Contains(stderr.String(), "has no .log or .txt extension, so it reads as a folder; upnsync appends to the file") {
		t.Errorf("path %s, stderr %q", l.Path, stderr.String())
	}
}
