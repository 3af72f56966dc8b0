package main

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/upnsync/upnsync/internal/faultproxy"
	"github.com/upnsync/upnsync/internal/testenv"
)

// Fault tests: the whole command against the real test directory, through
// a proxy that breaks the connection on purpose. They go through run() and
// the public behaviour only (exit code, messages, report, store file), so
// that they hold for any LDAP reader behind directory.Open.
//
// Three transports: ldaps://, ldap:// with StartTLS, and plain ldap://
// (--allow-plaintext-bind), where the proxy sees LDAP messages and can cut
// the connection exactly after a page. Through TLS it cuts after a number
// of bytes calibrated from a clean read, in the middle of the same page.
//
// An attempt opens one connection (directory.Open's: the bind, the rootDSE
// read of readDomainInfo, then the paged read, later the lookups of
// departed people). On plain LDAP the proxy counts the rootDSE's
// SearchResultDone as a page too: openPages of them come before the read's
// first page.

// connsPerAttempt is how many connections one attempt of an LDAP read opens.
const connsPerAttempt = 1

// openPages is how many search results the connection carries before the
// read: the rootDSE (slapd has no Partitions container to read).
const openPages = 1

// readConns checks that the proxy saw one connection per attempt and
// returns them.
func readConns(t *testing.T, st []faultproxy.ConnStats) []faultproxy.ConnStats {
	t.Helper()
	for i, c := range st {
		if c.Pages > 0 && c.Pages < openPages {
			t.Fatalf("connection %d carried %d pages, fewer than the %d before the read: %+v", i+1, c.Pages, openPages, c)
		}
	}
	return st
}

// faultPageSize gives the 3000 users of the test directory 6 pages.
const faultPageSize = 500

var transports = []string{"ldaps", "starttls", "plain"}

type faultEnv struct {
	ldap  testenv.LDAPEnv
	dir   string
	db    string
	store string
	pages int // pages of a complete read
}

// newFaultEnv imports the Octopus users of the test directory into a new
// store.
func newFaultEnv(t *testing.T) faultEnv {
	t.Helper()
	e := faultEnv{ldap: testenv.LDAP(t), dir: t.TempDir()}
	if e.ldap.Users <= 3*faultPageSize {
		t.Fatalf("the test directory has %d users; these tests need more than %d (scripts/testdirs.sh makes 3000)", e.ldap.Users, 3*faultPageSize)
	}
	e.pages = (e.ldap.Users + faultPageSize - 1) / faultPageSize
	e.db = filepath.Join(e.dir, "octopus.db")
	e.store = "sqlite:" + e.db
	if code, out, errOut := cli(t, nil, "store", "import", "--store", e.store, e.ldap.OctopusCSV); code != 0 {
		t.Fatalf("import: %s %s", out, errOut)
	}
	return e
}

func hostOf(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}

