package main

import (
	"encoding/json"
	"html"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/upnsync/upnsync/internal/testenv/browser"
)

// fact is how the HTML report's header shows one fact of the run.
func fact(label, value string) string {
	return "<dt>" + label + "</dt><dd>" + html.EscapeString(value) + "</dd>"
}

func readText(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// The HTML report through the command: --report html with --report-file
// (and never to the terminal), plan --out with the page beside the plan,
// apply's page, and report html of a saved JSON report and a saved plan.
func TestReportHTMLThroughTheCommand(t *testing.T) {
	d := newDemo(t)
	in := func(name string) string { return filepath.Join(d.dir, name) }

	code, out, errOut := cli(t, nil, d.gnu("--report", "html")...)
	if code != 1 || out != "" || !strings.HasPrefix(errOut, "upnsync: --report html writes a page for a browser, not for the terminal: give --report-file FILE.html too (or /ReportFilePath:FILE.html)\n") {
		t.Errorf("--report html to the terminal: exit %d\n%s\n%s", code, out, errOut)
	}

	if code, _, errOut := cli(t, nil, d.gnu("--report", "json", "--report-file", in("dry.json"))...); code != exitPending {
		t.Fatalf("JSON dry run: exit %d\n%s", code, errOut)
	}
	var dry struct {
		RunID string `json:"run_id"`
	}
	if err := json.Unmarshal([]byte(readText(t, in("dry.json"))), &dry); err != nil || dry.RunID == "" {
		t.Fatalf("the JSON report has no run id: %v", err)
	}

	code, out, errOut = cli(t, nil, d.gnu("--report", "html", "--report-file", in("dry.html"))...)
	if code != exitPending || !strings.HasSuffix(out, "; report in "+in("dry.html")+"\n") {
		t.Fatalf("HTML dry run: exit %d\n%s\n%s", code, out, errOut)
	}
	page := readText(t, in("dry.html"))
	for _, want := range []string{"<!DOCTYPE html>", `<meta http-equiv="Content-Security-Policy" content="default-src &#39;none&#39;; script-src &#39;sha256-`,
		"<title>upnsync dry run</title>", fact("Mapping file", d.mapping), fact("NetBIOS name", "CORP (guessed from the DN's first DC= label: if the domain's NetBIOS name differs, give it with --netbios-domain)"), "<dt>Run id</dt><dd>20",
		`data-card="changes"><a href="#changes"><span class="n" data-count="9"`, "<td><code>--max-removals</code></td><td>500</td>",
		"To apply 9 changes, run the same command with --apply (or /Apply)."} {
		if !strings.Contains(page, want) {
			t.Errorf("the dry run's page lacks %q", want)
		}
	}
	// Windows spelling.
	if code, _, errOut := cli(t, nil, "/ConfigFilePath:"+d.mapping, "/Directory:ldif:"+d.ldif, "/Store:"+d.store,
		"/Report:HTML", "/ReportFilePath:"+in("win.html")); code != exitPending || !strings.Contains(readText(t, in("win.html")), "<title>upnsync dry run</title>") {
		t.Errorf("/Report:HTML: exit %d\n%s", code, errOut)
	}

	// A saved JSON report, rendered later: the same run's page.
	code, out, errOut = cli(t, nil, "report", "html", in("dry.json"), in("from-json.html"))
	if code != 0 || out != "Wrote the HTML report of "+in("dry.json")+" to "+in("from-json.html")+": open it in a browser.\n" {
		t.Fatalf("report html of a JSON report: exit %d\n%s\n%s", code, out, errOut)
	}
	fromJSON := readText(t, in("from-json.html"))
	for _, want := range []string{fact("Run id", dry.RunID), fact("Mapping file", d.mapping), fact("NetBIOS name", "CORP (guessed from the DN's first DC= label: if the domain's NetBIOS name differs, give it with --netbios-domain)"),
		`data-card="conflicts"><a href="#conflicts"><span class="n" data-count="5"`} {
		if !strings.Contains(fromJSON, want) {
			t.Errorf("the page of the saved JSON report lacks %q", want)
		}
	}

	// plan --out, with the page to review beside the plan.
	code, _, errOut = cli(t, nil, append([]string{"plan", "--out", in("plan.json"), "--report", "html", "--report-file", in("plan.html")}, d.gnu()...)...)
	if code != exitPending {
		t.Fatalf("plan: exit %d\n%s", code, errOut)
	}
	planPage := readText(t, in("plan.html"))
	for _, want := range []string{html.EscapeString("run upnsync apply " + in("plan.json")), html.EscapeString("plan saved to " + in("plan.json")),
		`data-card="conflicts"><a href="#conflicts"><span class="n" data-count="5"`} {
		if !strings.Contains(planPage, want) {
			t.Errorf("the plan's page lacks %q", want)
		}
	}
	// The saved plan, rendered later: its changes, the rest counted.
	if code, out, errOut := cli(t, nil, "report", "html", in("plan.json"), in("from-plan.html")); code != 0 || !strings.HasPrefix(out, "Wrote the HTML report of") {
		t.Fatalf("report html of a saved plan: exit %d\n%s\n%s", code, out, errOut)
	}
	fromPlan := readText(t, in("from-plan.html"))
	for _, want := range []string{"A saved plan (SHA-256 ", fact("Mapping file", d.mapping), html.EscapeString("run: upnsync apply " + in("plan.json")),
		`data-card="changes"><a href="#changes"><span class="n" data-count="9"`, "counted but not listed in this file"} {
		if !strings.Contains(fromPlan, want) {
			t.Errorf("the saved plan's page lacks %q", want)
		}
	}

	// apply PLAN's page: what it wrote, under the run id the journal has.
	if code, _, errOut := cli(t, nil, "apply", in("plan.json"), "--report", "html", "--report-file", in("apply.html")); code != exitConflicts {
		t.Fatalf("apply: exit %d\n%s", code, errOut)
	}
	_, runs, _ := cli(t, nil, "runs", "--store", d.store)
	runID, _, _ := strings.Cut(runs, " ")
	if applied := readText(t, in("apply.html")); !strings.Contains(applied, "<title>upnsync apply</title>") || !strings.Contains(applied, fact("Run id", runID)) {
		t.Errorf("apply's page lacks its title or the run id %s", runID)
	}

	// What report html refuses, each with one line naming the file.
	before := readText(t, in("dry.json"))
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{in("none.json"), in("x.html")}, "upnsync: cannot read " + in("none.json") + ": "},
		{[]string{d.mapping, in("x.html")}, "upnsync: " + d.mapping + " is neither a JSON report (--report json) nor a saved plan (plan --out); give one of those\n"},
		{[]string{in("dry.json"), in("dry.json")}, "upnsync: " + in("dry.json") + " is IN itself: give another file for the page (IN is never changed)\n"},
		{[]string{in("dry.json"), filepath.Join(d.dir, "no folder", "x.html")}, "upnsync: cannot write " + filepath.Join(d.dir, "no folder", "x.html") + ": the folder " + filepath.Join(d.dir, "no folder") + " does not exist; create it first\n"},
	} {
		code, out, errOut := cli(t, nil, append([]string{"report", "html"}, tt.args...)...)
		if code != 1 || out != "" || !strings.HasPrefix(errOut, tt.want) || strings.Count(errOut, "\n") != 1 {
			t.Errorf("report html %q: exit %d\n%s\n%s", tt.args, code, out, errOut)
		}
	}
	if _, err := os.Stat(in("x.html")); !os.IsNotExist(err) {
		t.Errorf("a refused report html left %s behind: %v", in("x.html"), err)
	}
	if readText(t, in("dry.json")) != before {
		t.Error("report html changed the file it read")
	}
}

