package main

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/upnsync/upnsync/internal/testenv"
)

// Secret hygiene: however the password is given, it reaches the directory
// (the bind works, or fails as a wrong password) and nothing else: not the
// log file, not a report in any format, not an error or warning, not the
// store. The process's command line is in secrets_linux_test.go.

type secretRoute struct {
	name string
	// give returns the arguments and environment that pass secret.
	give func(t *testing.T, dir, secret string) ([]string, map[string]string)
}

func writeFile(t *testing.T, path, data string, mode os.FileMode) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), mode); err != nil {
		t.Fatal(err)
	}
	return path
}

var secretRoutes = []secretRoute{
	{"--password VALUE", func(t *testing.T, dir, secret string) ([]string, map[string]string) {
		return []string{"--password", secret}, nil
	}},
	{"--password=VALUE", func(t *testing.T, dir, secret string) ([]string, map[string]string) {
		return []string{"--password=" + secret}, nil
	}},
	{"/Password:VALUE", func(t *testing.T, dir, secret string) ([]string, map[string]string) {
		return []string{"/Password:" + secret}, nil
	}},
	{`/Password:"VALUE"`, func(t *testing.T, dir, secret string) ([]string, map[string]string) {
		return []string{`/Password:"` + secret + `"`}, nil
	}},
	{"UPNSYNC_PASSWORD", func(t *testing.T, dir, secret string) ([]string, map[string]string) {
		return nil, map[string]string{"UPNSYNC_PASSWORD": secret}
	}},
	{"--password-file", func(t *testing.T, dir, secret string) ([]string, map[string]string) {
		return []string{"--password-file", writeFile(t, filepath.Join(dir, "pw"), secret+"\n", 0o600)}, nil
	}},
	{"/PasswordFile: from UPNSYNC_SETTINGS", func(t *testing.T, dir, secret string) ([]string, map[string]string) {
		pw := writeFile(t, filepath.Join(dir, "pw"), secret, 0o600)
		settings := writeFile(t, filepath.Join(dir, "upnsync.conf"), "password-file = "+pw+"\n", 0o644)
		return nil, map[string]string{"UPNSYNC_SETTINGS": settings}
	}},
}

func randomSecret(t *testing.T, prefix string) string {
	b := make([]byte, 9)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return prefix + hex.EncodeToString(b)
}

// everything gathers what a run left behind that someone could read.
func everything(t *testing.T, dir string, outputs ...string) string {
	t.Helper()
	var b strings.Builder
	for _, o := range outputs {
		b.WriteString(o)
	}
	filepath.Walk(dir, func(path string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() && filepath.Base(path) != "pw" {
			data, _ := os.ReadFile(path)
			b.Write(data)
		}
		return nil
	})
	return b.String()
}

func TestPasswordNeverLeaks(t *testing.T) {
	e := testenv.LDAP(t)
	wrong := randomSecret(t, "Wr0ng-")
	for _, route := range secretRoutes {
		for _, tt := range []struct {
			name   string
			secret string
			code   int
			want   string
		}{
			{"right password", e.Password, exitPending, ""},
			{"wrong password", wrong, exitError, "wrong password"},
		} {
			t.Run(route.name+"/"+tt.name, func(t *testing.T) {
				dir := t.TempDir()
				db := filepath.Join(dir, "octopus.db")
				if code, _, errOut := cli(t, nil, "store", "import", "--store", "sqlite:"+db, e.OctopusCSV); code != 0 {
					t.Fatal(errOut)
				}
				args, env := route.give(t, dir, tt.secret)
				base := append([]string{"--config-file-path", filepath.Join("..", "..", "testdata", "mapping", "ADSIReaderLDAPMappings-upn.xml"),
					"--directory", e.LDAPSURL, "--ca-file", e.CAFile, "--login", e.BindDN, "--domain", e.Base,
					"--store", "sqlite:" + db, "--log-file-path", filepath.Join(dir, "logs") + string(filepath.Separator),
					"--retries", "0"}, args...)
				var outputs []string
				for _, format := range []string{"text", "json", "csv"} {
					code, out, errOut := cli(t, env, append(base, "--report", format)...)
					if code != tt.code || !strings.Contains(errOut, tt.want) {
						t.Fatalf("%s report: exit %d, want %d\n%s", format, code, tt.code, errOut)
					}
					outputs = append(outputs, out, errOut)
					code, _, errOut = cli(t, env, append(base, "--report", format, "--report-file", filepath.Join(dir, "report."+format))...)
					if code != tt.code {
						t.Fatalf("%s report file: exit %d\n%s", format, code, errOut)
					}
					outputs = append(outputs, errOut)
				}
				if tt.code == exitPending {
					code, out, errOut := cli(t, env, append(base, "--apply")...)
					if code != exitOK && code != exitConflicts {
						t.Fatalf("apply: exit %d\n%s", code, errOut)
					}
					outputs = append(outputs, out, errOut)
				}
				all := everything(t, dir, outputs...)
				if strings.Contains(all, tt.secret) {
					t.Fatalf("the password appears in an output, the log, a report or the store")
				}
				logs, _ := filepath.Glob(filepath.Join(dir, "logs", "upnsync_*.log"))
				if len(logs) == 0 || !strings.Contains(everything(t, filepath.Join(dir, "logs")), "settings.password=") {
					t.Fatalf("no log saying where the password came from: %v", logs)
				}
			})
		}
	}
}

