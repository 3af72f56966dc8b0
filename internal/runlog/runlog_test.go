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
		f, path, folder, err := openLogFile(dir, now)
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
