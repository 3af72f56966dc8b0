package config

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// --domain in ADSI's path form becomes the base's DN; its server becomes
// the directory when none is given, and a warning says how it was read and
// how to write it.
func TestADSIPathAsDomain(t *testing.T) {
	base := []string{"--config-file-path", "m.xml"}
	for _, tt := range []struct {
		name       string
		args       []string
		directory  string
		startTLS   bool
		gc         bool
		domains    string
		warn       []string
		noWarnings bool
	}{
		{name: "server and base", args: []string{"--domain", "LDAP://dc1.corp.example.com/OU=Berlin,DC=corp,DC=example,DC=com"},
			directory: "ldap://dc1.corp.example.com", startTLS: true, domains: "OU=Berlin,DC=corp,DC=example,DC=com",
			warn: []string{"--domain LDAP://dc1.corp.example.com/OU=Berlin,DC=corp,DC=example,DC=com is read as OU=Berlin,DC=corp,DC=example,DC=com on ldap://dc1.corp.example.com with StartTLS (ADSI's LDAP:// is port 389; for LDAPS give --directory ldaps://dc1.corp.example.com)",
				"write --directory ldap://dc1.corp.example.com --start-tls --domain OU=Berlin,DC=corp,DC=example,DC=com to say so yourself"}},
		{name: "LDAPS port", args: []string{"--domain", "LDAP://dc1.corp.example.com:636/OU=Berlin,DC=corp,DC=example,DC=com"},
			directory: "ldaps://dc1.corp.example.com:636", domains: "OU=Berlin,DC=corp,DC=example,DC=com",
			warn: []string{"write --directory ldaps://dc1.corp.example.com:636 --domain OU=Berlin,DC=corp,DC=example,DC=com"}},
		{name: "no server: found through DNS", args: []string{"--domain", "LDAP://OU=Berlin,DC=corp,DC=example,DC=com"},
			domains: "OU=Berlin,DC=corp,DC=example,DC=com",
			warn:    []string{"on the domain controllers found through DNS (StartTLS)", "write --domain OU=Berlin,DC=corp,DC=example,DC=com"}},
		{name: "Global Catalog", args: []string{"--domain", "GC://dc1.corp.example.com/DC=corp,DC=example,DC=com"},
			directory: "ldap://dc1.corp.example.com", startTLS: true, gc: true, domains: "DC=corp,DC=example,DC=com",
			warn: []string{"(ADSI's GC:// is port 3268; for LDAPS give --directory ldaps://dc1.corp.example.com --global-catalog)", "--global-catalog to say so yourself"}},
		{name: "same server as --directory", args: []string{"--directory", "ldaps://dc1.corp.example.com", "--domain", "LDAP://DC1.corp.example.com/OU=Berlin,DC=corp,DC=example,DC=com"},
			directory: "ldaps://dc1.corp.example.com", domains: "OU=Berlin,DC=corp,DC=example,DC=com", noWarnings: true},
		{name: "another server than --directory", args: []string{"--directory", "ldaps://dc1.corp.example.com", "--domain", "LDAP://dc2.corp.example.com/OU=Berlin,DC=corp,DC=example,DC=com"},
			directory: "ldaps://dc1.corp.example.com", domains: "OU=Berlin,DC=corp,DC=example,DC=com",
			warn: []string{"--domain LDAP://dc2.corp.example.com/OU=Berlin,DC=corp,DC=example,DC=com: the server dc2.corp.example.com is not used: --directory ldaps://dc1.corp.example.com names the directory"}},
		{name: "an export", args: []string{"--directory", "ldif:users.ldif", "--domain", "LDAP://dc2/OU=Berlin,DC=corp,DC=example,DC=com"},
			directory: "ldif:users.ldif", domains: "OU=Berlin,DC=corp,DC=example,DC=com", warn: []string{"the server dc2 is not used"}},
		{name: "mixed with a DN", args: []string{"--domain", "LDAP://dc1/OU=Berlin,DC=corp,DC=example,DC=com", "--domain", "OU=Paris,DC=corp,DC=example,DC=com"},
			directory: "ldap://dc1", startTLS: true, domains: "OU=Berlin,DC=corp,DC=example,DC=com|OU=Paris,DC=corp,DC=example,DC=com"},
		{name: "server only", args: []string{"--domain", "LDAP://dc1.corp.example.com"},
			directory: "ldap://dc1.corp.example.com", startTLS: true, domains: "",
			warn: []string{"is read as the server's default naming context on ldap://dc1.corp.example.com with StartTLS"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := mustParse(t, append(append([]string{}, base...), tt.args...), noenv)
			if s.Directory != tt.directory || s.StartTLS != tt.startTLS || s.GlobalCatalog != tt.gc || strings.Join(s.Domains, "|") != tt.domains {
				t.Errorf("directory %q StartTLS %v GC %v domains %q", s.Directory, s.StartTLS, s.GlobalCatalog, s.Domains)
			}
			all := strings.Join(s.Warnings, "\n")
			for _, w := range tt.warn {
				if !strings.Contains(all, w) {
					t.Errorf("warnings %q lack %q", s.Warnings, w)
				}
			}
			if tt.noWarnings && len(s.Warnings) > 0 {
				t.Errorf("warnings: %q", s.Warnings)
			}
		})
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--domain", "LDAP://dc1/OU=A,DC=corp", "--domain", "LDAP://dc2/OU=B,DC=corp"}, "name different servers: give --directory"},
		{[]string{"--domain", "LDAP://<GUID=3f2504e0-4f89-11d3-9a0c-0305e82c3301>"}, "needs the DN of the base"},
		{[]string{"--domain", "LDAP://dc1.corp.example.com:636/OU=A,DC=corp", "--start-tls"}, "--start-tls"},
	} {
		_, err := Parse(append(append([]string{}, base...), tt.args...), noenv)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Parse(%q) = %v, want an error with %q", tt.args, err, tt.want)
		}
	}
}

// A keytab or a credential cache others can read is refused as a password
// file is; one only its owner reads is accepted.
func TestKerberosFilesArePrivate(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no file modes on Windows")
	}
	dir := t.TempDir()
	write := func(name string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte{5, 2}, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	args := []string{"--config-file-path", "m.xml", "--directory", "ldaps://dc1.corp.example.com"}
	shared, private := write("shared.keytab", 0o644), write("private.keytab", 0o600)
	for _, tt := range []struct {
		opt, file, want string
	}{
		{"--kerberos-keytab", shared, "keytab " + shared + " can be read by other users (mode 0644): run chmod 600 " + shared},
		{"--kerberos-ccache", shared, "Kerberos credential cache " + shared + " can be read by other users (mode 0644)"},
		{"--kerberos-ccache", "FILE:" + shared, "Kerberos credential cache " + shared + " can be read by other users"},
		{"--kerberos-keytab", private, ""},
		{"--kerberos-keytab", filepath.Join(dir, "none.keytab"), ""}, // the bind says what to do
	} {
		_, err := Parse(append(append([]string{}, args...), tt.opt, tt.file), noenv)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s %s: %v", tt.opt, tt.file, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s %s: %v, want %q", tt.opt, tt.file, err, tt.want)
		}
	}
	// The same rule as a password file's: the message has the same form.
	pw := write("shared.password", 0o644)
	_, err := Parse(append(append([]string{}, args...), "--login", "svc@corp", "--password-file", pw), noenv)
	if err == nil || !strings.Contains(err.Error(), "password file "+pw+" can be read by other users (mode 0644): run chmod 600 "+pw) {
		t.Errorf("password file: %v", err)
	}
}
