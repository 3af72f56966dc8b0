// Package config turns the command line (GNU --name=value and ADSIReader's
// /Name:value), UPNSYNC_* environment variables and an optional settings
// file into validated Settings. Precedence: command line, then
// environment, then settings file, then defaults.
package config

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"
)

// Defaults.
const (
	DefaultStore    = "sqlite:octopus-users.db"
	DefaultPageSize = 1000
	DefaultTimeout  = 2 * time.Minute
	// DefaultShutdownTimeout is how long a stopping scheduler waits for the
	// running sync: long enough for a large apply. A service manager must
	// wait as long (systemd's TimeoutStopSec, Kubernetes'
	// terminationGracePeriodSeconds) or it kills the process first.
	DefaultShutdownTimeout = 5 * time.Minute
	// DefaultMaxPlanAge bounds how old a saved plan may be when applied.
	DefaultMaxPlanAge = 7 * 24 * time.Hour
	// DefaultFullEvery is how old an incremental watermark may grow before
	// a full read reconciles what deltas cannot see.
	DefaultFullEvery = 7 * 24 * time.Hour
	// Removal guard defaults (see upnsync.DefaultLimits).
	DefaultMaxRemovals       = 500
	DefaultMaxRemovalPercent = 10.0
	// DefaultRetries and DefaultRetryDelay: a directory that failed in a
	// way that may pass gets three more attempts, 2 s, 4 s and 8 s later
	// (each with jitter), which rides out a domain controller's restart or
	// a dropped VPN without holding a scheduled task for long.
	DefaultRetries    = 3
	DefaultRetryDelay = 2 * time.Second
)

// Settings are everything a run needs to know.
type Settings struct {
	Command string   // sync, demo, mapping, store, version, help
	Args    []string // positional arguments after the command

	ConfigFile         string
	Directory          string
	Domains            []string
	Login              string
	PasswordFile       string
	Password           Secret
	Anonymous          bool
	CAFile             string
	StartTLS           bool
	AllowPlaintextBind bool
	// KerberosKeytab, KerberosCCache and IntegratedAuth bind with
	// Kerberos instead of a password; Krb5Conf is the krb5.conf for them.
	KerberosKeytab string
	KerberosCCache string
	Krb5Conf       string
	IntegratedAuth bool
	// NTLM binds with NTLM (login and password) instead of a simple bind.
	NTLM          bool
	PageSize      int
	UserFilter    string
	Filter        string
	GlobalCatalog bool
	NetBIOSDomain string
	Timeout       time.Duration
	Retries       int
	RetryDelay    time.Duration

	Store string
	Apply bool
	// StoreTable, StoreColumns, StorePasswordFile and StorePassword are
	// for a PostgreSQL store; OctopusExport for a DataImporter store;
	// Columns for csv: and xlsx: directories.
	StoreTable        string
	StoreColumns      string
	StorePasswordFile string
	StorePassword     Secret
	OctopusExport     string
	Columns           string
	// BatchSize is the number of changes written per transaction (0: the
	// store's default).
	BatchSize    int
	ImplicitUPN  bool
	SkipDisabled bool
	MaxLength    int

	// Safety. Thresholds are -1 when off.
	RemoveDeparted bool
	// Incremental and DirSync read only what changed since the watermark
	// or cookie kept in the store's state; FullEvery forces a full read
	// when that is older.
	Incremental       bool
	DirSync           bool
	FullEvery         time.Duration
	MaxChanges        int
	MaxChangePercent  float64
	MaxRemovals       int
	MaxRemovalPercent float64
	Force             bool
	Out               string
	MaxPlanAge        time.Duration
	State             string
	WaitLock          time.Duration

	Report     string
	ReportFile string
	LogFile    string
	Quiet      bool

	LogFormat   string // text or json
	LogKeep     int    // log files kept in a log folder; 0 keeps all
	SummaryFile string
	MetricsFile string

	Schedule        string
	RunNow          bool
	ShutdownTimeout time.Duration

	SettingsFile string
	Help         bool

	// Warnings are things the administrator should know, such as a
	// password typed on the command line.
	Warnings []string
	// SecretArgs say where in Parse's args a secret was given (--password
	// VALUE, --password=VALUE, /Password:VALUE), so that the command can
	// scrub it from its process's command line. Settings never share
	// memory with args there: Password is a copy.
	SecretArgs []SecretArg

	passwordFrom      string
	storePasswordFrom string
	explicit          map[string]bool // options given on the command line or in the environment
	cli               map[string]bool // options given on the command line

	// source is what Parse read, for Reload. A pointer, so that printing
	// Settings shows an address, never the arguments (which may hold a
	// password given with --password).
	source *parseSource
}

