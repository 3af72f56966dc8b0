// Package run is upnsync's run as a library: a sync (dry run or --apply,
// on its own or scheduled), plan --out, apply PLAN and undo, each from
// settings to an Outcome, with the lock, the store, the apply, the journal
// and the report they share. cmd/upnsync parses, dispatches and prints;
// ExitCode turns the Outcome into the process's exit code.
package run

import (
	"io"
	"log/slog"
	"time"

	"github.com/upnsync/upnsync/config"
	"github.com/upnsync/upnsync/internal/progress"
	"github.com/upnsync/upnsync/internal/runlog"
	upnsync "github.com/upnsync/upnsync/sync"
	"github.com/upnsync/upnsync/sync/report"
)

// Env is what a run gets from the command line besides its settings:
// where the report and the console messages go, and which build runs.
type Env struct {
	Stdout, Stderr io.Writer
	Build          Build
	// Reported, when set, is given the plan and meta of each report the
	// run writes, once written (the demo writes the HTML page of its dry
	// run with it).
	Reported func(plan *upnsync.Plan, meta report.Meta)
}

// Build names the binary, for the log, the saved plan and the metrics.
type Build struct {
	// Version is the release ("dev" for a development build).
	Version string
	// Commit is the commit it was built from.
	Commit string
	// Line is what upnsync version prints.
	Line string
}

// inLog runs a command in its log (--log-file-path), opened when the
// command starts once its outputs are checked (openLog); when an output
// cannot be written or the log cannot be opened, it says why on standard
// error (there is no log to say it in) and nothing is written.
func inLog(env Env, s *config.Settings, command func(l *runlog.Log, started time.Time) Outcome) Outcome {
	started := time.Now()
	l, err := openLog(s, env.Stderr, started)
	if err != nil {
		printError(env, err)
		return Failed(err)
	}
	defer l.Close()
	return command(l, started)
}

// printError is a command's one-line error on standard error, for the
// errors that cannot go to the log.
func printError(env Env, err error) {
	io.WriteString(env.Stderr, "upnsync: "+err.Error()+"\n")
}

// showProgress tells whether this run draws progress lines.
func showProgress(env Env, s *config.Settings) bool {
	return progress.On(s.Quiet, s.LogFormat, env.Stderr)
}

func mode(s *config.Settings) string {
	if s.Apply {
		return report.ModeApply
	}
	return report.ModeDryRun
}

// logWarnings logs the warnings of the settings (a password on the command
// line, a metrics file node_exporter would not read).
func logWarnings(log *slog.Logger, s *config.Settings) {
	for _, w := range s.Warnings {
		log.Warn(w)
	}
}
