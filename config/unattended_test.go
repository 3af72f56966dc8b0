package config

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestUnattendedOptions(t *testing.T) {
	base := []string{"--config-file-path", "m", "--directory", "ldif:x"}
	gnu := mustParse(t, append(base, "--schedule", "CRON_TZ=Europe/Paris 30 1 * * *", "--run-now", "--shutdown-timeout", "90s",
		"--log-format", "JSON", "--log-keep", "30", "--summary-file", "s.json", "--metrics-file", "m.prom"), noenv)
	win := mustParse(t, append(base, `/Schedule:"CRON_TZ=Europe/Paris 30 1 * * *"`, "/RunNow", "/ShutdownTimeout:90s",
		"/LogFormat:json", "/LogKeep:30", "/SummaryFile:s.json", "/MetricsFile:m.prom"), noenv)
	for _, s := range []*Settings{gnu, win} {
		if s.Schedule != "CRON_TZ=Europe/Paris 30 1 * * *" || !s.RunNow || s.ShutdownTimeout != 90*time.Second ||
			s.LogFormat != "json" || s.LogKeep != 30 || s.SummaryFile != "s.json" || s.MetricsFile != "m.prom" || len(s.Warnings) != 0 {
			t.Fatalf("settings = %+v", s)
		}
	}
	s := mustParse(t, base, noenv)
	if s.LogFormat != "text" || s.ShutdownTimeout != DefaultShutdownTimeout || s.LogKeep != 0 {
		t.Fatalf("defaults = %+v", s)
	}
	for args, want := range map[string]string{
		"--log-format xml":                    "--log-format xml: use text or json",
		"--run-now":                           "--run-now only makes sense with --schedule",
		"--log-keep -1":                       "--log-keep: -1 is below the minimum 0",
		"--shutdown-timeout 0s":               "--shutdown-timeout: \"0s\" is not a positive duration",
		"--schedule @daily:plan:--out:p.json": "--schedule applies to upnsync sync and doctor; upnsync plan does not take it",
	} {
		a := strings.Fields(strings.ReplaceAll(args, ":", " "))
		_, err := Parse(append(base, a...), noenv)
		var ue *UsageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", args, err, want)
		}
	}
	s = mustParse(t, append(base, "--metrics-file", "upnsync.txt"), noenv)
	if len(s.Warnings) != 1 || !strings.Contains(s.Warnings[0], "reads only *.prom files") {
		t.Errorf("warnings = %q", s.Warnings)
	}
}

// A scheduler reads its settings again for each run: a rotated password
// file is used from the next run on.
func TestReloadReadsThePasswordFileAgain(t *testing.T) {
	pw := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pw, []byte("first"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := mustParse(t, []string{"--config-file-path", "m", "--directory", "ldaps://dc1", "--password-file", pw}, noenv)
	if err := os.WriteFile(pw, []byte("second"), 0o600); err != nil {
		t.Fatal(err)
	}
	again, err := s.Reload()
	if err != nil || again.Password.Reveal() != "second" || s.Password.Reveal() != "first" {
		t.Fatalf("reload: %v", err)
	}
	if err := os.Remove(pw); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Reload(); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("reload without the file: %v", err)
	}
}

// A password file owned by root and readable by its group (a Kubernetes
// Secret mounted with fsGroup) is accepted; readable by others, or
// group-readable but owned by someone else, it is not.
func TestPasswordFileGroupReadableOnlyWhenOwnedByRoot(t *testing.T) {
	if runtime.GOOS == "windows" || os.Geteuid() != 0 {
		t.Skip("needs root on Unix to own and give away files")
	}
	dir := t.TempDir()
	pw := filepath.Join(dir, "password")
	if err := os.WriteFile(pw, []byte("s3cret\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(pw, 0o640); err != nil {
		t.Fatal(err)
	}
	args := []string{"--config-file-path", "m", "--directory", "ldaps://dc1", "--password-file", pw}
	if s, err := Parse(args, noenv); err != nil || s.Password.Reveal() != "s3cret" {
		t.Fatalf("root-owned 0640: %v", err)
	}
	for _, mode := range []os.FileMode{0o644, 0o660} {
		_ = os.Chmod(pw, mode)
		if _, err := Parse(args, noenv); err == nil || !strings.Contains(err.Error(), "can be read by other users") {
			t.Errorf("root-owned %04o: %v", mode, err)
		}
	}
	_ = os.Chmod(pw, 0o640)
	if err := os.Chown(pw, 65534, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := Parse(args, noenv); err == nil || !strings.Contains(err.Error(), "can be read by other users (mode 0640)") {
		t.Errorf("0640 owned by another user: %v", err)
	}
}

// A bind with --login and no password anywhere needs one: the command asks
// on a terminal. Not for Kerberos, --anonymous, file exports, or when a
// password is given; and the scheduler's Reload keeps the typed password
// (it is in no file to read again) unless one is given by then.
func TestNeedsPasswordAndReloadKeepsThePromptedOne(t *testing.T) {
	base := []string{"--config-file-path", "m", "--login", "svc@corp.example.com"}
	for _, tt := range []struct {
		args []string
		env  map[string]string
		want bool
	}{
		{args: []string{"--directory", "ldaps://dc1"}, want: true},
		{args: []string{"--directory", "LDAP://dc1", "--start-tls"}, want: true},
		{args: []string{"--domain", "corp.example.com"}, want: true},
		{args: []string{"--directory", "ldaps://dc1", "--kerberos-ccache", "/tmp/krb5cc_0"}},
		{args: []string{"--directory", "ldaps://dc1"}, env: map[string]string{"UPNSYNC_PASSWORD": "x"}},
	} {
		s := mustParse(t, append(append([]string{}, base...), tt.args...), func(k string) string { return tt.env[k] })
		if got := s.NeedsPassword(); got != tt.want {
			t.Errorf("%v %v: NeedsPassword %v, want %v", tt.args, tt.env, got, tt.want)
		}
	}
	if s := mustParse(t, []string{"--config-file-path", "m", "--directory", "ldaps://dc1", "--anonymous"}, noenv); s.NeedsPassword() {
		t.Error("--anonymous needs a password")
	}
	// A file export binds to nothing: --login is refused there, and no
	// password is asked for.
	if s := mustParse(t, []string{"--config-file-path", "m", "--directory", "ldif:users.ldif"}, noenv); s.NeedsPassword() {
		t.Error("an LDIF export needs a password")
	}
	if _, err := Parse(append(append([]string{}, base...), "--directory", "ldif:users.ldif"), noenv); err == nil ||
		!strings.Contains(err.Error(), "--login applies to LDAP directories") {
		t.Errorf("--login with an LDIF export: %v", err)
	}

	s := mustParse(t, append(append([]string{}, base...), "--directory", "ldaps://dc1"), noenv)
	s.SetPromptedPassword("typed")
	if s.PasswordSource() != "interactive prompt" {
		t.Errorf("source %q", s.PasswordSource())
	}
	again, err := s.Reload()
	if err != nil || again.Password.Reveal() != "typed" || again.PasswordSource() != "interactive prompt" {
		t.Fatalf("reload lost the typed password: %v (source %q)", err, again.PasswordSource())
	}
}
