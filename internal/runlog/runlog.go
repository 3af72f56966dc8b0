// Package runlog is where a run logs: one line per warning or error on
// standard error, for an administrator at a terminal or cron's mail, and,
// with --log-file-path, everything from info up in a log file (a file per
// run in a folder, pruned to --log-keep), which is what support reads.
package runlog

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/upnsync/upnsync/config"
	"github.com/upnsync/upnsync/internal/fileerr"
)

// LevelNotice is for the few events an administrator watching a terminal
// wants without the whole log: a scheduled run starting and finishing, the
// next run's time. It sits between info and warning.
const LevelNotice = slog.LevelInfo + 2

// Log is where one run (or the scheduler) logs: the console handler on
// standard error and, with --log-file-path, the log file.
type Log struct {
	console slog.Handler
	// File is the log file's handler, nil without --log-file-path.
	File slog.Handler
	// Path is the log file, "" without one.
	Path    string
	closeFn func()
}

// Logger logs to the console and the file.
func (l *Log) Logger() *slog.Logger {
	if l.File == nil {
		return slog.New(l.console)
	}
	return slog.New(slog.NewMultiHandler(l.console, l.File))
}

// Close closes the log file.
func (l *Log) Close() {
	if l.closeFn != nil {
		l.closeFn()
	}
}

// Open opens a run's log: warnings and errors to stderr (nothing below
// errors with --quiet; the whole log as JSON lines with --log-format json,
// for containers) and, with --log-file-path, everything from info up to
// the log file: the settings, each search, change and conflict and the
// summary, which is what support asks for when a night's run went wrong.
// now names the file of a run in a log folder.
func Open(s *config.Settings, stderr io.Writer, now time.Time) (*Log, error) {
	l := &Log{console: Console(s, stderr)}
	if s.LogFile == "" {
		return l, nil
	}
	f, path, folder, warn, err := openLogFile(s.LogFile, now)
	if err != nil {
		return nil, err
	}
	l.Path = path
	l.File = formatHandler(s.LogFormat, f, slog.LevelInfo)
	l.closeFn = func() { _ = f.Close() }
	if warn != "" {
		slog.New(slog.NewMultiHandler(l.console, l.File)).Warn(warn)
	}
	if folder && s.LogKeep > 0 {
		for _, w := range pruneLogs(filepath.Dir(path), s.LogKeep) {
			slog.New(l.File).Warn(w)
		}
	}
	return l, nil
}

// Console is the handler of standard error alone, for the messages that
// belong to no run (the scheduler's).
func Console(s *config.Settings, stderr io.Writer) slog.Handler {
	if s.LogFormat == "json" {
		level := slog.LevelInfo
		if s.Quiet {
			level = slog.LevelError
		}
		return formatHandler("json", stderr, level)
	}
	level := LevelNotice
	if s.Quiet {
		level = slog.LevelError
	}
	return &consoleHandler{w: stderr, min: level}
}

// formatHandler is slog's text or JSON handler, with LevelNotice named
// NOTICE rather than INFO+2.
func formatHandler(format string, w io.Writer, level slog.Level) slog.Handler {
	opts := &slog.HandlerOptions{Level: level, ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
		if a.Key == slog.LevelKey && len(groups) == 0 {
			if l, ok := a.Value.Any().(slog.Level); ok && l == LevelNotice {
				a.Value = slog.StringValue("NOTICE")
			}
		}
		return a
	}}
	if format == "json" {
		return slog.NewJSONHandler(w, opts)
	}
	return slog.NewTextHandler(w, opts)
}