type parseSource struct {
	args   []string
	getenv func(string) string
}

// OnCommandLine reports whether the option (long name) was given on the
// command line itself.
func (s *Settings) OnCommandLine(long string) bool { return s.cli[long] }

// SecretArg is a secret inside the arguments: args[Index][From:To], or
// args[Index][From:] when To is 0.
type SecretArg struct{ Index, From, To int }

// UsageError is a mistake in the command line or settings: exit code 1 and
// a pointer to --help.
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

func usagef(format string, a ...any) error { return &UsageError{Msg: fmt.Sprintf(format, a...)} }

// Commands lists the subcommands.
var Commands = []string{"sync", "plan", "apply", "runs", "undo", "demo", "doctor", "mapping", "store", "version", "help"}

// Parse reads args (without the program name) and the environment
// (getenv may be os.Getenv). It does not touch the network or the store.
func Parse(args []string, getenv func(string) string) (*Settings, error) {
	s := &Settings{explicit: map[string]bool{}, cli: map[string]bool{}, source: &parseSource{args: deepClone(args), getenv: getenv}}
	if err := parseArgs(s, args); err != nil {
		return nil, err
	}
	if s.Help || s.Command == "help" {
		s.Command = "help"
		return s, nil
	}
	if err := applyEnv(s, getenv); err != nil {
		return nil, err
	}
	if s.SettingsFile == "" {
		s.SettingsFile = getenv("UPNSYNC_SETTINGS")
	}
	if s.SettingsFile != "" {
		if err := applySettingsFile(s, s.SettingsFile); err != nil {
			return nil, err
		}
	}
	if err := resolvePassword(s, getenv); err != nil {
		return nil, err
	}
	if err := resolveStorePassword(s, getenv); err != nil {
		return nil, err
	}
	s.defaults()
	if err := s.validate(); err != nil {
		return nil, err
	}
	return s, nil
}

func parseArgs(s *Settings, args []string) error {
	var positional []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			positional = append(positional, args[i+1:]...)
			i = len(args)
		case a == "-h" || a == "/?" || a == "-?":
			s.Help = true
		case strings.HasPrefix(a, "--"):
			name, value, hasValue := strings.Cut(a[2:], "=")
			o := lookupLong(strings.ToLower(name))
			if o == nil {
				return unknownOption("--"+name, "--")
			}
			if !hasValue && o.kind != kBool {
				if i+1 >= len(args) {
					return usagef("--%s needs a value (%s)", o.long, o.arg)
				}
				if o.secret {
					s.SecretArgs = append(s.SecretArgs, SecretArg{Index: i + 1})
				}
				i++
				value = args[i]
				s.storeSecrets(o, i, 0, value)
			} else if o.secret {
				s.SecretArgs = append(s.SecretArgs, SecretArg{Index: i, From: len(a) - len(value)})
			} else {
				s.storeSecrets(o, i, len(a)-len(value), value)
			}
			if err := s.set(o, value, "--"+o.long); err != nil {
				return err
			}
		case strings.HasPrefix(a, "/") && isWindowsOption(a):
			name, value, hasValue := strings.Cut(a[1:], ":")
			o := lookupWin(name)
			if !hasValue && o.kind != kBool {
				return usagef("/%s needs a value: /%s:%s", o.win, o.win, o.arg)
			}
			if o.secret {
				s.SecretArgs = append(s.SecretArgs, SecretArg{Index: i, From: len(a) - len(value)})
			}
			s.storeSecrets(o, i, len(a)-len(value), value)
			if err := s.set(o, unquote(value), "/"+o.win); err != nil {
				return err
			}
		case strings.HasPrefix(a, "-") && len(a) > 1:
			return unknownOption(a, "-")
		default:
			positional = append(positional, a)
		}
	}
	if len(positional) > 0 && slices.Contains(Commands, strings.ToLower(positional[0])) {
		s.Command = strings.ToLower(positional[0])
		positional = positional[1:]
	} else {
		s.Command = "sync"
	}
	if len(positional) > 0 {
		s.Args = positional
	}
	return nil
}

