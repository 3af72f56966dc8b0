// Package testenv finds the real servers that integration tests run
// against: the test directories started by scripts/testdirs.sh. Settings
// come from UPNSYNC_TEST_* environment variables or, when those are unset,
// from the env file the script writes (<repo root>/.testdirs/env, or
// $UPNSYNC_TESTDIRS/env).
//
// When a server is not configured or not running, a test is skipped with
// the command that starts it; in CI (CI=true) it fails instead: there a
// missing server is a failure, never a skip.
package testenv

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// LDAPEnv describes the test OpenLDAP server (slapd with AD's attributes
// and AD-like size limits).
type LDAPEnv struct {
	// URL is the plain ldap:// URL (use StartTLS or AllowPlaintextBind).
	URL string
	// LDAPSURL is the ldaps:// URL.
	LDAPSURL string
	// CAFile is the PEM file of the test CA that signed the server's
	// certificate.
	CAFile string
	// Base is the domain's base DN.
	Base string
	// BindDN is a normal service account with read access (size limits
	// apply to it, as they would in AD).
	BindDN string
	// Password is BindDN's password, read from PasswordFile.
	Password     string
	PasswordFile string
	// Users is the number of user entries under Base.
	Users int
	// LDIF is the generated LDIF the server was loaded from.
	LDIF string
	// OctopusCSV is the Octopus users export generated for the same people.
	OctopusCSV string
}

// Variable names, as written to the env file by scripts/testdirs.sh.
const (
	VarLDAPURL      = "UPNSYNC_TEST_LDAP_URL"
	VarLDAPSURL     = "UPNSYNC_TEST_LDAPS_URL"
	VarCAFile       = "UPNSYNC_TEST_CA_FILE"
	VarBase         = "UPNSYNC_TEST_BASE"
	VarBindDN       = "UPNSYNC_TEST_BIND_DN"
	VarPasswordFile = "UPNSYNC_TEST_PASSWORD_FILE"
	VarUsers        = "UPNSYNC_TEST_USERS"
	VarLDIF         = "UPNSYNC_TEST_LDIF"
	VarOctopusCSV   = "UPNSYNC_TEST_OCTOPUS_CSV"
)

const startHint = "start them with scripts/testdirs.sh start"

// LDAP returns the test LDAP server, or skips the test (fails it when
// CI=true) when none is configured or it does not answer.
func LDAP(t testing.TB) LDAPEnv {
	t.Helper()
	vars, src, err := settings()
	if err != nil {
		missing(t, "test directories: %v; %s", err, startHint)
	}
	if vars[VarLDAPURL] == "" {
		missing(t, "no test LDAP server configured (%s unset, no env file at %s); %s", VarLDAPURL, src, startHint)
	}
	e := LDAPEnv{
		URL:          vars[VarLDAPURL],
		LDAPSURL:     vars[VarLDAPSURL],
		CAFile:       vars[VarCAFile],
		Base:         vars[VarBase],
		BindDN:       vars[VarBindDN],
		PasswordFile: vars[VarPasswordFile],
		LDIF:         vars[VarLDIF],
		OctopusCSV:   vars[VarOctopusCSV],
	}
	for name, v := range map[string]string{VarLDAPSURL: e.LDAPSURL, VarCAFile: e.CAFile, VarBase: e.Base,
		VarBindDN: e.BindDN, VarPasswordFile: e.PasswordFile, VarUsers: vars[VarUsers]} {
		if v == "" {
			missing(t, "test LDAP settings from %s lack %s; %s", src, name, startHint)
		}
	}
	n, err := strconv.Atoi(vars[VarUsers])
	if err != nil || n < 0 {
		missing(t, "%s=%q (from %s) is not a count", VarUsers, vars[VarUsers], src)
	}
	e.Users = n
	pw, err := os.ReadFile(e.PasswordFile)
	if err != nil {
		missing(t, "cannot read the test password file: %v; %s", err, startHint)
	}
	e.Password = strings.TrimRight(string(pw), "\r\n")
	if err := reachable(e.URL); err != nil {
		missing(t, "the test LDAP server at %s does not answer (%v); %s", e.URL, err, startHint)
	}
	return e
}

// missing skips the test, or fails it in CI.
func missing(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg + " (CI=true: a missing test server is a failure)")
		return
	}
	t.Skip(msg)
}

func reachable(rawURL string) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		return err
	}
	host := u.Host
	if u.Port() == "" {
		port := "389"
		if u.Scheme == "ldaps" {
			port = "636"
		}
		host = net.JoinHostPort(u.Hostname(), port)
	}
	c, err := net.DialTimeout("tcp", host, 2*time.Second)
	if err != nil {
		return err
	}
	return c.Close()
}

var (
	loadOnce sync.Once
	loaded   map[string]string
	loadSrc  string
	loadErr  error
)

// settings returns the UPNSYNC_TEST_* settings: the environment's when
// UPNSYNC_TEST_LDAP_URL is set there, else the env file's.
func settings() (map[string]string, string, error) {
	loadOnce.Do(func() {
		if os.Getenv(VarLDAPURL) != "" {
			loaded, loadSrc = map[string]string{}, "the environment"
			for _, kv := range os.Environ() {
				if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, "UPNSYNC_TEST_") {
					loaded[k] = v
				}
			}
			return
		}
		path, err := EnvFile()
		if err != nil {
			loadErr = err
			return
		}
		loadSrc = path
		loaded, loadErr = ReadEnvFile(path)
		if errors.Is(loadErr, os.ErrNotExist) {
			loaded, loadErr = map[string]string{}, nil
		}
	})
	return loaded, loadSrc, loadErr
}

// EnvFile is the path of the env file scripts/testdirs.sh writes.
func EnvFile() (string, error) {
	if d := os.Getenv("UPNSYNC_TESTDIRS"); d != "" {
		return filepath.Join(d, "env"), nil
	}
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, ".testdirs", "env"), nil
}

// RepoRoot is the folder holding go.mod, found from the working directory
// upwards (go test runs tests in their package's folder).
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// ReadEnvFile parses NAME=VALUE lines as scripts/testdirs.sh writes them:
// comments (#), blank lines, an optional "export ", values bare or in
// single or double quotes, as unquote describes.
func ReadEnvFile(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	vars := map[string]string{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		k, v, ok := strings.Cut(line, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("%s:%d: expected NAME=VALUE", path, n)
		}
		val, err := unquote(v)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %v", path, n, err)
		}
		vars[strings.TrimSpace(k)] = val
	}
	return vars, sc.Err()
}

// unquote undoes the shell quoting of one word, a quote inside single
// quotes included:
//
//	'a'\''b'  is  a'b
func unquote(s string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); {
		switch s[i] {
		case '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return "", errors.New("unterminated single quote")
			}
			b.WriteString(s[i+1 : i+1+j])
			i += j + 2
		case '"':
			j := strings.IndexByte(s[i+1:], '"')
			if j < 0 {
				return "", errors.New("unterminated double quote")
			}
			b.WriteString(s[i+1 : i+1+j])
			i += j + 2
		case '\\':
			if i+1 < len(s) {
				b.WriteByte(s[i+1])
			}
			i += 2
		default:
			b.WriteByte(s[i])
			i++
		}
	}
	return b.String(), nil
}
