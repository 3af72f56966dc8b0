//go:build unix

package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/upnsync/upnsync/internal/faultproxy"
)

// A directory that fails while upnsync runs on its own schedule: each
// scheduled run retries its read (--retries) on a new connection, a run
// whose every attempt fails ends with exit code 1 in its log, summary and
// metrics, and the scheduler keeps going: the next run reads the directory
// again and finishes. The proxy's script gives each connection its fault:
// run 1 loses its first connection after page 1 and reads on the second;
// run 2 loses both of its attempts; run 3 and later pass.
func TestScheduleRidesOutATransientDirectory(t *testing.T) {
	e := newFaultEnv(t)
	p := e.proxy(t, "plain")
	lost := faultproxy.Fault{Action: faultproxy.Drop, AfterPages: openPages + 1}
	p.Script(lost, faultproxy.Fault{}, lost, lost)
	summary := filepath.Join(e.dir, "last-run.json")
	proc := startUpnsync(t, nil, e.args(p, "plain", "--schedule", "@every 1s", "--retries", "1",
		"--summary-file", summary, "--metrics-file", filepath.Join(e.dir, "upnsync.prom"),
		"--log-file-path", filepath.Join(e.dir, "logs")+"/", "--report-file", filepath.Join(e.dir, "report.txt"))...)
	finished := regexp.MustCompile(`scheduled run finished.*run="?(\d+)"? exit_code="?(\d+)"?`)
	codes := func() []string {
		var out []string
		for _, m := range finished.FindAllStringSubmatch(proc.stderr.String(), -1) {
			out = append(out, m[2])
		}
		return out
	}
	proc.waitFor("scheduled run finished", 3, 60*time.Second)
	if err := proc.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := proc.exited(30 * time.Second); code != exitOK {
		t.Fatalf("the scheduler exited %d, want 0:\n%s", code, proc.stderr)
	}
	errOut := proc.stderr.String()
	if got := codes(); len(got) < 3 || got[0] != "2" || got[1] != "1" || got[2] != "2" {
		t.Fatalf("exit codes of the runs %v, want 2 (retried once), 1 (every attempt lost), 2 (read again):\n%s", got, errOut)
	}
	for _, want := range []string{
		"attempt 1 of 2 failed: connection to " + p.URL("ldap") + " lost after page 1 of the read",
		"gave up after 2 attempts (--retries 1)",
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	if n := p.Connections(); n < 5*connsPerAttempt {
		t.Errorf("%d connections, want %d per attempt: 2 + 2 + at least 1 attempts", n, connsPerAttempt)
	}
	// Each run has its log; the failed one says why, and nothing was
	// written by any (these are dry runs).
	logs, _ := filepath.Glob(filepath.Join(e.dir, "logs", "upnsync_*.log"))
	failed := 0
	for _, l := range logs {
		data, _ := os.ReadFile(l)
		if strings.Contains(string(data), `msg="upnsync finished" exit_code=1`) {
			failed++
			if !strings.Contains(string(data), "gave up after 2 attempts") {
				t.Errorf("%s does not say why the run failed:\n%s", l, data)
			}
		}
	}
	if len(logs) < 3 || failed != 1 {
		t.Errorf("%d run logs, %d of a failed run; want one failed among at least 3", len(logs), failed)
	}
	var s summaryJSON
	data, err := os.ReadFile(summary)
	if err != nil || json.Unmarshal(data, &s) != nil || s.ExitCode != exitPending {
		t.Errorf("the summary after the last run: %v %s", err, data)
	}
}

// `upnsync doctor --timeout 1s` against a directory that accepts the
// connection and then never answers: the directory checks fail within
// the time-out, each on a line that says which step got no answer, and the
// doctor exits 1 instead of waiting.
func TestDoctorHonoursTimeoutOnAStalledDirectory(t *testing.T) {
	e := newFaultEnv(t)
	for _, tr := range []string{"ldaps", "plain"} {
		t.Run(tr, func(t *testing.T) {
			p := e.proxy(t, tr)
			p.Always(faultproxy.Fault{Action: faultproxy.Stall}) // until the client gives up
			started := time.Now()
			code, out, errOut := cli(t, nil, append([]string{"doctor"}, e.args(p, tr, "--timeout", "1s")...)...)
			took := time.Since(started)
			noStack(t, out, errOut)
			if code != exitError {
				t.Fatalf("exit %d, want 1\n%s\n%s", code, out, errOut)
			}
			if took > 20*time.Second {
				t.Errorf("the doctor took %s with --timeout 1s", took)
			}
			lines := doctorLines(out)
			var failed []string
			for check, ls := range lines {
				for _, l := range ls {
					if strings.HasPrefix(l, "FAIL") {
						failed = append(failed, check+": "+l)
					}
				}
			}
			if len(failed) != 1 || !strings.Contains(failed[0], "within 1s") || !strings.Contains(failed[0], p.Addr()) {
				t.Fatalf("want one FAIL line naming the server and the 1s time-out, got %q\n%s", failed, out)
			}
			if status(lines, "mapping file") != "PASS" || status(lines, "store") != "PASS" {
				t.Errorf("checks that do not need the directory did not pass:\n%s", out)
			}
		})
	}
}