// Where a password is refused, the refusal does not repeat it.
func TestRefusedPasswordIsNotRepeated(t *testing.T) {
	secret := randomSecret(t, "S3cret-")
	dir := t.TempDir()
	settings := writeFile(t, filepath.Join(dir, "upnsync.conf"), "directory = ldaps://dc1.corp.example.com\npassword = "+secret+"\n", 0o644)
	openFile := writeFile(t, filepath.Join(dir, "open.pw"), secret, 0o644)
	mappingFile := filepath.Join("..", "..", "testdata", "mapping", "ADSIReaderLDAPMappings-upn.xml")
	for _, tt := range []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"in a settings file", []string{"--settings", settings, "--config-file-path", mappingFile}, nil,
			settings + ":2: a password does not belong in a settings file; use password-file = FILE"},
		{"in a settings file from UPNSYNC_SETTINGS", []string{"--config-file-path", mappingFile}, map[string]string{"UPNSYNC_SETTINGS": settings},
			settings + ":2: a password does not belong in a settings file"},
		{"a password file others can read", []string{"--config-file-path", mappingFile, "--directory", "ldaps://dc1", "--password-file", openFile}, nil,
			"can be read by other users (mode 0644)"},
		{"both a password and a password file", []string{"--config-file-path", mappingFile, "--directory", "ldaps://dc1", "--password", secret, "--password-file", openFile}, nil,
			"give the password either with --password-file or with --password, not both"},
		{"in the directory URL", []string{"--config-file-path", mappingFile, "--directory", "ldaps://svc:" + secret + "@127.0.0.1:1", "--store", "sqlite:" + filepath.Join(dir, "none.db")}, nil,
			"the database file"},
		{"in the directory URL, store present", []string{"--config-file-path", mappingFile, "--directory", "ldaps://svc:" + secret + "@127.0.0.1:1", "--store", "sqlite:" + seedStore(t, dir)}, nil,
			"holds credentials: put none in the URL"},
		{"a --password option typed wrong", []string{"--passwort=" + secret}, nil, "unknown option"},
		{"/Password: without a value", []string{"/Password"}, nil, "/Password needs a value"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := cli(t, tt.env, tt.args...)
			if code != exitError || !strings.Contains(errOut, tt.want) {
				t.Fatalf("exit %d\n%s\nwant %q", code, errOut, tt.want)
			}
			if strings.Contains(out+errOut, secret) {
				t.Fatalf("the refusal repeats the password:\n%s", errOut)
			}
		})
	}
}

// seedStore makes a store from the demo users.
func seedStore(t *testing.T, dir string) string {
	t.Helper()
	db := filepath.Join(dir, "demo.db")
	if code, _, errOut := cli(t, nil, "store", "import", "--store", "sqlite:"+db, filepath.Join("..", "..", "testdata", "demo", "octopus-users.csv")); code != 0 {
		t.Fatal(errOut)
	}
	return db
}