// looksLikeWindowsOption tells an option upnsync does not know, such as
// ADSIReader's /NoPrintersDetection, from a stray Unix path: a slash, a
// name of letters, and a value after a colon or nothing.
func looksLikeWindowsOption(a string) bool {
	name, _, _ := strings.Cut(strings.TrimPrefix(a, "/"), ":")
	if !strings.HasPrefix(a, "/") || name == "" {
		return false
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}

// isWindowsOption tells /ConfigFilePath:x from a Unix path such as
// /etc/upnsync/mapping.xml given as an argument.
func isWindowsOption(a string) bool {
	name, _, _ := strings.Cut(a[1:], ":")
	return lookupWin(name) != nil
}

// unquote strips the double quotes an administrator writes around a value
// with spaces (/ConfigFilePath:"C:\Octopus config\map.xml") when the shell
// left them in, including the lone trailing quote Windows leaves after a
// backslash ("C:\dir\" arrives as C:\dir").
func unquote(v string) string {
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		return v[1 : len(v)-1]
	}
	v = strings.TrimPrefix(v, `"`)
	return strings.TrimSuffix(v, `"`)
}

func unknownOption(a, prefix string) error {
	name := strings.TrimLeft(a, "-")
	name, _, _ = strings.Cut(name, "=")
	best := ""
	for _, o := range options {
		if strings.Contains(o.long, name) || strings.Contains(name, o.long) ||
			strings.EqualFold(o.win, name) {
			best = o.long
			break
		}
	}
	msg := fmt.Sprintf("unknown option %s", a)
	if best != "" {
		msg += fmt.Sprintf(" (did you mean --%s?)", best)
	}
	return usagef("%s; see upnsync --help", msg)
}

func (s *Settings) set(o *option, value, spelled string) error {
	if o.long == "store" {
		// Its password is scrubbed from the process's own arguments
		// (SecretArgs): the setting must not share their bytes.
		value = strings.Clone(value)
	}
	if err := o.set(s, value); err != nil {
		return usagef("%s: %v", spelled, err)
	}
	s.explicit[o.long] = true
	s.cli[o.long] = true
	if o.secret {
		s.Warnings = append(s.Warnings, fmt.Sprintf(
			"%s puts the password on the command line, where other users of this machine can read it; use --password-file FILE or the UPNSYNC_PASSWORD environment variable", spelled))
	}
	return nil
}

func applyEnv(s *Settings, getenv func(string) string) error {
	for _, o := range options {
		if o.cliOnly || o.secret || s.explicit[o.long] {
			continue
		}
		v := getenv(o.env())
		if v == "" {
			continue
		}
		if err := o.set(s, v); err != nil {
			return usagef("environment variable %s: %v", o.env(), err)
		}
		s.explicit[o.long] = true
	}
	return nil
}