// proxy starts a fault proxy in front of the port the transport uses.
func (e faultEnv) proxy(t *testing.T, transport string) *faultproxy.Proxy {
	t.Helper()
	target := hostOf(t, e.ldap.URL)
	if transport == "ldaps" {
		target = hostOf(t, e.ldap.LDAPSURL)
	}
	p, err := faultproxy.Start(target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// directoryURL is what the error messages name.
func directoryURL(p *faultproxy.Proxy, transport string) string {
	if transport == "ldaps" {
		return p.URL("ldaps")
	}
	return p.URL("ldap")
}

// args are the command's arguments for a sync through p, fast retries.
func (e faultEnv) args(p *faultproxy.Proxy, transport string, extra ...string) []string {
	a := []string{"--config-file-path", filepath.Join("..", "..", "testdata", "mapping", "ADSIReaderLDAPMappings-upn.xml"),
		"--login", e.ldap.BindDN, "--password-file", e.ldap.PasswordFile, "--ca-file", e.ldap.CAFile,
		"--domain", e.ldap.Base, "--store", e.store, "--page-size", fmt.Sprint(faultPageSize),
		"--directory", directoryURL(p, transport), "--retry-delay", "10ms"}
	switch transport {
	case "starttls":
		a = append(a, "--start-tls")
	case "plain":
		a = append(a, "--allow-plaintext-bind")
	}
	return append(a, extra...)
}

// midPage3 is a fault that strikes in the middle of page 3 of a read, so
// that the read is lost after page 2: exactly after page 2 on plain LDAP,
// where the proxy sees the pages; through TLS, at the byte offset of the
// middle of page 3 on a clean read (pages differ little in size, and the
// middle is half a page away from either end).
func (e faultEnv) midPage3(t *testing.T, transport string, action faultproxy.Action) faultproxy.Fault {
	t.Helper()
	if transport == "plain" {
		return faultproxy.Fault{Action: action, AfterPages: openPages + 2}
	}
	c := e.calibrate(t)
	mid := (c.plainEnds[openPages+1] + c.plainEnds[openPages+2]) / 2
	total := c.tlsTotal[transport]
	return faultproxy.Fault{Action: action, AfterBytes: mid * total / c.plainTotal}
}

type calibration struct {
	plainEnds  []int64
	plainTotal int64
	tlsTotal   map[string]int64
}

var (
	calibrated     calibration
	calibratedOnce sync.Once
)

// calibrate measures clean reads through a pass-through proxy: where the
// pages end on plain LDAP, and how many bytes a whole read takes through
// each TLS transport.
func (e faultEnv) calibrate(t *testing.T) calibration {
	t.Helper()
	calibratedOnce.Do(func() {
		calibrated.tlsTotal = map[string]int64{}
		for _, tr := range transports {
			p := e.proxy(t, tr)
			if code, _, errOut := cli(t, nil, e.args(p, tr)...); code != exitPending {
				t.Fatalf("calibration through %s: exit %d: %s", tr, code, errOut)
			}
			st := readConns(t, p.Stats())
			if len(st) != 1 {
				t.Fatalf("calibration through %s: %d attempts", tr, len(st))
			}
			if tr == "plain" {
				calibrated.plainEnds, calibrated.plainTotal = st[0].PageEnds, st[0].ServerBytes
			} else {
				calibrated.tlsTotal[tr] = st[0].ServerBytes
			}
			p.Close()
		}
	})
	if len(calibrated.plainEnds) != openPages+e.pages {
		t.Fatalf("calibration: the proxy saw %d pages on plain LDAP, want %d (%d before the read)", len(calibrated.plainEnds), openPages+e.pages, openPages)
	}
	return calibrated
}

// noStack fails the test when output looks like a Go crash.
func noStack(t *testing.T, outputs ...string) {
	t.Helper()
	for _, o := range outputs {
		if strings.Contains(o, "goroutine ") || strings.Contains(o, "panic") {
			t.Fatalf("output holds a Go stack or panic:\n%s", o)
		}
	}
}

// A connection that breaks in the middle of page 3 on every attempt: each
// attempt is a new connection that reads from page 1 again, the last error
// names the directory and the page, nothing is written, exit code 1.
func TestFaultConnectionLostOnEveryAttempt(t *testing.T) {
	e := newFaultEnv(t)
	for _, tr := range transports {
		for _, action := range []faultproxy.Action{faultproxy.Drop, faultproxy.Reset} {
			t.Run(tr+"/"+action.String(), func(t *testing.T) {
				p := e.proxy(t, tr)
				p.Always(e.midPage3(t, tr, action))
				before := fileHash(t, e.db)
				code, out, errOut := cli(t, nil, e.args(p, tr, "--apply", "--retries", "2")...)
				t.Log(errOut)
				noStack(t, out, errOut)
				if code != exitError {
					t.Fatalf("exit %d, want 1\n%s", code, errOut)
				}
				if fileHash(t, e.db) != before {
					t.Fatal("the store changed although no read was complete")
				}
				lost := regexp.QuoteMeta("connection to "+directoryURL(p, tr)+" lost after page 2 of the read (") + `\d+ entries\)`
				if action == faultproxy.Reset {
					// A reset makes the client's kernel discard what it
					// received and the program had not read yet: the read
					// may be lost a little before the fault.
					lost = regexp.QuoteMeta("connection to "+directoryURL(p, tr)+" lost ") +
						`(after page [12] of the read|during the first page of the read) \(\d+ entries\)`
				}
				final := regexp.MustCompile(`(?m)^upnsync: ` + lost + `.*the read is incomplete; gave up after 3 attempts \(--retries 2\)$`)
				if !final.MatchString(errOut) {
					t.Errorf("the last error does not name the directory, the page and the attempts:\n%s", errOut)
				}
				for _, want := range []string{"attempt 1 of 3 failed: ", "attempt 2 of 3 failed: ", "retrying in ", "reading from the first page again"} {
					if !strings.Contains(errOut, want) {
						t.Errorf("stderr lacks %q", want)
					}
				}
				if action == faultproxy.Reset && !strings.Contains(errOut, "connection reset by peer") {
					t.Errorf("a reset is not named as such:\n%s", errOut)
				}
				if action == faultproxy.Drop && !strings.Contains(out, "INCOMPLETE: connection to "+directoryURL(p, tr)+" lost after page 2") {
					t.Errorf("the report does not say the read was incomplete:\n%s", out)
				}
				st := readConns(t, p.Stats())
				if len(st) != 3 {
					t.Fatalf("%d read connections, want 3 (one per attempt)", len(st))
				}
				for i, c := range st {
					if !c.Struck {
						t.Errorf("connection %d: the fault did not strike", i+1)
					}
					// Each attempt read pages 1 and 2 again on its own
					// connection: a cookie of the old connection was not
					// reused, nor the read resumed.
					if tr == "plain" && (c.Pages != openPages+2 || c.ServerBytes != st[0].ServerBytes) {
						t.Errorf("connection %d: %d pages, %d bytes; the first had %d pages, %d bytes", i+1, c.Pages, c.ServerBytes, openPages+2, st[0].ServerBytes)
					}
				}
			})
		}
	}
}

// --retries 0 makes one attempt.
func TestFaultNoRetries(t *testing.T) {
	e := newFaultEnv(t)
	p := e.proxy(t, "plain")
	p.Always(e.midPage3(t, "plain", faultproxy.Drop))
	code, _, errOut := cli(t, nil, e.args(p, "plain", "--retries", "0")...)
	if code != exitError || len(readConns(t, p.Stats())) != 1 || strings.Contains(errOut, "retrying") || strings.Contains(errOut, "gave up") {
		t.Fatalf("exit %d, %d connections\n%s", code, p.Connections(), errOut)
	}
}

type planJSON struct {
	Complete  bool
	Summary   map[string]int
	Read      struct{ Pages, Entries int }
	Changes   []map[string]any
	Conflicts []map[string]any
	Unmatched []map[string]any
	Skipped   []map[string]any
	Applied   *struct{ Written int }
}

func decodePlan(t *testing.T, out string) planJSON {
	t.Helper()
	var p planJSON
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatalf("report: %v\n%s", err, out)
	}
	return p
}

// A connection lost once: the retry reads everything on a new connection
// and plans exactly what a clean run plans (a partial read merged into the
// retry would show as duplicate-UPN conflicts and wrong counts); the apply
// after it writes that plan, and a rerun has nothing left to do.
func TestFaultTransientDropThenCompleteRead(t *testing.T) {
	e := newFaultEnv(t)
	for _, tr := range transports {
		t.Run(tr, func(t *testing.T) {
			clean := e.proxy(t, tr)
			code, out, errOut := cli(t, nil, e.args(clean, tr, "--report", "json")...)
			if code != exitPending {
				t.Fatalf("clean run: exit %d\n%s", code, errOut)
			}
			want := decodePlan(t, out)

			p := e.proxy(t, tr)
			p.Script(e.midPage3(t, tr, faultproxy.Drop))
			code, out, errOut = cli(t, nil, e.args(p, tr, "--report", "json")...)
			noStack(t, out, errOut)
			got := decodePlan(t, out)
			if code != exitPending || !got.Complete {
				t.Fatalf("exit %d, complete %v\n%s", code, got.Complete, errOut)
			}
			if !strings.Contains(errOut, "attempt 1 of 4 failed: connection to "+directoryURL(p, tr)+" lost after page 2 of the read") {
				t.Errorf("stderr does not tell about the failed attempt:\n%s", errOut)
			}
			if st := readConns(t, p.Stats()); len(st) != 2 || !st[0].Struck || st[1].Struck {
				t.Fatalf("read connections %+v, want a broken one and a clean one", st)
			}
			if got.Read.Entries != e.ldap.Users || got.Read.Pages != e.pages || got.Summary["read"] != e.ldap.Users {
				t.Errorf("read %d entries in %d pages (summary %v), want %d in %d", got.Read.Entries, got.Read.Pages, got.Summary, e.ldap.Users, e.pages)
			}
			if !reflect.DeepEqual(got.Summary, want.Summary) || !reflect.DeepEqual(got.Changes, want.Changes) ||
				!reflect.DeepEqual(got.Conflicts, want.Conflicts) || !reflect.DeepEqual(got.Unmatched, want.Unmatched) ||
				!reflect.DeepEqual(got.Skipped, want.Skipped) {
				t.Fatalf("the plan after a retry differs from a clean run's:\nsummary %v\nwant    %v", got.Summary, want.Summary)
			}

			// The apply goes through a drop the same way, and writes the plan.
			db := filepath.Join(t.TempDir(), "octopus.db")
			if err := os.WriteFile(db, mustRead(t, e.db), 0o600); err != nil {
				t.Fatal(err)
			}
			args := e.args(p, tr, "--report", "json", "--store", "sqlite:"+db)
			p.Script(e.midPage3(t, tr, faultproxy.Reset))
			code, out, errOut = cli(t, nil, append(args, "--apply")...)
			applied := decodePlan(t, out)
			if (code != exitOK && code != exitConflicts) || applied.Applied == nil || applied.Applied.Written != len(want.Changes) {
				t.Fatalf("apply: exit %d, applied %+v, want %d written\n%s", code, applied.Applied, len(want.Changes), errOut)
			}
			code, out, _ = cli(t, nil, args...)
			if again := decodePlan(t, out); code == exitPending || again.Summary["changes"] != 0 {
				t.Fatalf("rerun after the apply: exit %d, summary %v", code, again.Summary)
			}
		})
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// A server that stops answering in the middle of a read: --timeout fires,
// the message says how long it waited and where, the retry meets the same
// stall, nothing is written.
func TestFaultStallLongerThanTimeout(t *testing.T) {
	e := newFaultEnv(t)
	for _, tr := range transports {
		t.Run(tr, func(t *testing.T) {
			p := e.proxy(t, tr)
			f := e.midPage3(t, tr, faultproxy.Stall) // Stall 0: until the client gives up
			p.Always(f)
			before := fileHash(t, e.db)
			started := time.Now()
			code, out, errOut := cli(t, nil, e.args(p, tr, "--apply", "--timeout", "1s", "--retries", "1")...)
			t.Log(time.Since(started).Round(time.Millisecond), errOut)
			noStack(t, out, errOut)
			if code != exitError || fileHash(t, e.db) != before {
				t.Fatalf("exit %d (want 1), store changed %v\n%s", code, fileHash(t, e.db) != before, errOut)
			}
			want := regexp.MustCompile(`(?m)^upnsync: ` + regexp.QuoteMeta("no answer from "+directoryURL(p, tr)+" within 1s during page 3 of the read (") +
				`\d+ entries\); the read is incomplete; gave up after 2 attempts \(--retries 1\)$`)
			if !want.MatchString(errOut) {
				t.Errorf("the error does not say the server did not answer in time, and where:\n%s", errOut)
			}
			if n := len(readConns(t, p.Stats())); n != 2 {
				t.Errorf("%d attempts, want 2", n)
			}
		})
	}
}

// A server that accepts the connection and then never answers: each step
// of connecting (TLS handshake, StartTLS, bind) is bounded by
// --connect-timeout, or --timeout when that is shorter, and the run fails
// at once: a port that accepts and stays silent is the wrong port or a
// hung service, and does not answer the next time either.
func TestFaultStallWhileConnecting(t *testing.T) {
	e := newFaultEnv(t)
	for _, tt := range []struct {
		transport string
		after     int64
		want      string
	}{
		{"ldaps", 0, "%s accepted the connection but did not answer the TLS handshake within 1s (--timeout)"},
		{"starttls", 0, "%s accepted the connection but did not answer StartTLS within 1s (--timeout)"},
		// After the StartTLS answer, in the TLS handshake.
		{"starttls", 20, "%s accepted the connection but did not answer StartTLS within 1s (--timeout)"},
		{"plain", 0, "%s accepted the connection but did not answer the bind within 1s (--timeout)"},
	} {
		t.Run(fmt.Sprintf("%s/after %d bytes", tt.transport, tt.after), func(t *testing.T) {
			p := e.proxy(t, tt.transport)
			p.Always(faultproxy.Fault{Action: faultproxy.Stall, AfterBytes: tt.after})
			done := make(chan struct{})
			var code int
			var errOut string
			go func() {
				defer close(done)
				code, _, errOut = cli(t, nil, e.args(p, tt.transport, "--timeout", "1s", "--retries", "1")...)
			}()
			select {
			case <-done:
			case <-time.After(30 * time.Second):
				p.Close()
				<-done
				t.Fatalf("still waiting 30 s into a 1 s --timeout")
			}
			want := fmt.Sprintf(tt.want, directoryURL(p, tt.transport))
			if code != exitError || !strings.Contains(errOut, want) || !strings.Contains(errOut, "not tried again") {
				t.Fatalf("exit %d\n%s\nwant %q", code, errOut, want)
			}
			if strings.Contains(errOut, "attempt 1 of 2 failed") || strings.Contains(errOut, "gave up") || p.Connections() != connsPerAttempt {
				t.Fatalf("retried (%d connections, want %d):\n%s", p.Connections(), connsPerAttempt, errOut)
			}
		})
	}
}

// A connection cut while connecting (during the TLS handshake, StartTLS or
// the bind) is retried on a new connection like one cut during the read.
func TestFaultConnectionLostWhileConnecting(t *testing.T) {
	e := newFaultEnv(t)
	for _, tr := range transports {
		for _, f := range []faultproxy.Fault{
			{Action: faultproxy.Drop}, {Action: faultproxy.Reset},
			{Action: faultproxy.Drop, AfterBytes: 20}, {Action: faultproxy.Reset, AfterBytes: 20},
		} {
			t.Run(tr+"/"+f.String(), func(t *testing.T) {
				p := e.proxy(t, tr)
				p.Always(f)
				conns := 2 * connsPerAttempt
				before := fileHash(t, e.db)
				code, out, errOut := cli(t, nil, e.args(p, tr, "--apply", "--retries", "1")...)
				noStack(t, out, errOut)
				msg := errorLine(t, errOut)
				if code != exitError || !strings.Contains(msg, directoryURL(p, tr)) || !strings.HasSuffix(msg, "; gave up after 2 attempts (--retries 1)") {
					t.Fatalf("exit %d\n%s", code, errOut)
				}
				if n := p.Connections(); n < conns {
					t.Fatalf("%d connections (want %d): not retried\n%s", n, conns, errOut)
				}
				if fileHash(t, e.db) != before {
					t.Fatal("the store changed")
				}
			})
		}
	}
}

// A stall shorter than --timeout is only a slow server.
func TestFaultShortStallIsNotAFailure(t *testing.T) {
	e := newFaultEnv(t)
	p := e.proxy(t, "ldaps")
	f := e.midPage3(t, "ldaps", faultproxy.Stall)
	f.Stall = 300 * time.Millisecond
	p.Always(f)
	code, out, errOut := cli(t, nil, e.args(p, "ldaps", "--report", "json", "--timeout", "10s")...)
	got := decodePlan(t, out)
	if code != exitPending || !got.Complete {
		t.Fatalf("exit %d, complete %v, %d connections\n%s", code, got.Complete, p.Connections(), errOut)
	}
	if reads := readConns(t, p.Stats()); len(reads) != 1 || !reads[0].Struck {
		t.Fatalf("read connections %+v, want one the stall struck", reads)
	}
}

// What fails the same way every time is not retried: one connection, no
// pause, the error as it was.
func TestFaultPermanentErrorsAreNotRetried(t *testing.T) {
	e := newFaultEnv(t)
	wrong := filepath.Join(e.dir, "wrong.pw")
	if err := os.WriteFile(wrong, []byte("Wr0ng-Passw0rd"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name      string
		transport string
		extra     []string
		conns     int
		want      string
	}{
		{"wrong password", "ldaps", []string{"--password-file", wrong}, 1, "wrong user name or password"},
		{"wrong password, StartTLS", "starttls", []string{"--password-file", wrong}, 1, "wrong user name or password"},
		// One connection: Open's, on which the read finds no base.
		// (Outside the domain: a base inside another one given is left out.)
		{"missing base", "ldaps", []string{"--domain", "OU=Nowhere,DC=elsewhere,DC=example,DC=com"}, 1, "does not exist"},
		{"bad filter", "ldaps", []string{"--user-filter", "(&(objectClass=user)"}, 0, "is not a valid LDAP filter"},
		{"untrusted certificate", "ldaps", []string{"--ca-file", filepath.Join("..", "..", "testdata", "bad", "certs", "other-ca.pem")}, 1, "is not trusted"},
		{"untrusted certificate, StartTLS", "starttls", []string{"--ca-file", filepath.Join("..", "..", "testdata", "bad", "certs", "other-ca.pem")}, 1, "is not trusted"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := e.proxy(t, tt.transport)
			code, _, errOut := cli(t, nil, e.args(p, tt.transport, append(tt.extra, "--retries", "3", "--retry-delay", "1m")...)...)
			if code != exitError || !strings.Contains(errOut, tt.want) {
				t.Fatalf("exit %d\n%s\nwant %q", code, errOut, tt.want)
			}
			if strings.Contains(errOut, "retrying") || strings.Contains(errOut, "gave up") || p.Connections() != tt.conns {
				t.Fatalf("retried: %d connections (want %d)\n%s", p.Connections(), tt.conns, errOut)
			}
		})
	}
}
