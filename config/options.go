package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

type kind int

const (
	kString kind = iota
	kBool
	kInt
	kList
	kDuration
)

// option is one setting, spelled --long-name (GNU), /WindowsName (ADSIReader
// style, any letter case), UPNSYNC_LONG_NAME in the environment and
// long-name in a settings file.
type option struct {
	long  string
	win   string
	kind  kind
	arg   string // placeholder in the help
	help  string
	group string
	set   func(s *Settings, v string) error
	// secret values may not come from a settings file and are masked when
	// settings are listed.
	secret bool
	// cliOnly options make no sense in the environment or a settings file.
	cliOnly bool
}

func (o *option) env() string {
	return "UPNSYNC_" + strings.ToUpper(strings.ReplaceAll(o.long, "-", "_"))
}

func str(f func(s *Settings) *string) func(*Settings, string) error {
	return func(s *Settings, v string) error { *f(s) = v; return nil }
}

func boolean(f func(s *Settings) *bool) func(*Settings, string) error {
	return func(s *Settings, v string) error {
		b, err := parseBool(v)
		if err != nil {
			return err
		}
		*f(s) = b
		return nil
	}
}

func integer(min int, f func(s *Settings) *int) func(*Settings, string) error {
	return func(s *Settings, v string) error {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return fmt.Errorf("%q is not a whole number", v)
		}
		if n < min {
			return fmt.Errorf("%d is below the minimum %d", n, min)
		}
		*f(s) = n
		return nil
	}
}

func duration(f func(s *Settings) *time.Duration) func(*Settings, string) error {
	return func(s *Settings, v string) error {
		d, err := time.ParseDuration(strings.TrimSpace(v))
		if err != nil || d <= 0 {
			return fmt.Errorf("%q is not a positive duration such as 30s, 2m or 1h", v)
		}
		*f(s) = d
		return nil
	}
}

// limit parses a guard threshold: a whole number from min up, or off
// (none) to switch the guard off (-1).
func limit(min int, f func(s *Settings) *int) func(*Settings, string) error {
	return func(s *Settings, v string) error {
		if isOff(v) {
			*f(s) = -1
			return nil
		}
		return integer(min, f)(s, v)
	}
}

// percent parses a share of the Octopus users: 0 to 100, an optional %
// sign, decimals allowed; or off.
func percent(f func(s *Settings) *float64) func(*Settings, string) error {
	return func(s *Settings, v string) error {
		if isOff(v) {
			*f(s) = -1
			return nil
		}
		p, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), "%"), 64)
		if err != nil || p < 0 || p > 100 || p != p {
			return fmt.Errorf("%q is not a percentage from 0 to 100 (or off)", v)
		}
		*f(s) = p
		return nil
	}
}

func isOff(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "off", "none":
		return true
	}
	return false
}

func parseBool(v string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "", "1", "true", "yes", "on":
		return true, nil
	case "0", "false", "no", "off":
		return false, nil
	}
	return false, fmt.Errorf("%q is not true or false", v)
}

const (
	groupRun       = "What to sync"
	groupDirectory = "Directory"
	groupMatch     = "Matching and merging"
	groupSafety    = "Safety: guards, saved plans, runs and the lock"
	groupOutput    = "Reports"
	groupLogs      = "Logs, summary and metrics"
	groupSchedule  = "Running unattended"
	groupOther     = "Other"
)