// In a real browser, the pages of one run show the counts of its JSON
// report: the page rendered later from the saved report, and the page a
// second dry run of the same store writes itself.
func TestReportHTMLCountsEqualTheJSONReport(t *testing.T) {
	b := browser.New(t)
	d := newDemo(t)
	in := func(name string) string { return filepath.Join(d.dir, name) }
	if code, _, errOut := cli(t, nil, d.gnu("--report", "json", "--report-file", in("dry.json"))...); code != exitPending {
		t.Fatalf("JSON dry run: exit %d\n%s", code, errOut)
	}
	if code, _, errOut := cli(t, nil, "report", "html", in("dry.json"), in("from-json.html")); code != 0 {
		t.Fatalf("report html: exit %d\n%s", code, errOut)
	}
	if code, _, errOut := cli(t, nil, d.gnu("--report", "html", "--report-file", in("dry.html"))...); code != exitPending {
		t.Fatalf("HTML dry run: exit %d\n%s", code, errOut)
	}
	want := browser.CountsOfJSON(t, []byte(readText(t, in("dry.json"))))
	if want.Cards["changes"] != 9 || want.Cards["conflicts"] != 5 {
		t.Fatalf("the demo's dry run changed: %+v", want)
	}
	for _, page := range []string{in("from-json.html"), in("dry.html")} {
		b.Navigate(t, page)
		if got := browser.CountsOf(t, b); !got.Equal(want) {
			t.Errorf("%s shows %+v\nthe JSON report %+v", filepath.Base(page), got, want)
		}
		if v := browser.Eval[[]string](t, b, "window.__csp"); len(v) > 0 {
			t.Errorf("%s: CSP violations %q", filepath.Base(page), v)
		}
	}
	if m := b.Messages(); len(m) > 0 {
		t.Errorf("console: %q", m)
	}
}
