package run

import (
	"context"
	"log/slog"

	"github.com/upnsync/upnsync/config"
	"github.com/upnsync/upnsync/mapping"
	upnsync "github.com/upnsync/upnsync/sync"
	"github.com/upnsync/upnsync/sync/directory"
	"github.com/upnsync/upnsync/sync/directory/entra"
	"github.com/upnsync/upnsync/sync/octopus"
)

// The settings a run hands to the libraries it drives, each list in one
// function.

// StoreOptions adds the store settings of the command line to o.
func StoreOptions(s *config.Settings, o octopus.Options) octopus.Options {
	o.Table = s.StoreTable
	o.Columns = s.StoreColumns
	o.Password = s.StorePassword.Reveal()
	o.OctopusExport = s.OctopusExport
	o.BatchSize = s.BatchSize
	return o
}

// DirectoryOptions are the directory's settings, for a run and for doctor
// alike.
func DirectoryOptions(s *config.Settings, fields mapping.Fields) directory.Options {
	return directory.Options{
		URL: s.Directory, Bases: s.Domains, Login: s.Login, Password: s.Password.Reveal(), PasswordFile: s.PasswordFile,
		Anonymous: s.Anonymous, CAFile: s.CAFile, StartTLS: s.StartTLS,
		KerberosKeytab: s.KerberosKeytab, KerberosCCache: s.KerberosCCache, Krb5Conf: s.Krb5Conf,
		IntegratedAuth: s.IntegratedAuth, NTLM: s.NTLM,
		AllowPlaintextBind: s.AllowPlaintextBind, PageSize: s.PageSize, UserFilter: s.UserFilter, Filter: s.Filter, GlobalCatalog: s.GlobalCatalog,
		NetBIOSDomain: s.NetBIOSDomain, Timeout: s.Timeout, ConnectTimeout: s.ConnectTimeout, Fields: fields, Columns: s.Columns,
	}
}

// EntraOptions are the settings of an Entra ID directory (--directory
// entra:TENANT), for a run and for doctor alike.
func EntraOptions(s *config.Settings, tenant string, fields mapping.Fields) entra.Options {
	retries := s.Retries
	if retries == 0 {
		retries = entra.NoRetries // --retries 0: none (entra's 0 is its default)
	}
	return entra.Options{Tenant: tenant, ClientID: s.ClientID, ClientSecret: s.ClientSecret.Reveal(),
		ClientCertificate: s.ClientCertificate, CertificatePassword: s.ClientCertificatePassword.Reveal(),
		ManagedIdentity: s.ManagedIdentity, ManagedIdentityClientID: s.ManagedIdentityClientID,
		AuthorityHost: s.AuthorityHost, GraphEndpoint: s.GraphEndpoint, CAFile: s.CAFile,
		IncludeGuests: s.IncludeGuests, NetBIOSDomain: s.NetBIOSDomain, Fields: fields,
		Timeout: s.Timeout, Retries: retries}
}

// OpenDirectory opens the directory of the settings: the one place that
// tells an Entra ID tenant (sync/directory/entra) from the kinds
// sync/directory opens (directory.Open cannot import entra). Either way
// the directory is ready to read: LDAP has bound, Entra ID has signed in,
// so that a wrong password or secret is reported here.
func OpenDirectory(ctx context.Context, s *config.Settings, fields mapping.Fields, log *slog.Logger) (upnsync.Directory, error) {
	tenant, isEntra, err := entra.ParseURL(s.Directory)
	switch {
	case err != nil:
		return nil, err
	case isEntra:
		o := EntraOptions(s, tenant, fields)
		o.Logger = log
		d, err := entra.Open(o)
		if err != nil {
			return nil, err
		}
		if err := d.SignIn(ctx); err != nil {
			d.Close()
			return nil, err
		}
		return d, nil
	}
	o := DirectoryOptions(s, fields)
	o.Logger = log
	return directory.Open(o)
}

// engineOptions are the settings of the merge rules.
func engineOptions(s *config.Settings) upnsync.Options {
	return upnsync.Options{MaxLength: s.MaxLength, ImplicitUPN: s.ImplicitUPN, SkipDisabled: s.SkipDisabled,
		RemoveDeparted: s.RemoveDeparted, DomainHints: true}
}

// limits are the threshold guards the settings ask for.
func limits(s *config.Settings) upnsync.Limits {
	return upnsync.Limits{MaxChanges: s.MaxChanges, MaxChangePercent: s.MaxChangePercent,
		MaxRemovals: s.MaxRemovals, MaxRemovalPercent: s.MaxRemovalPercent,
		MaxReadDrop: s.MaxReadDrop, AllowEmptyRead: s.AllowEmptyRead}
}

// logAttrs are the effective settings, as the log's first line shows them
// (never a password).
func logAttrs(s *config.Settings) []slog.Attr { return s.LogAttrs() }

// settingsMap lists the effective settings that shape a plan (never a
// password), for the saved plan and its inputs digest.
func settingsMap(s *config.Settings) map[string]string { return s.PlanSettings() }
