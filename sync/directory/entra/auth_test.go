package entra

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"github.com/upnsync/upnsync/sync/directory/entra/entratest"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// appCertificate makes the application's certificate and writes it with
// its key as PEM.
func appCertificate(t *testing.T) (*x509.Certificate, string, *rsa.PrivateKey) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "upnsync"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pk8, _ := x509.MarshalPKCS8PrivateKey(key)
	file := filepath.Join(t.TempDir(), "app.pem")
	data := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pk8})...)
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return cert, file, key
}

func readsEveryone(t *testing.T, o Options, want AuthKind) {
	t.Helper()
	d := openTenant(t, o)
	if d.Auth() != want {
		t.Fatalf("signs in with %s, want %s", d.Auth(), want)
	}
	got, res, err := readAll(t, d)
	if err != nil || !res.Complete || len(got) != len(entratest.SampleUsers()) {
		t.Fatalf("read: %d people, %+v, %v", len(got), res, err)
	}
}

func TestClientCertificatePEM(t *testing.T) {
	tn := entratest.New(t)
	tn.Users = entratest.SampleUsers()
	var file string
	tn.Cert, file, _ = appCertificate(t)
	o := tenantOptions(tn)
	o.ClientSecret, o.ClientCertificate = "", file
	readsEveryone(t, o, AuthCertificate)

	// Another certificate: the token endpoint refuses the assertion.
	other, _, _ := appCertificate(t)
	tn.Cert = other
	d := openTenant(t, o)
	if err := d.SignIn(context.Background()); err == nil || !strings.Contains(err.Error(), "AADSTS700027") {
		t.Fatalf("sign-in with the wrong certificate: %v", err)
	}
}

