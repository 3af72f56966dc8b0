// Package doctor is `upnsync doctor`: before a first run, it checks
// everything a run with the same options needs (the mapping file, the
// directory, the store, the clock, the output files, the schedule) and
// prints one line per check with the fix under each failure or warning. It
// writes nothing anywhere but its own output.
package doctor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/upnsync/upnsync/config"
	"github.com/upnsync/upnsync/internal/plural"
	"github.com/upnsync/upnsync/internal/progress"
	"github.com/upnsync/upnsync/internal/run"
	"github.com/upnsync/upnsync/internal/schedule"
	"github.com/upnsync/upnsync/mapping"
	upnsync "github.com/upnsync/upnsync/sync"
	"github.com/upnsync/upnsync/sync/octopus"
)

// Doctor's limits: how many users it counts under a base (a count of a
// million users would take a minute and prove nothing more) and when a
// certificate's or a clock's state becomes a warning or a failure. A DNS
// look-up or a TCP connection takes at most --connect-timeout, as in a
// run.
const (
	doctorCountLimit    = 100_000
	certWarnDays        = 30
	clockWarnSkew       = time.Minute
	clockFailSkew       = 5 * time.Minute // Kerberos' default tolerance
	clockGranularity    = 2 * time.Second // currentTime has whole seconds
	doctorIndent        = "      "
	doctorCheckNameSize = 13
)

type checkStatus string

const (
	statusPass checkStatus = "PASS"
	statusWarn checkStatus = "WARN"
	statusFail checkStatus = "FAIL"
	statusSkip checkStatus = "SKIP"
)

// doctor prints one line per check as it completes, with the fix under
// each failure or warning.
type doctor struct {
	w      io.Writer
	counts map[checkStatus]int
	failed []string
	// tracking is set with --incremental or --dirsync: the "changes"
	// check is then one of the directory's checks.
	tracking bool
}

func (d *doctor) report(status checkStatus, name, detail, fix string) {
	d.counts[status]++
	if status == statusFail {
		d.failed = append(d.failed, name)
	}
	fmt.Fprintf(d.w, "%s  %-*s %s\n", status, doctorCheckNameSize, name, detail)
	if fix != "" {
		fmt.Fprintf(d.w, "%sfix: %s\n", doctorIndent, fix)
	}
}

func (d *doctor) pass(name, detail string)      { d.report(statusPass, name, detail, "") }
func (d *doctor) warn(name, detail, fix string) { d.report(statusWarn, name, detail, fix) }
func (d *doctor) fail(name, detail, fix string) { d.report(statusFail, name, detail, fix) }
func (d *doctor) skip(name, why string)         { d.report(statusSkip, name, why, "") }
func (d *doctor) note(text string)              { fmt.Fprintf(d.w, "%s%s\n", doctorIndent, text) }

// Run checks, before a first run, everything a run with the same options
// needs: the mapping file, the directory (DNS, TCP, TLS, bind, rootDSE,
// each base), the store, the clock and the output files, printing to
// stdout. It returns an error naming the checks that failed, nil when none
// did (warnings and skipped checks do not fail it). version is upnsync's.
func Run(ctx context.Context, s *config.Settings, stdout io.Writer, version string) error {
	d := &doctor{w: stdout, counts: map[checkStatus]int{}}
	fmt.Fprintf(stdout, "upnsync doctor (%s): checking what a run with these options needs; nothing is written.\n\n", version)

	doctorSettings(d, s)
	fields := doctorMapping(d, s)
	doctorDirectory(ctx, d, s, fields)
	doctorStore(ctx, d, s)
	doctorOutputs(d, s)
	if s.Schedule != "" {
		doctorSchedule(d, s)
	}

	fmt.Fprintln(stdout)
	extra := ""
	if n := d.counts[statusWarn]; n > 0 {
		extra += fmt.Sprintf(", %d with a warning", n)
	}
	if n := d.counts[statusSkip]; n > 0 {
		extra += fmt.Sprintf(", %d skipped", n)
	}
	if len(d.failed) > 0 {
		msg := fmt.Sprintf("%d of %d checks failed (%s)%s", len(d.failed), total(d.counts), strings.Join(d.failed, ", "), extra)
		fmt.Fprintf(stdout, "%s: fix them and run upnsync doctor again.\n", msg)
		return errors.New(msg)
	}
	fmt.Fprintf(stdout, "All checks passed (%d%s).\n", total(d.counts), extra)
	return nil
}

func total(counts map[checkStatus]int) int {
	n := 0
	for _, c := range counts {
		n += c
	}
	return n
}

