package entra

import (
	"errors"

	"github.com/upnsync/upnsync/mapping"
	"github.com/upnsync/upnsync/sync/directory"
)

func mappingSource(ldap, sep string, index int) mapping.Source {
	return mapping.Source{LDAP: ldap, Separator: sep, Index: index}
}

func asDirErr(err error, de **directory.Error) bool { return errors.As(err, de) }
