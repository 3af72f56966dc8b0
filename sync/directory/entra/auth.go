package entra

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/upnsync/upnsync/sync/directory"
)

// AuthKind is how upnsync signs in to Entra ID.
type AuthKind string

// The ways to sign in, chosen from the options by Open.
const (
	AuthSecret           AuthKind = "client-secret"
	AuthCertificate      AuthKind = "client-certificate"
	AuthManagedIdentity  AuthKind = "managed-identity"
	AuthWorkloadIdentity AuthKind = "workload-identity"
	AuthAzureCLI         AuthKind = "azure-cli"
)

// EnvFederatedTokenFile is the variable of azidentity's workload identity
// (set by the Azure Workload Identity webhook in a Kubernetes pod, with
// AZURE_CLIENT_ID, AZURE_TENANT_ID and AZURE_AUTHORITY_HOST): when set and
// no other way is given, upnsync signs in with the federated token.
const EnvFederatedTokenFile = "AZURE_FEDERATED_TOKEN_FILE"

// Microsoft's clouds: an authority host of one of them keeps azidentity's
// instance discovery; any other (a test server, Azure Stack) turns it off.
var clouds = []struct{ authority, graph string }{
	{"login.microsoftonline.com", "https://graph.microsoft.com"},
	{"login.microsoftonline.us", "https://graph.microsoft.us"},
	{"login.chinacloudapi.cn", "https://microsoftgraph.chinacloudapi.cn"},
	{"login.partner.microsoftonline.cn", "https://microsoftgraph.chinacloudapi.cn"},
}

// authInfo says who signs in, for messages.
type authInfo struct {
	kind AuthKind
	// who names the identity: "application 1111... (client secret)".
	who string
}

// grantHint says what to grant when Graph refuses to list users.
func (a authInfo) grantHint(tenant string) string {
	switch a.kind {
	case AuthManagedIdentity:
		return "the managed identity's service principal needs the Microsoft Graph application permission (app role) User.Read.All; managed identities get it by an app role assignment, not in the portal's consent screen (see docs/entra.md)"
	case AuthAzureCLI:
		return "the account signed in to the Azure CLI (az login) must be allowed to read all users (User.Read.All, consented for the tenant); unattended runs should use an app registration with the User.Read.All application permission (see docs/entra.md)"
	}
	return fmt.Sprintf("the app registration needs the Microsoft Graph application permission User.Read.All (not a delegated one) with admin consent granted for tenant %s: Entra admin center > App registrations > the app > API permissions > Add a permission > Microsoft Graph > Application permissions > User.Read.All, then \"Grant admin consent\" (see docs/entra.md)", tenant)
}

// clientOptions are azidentity's options: our transport (with --ca-file),
// the authority host and its retries within the time-out.
func (o *Options) clientOptions(d *Directory) azcore.ClientOptions {
	retries := int32(d.retries)
	if retries == 0 {
		retries = -1 // azcore's "none"; its 0 is its default
	}
	return azcore.ClientOptions{
		Cloud:     cloud.Configuration{ActiveDirectoryAuthorityHost: d.authority.String()},
		Transport: d.http,
		Retry:     policy.RetryOptions{MaxRetries: retries, TryTimeout: d.timeout},
	}
}

