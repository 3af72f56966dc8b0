package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	upnsyncdata "github.com/upnsync/upnsync"
	"github.com/upnsync/upnsync/config"
	upnrun "github.com/upnsync/upnsync/internal/run"
	upnsync "github.com/upnsync/upnsync/sync"
	"github.com/upnsync/upnsync/sync/report"
)

// runDemo runs the whole job on the embedded sample data in a temporary
// folder: a dry run, the apply, then a second dry run that finds nothing
// left to do. It goes through the same code as a real run.
func runDemo(ctx context.Context, s *config.Settings, stdout, stderr io.Writer) int {
	dir, err := os.MkdirTemp("", "upnsync-demo-")
	if err != nil {
		return fail(stderr, "cannot create a temporary folder for the demo: %v", err)
	}
	defer os.RemoveAll(dir)

	files := map[string]string{}
	for _, name := range []string{"ADSIReaderLDAPMappings.xml", "directory.ldif", "octopus-users.csv"} {
		data, err := upnsyncdata.Demo.ReadFile("testdata/demo/" + name)
		if err != nil {
			return fail(stderr, "demo data %s: %v", name, err)
		}
		files[name] = filepath.Join(dir, name)
		if err := os.WriteFile(files[name], data, 0o600); err != nil {
			return fail(stderr, "writing %s: %v", files[name], err)
		}
	}
	storeURL := "sqlite:" + filepath.Join(dir, "octopus-users.db")

	fmt.Fprintf(stdout, `upnsync demo
============
A sample domain CORP (corp.example.com) exported to LDIF, and an Octopus user
store seeded from a CSV export, in %s (removed at the end).

== Seeding the Octopus store ==
$ upnsync store import --store %s octopus-users.csv
`, dir, storeURL)
	is, err := parseDemo("store", "import", "--store", storeURL, files["octopus-users.csv"])
	if err != nil {
		return fail(stderr, "%v", err)
	}
	res, _, err := upnrun.ImportUsers(ctx, env(stdout, stderr), is, files["octopus-users.csv"])
	if err != nil {
		return fail(stderr, "%v", err)
	}
	fmt.Fprintf(stdout, "Imported %d Octopus users.\n", res.Read)

	base := []string{"--config-file-path", files["ADSIReaderLDAPMappings.xml"],
		"--directory", "ldif:" + files["directory.ldif"], "--store", storeURL, "--report", s.Report}
	// The dry run's report also goes, as the page a reviewer opens, to a
	// file that outlives the demo's folder (replaced by the next demo).
	page := filepath.Join(os.TempDir(), "upnsync-demo-report.html")
	var pageErr error
	writePage := func(plan *upnsync.Plan, meta report.Meta) { pageErr = upnrun.WriteHTML(page, plan, meta) }
	step := func(title string, reported func(*upnsync.Plan, report.Meta), extra ...string) int {
		args := append(append([]string(nil), base...), extra...)
		fmt.Fprintf(stdout, "\n== %s ==\n$ upnsync --config-file-path ADSIReaderLDAPMappings.xml --directory ldif:directory.ldif --store sqlite:octopus-users.db", title)
		for _, a := range extra {
			fmt.Fprintf(stdout, " %s", a)
		}
		fmt.Fprintln(stdout)
		ds, err := parseDemo(args...)
		if err != nil {
			return fail(stderr, "%v", err)
		}
		var out bytes.Buffer
		e := env(&out, stderr)
		e.Reported = reported
		code := upnrun.ExitCode(upnrun.Sync(ctx, e, ds))
		stdout.Write(out.Bytes())
		fmt.Fprintf(stdout, "(exit code %d: %s)\n", code, upnrun.Meaning(code))
		return code
	}

	if code := step("1. Dry run: what upnsync would change (nothing is written)", writePage); code != upnrun.ExitPending {
		return fail(stderr, "demo: the dry run should exit %d with changes pending, it exited %d", upnrun.ExitPending, code)
	}
	if pageErr != nil {
		return fail(stderr, "demo: the HTML report of the dry run: %v", pageErr)
	}
	fmt.Fprintf(stdout, "The same report as a page for reviewers (--report html): %s\n", page)
	if code := step("2. Apply: write the changes", nil, "--apply"); code != upnrun.ExitConflicts && code != upnrun.ExitOK {
		return fail(stderr, "demo: the apply exited %d", code)
	}
	code := step("3. Second dry run: nothing left to do (the conflicts stay until someone resolves them)", nil)
	if code == upnrun.ExitPending || code == upnrun.ExitError || code == upnrun.ExitGuard {
		return fail(stderr, "demo: the second run should plan no changes, it exited %d", code)
	}
	fmt.Fprintln(stdout, `
The demo is done. To run against your own directory, see upnsync --help:
  upnsync mapping add-upn ADSIReaderLDAPMappings.xml     (once, on your copy of the file)
  upnsync store import --store sqlite:octopus-users.db users.csv
  upnsync --config-file-path ADSIReaderLDAPMappings.xml --directory ldaps://dc1.corp.example.com \
          --login svc-upnsync@corp.example.com --password-file upnsync.pw`)
	return exitOK
}

// parseDemo reads a demo step's command line as upnsync's own, with no
// environment: the demo runs what it shows.
func parseDemo(args ...string) (*config.Settings, error) {
	return config.Parse(args, func(string) string { return "" })
}
