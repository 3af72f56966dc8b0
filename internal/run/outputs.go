package run

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/upnsync/upnsync/config"
	"github.com/upnsync/upnsync/internal/atomicfile"
	"github.com/upnsync/upnsync/internal/runlog"
)

// Output is a file a command writes besides the store: its option, its
// path, and what Outputs found when it checked it (nil: it can be written).
type Output struct {
	Option string
	Path   string
	Err    error
}

// Outputs checks, before anything is written, every output the settings
// name (--log-file-path, --report-file, --summary-file, --metrics-file,
// plan --out): its folder exists and this account can create files there,
// it is not a folder where a file is expected, a device or a pipe may be
// written (atomicfile.Check), no two outputs are the same file, and at
// most one goes to standard output ("-", or the report when it has no
// file). This is the one place that decides whether a run may start
// writing; doctor shows the same answers.
func Outputs(s *config.Settings) []Output {
	var outs []Output
	add := func(option, path string, check func(string) error) {
		if path != "" {
			o := Output{Option: option, Path: path}
			if err := check(path); err != nil {
				o.Err = fmt.Errorf("%s %s: %v", option, path, err)
			}
			outs = append(outs, o)
		}
	}
	add("--log-file-path", s.LogFile, func(p string) error {
		if p == atomicfile.Stdout {
			return errors.New("the log does not go to standard output: give a folder or a file (standard error has the warnings and errors; --log-format json puts the whole log there)")
		}
		return atomicfile.CheckAppend(p)
	})
	add("--report-file", s.ReportFile, atomicfile.Check)
	add("--summary-file", s.SummaryFile, atomicfile.Check)
	add("--metrics-file", s.MetricsFile, atomicfile.Check)
	if s.Command == "plan" {
		add("--out", s.Out, atomicfile.Check)
	}
	// Standard output carries one of them at most: the report does when it
	// has no file of its own.
	stdout := ""
	if s.ReportFile == "" && reports(s.Command) {
		stdout = "the report"
	}
	seen := map[string]string{}
	for i := range outs {
		o := &outs[i]
		if o.Err != nil {
			continue
		}
		if o.Path == atomicfile.Stdout {
			if stdout != "" {
				o.Err = fmt.Errorf("%s -: standard output already has %s; give one of them a file", o.Option, stdout)
			}
			stdout = o.Option + " -"
			continue
		}
		key := sameFileKey(o.Path)
		if other, ok := seen[key]; ok {
			o.Err = fmt.Errorf("%s %s: %s names the same file; give each its own", o.Option, o.Path, other)
			continue
		}
		seen[key] = o.Option
	}
	return outs
}

// reports tells the commands that end with a report.
func reports(command string) bool {
	switch command {
	case "", "sync", "plan", "apply", "undo":
		return true
	}
	return false
}

// sameFileKey names the file a path writes, so that two options naming it
// differently are caught: the absolute path, through symbolic links.
func sameFileKey(path string) string {
	abs, err := filepath.Abs(path)
	if err != nil {
		return path
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		return real
	}
	if dir, err := filepath.EvalSymlinks(filepath.Dir(abs)); err == nil {
		return filepath.Join(dir, filepath.Base(abs))
	}
	return abs
}

// checkOutputs is Outputs' first problem, or nil.
func checkOutputs(s *config.Settings) error {
	var errs []error
	for _, o := range Outputs(s) {
		if o.Err != nil {
			errs = append(errs, o.Err)
		}
	}
	if len(errs) == 0 {
		return nil
	}
	if len(errs) > 1 {
		return fmt.Errorf("%w (and %d more output problems: upnsync doctor lists them)", errs[0], len(errs)-1)
	}
	return errs[0]
}

// openLog checks the outputs, then opens the command's log: nothing is
// written, not even the log, when an output cannot be. A log file this
// command creates gets the mode of logs (atomicfile.Shared), whatever the
// umask.
func openLog(s *config.Settings, stderr io.Writer, started time.Time) (*runlog.Log, error) {
	if err := checkOutputs(s); err != nil {
		return nil, err
	}
	existed := false
	if fi, err := os.Stat(s.LogFile); err == nil && fi.Mode().IsRegular() {
		existed = true
	}
	l, err := runlog.Open(s, stderr, started)
	if err != nil {
		return nil, err
	}
	if l.Path != "" && (l.Path != s.LogFile || !existed) {
		if err := atomicfile.Created(l.Path, atomicfile.Shared); err != nil && !errors.Is(err, fs.ErrNotExist) {
			l.Logger().Warn(fmt.Sprintf("cannot set the mode of the log file %s: %v", l.Path, err))
		}
	}
	return l, nil
}

// writeOutput writes an output file: to env's standard output for "-",
// else through atomicfile.
func writeOutput(env Env, path string, perm fs.FileMode, write func(io.Writer) error) error {
	return atomicfile.WriteTo(path, env.Stdout, perm, write)
}
