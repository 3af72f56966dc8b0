package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// parseMetrics reads a metrics file with Prometheus's own text parser,
// with the legacy name rules node_exporter's textfile collector applies.
func parseMetrics(t *testing.T, path string) map[string]*dto.MetricFamily {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	parser := expfmt.NewTextParser(model.LegacyValidation)
	families, err := parser.TextToMetricFamilies(f)
	if err != nil {
		data, _ := os.ReadFile(path)
		t.Fatalf("%s is not Prometheus text: %v\n%s", path, err, data)
	}
	return families
}

// value returns the gauge of the sample whose labels include want.
func value(t *testing.T, fams map[string]*dto.MetricFamily, name string, want ...string) float64 {
	t.Helper()
	fam, ok := fams[name]
	if !ok {
		t.Fatalf("no metric %s", name)
	}
	if fam.GetType() != dto.MetricType_GAUGE {
		t.Fatalf("%s is a %s, want a gauge", name, fam.GetType())
	}
next:
	for _, m := range fam.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		for i := 0; i+1 < len(want); i += 2 {
			if labels[want[i]] != want[i+1] {
				continue next
			}
		}
		return m.GetGauge().GetValue()
	}
	t.Fatalf("no %s sample with labels %q", name, want)
	return 0
}

// The metrics file is Prometheus text that Prometheus's parser reads back,
// with the run's figures; a failed run keeps the last success's time.
func TestMetricsFileParsesAsPrometheusText(t *testing.T) {
	d := newDemo(t)
	metrics := filepath.Join(d.dir, "textfile", "upnsync.prom")
	if err := os.Mkdir(filepath.Dir(metrics), 0o755); err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	code, _, errOut := cli(t, nil, d.gnu("--metrics-file", metrics)...)
	if code != exitPending {
		t.Fatalf("dry run: exit %d %s", code, errOut)
	}
	m := parseMetrics(t, metrics)
	checks := []struct {
		name   string
		labels []string
		want   float64
	}{
		{"upnsync_users_read", nil, 31},
		{"upnsync_directory_pages", nil, 1},
		{"upnsync_octopus_users", nil, 32},
		{"upnsync_changes_planned", nil, 9},
		{"upnsync_changes_applied", nil, 0},
		{"upnsync_conflicts", nil, 5},
		{"upnsync_unmatched", nil, 3},
		{"upnsync_skipped", nil, 1},
		{"upnsync_read_complete", nil, 1},
		{"upnsync_last_run_exit_code", nil, 2},
		{"upnsync_last_run_result", []string{"result", "changes-pending"}, 1},
		{"upnsync_last_run_result", []string{"result", "error"}, 0},
		{"upnsync_build_info", []string{"version", version}, 1},
	}
	for _, c := range checks {
		if got := value(t, m, c.name, c.labels...); got != c.want {
			t.Errorf("%s%q = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	success := value(t, m, "upnsync_last_success_timestamp_seconds")
	if success < float64(start.Unix()) || success > float64(time.Now().Unix()+1) {
		t.Errorf("last success %v is not the time of this run (%v)", success, start.Unix())
	}
	if d := value(t, m, "upnsync_run_duration_seconds", "result", "changes-pending", "mode", "dry-run"); d <= 0 || d > 60 {
		t.Errorf("run duration %v", d)
	}
	if value(t, m, "upnsync_peak_memory_bytes") < 1<<20 {
		t.Error("peak memory below 1 MiB is not plausible")
	}

	// A failed run: exit code and result say so, the last success stays.
	code, _, _ = cli(t, nil, "--config-file-path", d.mapping, "--directory", "ldif:"+filepath.Join(d.dir, "gone.ldif"),
		"--store", d.store, "--metrics-file", metrics)
	if code != exitError {
		t.Fatalf("failed run: exit %d", code)
	}
	m = parseMetrics(t, metrics)
	if got := value(t, m, "upnsync_last_success_timestamp_seconds"); got != success {
		t.Errorf("a failed run changed the last success from %v to %v", success, got)
	}
	if value(t, m, "upnsync_last_run_exit_code") != 1 || value(t, m, "upnsync_last_run_result", "result", "error") != 1 ||
		value(t, m, "upnsync_last_run_result", "result", "changes-pending") != 0 || value(t, m, "upnsync_read_complete") != 0 {
		t.Error("the failed run is not reported as one")
	}

	// The apply: written users counted.
	code, _, _ = cli(t, nil, d.gnu("--metrics-file", metrics, "--apply")...)
	if code != exitConflicts {
		t.Fatalf("apply: exit %d", code)
	}
	m = parseMetrics(t, metrics)
	if value(t, m, "upnsync_changes_applied") != 9 || value(t, m, "upnsync_last_run_result", "result", "conflicts") != 1 ||
		value(t, m, "upnsync_run_duration_seconds", "result", "conflicts", "mode", "apply") <= 0 {
		t.Error("the apply's figures are wrong")
	}
	leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(metrics), "*"))
	if len(leftovers) != 1 {
		t.Errorf("the metrics folder holds more than the metrics file (temporary files left?): %v", leftovers)
	}
}

// The metrics file name that node_exporter would ignore is warned about.
func TestMetricsFileWithoutPromSuffixWarns(t *testing.T) {
	d := newDemo(t)
	_, _, errOut := cli(t, nil, d.gnu("--metrics-file", filepath.Join(d.dir, "upnsync.txt"))...)
	if !strings.Contains(errOut, "reads only *.prom files") {
		t.Fatalf("no warning: %q", errOut)
	}
}

// The summary file has the run's start, end, mode, counts, exit code and
// completeness, for an error as for a success.
func TestSummaryFile(t *testing.T) {
	d := newDemo(t)
	path := filepath.Join(d.dir, "last-run.json")
	read := func() map[string]any {
		t.Helper()
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(data, &m); err != nil {
			t.Fatalf("%v\n%s", err, data)
		}
		return m
	}
	code, _, _ := cli(t, nil, d.gnu("--summary-file", path, "--apply")...)
	s := read()
	if code != exitConflicts || s["version"] != 1.0 || s["mode"] != "apply" || s["exit_code"] != 4.0 || s["result"] != "conflicts" ||
		s["success"] != true || s["complete"] != true || s["directory"] != "ldif:"+d.ldif || s["store"] != d.store {
		t.Fatalf("summary after apply: %v", s)
	}
	for _, k := range []string{"started", "finished"} {
		if _, err := time.Parse(time.RFC3339, s[k].(string)); err != nil {
			t.Errorf("%s: %v", k, err)
		}
	}
	sum := s["summary"].(map[string]any)
	applied := s["applied"].(map[string]any)
	if sum["read"] != 31.0 || sum["changes"] != 9.0 || sum["conflicts"] != 5.0 || applied["written"] != 9.0 {
		t.Fatalf("counts: %v %v", sum, applied)
	}

	code, _, _ = cli(t, nil, "--config-file-path", d.mapping, "--directory", "ldif:"+filepath.Join(d.dir, "gone.ldif"),
		"--store", d.store, "--summary-file", path)
	s = read()
	if code != exitError || s["exit_code"] != 1.0 || s["result"] != "error" || s["success"] != false || s["complete"] != false ||
		!strings.Contains(s["error"].(string), "gone.ldif") || s["mode"] != "dry-run" {
		t.Fatalf("summary after an error: %v", s)
	}
	if _, ok := s["applied"]; ok {
		t.Error("a dry run's summary has an applied section")
	}
}
