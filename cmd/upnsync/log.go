package main

import (
	"context"
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
	handlers := []slog.Handler{&consoleHandler{w: stderr, min: level}}
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

// consoleHandler prints what an administrator at a terminal (or cron's
// mail) needs: one line per warning or error, "upnsync: ..." like the
// rest of the command's messages, with the attributes after the message.
type consoleHandler struct {
	w     io.Writer
	min   slog.Level
	attrs []slog.Attr
}

func (h *consoleHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.min }

func (h *consoleHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString("upnsync: ")
	if r.Level == slog.LevelWarn {
		b.WriteString("warning: ")
	}
	b.WriteString(r.Message)
	add := func(a slog.Attr) bool {
		if a.Equal(slog.Attr{}) {
			return true
		}
		fmt.Fprintf(&b, " %s=%q", a.Key, a.Value.String())
		return true
	}
	for _, a := range h.attrs {
		add(a)
	}
	r.Attrs(add)
	b.WriteByte('\n')
	_, err := io.WriteString(h.w, b.String())
	return err
}

func (h *consoleHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &consoleHandler{w: h.w, min: h.min, attrs: append(append([]slog.Attr(nil), h.attrs...), attrs...)}
}

// WithGroup is not used by upnsync's console output; attributes keep their
// own names.
func (h *consoleHandler) WithGroup(string) slog.Handler { return h }
