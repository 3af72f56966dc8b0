package run

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"

	"github.com/upnsync/upnsync/internal/atomicfile"
)

// metricLastSuccess survives failed runs: the file is rewritten by each
// run, so a failed run carries the previous value over from it. Alerting
// on its age is the one rule that catches every kind of failure, a run
// that never starts included.
const metricLastSuccess = "upnsync_last_success_timestamp_seconds"

// writeMetrics writes the run's metrics in Prometheus's text format for
// node_exporter's textfile collector, through a temporary file and a
// rename so that the collector never reads half a file (the temporary
// name does not end in .prom, so the collector skips it).
func writeMetrics(env Env, path string, rec *runRecord) error {
	lastSuccess := 0.0
	if Succeeded(rec.ExitCode) {
		lastSuccess = unixSeconds(rec)
	} else if v, ok := readMetric(path, metricLastSuccess); ok {
		lastSuccess = v
	}
	var b bytes.Buffer
	renderMetrics(&b, rec, lastSuccess)
	return writeOutput(env, path, atomicfile.Shared, func(w io.Writer) error {
		_, err := w.Write(b.Bytes())
		return err
	})
}

func unixSeconds(rec *runRecord) float64 {
	return float64(rec.Finished.UnixMilli()) / 1000
}

func renderMetrics(w io.Writer, rec *runRecord, lastSuccess float64) {
	gauge := func(name, help string, value float64, labels ...string) {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name)
		fmt.Fprintf(w, "%s%s %s\n", name, labelText(labels...), formatValue(value))
	}
	result := Result(rec.ExitCode)
	written, stale := 0, 0
	if rec.Applied != nil {
		written, stale = len(rec.Applied.Written), len(rec.Applied.Stale)
	}
	st := rec.Stats

	gauge(metricLastSuccess, "When a run last succeeded (exit code 0, 2 or 4), as a Unix time; 0 if none has.", lastSuccess)
	gauge("upnsync_last_run_timestamp_seconds", "When the last run finished, as a Unix time.", unixSeconds(rec))
	gauge("upnsync_last_run_exit_code", "Exit code of the last run: 0 in sync or applied, 1 error, 2 changes pending (dry run), 3 stopped by a guard, 4 conflicts.", float64(rec.ExitCode))

	name := "upnsync_last_run_result"
	fmt.Fprintf(w, "# HELP %s Result of the last run: 1 for its result, 0 for the others.\n# TYPE %s gauge\n", name, name)
	for _, r := range resultNames {
		v := 0.0
		if r == result {
			v = 1
		}
		fmt.Fprintf(w, "%s%s %s\n", name, labelText("result", r), formatValue(v))
	}

	gauge("upnsync_run_duration_seconds", "How long the last run took, by its result.",
		rec.Finished.Sub(rec.Started).Seconds(), "result", result, "mode", rec.Mode)
	gauge("upnsync_read_complete", "1 when the last run proved its directory read complete, else 0.", boolValue(rec.Read.Complete))
	gauge("upnsync_users_read", "Directory users read by the last run.", float64(rec.Read.Entries))
	gauge("upnsync_directory_pages", "Directory result pages read by the last run.", float64(rec.Read.Pages))
	gauge("upnsync_octopus_users", "Octopus users loaded from the store by the last run.", float64(st.StoreUsers))
	gauge("upnsync_users_matched", "Directory users matched to an Octopus user by the last run.", float64(st.Matched))
	gauge("upnsync_changes_planned", "Octopus users whose Windows usernames the last run found to change.", float64(st.Changes))
	gauge("upnsync_changes_applied", "Octopus users the last run wrote (0 in a dry run).", float64(written))
	gauge("upnsync_changes_stale", "Planned changes the last run did not write because the user changed meanwhile.", float64(stale))
	gauge("upnsync_conflicts", "Conflicts found by the last run.", float64(st.Conflicts))
	gauge("upnsync_unmatched", "Directory users with no Octopus user in the last run.", float64(st.Unmatched))
	gauge("upnsync_skipped", "Directory users the last run left out on purpose.", float64(st.Skipped))
	gauge("upnsync_peak_memory_bytes", "Peak resident memory of the upnsync process.", float64(rec.PeakMemory))
	gauge("upnsync_build_info", "Version of upnsync that wrote these metrics.", 1,
		"version", rec.Build.Version, "commit", rec.Build.Commit, "goversion", runtime.Version())
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// labelText renders {k="v",...}; values are escaped as the text format
// requires (backslash, double quote, newline).
func labelText(kv ...string) string {
	if len(kv) == 0 {
		return ""
	}
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	var b strings.Builder
	b.WriteByte('{')
	for i := 0; i+1 < len(kv); i += 2 {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `%s="%s"`, kv[i], r.Replace(kv[i+1]))
	}
	b.WriteByte('}')
	return b.String()
}

func formatValue(v float64) string {
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// readMetric reads one unlabelled sample from a metrics file written
// earlier; ok is false when the file or the sample is missing, and when
// the path is not a regular file (opening a pipe to read would wait for a
// writer; a device has no earlier run in it).
func readMetric(path, name string) (float64, bool) {
	if fi, err := os.Stat(path); err != nil || !fi.Mode().IsRegular() {
		return 0, false
	}
	f, err := os.Open(path)
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, found := strings.CutPrefix(sc.Text(), name+" ")
		if !found {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
		return v, err == nil
	}
	return 0, false
}