// openLogFile opens the log like ADSIReader's /LogFilePath: a folder gets
// a new file per run; a file is appended to. What the path names does not
// hang on a trailing separator, which Windows' quoting eats
// (/LogFilePath:"C:\logs\" takes in the rest of the line): an existing
// folder, a path ending in a separator, or a path whose name has no .log
// or .txt extension is a folder, created when missing; an existing file,
// or a name ending in .log or .txt, is the file. warn says why an
// existing file whose name says folder is still used as a file.
func openLogFile(p string, now time.Time) (f *os.File, path string, folder bool, warn string, err error) {
	fi, statErr := os.Stat(p)
	switch {
	case statErr == nil:
		folder = fi.IsDir()
		if !folder && fi.Mode().IsRegular() && namesFolder(p) {
			warn = fmt.Sprintf("the log file %s has no .log or .txt extension, so it reads as a folder; upnsync appends to the file that is there: delete or rename it to get a log folder with one file per run (and --log-keep)", p)
		}
	case isLink(p):
		// A link whose target does not exist yet: the log is the target,
		// created as a file, as every output follows its links.
		folder = false
	default:
		folder = namesFolder(p)
	}
	if folder && statErr != nil {
		if err := os.MkdirAll(p, 0o750); err != nil {
			return nil, p, true, "", fmt.Errorf("cannot create the log folder %s: %v; create it or give --log-file-path an existing folder", p, fileerr.Reason(err))
		}
	}
	if !folder {
		f, err = os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
		if err != nil {
			return nil, p, false, "", fmt.Errorf("cannot open the log file %s: %v; give --log-file-path an existing folder or a file it may write", p, fileerr.Reason(err))
		}
		return f, p, false, warn, nil
	}
	// Runs that start within the same second (a scheduler catching up,
	// two tasks) get _2, _3... rather than sharing a file.
	base := now.Format("upnsync_20060102_150405")
	for n := 1; ; n++ {
		name := base + ".log"
		if n > 1 {
			name = fmt.Sprintf("%s_%d.log", base, n)
		}
		path = filepath.Join(p, name)
		f, err = os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY|os.O_APPEND, 0o640)
		if err == nil {
			return f, path, true, "", nil
		}
		if !errors.Is(err, fs.ErrExist) || n >= 1000 {
			return nil, path, true, "", fmt.Errorf("cannot create the log file %s: %v; give --log-file-path an existing folder or a file it may write", path, fileerr.Reason(err))
		}
	}
}

// namesFolder tells a folder's name from a file's: a trailing separator,
// or no .log or .txt extension.
func namesFolder(p string) bool {
	if strings.HasSuffix(p, "/") || strings.HasSuffix(p, `\`) {
		return true
	}
	ext := strings.ToLower(filepath.Ext(p))
	return ext != ".log" && ext != ".txt"
}

// logName matches the files upnsync writes in a log folder; pruning never
// touches anything else.
var logName = regexp.MustCompile(`^upnsync_(\d{8}_\d{6})(?:_(\d+))?\.log$`)

// pruneLogs deletes the oldest of upnsync's log files in dir beyond keep
// and returns warnings for those it could not delete.
func pruneLogs(dir string, keep int) []string {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return []string{fmt.Sprintf("cannot list the log folder %s to delete old logs: %v", dir, fileerr.Reason(err))}
	}
	type logFile struct {
		name, stamp string
		n           int
	}
	var logs []logFile
	for _, e := range entries {
		m := logName.FindStringSubmatch(e.Name())
		if m == nil || !e.Type().IsRegular() {
			continue
		}
		n, _ := strconv.Atoi(m[2])
		logs = append(logs, logFile{e.Name(), m[1], n})
	}
	if len(logs) <= keep {
		return nil
	}
	slices.SortFunc(logs, func(a, b logFile) int {
		if c := strings.Compare(a.stamp, b.stamp); c != 0 {
			return c
		}
		return a.n - b.n
	})
	var warnings []string
	for _, lf := range logs[:len(logs)-keep] {
		if err := os.Remove(filepath.Join(dir, lf.name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			warnings = append(warnings, fmt.Sprintf("cannot delete the old log %s (--log-keep %d): %v", filepath.Join(dir, lf.name), keep, fileerr.Reason(err)))
		}
	}
	return warnings
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
	if r.Level >= slog.LevelWarn && r.Level < slog.LevelError {
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

// isLink tells a symbolic link (whose target may not exist).
func isLink(p string) bool {
	fi, err := os.Lstat(p)
	return err == nil && fi.Mode()&os.ModeSymlink != 0
}