// openssl makes PFX files as Windows and OpenSSL do; CI has it (the test
// directories need it), elsewhere the test is skipped without it.
func openssl(t *testing.T, args ...string) {
	t.Helper()
	if _, err := exec.LookPath("openssl"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("openssl is not installed (CI=true: scripts/testdirs.sh installs it)")
		}
		t.Skip("openssl is not installed")
	}
	if out, err := exec.Command("openssl", args...).CombinedOutput(); err != nil {
		t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func TestClientCertificatePFX(t *testing.T) {
	tn := entratest.New(t)
	tn.Users = entratest.SampleUsers()
	var pemFile string
	tn.Cert, pemFile, _ = appCertificate(t)
	dir := t.TempDir()
	legacy, modern := filepath.Join(dir, "legacy.pfx"), filepath.Join(dir, "modern.pfx")
	// 3DES, as Windows' Export-PfxCertificate writes by default.
	openssl(t, "pkcs12", "-export", "-in", pemFile, "-out", legacy, "-passout", "pass:pfx-pass",
		"-certpbe", "PBE-SHA1-3DES", "-keypbe", "PBE-SHA1-3DES", "-macalg", "sha1")
	o := tenantOptions(tn)
	o.ClientSecret, o.ClientCertificate, o.CertificatePassword = "", legacy, "pfx-pass"
	readsEveryone(t, o, AuthCertificate)

	o.CertificatePassword = "wrong-pass"
	if _, err := Open(o); err == nil || !strings.Contains(err.Error(), legacy) || strings.Contains(err.Error(), "wrong-pass") {
		t.Fatalf("a wrong PFX password: %v", err)
	}
	// AES (OpenSSL 3's default) is beyond azidentity's PKCS#12 reader:
	// the error says what to do.
	openssl(t, "pkcs12", "-export", "-in", pemFile, "-out", modern, "-passout", "pass:pfx-pass",
		"-certpbe", "AES-256-CBC", "-keypbe", "AES-256-CBC", "-macalg", "sha256")
	o.ClientCertificate, o.CertificatePassword = modern, "pfx-pass"
	if _, err := Open(o); err == nil || !strings.Contains(err.Error(), "openssl pkcs12 -in") {
		t.Fatalf("an AES PFX: %v", err)
	}
}

func TestWorkloadIdentityFromTheEnvironment(t *testing.T) {
	tn := entratest.New(t)
	tn.Users, tn.Federated = entratest.SampleUsers(), "eyJhbGciOiJSUzI1NiJ9.kubernetes-service-account-token.sig"
	file := filepath.Join(t.TempDir(), "azure-identity-token")
	if err := os.WriteFile(file, []byte(tn.Federated), 0o600); err != nil {
		t.Fatal(err)
	}
	// As the Azure Workload Identity webhook sets them in a pod.
	t.Setenv(EnvFederatedTokenFile, file)
	t.Setenv("AZURE_CLIENT_ID", entratest.ClientID)
	t.Setenv("AZURE_TENANT_ID", entratest.TenantID)
	o := tenantOptions(tn)
	o.ClientID, o.ClientSecret = "", ""
	readsEveryone(t, o, AuthWorkloadIdentity)
}

func TestManagedIdentity(t *testing.T) {
	tn := entratest.New(t)
	tn.Users, tn.MIClientID = entratest.SampleUsers(), "99999999-8888-7777-6666-555555555555"
	// An App Service managed identity endpoint.
	t.Setenv("IDENTITY_ENDPOINT", tn.Server.URL+"/msi/token")
	t.Setenv("IDENTITY_HEADER", "mi-header")
	o := tenantOptions(tn)
	o.ClientID, o.ClientSecret, o.ManagedIdentity, o.ManagedIdentityClientID = "", "", true, tn.MIClientID
	readsEveryone(t, o, AuthManagedIdentity)
}

// With nothing else given, the Azure CLI's login signs in (an
// administrator's machine): azidentity runs az, here a stand-in.
func TestAzureCLI(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("the stand-in az is a shell script")
	}
	tn := entratest.New(t)
	tn.Users = entratest.SampleUsers()
	tn.Mu.Lock()
	tok := tn.Issue()
	tn.Mu.Unlock()
	bin := t.TempDir()
	script := fmt.Sprintf("#!/bin/sh\ncase \"$*\" in *'--resource %s'*'--tenant %s'*) ;; *) echo \"unexpected: $*\" >&2; exit 1;; esac\n"+
		"echo '{\"accessToken\":\"%s\",\"expires_on\":%d,\"tokenType\":\"Bearer\"}'\n", tn.Server.URL, entratest.TenantID, tok, time.Now().Add(time.Hour).Unix())
	if err := os.WriteFile(filepath.Join(bin, "az"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	t.Setenv(EnvFederatedTokenFile, "")
	os.Unsetenv(EnvFederatedTokenFile)
	o := tenantOptions(tn)
	o.ClientID, o.ClientSecret = "", ""
	readsEveryone(t, o, AuthAzureCLI)
}

func TestOpenRefusesUnclearOptions(t *testing.T) {
	ok := Options{Tenant: "contoso.onmicrosoft.com", ClientID: entratest.ClientID, ClientSecret: entratest.DefaultSecret}
	cases := []struct {
		name string
		edit func(*Options)
		want string
	}{
		{"secret and certificate", func(o *Options) { o.ClientCertificate = "app.pem" }, "use one"},
		{"managed identity and secret", func(o *Options) { o.ManagedIdentity = true }, "--managed-identity takes no client secret"},
		{"managed identity and client id", func(o *Options) { o.ManagedIdentity, o.ClientSecret = true, "" }, "--managed-identity CLIENT_ID"},
		{"secret without client id", func(o *Options) { o.ClientID = "" }, "--client-id"},
		{"client id alone", func(o *Options) { o.ClientSecret = "" }, "--client-secret-file"},
		{"bad tenant", func(o *Options) { o.Tenant = "contoso.com/../x" }, "not a tenant ID"},
		{"no tenant", func(o *Options) { o.Tenant = "" }, "not a tenant ID"},
		{"plain http authority", func(o *Options) { o.AuthorityHost = "http://login.example" }, "only https://"},
		{"unknown authority", func(o *Options) { o.AuthorityHost = "https://login.example" }, "--graph-endpoint"},
		{"graph endpoint with a path", func(o *Options) { o.GraphEndpoint = "https://graph.microsoft.com/v1.0" }, "without a path"},
		{"unknown mapped attribute", func(o *Options) { o.Fields.Email = mappingSource("otherMailbox", "", 0) }, `"otherMailbox"`},
		{"missing certificate", func(o *Options) { o.ClientSecret, o.ClientCertificate = "", "/nonexistent/app.pem" }, "/nonexistent/app.pem"},
		{"bad CA file", func(o *Options) { o.CAFile = "/nonexistent/ca.pem" }, "/nonexistent/ca.pem"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := ok
			c.edit(&o)
			_, err := Open(o)
			if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), entratest.DefaultSecret) {
				t.Fatalf("Open: %v; want %q", err, c.want)
			}
		})
	}
	d, err := Open(ok)
	if err != nil || d.Describe() != "entra:contoso.onmicrosoft.com" || d.scope != "https://graph.microsoft.com/.default" {
		t.Fatalf("Open(%v) = %v", ok, err)
	}
	us := ok
	us.AuthorityHost = "https://login.microsoftonline.us"
	if d, err := Open(us); err != nil || d.endpoint.String() != "https://graph.microsoft.us" {
		t.Fatalf("US Government cloud: %v", err)
	}
}

func TestParseURL(t *testing.T) {
	for raw, want := range map[string]string{"entra:contoso.onmicrosoft.com": "contoso.onmicrosoft.com",
		"ENTRA:" + entratest.TenantID: entratest.TenantID, " entra: contoso.com ": "contoso.com"} {
		if got, ok, err := ParseURL(raw); !ok || err != nil || got != want {
			t.Errorf("ParseURL(%q) = %q %t %v", raw, got, ok, err)
		}
	}
	for _, raw := range []string{"ldaps://dc1", "csv:users.csv", ""} {
		if _, ok, _ := ParseURL(raw); ok {
			t.Errorf("ParseURL(%q) took it", raw)
		}
	}
	for _, raw := range []string{"entra:", "entra:a b", "entra:x/y"} {
		if _, ok, err := ParseURL(raw); !ok || err == nil {
			t.Errorf("ParseURL(%q) accepted it", raw)
		}
	}
}