func doctorSettings(d *doctor, s *config.Settings) {
	what := "dry run (add --apply to write)"
	if s.Apply {
		what = "apply"
	}
	pw := "no password"
	if src := s.PasswordSource(); src != "none" {
		pw = "password from " + src
	}
	switch {
	case s.IntegratedAuth:
		pw = "integrated authentication (Kerberos as the account upnsync runs as)"
	case s.KerberosKeytab != "":
		pw = "Kerberos with keytab " + s.KerberosKeytab
	case s.KerberosCCache != "":
		pw = "Kerberos with credential cache " + s.KerberosCCache
	case s.ClientSecretSource() != "none":
		pw = "Entra ID client secret from " + s.ClientSecretSource()
	case s.ClientCertificate != "":
		pw = "Entra ID client certificate " + s.ClientCertificate
	case s.ManagedIdentity:
		pw = "Entra ID managed identity"
	}
	if src := s.StorePasswordSource(); src != "none" {
		pw += "; store password from " + src
	}
	// The URL as redacted for the log: a password in it stays out.
	d.pass("settings", fmt.Sprintf("%s; directory %s; store %s; %s", what, orNone(s.Directory), config.RedactStoreURL(s.Store), pw))
	for _, w := range s.Warnings {
		d.warn("settings", w, "")
	}
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func doctorMapping(d *doctor, s *config.Settings) mapping.Fields {
	if s.ConfigFile == "" {
		d.fail("mapping file", "no mapping file given",
			"give --config-file-path FILE (or /ConfigFilePath:FILE): a copy of Octopus's ADSIReaderLDAPMappings.xml, then run upnsync mapping add-upn FILE")
		return mapping.DefaultFields
	}
	m, err := mapping.Load(s.ConfigFile)
	if err != nil {
		d.fail("mapping file", err.Error(), "")
		return mapping.DefaultFields
	}
	upn, _ := m.UPN()
	d.pass("mapping file", fmt.Sprintf("%s: user mapping %q, %s; the UPN comes from %s (line %d)",
		s.ConfigFile, m.Name, plural.Count(len(m.Attributes), "entry"), upn.LDAP, upn.Line))
	return m.Fields()
}

func doctorStore(ctx context.Context, d *doctor, s *config.Settings) {
	// Opened as a run with --apply opens it (which writes nothing by
	// itself), so that the store can tell whether it could be written.
	store, err := octopus.Open(ctx, s.Store, run.StoreOptions(s, octopus.Options{State: s.State}))
	if err != nil {
		d.fail("store", err.Error(), "")
		return
	}
	defer store.Close()
	n := 0
	if err := store.Users(ctx, func(upnsync.User) error { n++; return nil }); err != nil {
		d.fail("store", err.Error(), "")
		return
	}
	wc, ok := store.(octopus.WriteChecker)
	if !ok {
		d.pass("store", fmt.Sprintf("%s opens: %s users (whether --apply could write was not checked for this kind of store)", store.Describe(), progress.Thousands(int64(n))))
		return
	}
	if err := wc.CheckWritable(ctx); err != nil {
		if s.Apply {
			d.fail("store", fmt.Sprintf("%s: %s users, but --apply cannot write: %v", store.Describe(), progress.Thousands(int64(n)), err), "")
		} else {
			d.warn("store", fmt.Sprintf("%s: %s users; a dry run works, --apply would not: %v", store.Describe(), progress.Thousands(int64(n)), err), "")
		}
		return
	}
	d.pass("store", fmt.Sprintf("%s: %s users; writable (checked without writing to it)", store.Describe(), progress.Thousands(int64(n))))
}

// doctorOutputs shows what a run checks of its outputs before it writes
// anything (run.Outputs): each can be written, no two are the same file.
func doctorOutputs(d *doctor, s *config.Settings) {
	outs := run.Outputs(s)
	if len(outs) == 0 {
		return
	}
	var ok []string
	for _, o := range outs {
		if o.Err != nil {
			d.fail("output files", o.Err.Error(), "")
			continue
		}
		ok = append(ok, o.Option+" "+o.Path)
	}
	if len(ok) == len(outs) {
		d.pass("output files", "can be written: "+strings.Join(ok, "; "))
	}
}

func doctorSchedule(d *doctor, s *config.Settings) {
	sched, err := schedule.Parse(s.Schedule)
	if err != nil {
		d.fail("schedule", err.Error(), "")
		return
	}
	t := time.Now()
	loc := time.Local
	if spec, ok := sched.(*cron.SpecSchedule); ok && spec.Location != nil {
		loc = spec.Location
	}
	var next []string
	for range 3 {
		t = sched.Next(t)
		next = append(next, t.In(loc).Format("2006-01-02 15:04 MST"))
	}
	d.pass("schedule", fmt.Sprintf("%q in %s: next runs %s", s.Schedule, schedule.Zone(sched), strings.Join(next, ", ")))
	for _, w := range schedule.DSTWarnings(sched, time.Now(), 366*24*time.Hour) {
		d.warn("schedule", w, "")
	}
}
