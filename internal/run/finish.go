package run

import (
	"fmt"
	"io"
	"time"

	"github.com/upnsync/upnsync/internal/atomicfile"
	upnsync "github.com/upnsync/upnsync/sync"
	"github.com/upnsync/upnsync/sync/report"
)

// finish ends a run that planned: it writes the report and prints the
// console line (consoleLine), and returns o. A report that cannot be
// written is printed and logged as an error; it ends a run that wrote
// nothing with exit code 1 (the report was its product), but after an
// apply the exit code keeps saying what was written (Outcome.OutputErr).
func (ss *session) finish(plan *upnsync.Plan, meta report.Meta, o Outcome) Outcome {
	meta.Finished = time.Now()
	err := ss.writeReport(plan, meta)
	switch {
	case err == nil:
	case meta.Applied != nil:
		o.OutputErr = err
	case o.Err == nil:
		o.Err = err
	}
	if line := consoleLine(ss.s.Quiet, ss.s.ReportFile, err == nil, plan, meta, o); line != "" {
		io.WriteString(ss.env.Stdout, line+"\n")
	}
	return o
}

// writeReport renders the report to --report-file (atomically, or
// directly to a device or a pipe) or, without --quiet, to standard
// output. Its error is logged (the console shows it on standard error,
// --quiet or not) and returned as a *reportError.
func (ss *session) writeReport(plan *upnsync.Plan, meta report.Meta) error {
	s, env := ss.s, ss.env
	meta.CSVSeparator = s.CSVSeparator
	var err error
	switch {
	case s.ReportFile != "":
		err = writeOutput(env, s.ReportFile, atomicfile.Shared, func(w io.Writer) error { return report.Write(w, s.Report, plan, meta) })
		if err != nil {
			err = fmt.Errorf("writing the report to %s: %w", s.ReportFile, err)
		}
	case !s.Quiet:
		if err = report.Write(env.Stdout, s.Report, plan, meta); err != nil {
			err = fmt.Errorf("writing the report: %w", err)
		}
	}
	if err != nil {
		ss.log.Error(err.Error())
		return &reportError{err}
	}
	if env.Reported != nil {
		env.Reported(plan, meta)
	}
	return nil
}

// consoleLine is what a run prints on standard output besides its report
// (docs/design.md, "Standard output"): with --quiet, nothing when the run
// changed nothing, has nothing pending and no conflicts, and otherwise one
// line; without --quiet, that line when the report went to a file, with
// where it went. A report on standard output says it all itself.
func consoleLine(quiet bool, reportFile string, reported bool, plan *upnsync.Plan, meta report.Meta, o Outcome) string {
	switch {
	case reportFile == atomicfile.Stdout:
		return ""
	case quiet:
		if o.Written == 0 && o.Pending == 0 && o.Conflicts == 0 && o.Changed == 0 && o.Stopped == "" {
			return ""
		}
	case reportFile == "":
		return ""
	}
	code := ExitCode(o)
	title := "upnsync dry run"
	if meta.Mode == report.ModeApply {
		title = "upnsync apply"
	}
	if id := meta.RunID; id != "" {
		title += " " + id
	}
	line := fmt.Sprintf("%s: %s; exit code %d (%s)", title, report.SummaryLine(plan, meta), code, Meaning(code))
	if reportFile != "" && reported {
		line += "; report in " + reportFile
	}
	return line
}