var options = []*option{
	{long: "config-file-path", win: "ConfigFilePath", arg: "FILE", group: groupRun,
		help: "the ADSIReaderLDAPMappings.xml mapping file, with its UPN entry (required)",
		set:  str(func(s *Settings) *string { return &s.ConfigFile })},
	{long: "directory", win: "Directory", arg: "URL", group: groupRun,
		help: "where people come from: ldaps://dc1.corp.example.com, ldap://host:389 (with --start-tls), ldif:FILE, or an export: csv:FILE, xlsx:FILE (Get-ADUser, Get-MgUser, Entra ID's Download users); left out with --domain corp.example.com, upnsync finds the domain controllers through DNS (_ldap._tcp.corp.example.com)",
		set:  str(func(s *Settings) *string { return &s.Directory })},
	{long: "store", win: "Store", arg: "URL", group: groupRun,
		help: "the Octopus user store: sqlite:FILE (default sqlite:octopus-users.db), postgres://USER@HOST/DATABASE?sslmode=verify-full, or dataimporter:OUT.xlsx (a DataImporter workbook, with --octopus-export)",
		set:  str(func(s *Settings) *string { return &s.Store })},
	{long: "store-table", win: "StoreTable", arg: "TABLE", group: groupRun,
		help: "PostgreSQL: the users table, optionally SCHEMA.TABLE (default users)",
		set:  str(func(s *Settings) *string { return &s.StoreTable })},
	{long: "store-columns", win: "StoreColumns", arg: "MAP", group: groupRun,
		help: "PostgreSQL: the users table's column names when they differ, e.g. id=user_id,windows_usernames=win_names,email= (empty: no such column)",
		set:  str(func(s *Settings) *string { return &s.StoreColumns })},
	{long: "store-password-file", win: "StorePasswordFile", arg: "FILE", group: groupRun,
		help: "PostgreSQL: file holding the database password (readable by its owner only); or set UPNSYNC_STORE_PASSWORD, or use a PGPASSFILE",
		set:  str(func(s *Settings) *string { return &s.StorePasswordFile })},
	{long: "batch-size", win: "BatchSize", kind: kInt, arg: "N", group: groupRun,
		help: "changes written per transaction of --apply (default 5000): a failure rolls back at most one batch; smaller batches hold the store's locks for less time",
		set:  integer(1, func(s *Settings) *int { return &s.BatchSize })},
	{long: "octopus-export", win: "OctopusExport", arg: "FILE", group: groupRun,
		help: "DataImporter store: the current Octopus users, exported as .csv or .xlsx, to match against",
		set:  str(func(s *Settings) *string { return &s.OctopusExport })},
	{long: "apply", win: "Apply", kind: kBool, group: groupRun,
		help: "write the changes; without it the run is a dry run that writes nothing",
		set:  boolean(func(s *Settings) *bool { return &s.Apply })},

	{long: "domain", win: "Domain", kind: kList, arg: "BASE", group: groupDirectory,
		help: "search base: a DN (OU=Staff,DC=corp,DC=example,DC=com) or a DNS domain (corp.example.com); repeatable; default: the directory's default naming context",
		set: func(s *Settings, v string) error {
			for _, d := range splitList(v) {
				s.Domains = append(s.Domains, d)
			}
			return nil
		}},
	{long: "login", win: "Login", arg: "USER", group: groupDirectory,
		help: "bind identity: a UPN (svc-upnsync@corp.example.com) or a DN",
		set:  str(func(s *Settings) *string { return &s.Login })},
	{long: "password-file", win: "PasswordFile", arg: "FILE", group: groupDirectory,
		help: "file holding the bind password (must not be readable by group or others); or set UPNSYNC_PASSWORD",
		set:  str(func(s *Settings) *string { return &s.PasswordFile })},
	{long: "password", win: "Password", arg: "PASSWORD", group: groupDirectory, secret: true,
		help: "the bind password on the command line: works, but other users can see it; prefer --password-file",
		set: func(s *Settings, v string) error {
			s.Password = NewSecret(v)
			s.passwordFrom = "command line"
			return nil
		}},
	{long: "anonymous", win: "Anonymous", kind: kBool, group: groupDirectory,
		help: "read without binding (only directories that allow anonymous reads; AD does not)",
		set:  boolean(func(s *Settings) *bool { return &s.Anonymous })},
	{long: "ca-file", win: "CAFile", arg: "FILE", group: groupDirectory,
		help: "PEM file of the CA that signed the directory's certificate (added to the system's)",
		set:  str(func(s *Settings) *string { return &s.CAFile })},
	{long: "start-tls", win: "StartTLS", kind: kBool, group: groupDirectory,
		help: "upgrade an ldap:// connection with StartTLS before binding",
		set:  boolean(func(s *Settings) *bool { return &s.StartTLS })},
	{long: "kerberos-keytab", win: "KerberosKeytab", arg: "FILE", group: groupDirectory,
		help: "bind with Kerberos with the keys of this keytab (no password): as --login PRINCIPAL (svc-upnsync@CORP.EXAMPLE.COM), else the keytab's first principal; ldaps:// or --start-tls",
		set:  str(func(s *Settings) *string { return &s.KerberosKeytab })},
	{long: "kerberos-ccache", win: "KerberosCCache", arg: "FILE", group: groupDirectory,
		help: "bind with Kerberos with the tickets of this credential cache (as kinit -c FILE leaves them), as its principal",
		set:  str(func(s *Settings) *string { return &s.KerberosCCache })},
	{long: "krb5-conf", win: "Krb5Conf", arg: "FILE", group: groupDirectory,
		help: "the Kerberos configuration for --kerberos-keytab and --kerberos-ccache (default $KRB5_CONFIG, else /etc/krb5.conf)",
		set:  str(func(s *Settings) *string { return &s.Krb5Conf })},
	{long: "integrated-auth", win: "IntegratedAuth", kind: kBool, group: groupDirectory,
		help: "Windows: bind as the account upnsync runs as (a scheduled task's \"Run as\" account), through Kerberos (SSPI): no password anywhere",
		set:  boolean(func(s *Settings) *bool { return &s.IntegratedAuth })},
	{long: "ntlm", win: "NTLM", kind: kBool, group: groupDirectory,
		help: "bind with NTLM instead of a simple bind (--login as DOMAIN\\name or a UPN, and the password), where Kerberos is not available; ldaps:// or --start-tls",
		set:  boolean(func(s *Settings) *bool { return &s.NTLM })},
	{long: "allow-plaintext-bind", win: "AllowPlaintextBind", kind: kBool, group: groupDirectory,
		help: "allow a password bind over unencrypted ldap:// (the password crosses the network in clear)",
		set:  boolean(func(s *Settings) *bool { return &s.AllowPlaintextBind })},
	{long: "page-size", win: "PageSize", kind: kInt, arg: "N", group: groupDirectory,
		help: "entries per page (default 1000, AD's maximum); 0 disables paging and the read cannot be proven complete past the server's size limit",
		set:  integer(0, func(s *Settings) *int { return &s.PageSize })},
	{long: "user-filter", win: "UserFilter", arg: "FILTER", group: groupDirectory,
		help: "LDAP filter selecting users, replacing (&(objectCategory=person)(objectClass=user)); e.g. (objectClass=inetOrgPerson) for non-AD directories",
		set:  str(func(s *Settings) *string { return &s.UserFilter })},
	{long: "filter", win: "Filter", arg: "FILTER", group: groupDirectory,
		help: "an extra LDAP filter clause ANDed with the user filter, e.g. (memberOf=CN=Octopus users,OU=Groups,DC=corp,DC=example,DC=com) or (!(userAccountControl:1.2.840.113556.1.4.803:=2)); escape values as RFC 4515 says (\\28 for a parenthesis)",
		set:  str(func(s *Settings) *string { return &s.Filter })},
	{long: "global-catalog", win: "GlobalCatalog", kind: kBool, group: groupDirectory,
		help: "read the Global Catalog, the forest-wide copy of every domain's users: ports 3269 (ldaps://) and 3268 (ldap://) when --directory names none, _gc._tcp DNS records when upnsync finds the domain controller itself",
		set:  boolean(func(s *Settings) *bool { return &s.GlobalCatalog })},
	{long: "columns", win: "Columns", arg: "MAP", group: groupDirectory,
		help: "csv: and xlsx: directories: which column holds what when the names are not the usual ones, e.g. upn=Email Address,guid=Object ID (keys: upn, guid, immutable_id, sam, given_name, surname, mail, enabled, dn, domain)",
		set:  str(func(s *Settings) *string { return &s.Columns })},
	{long: "netbios-domain", win: "NetbiosDomain", arg: "NAME", group: groupDirectory,
		help: "NetBIOS domain name for DOMAIN\\name entries (default: read from the directory's Partitions container, else the first DC= label of each DN, upper case)",
		set:  str(func(s *Settings) *string { return &s.NetBIOSDomain })},
	{long: "timeout", win: "Timeout", kind: kDuration, arg: "DURATION", group: groupDirectory,
		help: "limit for each directory operation: connect, bind, one page (default 2m)",
		set:  duration(func(s *Settings) *time.Duration { return &s.Timeout })},
	{long: "retries", win: "Retries", kind: kInt, arg: "N", group: groupDirectory,
		help: "new attempts after the directory failed in a way that may pass (connection lost, no answer in time, server busy): each opens a new connection and reads from the first page again; never after a wrong password, an untrusted certificate or a missing base (default 3; 0: none)",
		set:  integer(0, func(s *Settings) *int { return &s.Retries })},
	{long: "retry-delay", win: "RetryDelay", kind: kDuration, arg: "DURATION", group: groupDirectory,
		help: "pause before the first retry, doubled for each next one, with random jitter, at most 1m or this value (default 2s)",
		set:  duration(func(s *Settings) *time.Duration { return &s.RetryDelay })},

	{long: "implicit-upn", win: "ImplicitUPN", kind: kBool, group: groupMatch,
		help: "for accounts with an empty userPrincipalName, use sAMAccountName@<DNS domain>",
		set:  boolean(func(s *Settings) *bool { return &s.ImplicitUPN })},
	{long: "skip-disabled", win: "SkipDisabled", kind: kBool, group: groupMatch,
		help: "leave disabled accounts out (by default they are synced like the others)",
		set:  boolean(func(s *Settings) *bool { return &s.SkipDisabled })},
	{long: "max-length", win: "MaxLength", kind: kInt, arg: "N", group: groupMatch,
		help: "size of Octopus's Windows username field in characters (default 250; 50 in old versions)",
		set:  integer(1, func(s *Settings) *int { return &s.MaxLength })},

	{long: "remove-departed", win: "RemoveDeparted", kind: kBool, group: groupSafety,
		help: "remove the UPNs upnsync added for people who are gone from the directory (deleted, disabled, moved out of the searched bases, filtered out), after classifying why; only after a complete read, never an entry upnsync did not add",
		set:  boolean(func(s *Settings) *bool { return &s.RemoveDeparted })},
	{long: "incremental", win: "Incremental", kind: kBool, group: groupSafety,
		help: "after a complete full read, read only the users changed since (uSNChanged above the DC's watermark kept in the store's state); falls back to a full read, saying why, when the DC or its invocationId changed, the inputs changed or the watermark is older than --full-every; only --apply runs advance the watermark; no departures are inferred from an incremental read",
		set:  boolean(func(s *Settings) *bool { return &s.Incremental })},
	{long: "dirsync", win: "DirSync", kind: kBool, group: groupSafety,
		help: "read only what changed with AD's DirSync control (cookie kept in the store's state), which also reports deleted users (tombstones) for --remove-departed; needs the \"Replicating Directory Changes\" right (upnsync doctor checks it); falls back to a full read like --incremental",
		set:  boolean(func(s *Settings) *bool { return &s.DirSync })},
	{long: "full-every", win: "FullEvery", kind: kDuration, arg: "DURATION", group: groupSafety,
		help: "with --incremental or --dirsync: read in full when the watermark is older than this (default 168h, a week), to reconcile what a delta cannot see",
		set:  duration(func(s *Settings) *time.Duration { return &s.FullEvery })},
	{long: "max-changes", win: "MaxChanges", kind: kInt, arg: "N", group: groupSafety,
		help: "stop before writing anything when more than N users would change (default off)",
		set:  limit(0, func(s *Settings) *int { return &s.MaxChanges })},
	{long: "max-change-percent", win: "MaxChangePercent", kind: kInt, arg: "P", group: groupSafety,
		help: "stop before writing anything when more than P percent of the Octopus users would change (default off)",
		set:  percent(func(s *Settings) *float64 { return &s.MaxChangePercent })},
	{long: "max-removals", win: "MaxRemovals", kind: kInt, arg: "N", group: groupSafety,
		help: "stop before writing anything when more than N entries of departed people would be removed (default 500, like Entra Connect's accidental-delete threshold; off to switch off)",
		set:  limit(0, func(s *Settings) *int { return &s.MaxRemovals })},
	{long: "max-removal-percent", win: "MaxRemovalPercent", kind: kInt, arg: "P", group: groupSafety,
		help: "stop before writing anything when the removals exceed P percent of the Octopus users (default 10; off to switch off)",
		set:  percent(func(s *Settings) *float64 { return &s.MaxRemovalPercent })},
	{long: "force", win: "Force", kind: kBool, group: groupSafety, cliOnly: true,
		help: "let this one run through the threshold guards (logged and recorded with the run); never an incomplete read; command line only",
		set:  boolean(func(s *Settings) *bool { return &s.Force })},
	{long: "out", win: "Out", arg: "FILE", group: groupSafety,
		help: "upnsync plan: the file to save the plan in",
		set:  str(func(s *Settings) *string { return &s.Out })},
	{long: "max-plan-age", win: "MaxPlanAge", kind: kDuration, arg: "DURATION", group: groupSafety,
		help: "upnsync apply: refuse a saved plan older than this (default 168h, a week)",
		set:  duration(func(s *Settings) *time.Duration { return &s.MaxPlanAge })},
	{long: "state", win: "State", arg: "FILE", group: groupSafety,
		help: "dataimporter: stores: the state database (SQLite) recording what upnsync added and its runs, with the run lock beside it; default OUT.xlsx.upnsync-state.db beside the workbook (sqlite: and postgres:// stores keep their own and refuse it)",
		set:  str(func(s *Settings) *string { return &s.State })},
	{long: "wait-lock", win: "WaitLock", kind: kDuration, arg: "DURATION", group: groupSafety,
		help: "when another run holds the store's lock, wait up to DURATION for it instead of exiting 1",
		set:  duration(func(s *Settings) *time.Duration { return &s.WaitLock })},

	{long: "report", win: "Report", arg: "FORMAT", group: groupOutput,
		help: "text (default), json or csv",
		set:  str(func(s *Settings) *string { return &s.Report })},
	{long: "report-file", win: "ReportFilePath", arg: "FILE", group: groupOutput,
		help: "write the report to FILE instead of standard output",
		set:  str(func(s *Settings) *string { return &s.ReportFile })},
	{long: "quiet", win: "Quiet", kind: kBool, group: groupOutput,
		help: "print only errors on standard error (no warnings, no progress line)",
		set:  boolean(func(s *Settings) *bool { return &s.Quiet })},

	{long: "log-file-path", win: "LogFilePath", arg: "PATH", group: groupLogs,
		help: "append the run's log to this file, or write upnsync_YYYYMMDD_HHMMSS.log in this folder (one file per run; a path ending in / or \\ is created as a folder)",
		set:  str(func(s *Settings) *string { return &s.LogFile })},
	{long: "log-format", win: "LogFormat", arg: "FORMAT", group: groupLogs,
		help: "text (default) or json: JSON lines in the log file, and on standard error the whole log from info up (for containers and log collectors)",
		set:  str(func(s *Settings) *string { return &s.LogFormat })},
	{long: "log-keep", win: "LogKeep", kind: kInt, arg: "N", group: groupLogs,
		help: "with a log folder, keep the newest N upnsync_*.log files and delete older ones (default 0: keep all)",
		set:  integer(0, func(s *Settings) *int { return &s.LogKeep })},
	{long: "summary-file", win: "SummaryFile", arg: "FILE", group: groupLogs,
		help: "write a JSON summary of each run to FILE (started, finished, mode, counts, exit code, complete), replacing it atomically",
		set:  str(func(s *Settings) *string { return &s.SummaryFile })},
	{long: "metrics-file", win: "MetricsFile", arg: "FILE", group: groupLogs,
		help: "write Prometheus metrics of each run to FILE (for node_exporter's textfile collector: name it *.prom), replacing it atomically",
		set:  str(func(s *Settings) *string { return &s.MetricsFile })},

	{long: "schedule", win: "Schedule", arg: "SPEC", group: groupSchedule,
		help: "keep running and sync on a cron schedule until stopped (SIGINT, SIGTERM, Ctrl+C): 5 fields (\"30 1 * * *\"), @daily, @hourly, @every 30m; an optional CRON_TZ=Europe/Paris prefix sets the time zone (default: local time)",
		set:  str(func(s *Settings) *string { return &s.Schedule })},
	{long: "run-now", win: "RunNow", kind: kBool, group: groupSchedule,
		help: "with --schedule, also run once at start instead of waiting for the first scheduled time",
		set:  boolean(func(s *Settings) *bool { return &s.RunNow })},
	{long: "shutdown-timeout", win: "ShutdownTimeout", kind: kDuration, arg: "DURATION", group: groupSchedule,
		help: "with --schedule, how long a stop waits for the running sync to finish before cancelling it (default 5m)",
		set:  duration(func(s *Settings) *time.Duration { return &s.ShutdownTimeout })},

	{long: "settings", win: "Settings", arg: "FILE", group: groupOther, cliOnly: true,
		help: "read settings from FILE: lines of name = value with the long option names",
		set:  str(func(s *Settings) *string { return &s.SettingsFile })},
	{long: "help", win: "Help", kind: kBool, group: groupOther, cliOnly: true,
		help: "show this help",
		set:  boolean(func(s *Settings) *bool { return &s.Help })},
}

func lookupLong(name string) *option {
	for _, o := range options {
		if o.long == name {
			return o
		}
	}
	return nil
}

func lookupWin(name string) *option {
	for _, o := range options {
		if strings.EqualFold(o.win, name) {
			return o
		}
	}
	return nil
}

func splitList(v string) []string {
	var out []string
	for _, part := range strings.Split(v, ";") {
		if p := strings.TrimSpace(part); p != "" {
			out = append(out, p)
		}
	}
	return out
}
