//go:build linux

package main

import (
	"bytes"
	"errors"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/upnsync/upnsync/internal/faultproxy"
	"github.com/upnsync/upnsync/internal/testenv"
)

// A password typed on the command line is gone from the process's command
// line (what ps and /proc/PID/cmdline show other users) once upnsync has
// started, and the run still binds with it. The real command runs against
// the real directory through a proxy that holds the server's first answer
// back for a moment, so that the process is alive, past its start, while
// the test reads its command line.
func TestPasswordScrubbedFromCommandLine(t *testing.T) {
	e := testenv.LDAP(t)
	bin := testBinary(t)
	dir := t.TempDir()
	db := filepath.Join(dir, "octopus.db")
	if code, _, errOut := cli(t, nil, "store", "import", "--store", "sqlite:"+db, e.OctopusCSV); code != 0 {
		t.Fatal(errOut)
	}
	for _, tt := range []struct {
		name string
		args []string
		kept string // what stays visible of the argument
	}{
		{"--password=VALUE", []string{"--password=" + e.Password}, "--password="},
		{"--password VALUE", []string{"--password", e.Password}, ""},
		{"/Password:VALUE", []string{"/Password:" + e.Password}, "/Password:"},
		{`/password:"VALUE"`, []string{`/password:"` + e.Password + `"`}, "/password:"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p, err := faultproxy.Start(hostOf(t, e.LDAPSURL))
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			p.Script(faultproxy.Fault{Action: faultproxy.Stall, Stall: 1500 * time.Millisecond})
			args := append([]string{"--config-file-path", filepath.Join("..", "..", "testdata", "mapping", "ADSIReaderLDAPMappings-upn.xml"),
				"--directory", p.URL("ldaps"), "--ca-file", e.CAFile, "--login", e.BindDN, "--domain", e.Base,
				"--store", "sqlite:" + db, "--timeout", "20s"}, tt.args...)
			cmd := exec.Command(bin, args...)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			// Connected: the arguments were parsed (and scrubbed) before.
			if !p.WaitConnections(1, 20*time.Second) {
				cmd.Process.Kill()
				cmd.Wait()
				t.Fatalf("upnsync did not connect\n%s", stderr.String())
			}
			raw, err := os.ReadFile("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/cmdline")
			if err != nil {
				t.Fatal(err)
			}
			cmdErr := cmd.Wait()
			var ee *exec.ExitError
			if cmdErr != nil && !(errors.As(cmdErr, &ee) && ee.ExitCode() == exitPending) || cmdErr == nil {
				t.Fatalf("the run did not bind with the password it was given: %v\n%s", cmdErr, stderr.String())
			}

			got := strings.Split(strings.TrimSuffix(string(raw), "\x00"), "\x00")
			if len(got) != len(args)+1 {
				t.Fatalf("command line has %d arguments, want %d: %q", len(got), len(args)+1, got)
			}
			if bytes.Contains(raw, []byte(e.Password)) {
				t.Fatalf("the password is still in /proc/PID/cmdline: %q", strings.ReplaceAll(string(raw), e.Password, "<the password>"))
			}
			last := got[len(got)-1]
			if want := tt.kept + strings.Repeat("*", len(args[len(args)-1])-len(tt.kept)); last != want {
				t.Errorf("scrubbed argument %q, want %q", last, want)
			}
			// Nothing else of the command line was touched.
			for i, a := range args[:len(args)-1] {
				if got[i+1] != a {
					t.Errorf("argument %d is %q, want %q", i+1, got[i+1], a)
				}
			}
			if strings.Contains(stdout.String()+stderr.String(), e.Password) {
				t.Fatal("the password is in the output")
			}
			if !strings.Contains(stderr.String(), "puts the password on the command line") {
				t.Errorf("no warning about the password on the command line:\n%s", stderr.String())
			}
		})
	}
}

// A password inside `--store postgres://user:PASS@host/db` goes the way of
// --password: warned about, gone from /proc/PID/cmdline once upnsync has
// started (only its bytes: the rest of the URL stays readable), and still
// what upnsync logs in with. The run is held in flight by its directory, a
// FIFO the test writes only once it has read the command line and the run
// lock's record in the database (which must not hold the password either).
func TestStorePasswordScrubbedFromCommandLine(t *testing.T) {
	env := testenv.Postgres(t)
	table := pgTable(t, env)
	d := newDemo(t)
	if code, _, errOut := cli(t, map[string]string{"UPNSYNC_STORE_PASSWORD": env.Password}, "store", "import", "--store", env.URL, "--store-table", table, d.csv); code != 0 {
		t.Fatal(errOut)
	}
	fifo := filepath.Join(d.dir, "slow.ldif")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	store := urlWithPassword(t, env.URL, env.Password)
	for _, spelled := range []string{"--store=" + store, "/Store:" + store} {
		t.Run(strings.SplitN(spelled, ":", 2)[0], func(t *testing.T) {
			args := []string{"--config-file-path", d.mapping, "--directory", "ldif:" + fifo, "--store-table", table, "--apply", spelled}
			p := startUpnsync(t, nil, args...)
			// In flight: the lock is held (so the password was accepted),
			// and the read of the FIFO waits.
			var lock string
			deadline := time.Now().Add(20 * time.Second)
			for lock == "" && time.Now().Before(deadline) {
				lock = pgDump(t, env, table)
				if !strings.Contains(lock, `"pid":`) {
					lock = ""
					time.Sleep(50 * time.Millisecond)
				}
			}
			if lock == "" {
				t.Fatalf("the run never took its lock:\n%s", p.stderr)
			}
			raw, err := os.ReadFile("/proc/" + strconv.Itoa(p.cmd.Process.Pid) + "/cmdline")
			if err != nil {
				t.Fatal(err)
			}
			ldif, err := os.ReadFile(d.ldif)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(fifo, ldif, 0o600); err != nil {
				t.Fatal(err)
			}
			if code := p.exited(20 * time.Second); code != exitConflicts {
				t.Fatalf("exit %d, want 4 (the demo's conflicts): the run did not log in with its password?\n%s", code, p.stderr)
			}

			got := strings.Split(strings.TrimSuffix(string(raw), "\x00"), "\x00")
			escaped := url.UserPassword("x", env.Password).String()[2:]
			if bytes.Contains(raw, []byte(env.Password)) || bytes.Contains(raw, []byte(escaped)) {
				t.Fatalf("the password is still in /proc/PID/cmdline: %q", strings.ReplaceAll(string(raw), env.Password, "<the password>"))
			}
			want := strings.Replace(spelled, ":"+escaped+"@", ":"+strings.Repeat("*", len(escaped))+"@", 1)
			if last := got[len(got)-1]; last != want || want == spelled {
				t.Errorf("scrubbed argument %q, want %q", last, want)
			}
			if strings.Contains(lock, env.Password) || strings.Contains(p.stdout.String()+p.stderr.String(), env.Password) {
				t.Fatal("the password is in the lock's record or the output")
			}
			if !strings.Contains(p.stderr.String(), "the --store URL holds a password") {
				t.Errorf("no warning about the password in the URL:\n%s", p.stderr)
			}
		})
	}
}