func (s *Settings) defaults() {
	if s.Store == "" {
		s.Store = DefaultStore
	}
	if !s.explicit["page-size"] {
		s.PageSize = DefaultPageSize
	}
	if s.Timeout == 0 {
		s.Timeout = DefaultTimeout
	}
	if !s.explicit["retries"] {
		s.Retries = DefaultRetries
	}
	if s.RetryDelay == 0 {
		s.RetryDelay = DefaultRetryDelay
	}
	if s.MaxLength == 0 {
		s.MaxLength = 250
	}
	if !s.explicit["max-changes"] {
		s.MaxChanges = -1
	}
	if !s.explicit["max-change-percent"] {
		s.MaxChangePercent = -1
	}
	if !s.explicit["max-removals"] {
		s.MaxRemovals = DefaultMaxRemovals
	}
	if !s.explicit["max-removal-percent"] {
		s.MaxRemovalPercent = DefaultMaxRemovalPercent
	}
	if s.MaxPlanAge == 0 {
		s.MaxPlanAge = DefaultMaxPlanAge
	}
	if s.FullEvery == 0 {
		s.FullEvery = DefaultFullEvery
	}
	if s.Report == "" {
		s.Report = "text"
	}
	s.Report = strings.ToLower(s.Report)
	if s.LogFormat == "" {
		s.LogFormat = "text"
	}
	s.LogFormat = strings.ToLower(s.LogFormat)
	if s.ShutdownTimeout == 0 {
		s.ShutdownTimeout = DefaultShutdownTimeout
	}
}

func (s *Settings) validate() error {
	switch s.Report {
	case "text", "json", "csv":
	default:
		return usagef("--report %s: use text, json or csv", s.Report)
	}
	switch s.LogFormat {
	case "text", "json":
	default:
		return usagef("--log-format %s: use text or json", s.LogFormat)
	}
	if s.Schedule != "" && s.Command != "sync" && s.Command != "doctor" {
		return usagef("--schedule runs syncs; it does not apply to the %s command", s.Command)
	}
	if s.RunNow && s.Schedule == "" {
		return usagef("--run-now only makes sense with --schedule SPEC; without it every run starts at once")
	}
	if s.MetricsFile != "" && !strings.HasSuffix(strings.ToLower(s.MetricsFile), ".prom") {
		s.Warnings = append(s.Warnings, fmt.Sprintf("--metrics-file %s does not end in .prom: node_exporter's textfile collector reads only *.prom files", s.MetricsFile))
	}
	switch s.Command {
	case "sync", "plan":
		if len(s.Args) > 0 {
			if looksLikeWindowsOption(s.Args[0]) {
				return usagef("unknown option %s; see upnsync --help", s.Args[0])
			}
			return usagef("unexpected argument %q; commands are %s; see upnsync --help", s.Args[0], strings.Join(Commands, ", "))
		}
		if s.ConfigFile == "" {
			return usagef("no mapping file: give --config-file-path FILE (or /ConfigFilePath:FILE), the ADSIReaderLDAPMappings.xml with its UPN entry")
		}
		if s.Directory == "" && !locatable(s.Domains) {
			return usagef("no directory: give --directory URL (or /Directory:URL), e.g. ldaps://dc1.corp.example.com or ldif:export.ldf, or --domain corp.example.com to find the domain controllers through DNS")
		}
		if s.Command == "plan" {
			if s.Out == "" {
				return usagef("upnsync plan needs --out FILE (or /Out:FILE), the file to save the plan in")
			}
			if s.cli["apply"] {
				return usagef("upnsync plan never writes to the store: leave out --apply, and apply the saved plan with upnsync apply FILE")
			}
		}
	case "apply":
		if len(s.Args) != 1 {
			return usagef("usage: upnsync apply PLAN-FILE (a plan saved by upnsync plan --out PLAN-FILE)")
		}
		for _, o := range []string{"store", "state", "store-table", "store-columns", "octopus-export", "directory", "config-file-path", "domain", "remove-departed", "force"} {
			if s.cli[o] {
				return usagef("upnsync apply applies the saved plan exactly as it was made, to the store it names: --%s cannot change it; make a new plan instead", o)
			}
		}
	case "runs":
		if len(s.Args) > 0 {
			return usagef("usage: upnsync runs [--store URL] [--report json]")
		}
	case "undo":
		if len(s.Args) != 1 {
			return usagef("usage: upnsync undo RUN_ID [--store URL] [--apply]; upnsync runs lists the run ids")
		}
	}
	if s.Incremental && s.DirSync {
		return usagef("--incremental and --dirsync are two ways of reading only what changed: give one of them")
	}
	if (s.Incremental || s.DirSync) && s.Command != "sync" && s.Command != "doctor" {
		return usagef("--incremental and --dirsync are for upnsync sync (a saved plan must come from a full read)")
	}
	if s.Anonymous && (s.Login != "" || !s.Password.IsZero()) {
		return usagef("--anonymous cannot be combined with --login or a password")
	}
	if kerberos := s.KerberosKeytab != "" || s.KerberosCCache != "" || s.IntegratedAuth; kerberos && !s.Password.IsZero() {
		return usagef("a Kerberos bind (--kerberos-keytab, --kerberos-ccache, --integrated-auth) uses no password: leave out the password (%s)", s.passwordFrom)
	}
	return nil
}

