package entra

import (
	"errors"
	"time"

	"github.com/upnsync/upnsync/sync/directory/entra/entratest"

	"github.com/upnsync/upnsync/mapping"
	"github.com/upnsync/upnsync/sync/directory"
)

func mappingSource(ldap, sep string, index int) mapping.Source {
	return mapping.Source{LDAP: ldap, Separator: sep, Index: index}
}

func asDirErr(err error, de **directory.Error) bool { return errors.As(err, de) }

// tenantOptions are Open's options for the fake tenant, with a client
// secret.
func tenantOptions(tn *entratest.Tenant) Options {
	return Options{Tenant: entratest.TenantID, ClientID: entratest.ClientID, ClientSecret: entratest.DefaultSecret,
		AuthorityHost: tn.AuthorityHost(), GraphEndpoint: tn.Server.URL, CAFile: tn.CAFile, Timeout: 10 * time.Second}
}
