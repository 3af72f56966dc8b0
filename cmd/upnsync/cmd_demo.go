package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	upnsyncdata "github.com/upnsync/upnsync"
	"github.com/upnsync/upnsync/config"
	upnrun "github.com/upnsync/upnsync/internal/run"
	upnsync "github.com/upnsync/upnsync/sync"
	"github.com/upnsync/upnsync/sync/report"
)

// demoData are the sample data, as the demo names them in its folder.
var demoData = []string{"ADSIReaderLDAPMappings.xml", "directory.ldif", "octopus-users.csv"}

const demoStore = "octopus-users.db"

// runDemo runs the whole job on the embedded sample data in a temporary
// folder (or --keep DIR): a dry run, the apply, then a second dry run
// that finds nothing left to do. It goes through the same code as a real
// run. It prints the dry run's details once and each step's summary
// (--verbose, or a --report for programs: each step's whole report).
func runDemo(ctx context.Context, s *config.Settings, stdout, stderr io.Writer) int {
	dir, err := demoFolder(s.Keep)
	if err != nil {
		return fail(stderr, "%v", err)
	}
	if s.Keep == "" {
		defer os.RemoveAll(dir)
	}
	files := map[string]string{}
	for _, name := range demoData {
		data, err := upnsyncdata.Demo.ReadFile("testdata/demo/" + name)
		if err != nil {
			return fail(stderr, "demo data %s: %v", name, err)
		}
		files[name] = filepath.Join(dir, name)
		if err := os.WriteFile(files[name], data, 0o600); err != nil {
			return fail(stderr, "writing %s: %v", files[name], err)
		}
	}
	storeURL := "sqlite:" + filepath.Join(dir, demoStore)
	where := "removed at the end; --keep DIR keeps them"
	if s.Keep != "" {
		where = "kept"
	}
	fmt.Fprintf(stdout, "upnsync demo: a sample domain CORP (corp.example.com) exported to LDIF, and an\nOctopus user store seeded from a CSV export, in %s (%s).\n\n", dir, where)
	fmt.Fprintf(stdout, "$ upnsync store import --store sqlite:%s octopus-users.csv\n", demoStore)
	is, err := parseDemo("store", "import", "--store", storeURL, files["octopus-users.csv"])
	if err != nil {
		return fail(stderr, "%v", err)
	}
	res, _, err := upnrun.ImportUsers(ctx, env(stdout, stderr), is, files["octopus-users.csv"])
	if err != nil {
		return fail(stderr, "%v", err)
	}
	fmt.Fprintf(stdout, "Imported %d Octopus users.\n", res.Read)

	whole := s.Verbose || s.Report != "text"
	base := []string{"--config-file-path", files["ADSIReaderLDAPMappings.xml"],
		"--directory", "ldif:" + files["directory.ldif"], "--store", storeURL, "--report", s.Report}
	// The dry run's report also goes, as the page a reviewer opens, to a
	// file that outlives the demo's folder (replaced by the next demo).
	page := filepath.Join(os.TempDir(), "upnsync-demo-report.html")
	var pageErr error
	step := func(title string, details bool, extra ...string) int {
		args := append(append([]string(nil), base...), extra...)
		fmt.Fprintf(stdout, "\n== %s ==\n$ upnsync --config-file-path ADSIReaderLDAPMappings.xml --directory ldif:directory.ldif --store sqlite:%s", title, demoStore)
		for _, a := range extra {
			fmt.Fprintf(stdout, " %s", a)
		}
		fmt.Fprintln(stdout)
		ds, err := parseDemo(args...)
		if err != nil {
			return fail(stderr, "%v", err)
		}
		var out, brief bytes.Buffer
		e := env(&out, stderr)
		e.Reported = func(plan *upnsync.Plan, meta report.Meta) {
			if details {
				pageErr = upnrun.WriteHTML(page, plan, meta)
			}
			_ = report.Brief(&brief, plan, meta, details)
		}
		code := upnrun.ExitCode(upnrun.Sync(ctx, e, ds))
		if whole {
			stdout.Write(out.Bytes())
		} else {
			stdout.Write(brief.Bytes())
		}
		fmt.Fprintf(stdout, "(exit code %d: %s)\n", code, upnrun.Meaning(code))
		return code
	}

	if code := step("1. Dry run: what upnsync would change (nothing is written)", true); code != upnrun.ExitPending {
		return fail(stderr, "demo: the dry run should exit %d with changes pending, it exited %d", upnrun.ExitPending, code)
	}
	if pageErr != nil {
		return fail(stderr, "demo: the HTML report of the dry run: %v", pageErr)
	}
	fmt.Fprintf(stdout, "The same report as a page for reviewers (--report html): %s\n", page)
	if code := step("2. Apply: write the changes", false, "--apply"); code != upnrun.ExitConflicts && code != upnrun.ExitOK {
		return fail(stderr, "demo: the apply exited %d", code)
	}
	code := step("3. Second dry run: nothing left to do (the conflicts stay until someone resolves them)", false)
	if code == upnrun.ExitPending || code == upnrun.ExitError || code == upnrun.ExitGuard {
		return fail(stderr, "demo: the second run should plan no changes, it exited %d", code)
	}
	if s.Keep != "" {
		fmt.Fprintf(stdout, `
The demo's files are in %s. To go on by hand there:
  cd %s
  upnsync --config-file-path ADSIReaderLDAPMappings.xml --directory ldif:directory.ldif --store sqlite:%[3]s
  upnsync runs --store sqlite:%[3]s                      the apply, with its run id
  upnsync undo RUN_ID --store sqlite:%[3]s --apply       put back what it wrote
  upnsync store export --store sqlite:%[3]s after.csv    the users as they are now
`, dir, dir, demoStore)
	}
	fmt.Fprint(stdout, `
On your own data (upnsync help COMMAND tells more):
  upnsync mapping add-upn ADSIReaderLDAPMappings.xml     once, on your copy of the mapping file
  upnsync doctor --config-file-path ADSIReaderLDAPMappings.xml --directory ldaps://dc1.corp.example.com \
          --login svc-upnsync@corp.example.com --password-file upnsync.pw --store URL --apply
                                   checks everything that run needs, and writes nothing
  then the same options without doctor: a dry run; with --apply, the changes are written.
How the result reaches Octopus depends on --store (docs/stores.md):
  dataimporter:upn-import.xlsx --octopus-export users.xlsx
                                   a workbook for Octopus's DataImporter, which adds the UPNs as it imports it
  postgres://USER@HOST/DATABASE    a users table in PostgreSQL, written in place
  sqlite:octopus-users.db          a staging copy: store import an export of the users, sync, then
                                   upnsync store export --store sqlite:octopus-users.db users.csv
`)
	return exitOK
}

// demoFolder is the folder the demo works in: a new temporary one, or
// keep, made if missing, which must not hold the demo's files yet (a
// second demo there would find its changes already made).
func demoFolder(keep string) (string, error) {
	if keep == "" {
		dir, err := os.MkdirTemp("", "upnsync-demo-")
		if err != nil {
			return "", fmt.Errorf("cannot create a temporary folder for the demo: %v", err)
		}
		return dir, nil
	}
	if err := os.MkdirAll(keep, 0o700); err != nil {
		return "", fmt.Errorf("--keep %s: cannot make the folder: %v", keep, err)
	}
	for _, name := range append([]string{demoStore}, demoData...) {
		if _, err := os.Lstat(filepath.Join(keep, name)); !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("--keep %s: the folder already holds %s (an earlier demo?); give a new or empty folder", keep, name)
		}
	}
	return filepath.Abs(keep)
}

// parseDemo reads a demo step's command line as upnsync's own, with no
// environment: the demo runs what it shows.
func parseDemo(args ...string) (*config.Settings, error) {
	return config.Parse(args, func(string) string { return "" })
}