// resolvePassword takes the password from the password file, else the
// environment; a password file readable by others is refused, as ldap2pg
// does, because anyone on the machine could bind as the service account.
func resolvePassword(s *Settings, getenv func(string) string) error {
	if s.PasswordFile != "" {
		if !s.Password.IsZero() {
			return usagef("give the password either with --password-file or with --password, not both")
		}
		pw, err := readPasswordFile(s.PasswordFile)
		if err != nil {
			return err
		}
		s.Password = NewSecret(pw)
		s.passwordFrom = "password file " + s.PasswordFile
		return nil
	}
	if s.Password.IsZero() {
		if pw := getenv("UPNSYNC_PASSWORD"); pw != "" {
			s.Password = NewSecret(pw)
			s.passwordFrom = "environment variable UPNSYNC_PASSWORD"
		}
	}
	return nil
}

func readPasswordFile(path string) (string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", usagef("password file %s does not exist", path)
		}
		return "", usagef("password file %s: %v", path, unwrapPath(err))
	}
	if fi.IsDir() {
		return "", usagef("password file %s is a folder, not a file", path)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm()&0o077 != 0 && !groupReadableByRoot(fi) {
		return "", usagef("password file %s can be read by other users (mode %04o): run chmod 600 %s", path, fi.Mode().Perm(), path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return "", usagef("password file %s: %v", path, unwrapPath(err))
	}
	pw := strings.TrimRight(strings.TrimPrefix(string(data), "\ufeff"), "\r\n")
	if pw == "" {
		return "", usagef("password file %s is empty", path)
	}
	return pw, nil
}

// unwrapPath drops the "open PATH:" prefix of an *os.PathError, since the
// message names the path already.
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// promptSource is where a password typed at the interactive prompt is
// said to come from.
const promptSource = "interactive prompt"

// NeedsPassword reports whether binding to the directory needs a password
// that no option, password file or environment variable gave: then, on a
// terminal, the command asks for it (without echo), so that an
// administrator trying upnsync by hand stores it nowhere.
func (s *Settings) NeedsPassword() bool {
	if !s.Password.IsZero() || s.Anonymous || s.Login == "" ||
		s.KerberosKeytab != "" || s.KerberosCCache != "" || s.IntegratedAuth {
		return false
	}
	d := strings.ToLower(s.Directory)
	return strings.HasPrefix(d, "ldap://") || strings.HasPrefix(d, "ldaps://") || d == "" && len(s.Domains) > 0
}

// SetPromptedPassword records the password typed at the prompt.
func (s *Settings) SetPromptedPassword(pw string) {
	s.Password = NewSecret(pw)
	s.passwordFrom = promptSource
}

// PasswordSource says where the password came from (never the password).
func (s *Settings) PasswordSource() string {
	if s.Password.IsZero() {
		return "none"
	}
	return s.passwordFrom
}

// deepClone copies the arguments' bytes, not only the slice: the command
// scrubs a password out of the process's own argument memory after
// parsing (see cmd/upnsync), and a scheduler's Reload must still see it.
func deepClone(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = strings.Clone(a)
	}
	return out
}

// locatable reports whether the domain controllers can be found through
// DNS: a --domain names a DNS domain (corp.example.com) or a DN with DC=
// components.
func locatable(domains []string) bool {
	for _, d := range domains {
		if !strings.Contains(d, "=") || strings.Contains(strings.ToLower(d), "dc=") {
			return true
		}
	}
	return false
}
