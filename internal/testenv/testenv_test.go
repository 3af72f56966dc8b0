package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadEnvFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "env")
	content := `# comment

UPNSYNC_TEST_LDAP_URL='ldap://127.0.0.1:1389'
export UPNSYNC_TEST_BASE="dc=corp,dc=example,dc=com"
UPNSYNC_TEST_BIND_DN=cn=reader,ou=service
UPNSYNC_TEST_LDIF='/tmp/it'\''s here/users.ldif'
UPNSYNC_TEST_EMPTY=
`
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := ReadEnvFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"UPNSYNC_TEST_LDAP_URL": "ldap://127.0.0.1:1389",
		"UPNSYNC_TEST_BASE":     "dc=corp,dc=example,dc=com",
		"UPNSYNC_TEST_BIND_DN":  "cn=reader,ou=service",
		"UPNSYNC_TEST_LDIF":     "/tmp/it's here/users.ldif",
		"UPNSYNC_TEST_EMPTY":    "",
	}
	if len(got) != len(want) {
		t.Errorf("got %v", got)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	for _, bad := range []string{"NOEQUALS\n", "A='open\n", "=x\n"} {
		if err := os.WriteFile(path, []byte(bad), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := ReadEnvFile(path); err == nil || !strings.Contains(err.Error(), path+":1:") {
			t.Errorf("%q: error %v, want one naming %s:1", bad, err, path)
		}
	}
}

// TestEnvFileMatchesTheScript checks that the quoting of the script's
// envline is undone by ReadEnvFile, values with quotes and spaces included.
func TestEnvFileMatchesTheScript(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(root, "scripts", "testdirs.sh")
	src, err := os.ReadFile(script)
	if err != nil {
		t.Fatal(err)
	}
	// Take the envline function out of the script and run it.
	s := string(src)
	i := strings.Index(s, "envline() {")
	j := strings.Index(s[i:], "\n}\n")
	if i < 0 || j < 0 {
		t.Fatal("no envline function in scripts/testdirs.sh")
	}
	fn := s[i : i+j+3]
	value := `/tmp/a 'quoted' "dir"/$HOME\x`
	out, err := exec.Command("bash", "-c", fn+`envline NAME "$1"`, "bash", value).Output()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "env")
	if err := os.WriteFile(path, out, 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := ReadEnvFile(path)
	if err != nil || got["NAME"] != value {
		t.Errorf("round trip of %q through %q: %q, %v", value, out, got["NAME"], err)
	}
	// And the shell reads it back the same way.
	back, err := exec.Command("bash", "-c", `set -a; . "$1"; printf %s "$NAME"`, "bash", path).Output()
	if err != nil || string(back) != value {
		t.Errorf("bash reads %q back as %q, %v", out, back, err)
	}
}

func TestRepoRoot(t *testing.T) {
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Errorf("RepoRoot %s has no go.mod", root)
	}
	if _, err := os.Stat(filepath.Join(root, "internal", "testenv")); err != nil {
		t.Errorf("RepoRoot %s is not this repository", root)
	}
}

// fakeTB records what LDAP's helpers would do to a test.
type fakeTB struct {
	testing.TB
	skipped, failed string
}

func (f *fakeTB) Helper()           {}
func (f *fakeTB) Skip(args ...any)  { f.skipped = args[0].(string) }
func (f *fakeTB) Fatal(args ...any) { f.failed = args[0].(string) }

func TestMissingSkipsOrFailsInCI(t *testing.T) {
	t.Setenv("CI", "")
	f := &fakeTB{TB: t}
	missing(f, "no server; %s", startHint)
	if f.skipped != "no server; start them with scripts/testdirs.sh start" || f.failed != "" {
		t.Errorf("outside CI: skipped %q, failed %q", f.skipped, f.failed)
	}
	t.Setenv("CI", "true")
	f = &fakeTB{TB: t}
	missing(f, "no server; %s", startHint)
	if f.skipped != "" || !strings.Contains(f.failed, "CI=true: a missing test server is a failure") {
		t.Errorf("in CI: skipped %q, failed %q", f.skipped, f.failed)
	}
}

func TestReachable(t *testing.T) {
	if err := reachable("ldap://127.0.0.1:1"); err == nil {
		t.Error("port 1 on loopback answers?")
	}
	if err := reachable("::bad"); err == nil {
		t.Error("a bad URL is reachable?")
	}
}

// No browser for the HTML report's tests: skipped on a workstation, a
// failure in CI, whether none is on PATH or the one named is missing.
func TestChromiumMissingSkipsOrFailsInCI(t *testing.T) {
	for _, named := range []string{"", filepath.Join(t.TempDir(), "no-chromium")} {
		t.Setenv(VarChromium, named)
		t.Setenv("PATH", t.TempDir())
		t.Setenv("CI", "")
		f := &fakeTB{TB: t}
		Chromium(f)
		if !strings.Contains(f.skipped, "scripts/testdirs.sh install") || f.failed != "" {
			t.Errorf("%s=%q outside CI: skipped %q, failed %q", VarChromium, named, f.skipped, f.failed)
		}
		t.Setenv("CI", "true")
		f = &fakeTB{TB: t}
		Chromium(f)
		if f.skipped != "" || !strings.Contains(f.failed, "CI=true: a missing test server is a failure") {
			t.Errorf("%s=%q in CI: skipped %q, failed %q", VarChromium, named, f.skipped, f.failed)
		}
	}
}
