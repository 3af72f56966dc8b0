package config

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// The Entra ID options: --directory entra:TENANT in both spellings, the
// secrets only from a file (with --password-file's permission rules) or
// the environment, never the command line, a settings file, the log's
// settings or the plan's.
func TestEntraOptions(t *testing.T) {
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "secret")
	if err := os.WriteFile(secretFile, []byte("fr0m-the-file\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	base := []string{"--config-file-path", "m.xml", "--directory", "entra:contoso.onmicrosoft.com", "--client-id", "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"}

	s := mustParse(t, append(base, "--client-secret-file", secretFile), envOf(map[string]string{"UPNSYNC_CLIENT_SECRET": "fr0m-the-env"}))
	if s.ClientSecret.Reveal() != "fr0m-the-file" || s.ClientSecretSource() != "client secret file "+secretFile {
		t.Errorf("the file wins over the environment: %q from %q", s.ClientSecret.Reveal(), s.ClientSecretSource())
	}
	s = mustParse(t, []string{"/ConfigFilePath:m.xml", "/Directory:entra:contoso.onmicrosoft.com", "/ClientId:x"},
		envOf(map[string]string{"UPNSYNC_CLIENT_SECRET": "fr0m-the-env"}))
	if s.Directory != "entra:contoso.onmicrosoft.com" || s.ClientSecret.Reveal() != "fr0m-the-env" ||
		s.ClientSecretSource() != "environment variable UPNSYNC_CLIENT_SECRET" {
		t.Errorf("Windows spelling and the environment: %q %q from %q", s.Directory, s.ClientSecret.Reveal(), s.ClientSecretSource())
	}
	for _, a := range s.LogAttrs() {
		if strings.Contains(a.Value.String(), "fr0m") {
			t.Errorf("the log's settings hold the secret: %s=%s", a.Key, a.Value)
		}
	}
	for k, v := range s.PlanSettings() {
		if strings.Contains(v, "fr0m") {
			t.Errorf("the plan's settings hold the secret: %s=%s", k, v)
		}
	}

	// Not on the command line, in any spelling; not in a settings file.
	for _, args := range [][]string{{"--client-secret", "x"}, {"--client-secret=x"}, {"/ClientSecret:x"}, {"/ClientCertificatePassword:x"}} {
		if _, err := Parse(append(append([]string{}, base...), args...), noenv); err == nil {
			t.Errorf("%q accepted on the command line", args)
		}
	}
	conf := filepath.Join(dir, "upnsync.conf")
	if err := os.WriteFile(conf, []byte("client-secret = x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Parse(append(base, "--settings", conf), noenv); err == nil || !strings.Contains(err.Error(), "use client-secret-file = FILE") {
		t.Errorf("a secret in a settings file: %v", err)
	}

	// A secret file others can read is refused, as a password file is.
	if runtime.GOOS != "windows" && os.Getuid() != 0 {
		open := filepath.Join(dir, "open")
		if err := os.WriteFile(open, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := Parse(append(base, "--client-secret-file", open), noenv); err == nil ||
			!strings.Contains(err.Error(), "--client-secret-file: password file "+open+" can be read by other users") {
			t.Errorf("a readable secret file: %v", err)
		}
	}
	// A PFX password without a certificate opens nothing.
	if _, err := Parse(base, envOf(map[string]string{"UPNSYNC_CLIENT_CERTIFICATE_PASSWORD": "pfx"})); err == nil ||
		!strings.Contains(err.Error(), "environment variable UPNSYNC_CLIENT_CERTIFICATE_PASSWORD") {
		t.Errorf("a certificate password without a certificate: %v", err)
	}
	// The secret's variable where Entra ID is not read: named, not used.
	s = mustParse(t, []string{"--config-file-path", "m.xml", "--directory", "ldif:x.ldif"}, envOf(map[string]string{"UPNSYNC_CLIENT_SECRET": "fr0m-the-env"}))
	if !s.ClientSecret.IsZero() || !strings.Contains(strings.Join(s.Warnings, "\n"), "UPNSYNC_CLIENT_SECRET is not used: --client-secret applies to Entra ID") {
		t.Errorf("UPNSYNC_CLIENT_SECRET with an LDIF export: %q", s.Warnings)
	}
}

// --managed-identity alone is the system-assigned identity; with a
// client ID (after =, :, or as the next argument when it is a GUID) a
// user-assigned one.
func TestManagedIdentityOption(t *testing.T) {
	const id = "01234567-89ab-cdef-0123-456789abcdef"
	base := []string{"--config-file-path", "m.xml", "--directory", "entra:contoso.onmicrosoft.com"}
	for _, tt := range []struct {
		args []string
		id   string
	}{
		{[]string{"--managed-identity"}, ""},
		{[]string{"--managed-identity", id}, id},
		{[]string{"--managed-identity=" + id}, id},
		{[]string{"/ManagedIdentity"}, ""},
		{[]string{"/managedidentity:" + id}, id},
		{[]string{"--managed-identity", "sync"}, ""}, // the command, not a client ID
	} {
		s, err := Parse(append(append([]string{}, base...), tt.args...), noenv)
		if err != nil || !s.ManagedIdentity || s.ManagedIdentityClientID != tt.id || s.Command != "sync" {
			t.Errorf("%q: %v managed %v id %q command %q", tt.args, err, s != nil && s.ManagedIdentity, tt.id, s.Command)
		}
	}
	if _, err := Parse(append(base, "--managed-identity=my-vm"), noenv); err == nil || !strings.Contains(err.Error(), `"my-vm" is not the client ID of a managed identity`) {
		t.Errorf("a name instead of a client ID: %v", err)
	}
	s := mustParse(t, base, envOf(map[string]string{"UPNSYNC_MANAGED_IDENTITY": id}))
	if !s.ManagedIdentity || s.ManagedIdentityClientID != id {
		t.Errorf("from the environment: %v %q", s.ManagedIdentity, s.ManagedIdentityClientID)
	}
}

// LDAP's options are refused with Entra ID, naming the kind.
func TestLDAPOptionsRefusedWithEntra(t *testing.T) {
	for _, opt := range [][]string{{"--domain", "corp.example.com"}, {"--login", "x"}, {"--filter", "(a=b)"},
		{"--user-filter", "(a=b)"}, {"--start-tls"}, {"--page-size", "10"}, {"--global-catalog"}, {"--ntlm"},
		{"--kerberos-keytab", "k"}, {"--anonymous"}, {"--dirsync"}, {"/Login:x"}} {
		args := append([]string{"--config-file-path", "m.xml", "--directory", "entra:contoso.onmicrosoft.com"}, opt...)
		_, err := Parse(args, noenv)
		name, _, _ := strings.Cut(opt[0], ":")
		if err == nil || !strings.Contains(err.Error(), name+" applies to") || !strings.Contains(err.Error(), "entra:contoso.onmicrosoft.com is Microsoft Entra ID") {
			t.Errorf("%q: %v", opt, err)
		}
	}
}
