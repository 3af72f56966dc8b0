//go:build !windows

package directory

import (
	"errors"

	"github.com/go-ldap/ldap/v3"
)

// newSSPIClient: integrated authentication is Windows's (SSPI).
func newSSPIClient() (ldap.GSSAPIClient, error) {
	return nil, errors.New("--integrated-auth works on Windows only (it binds as the Windows account upnsync runs as); here use --kerberos-keytab FILE or --kerberos-ccache FILE")
}
