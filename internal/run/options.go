package run

import (
	"log/slog"

	"github.com/upnsync/upnsync/config"
	"github.com/upnsync/upnsync/mapping"
	upnsync "github.com/upnsync/upnsync/sync"
	"github.com/upnsync/upnsync/sync/directory"
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
		URL: s.Directory, Bases: s.Domains, Login: s.Login, Password: s.Password.Reveal(),
		Anonymous: s.Anonymous, CAFile: s.CAFile, StartTLS: s.StartTLS,
		KerberosKeytab: s.KerberosKeytab, KerberosCCache: s.KerberosCCache, Krb5Conf: s.Krb5Conf,
		IntegratedAuth: s.IntegratedAuth, NTLM: s.NTLM,
		AllowPlaintextBind: s.AllowPlaintextBind, PageSize: s.PageSize, UserFilter: s.UserFilter, Filter: s.Filter, GlobalCatalog: s.GlobalCatalog,
		NetBIOSDomain: s.NetBIOSDomain, Timeout: s.Timeout, Fields: fields, Columns: s.Columns,
	}
}

// engineOptions are the settings of the merge rules.
func engineOptions(s *config.Settings) upnsync.Options {
	return upnsync.Options{MaxLength: s.MaxLength, ImplicitUPN: s.ImplicitUPN, SkipDisabled: s.SkipDisabled,
		RemoveDeparted: s.RemoveDeparted}
}

// limits are the threshold guards the settings ask for.
func limits(s *config.Settings) upnsync.Limits {
	return upnsync.Limits{MaxChanges: s.MaxChanges, MaxChangePercent: s.MaxChangePercent,
		MaxRemovals: s.MaxRemovals, MaxRemovalPercent: s.MaxRemovalPercent}
}

// logAttrs are the effective settings, as the log's first line shows them
// (never a password).
func logAttrs(s *config.Settings) []slog.Attr { return s.LogAttrs() }

// settingsMap lists the effective settings that shape a plan (never a
// password), for the saved plan and its inputs digest.
func settingsMap(s *config.Settings) map[string]string { return s.PlanSettings() }
