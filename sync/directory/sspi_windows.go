//go:build windows

package directory

import (
	"github.com/go-ldap/ldap/v3"
	"github.com/go-ldap/ldap/v3/gssapi"
)

// newSSPIClient binds as the Windows account upnsync runs as (a scheduled
// task's "Run as" account): its own Kerberos credentials through SSPI.
func newSSPIClient() (ldap.GSSAPIClient, error) {
	return gssapi.NewSSPIClient()
}
