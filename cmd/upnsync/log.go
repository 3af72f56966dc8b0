package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/upnsync/upnsync/config"
)

// newLogger logs warnings and errors to stderr (nothing below errors with
// --quiet) and, with --log-file-path, everything from info up to the log
// file: the settings, each change and conflict and the summary, which is
// what support asks for when a night's run went wrong.
func newLogger(s *config.Settings, stderr io.Writer) (*slog.Logger, func(), error) {
	level := slog.LevelWarn
	if s.Quiet {
		level = slog.LevelError
	}
	handlers := []slog.Handler{slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})}
	closeFn := func() {}
	if s.LogFile != "" {
		path := logFilePath(s.LogFile, time.Now())
		f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
		if err != nil {
			return nil, nil, fmt.Errorf("cannot open the log file %s: %v; give --log-file-path an existing folder or a file it may write", path, unwrapPathErr(err))
		}
		handlers = append(handlers, slog.NewTextHandler(f, &slog.HandlerOptions{Level: slog.LevelInfo}))
		closeFn = func() { _ = f.Close() }
	}
	return slog.New(slog.NewMultiHandler(handlers...)), closeFn, nil
}

// logFilePath names the log like ADSIReader's /LogFilePath: a folder gets a
// file per run; anything else is the file itself.
func logFilePath(p string, now time.Time) string {
	fi, err := os.Stat(p)
	isDir := err == nil && fi.IsDir()
	if isDir || strings.HasSuffix(p, "/") || strings.HasSuffix(p, `\`) {
		if !isDir {
			_ = os.MkdirAll(p, 0o750)
		}
		return filepath.Join(p, now.Format("upnsync_20060102_150405")+".log")
	}
	return p
}

func unwrapPathErr(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}