// credential builds the azidentity credential the options ask for.
func (o *Options) credential(d *Directory) (azcore.TokenCredential, authInfo, error) {
	co := o.clientOptions(d)
	noDiscovery := !microsoftAuthority(d.authority.Host)
	secret, cert := o.ClientSecret != "", o.ClientCertificate != ""
	_, workload := os.LookupEnv(EnvFederatedTokenFile)
	switch {
	case secret && cert:
		return nil, authInfo{}, errors.New("both a client secret and --client-certificate are given: use one")
	case o.ManagedIdentity && (secret || cert):
		return nil, authInfo{}, errors.New("--managed-identity takes no client secret or --client-certificate: use one way to sign in")
	case o.ManagedIdentity && o.ClientID != "":
		return nil, authInfo{}, errors.New("--client-id with --managed-identity: give a user-assigned identity's client ID as --managed-identity CLIENT_ID")
	case (secret || cert) && o.ClientID == "":
		return nil, authInfo{}, errors.New("a client secret or certificate needs the application's --client-id (the app registration's Application (client) ID)")
	case secret:
		c, err := azidentity.NewClientSecretCredential(d.tenant, o.ClientID, o.ClientSecret,
			&azidentity.ClientSecretCredentialOptions{ClientOptions: co, DisableInstanceDiscovery: noDiscovery})
		return c, authInfo{AuthSecret, fmt.Sprintf("application %s (client secret)", o.ClientID)}, err
	case cert:
		data, err := os.ReadFile(o.ClientCertificate)
		if err != nil {
			return nil, authInfo{}, fmt.Errorf("cannot read the client certificate %s: %v", o.ClientCertificate, unwrapPath(err))
		}
		certs, key, err := azidentity.ParseCertificates(data, []byte(o.CertificatePassword))
		if err != nil {
			return nil, authInfo{}, fmt.Errorf("client certificate %s: %s: give a PEM file with the certificate and its unencrypted private key, or a PFX file (protected by 3DES; one from OpenSSL 3 needs -legacy, or convert it: openssl pkcs12 -in FILE.pfx -nodes -out FILE.pem)",
				o.ClientCertificate, d.scrub(oneLine(err.Error())))
		}
		c, err := azidentity.NewClientCertificateCredential(d.tenant, o.ClientID, certs, key,
			&azidentity.ClientCertificateCredentialOptions{ClientOptions: co, DisableInstanceDiscovery: noDiscovery})
		return c, authInfo{AuthCertificate, fmt.Sprintf("application %s (certificate %s)", o.ClientID, o.ClientCertificate)}, err
	case o.ManagedIdentity:
		mo := &azidentity.ManagedIdentityCredentialOptions{ClientOptions: co}
		who := "the system-assigned managed identity"
		if o.ManagedIdentityClientID != "" {
			mo.ID = azidentity.ClientID(o.ManagedIdentityClientID)
			who = "the managed identity " + o.ManagedIdentityClientID
		}
		c, err := azidentity.NewManagedIdentityCredential(mo)
		return c, authInfo{AuthManagedIdentity, who}, err
	case workload:
		wo := &azidentity.WorkloadIdentityCredentialOptions{ClientOptions: co, TenantID: d.tenant,
			ClientID: o.ClientID, DisableInstanceDiscovery: noDiscovery}
		c, err := azidentity.NewWorkloadIdentityCredential(wo)
		if err != nil {
			return nil, authInfo{}, fmt.Errorf("workload identity (%s is set): %s", EnvFederatedTokenFile, oneLine(err.Error()))
		}
		id := o.ClientID
		if id == "" {
			id = os.Getenv("AZURE_CLIENT_ID")
		}
		return c, authInfo{AuthWorkloadIdentity, fmt.Sprintf("application %s (workload identity)", id)}, nil
	case o.ClientID != "":
		return nil, authInfo{}, errors.New("--client-id needs a way to prove it: --client-secret-file (or UPNSYNC_CLIENT_SECRET) or --client-certificate")
	}
	c, err := azidentity.NewAzureCLICredential(&azidentity.AzureCLICredentialOptions{TenantID: d.tenant})
	return c, authInfo{AuthAzureCLI, "the account signed in to the Azure CLI"}, err
}

// microsoftAuthority tells Microsoft's own authority hosts.
func microsoftAuthority(host string) bool {
	for _, c := range clouds {
		if strings.EqualFold(host, c.authority) {
			return true
		}
	}
	return false
}

// token returns a bearer token for Graph, from the cache while it has
// more than five minutes left.
func (d *Directory) token(ctx context.Context) (string, error) {
	if d.tok.Token != "" && time.Until(d.tok.ExpiresOn) > 5*time.Minute {
		return d.tok.Token, nil
	}
	tctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	tk, err := d.cred.GetToken(tctx, policy.TokenRequestOptions{Scopes: []string{d.scope}})
	if err != nil {
		if ctx.Err() != nil {
			return "", &directory.Error{Msg: fmt.Sprintf("signing in to Entra ID tenant %s was cancelled: %v", d.tenant, ctx.Err()), Err: ctx.Err()}
		}
		return "", &directory.Error{Msg: fmt.Sprintf("cannot sign in to Entra ID tenant %s as %s: %s", d.tenant, d.auth.who, d.authErrText(err)), Err: transportCause(err)}
	}
	d.tok = tk
	return tk.Token, nil
}

// tokenError is the body of a refused token request (OAuth 2.0).
type tokenError struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

// authErrText turns azidentity's error (several lines, with the whole
// response) into one line: the token endpoint's error and the first line
// of its description (AADSTS7000215: Invalid client secret provided...),
// without the secret.
func (d *Directory) authErrText(err error) string {
	var afe *azidentity.AuthenticationFailedError
	if errors.As(err, &afe) && afe.RawResponse != nil {
		body, _ := runtime.Payload(afe.RawResponse)
		var te tokenError
		if json.Unmarshal(body, &te) == nil && te.Error != "" {
			desc, _, _ := strings.Cut(te.Description, "\n")
			return d.scrub(oneLine(fmt.Sprintf("the token endpoint answered %d %s: %s", afe.RawResponse.StatusCode, te.Error, desc)))
		}
		return d.scrub(fmt.Sprintf("the token endpoint answered %s", afe.RawResponse.Status))
	}
	first, _, _ := strings.Cut(strings.TrimSpace(err.Error()), "\n")
	return d.scrub(oneLine(first))
}

// scrub removes the secret and the certificate's password from a text,
// as given and as a form would encode them.
func (d *Directory) scrub(s string) string {
	for _, secret := range []string{d.opts.ClientSecret, d.opts.CertificatePassword} {
		if len(secret) < 4 {
			continue // too short to replace without mangling the text; never echoed by Entra anyway
		}
		for _, form := range []string{secret, url.QueryEscape(secret), url.PathEscape(secret)} {
			s = strings.ReplaceAll(s, form, "[redacted]")
		}
	}
	return s
}

// unwrapPath drops the operation and path of a file error: the message
// names the file already.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// transportCause is the network error under a failed sign-in, if any, so
// that directory.Transient can tell a lost connection from a refusal. The
// rest of azidentity's error is not kept: its text holds whole responses.
func transportCause(err error) error {
	var ne net.Error
	if errors.As(err, &ne) {
		return ne
	}
	return nil
}
