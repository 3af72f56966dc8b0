// Package config turns the command line (GNU --name=value and ADSIReader's
// /Name:value), UPNSYNC_* environment variables and an optional settings
// file into validated Settings. Precedence: command line, then
// environment, then settings file, then defaults.
package config

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/upnsync/upnsync/sync/report"
)

// Defaults.
const (
	DefaultStore    = "sqlite:octopus-users.db"
	DefaultPageSize = 1000
	DefaultTimeout  = 2 * time.Minute
	// DefaultConnectTimeout bounds each step of connecting to an LDAP
	// directory, so that a port that accepts the connection and never
	// answers fails in well under a minute.
	DefaultConnectTimeout = 30 * time.Second
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
	// DefaultMaxReadDrop: see upnsync.DefaultMaxReadDrop.
	DefaultMaxReadDrop = 5.0
	// DefaultRetries and DefaultRetryDelay: a directory that failed in a
	// way that may pass gets three more attempts, 2 s, 4 s and 8 s later
	// (each with jitter), which rides out a domain controller's restart or
	// a dropped VPN without holding a scheduled task for long.
	DefaultRetries    = 3
	DefaultRetryDelay = 2 * time.Second
)

// Settings are everything a run needs to know.
type Settings struct {
	// Command is sync, plan, apply, runs, undo, demo, doctor, mapping,
	// store, version or help; Args are the positional arguments after it
	// (for mapping and store, the subcommand first).
	Command string
	Args    []string

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
	// ConnectTimeout bounds each step of connecting to an LDAP directory
	// (DNS, TCP, TLS, StartTLS, the bind); Timeout each request after.
	ConnectTimeout time.Duration
	Retries        int
	RetryDelay     time.Duration

	// Microsoft Entra ID (--directory entra:TENANT), see entra.go: the app
	// registration's ClientID with its ClientSecret (from ClientSecretFile
	// or UPNSYNC_CLIENT_SECRET) or its ClientCertificate (a PFX's password
	// from ClientCertificatePasswordFile or
	// UPNSYNC_CLIENT_CERTIFICATE_PASSWORD); or a ManagedIdentity (a
	// user-assigned one: ManagedIdentityClientID). AuthorityHost and
	// GraphEndpoint name a national cloud or a test server;
	// IncludeGuests reads guests as people.
	ClientID                      string
	ClientSecretFile              string
	ClientSecret                  Secret
	ClientCertificate             string
	ClientCertificatePasswordFile string
	ClientCertificatePassword     Secret
	ManagedIdentity               bool
	ManagedIdentityClientID       string
	AuthorityHost                 string
	GraphEndpoint                 string
	IncludeGuests                 bool

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

	// MaxReadDrop: how far below the last complete read of a base its
	// count of people may fall, in percent (-1 off); AllowEmptyRead lets a
	// read of nobody through.
	MaxReadDrop    float64
	AllowEmptyRead bool

	Report     string
	ReportFile string
	// CSVSeparator separates the values of the CSV files upnsync writes;
	// 0 is the default, ','.
	CSVSeparator rune
	LogFile      string
	Quiet        bool

	// Verbose and Keep are the demo's: every step's whole report, and
	// the folder to work in and leave behind.
	Verbose bool
	Keep    string

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
	clientSecretFrom  string
	certPasswordFrom  string
	// from says where each option given came from, and how it was spelled.
	from map[string]origin
	// cmd is the command (or subcommand) the arguments name.
	cmd *command
	// helpTopic is the command (or command group) upnsync help, or
	// COMMAND --help, asked about: "" for the overview.
	helpTopic string
	version   bool

	// source is what Parse read, for Reload. A pointer, so that printing
	// Settings shows an address, never the arguments (which may hold a
	// password given with --password).
	source *parseSource
}

type parseSource struct {
	args   []string
	getenv func(string) string
}

// SecretArg is a secret inside the arguments: args[Index][From:To], or
// args[Index][From:] when To is 0.
type SecretArg struct{ Index, From, To int }

// UsageError is a mistake in the command line or settings: exit code 1 and
// a pointer to --help.
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

func usagef(format string, a ...any) error { return &UsageError{Msg: fmt.Sprintf(format, a...)} }

// Parse reads args (without the program name) and the environment
// (getenv may be os.Getenv). It does not touch the network or the store.
//
// The command line is read first and checked against the command; then
// the environment and a settings file fill in the options it left out;
// then every option given is checked against the command and the kinds of
// directory and store it works with (applicability.go).
func Parse(args []string, getenv func(string) string) (*Settings, error) {
	s := &Settings{from: map[string]origin{}, source: &parseSource{args: deepClone(args), getenv: getenv}}
	positional, err := parseArgs(s, args)
	if err != nil {
		return nil, err
	}
	if s.Help || len(positional) > 0 && strings.EqualFold(positional[0], "help") {
		return s, s.askHelp(positional)
	}
	if s.version {
		s.Command, s.Args = "version", nil
		return s, nil
	}
	c, rest, err := resolveCommand(positional)
	if err != nil {
		return nil, err
	}
	s.cmd = c
	s.Command, _, _ = strings.Cut(c.name, " ")
	if len(rest) > 0 {
		s.Args = rest // for mapping and store, the subcommand first
	}
	if _, sub := groups[s.Command]; sub {
		rest = rest[1:]
	}
	if err := c.checkArgs(rest); err != nil {
		return nil, err
	}
	// The command line's own mistakes first: it is what the user just
	// typed.
	for _, o := range options {
		if at, ok := s.from[o.long]; ok && o.cmds&c.id == 0 {
			return nil, usagef("%s", notForCommand(o, at.spelled, c))
		}
	}
	if c.takesSettings() {
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
	}
	if err := s.adsiPaths(); err != nil {
		return nil, err
	}
	if err := s.applies(); err != nil {
		return nil, err
	}
	if err := resolvePassword(s, getenv); err != nil {
		return nil, err
	}
	if err := checkKerberosFiles(s); err != nil {
		return nil, err
	}
	if err := resolveStorePassword(s, getenv); err != nil {
		return nil, err
	}
	if err := resolveEntraSecrets(s, getenv); err != nil {
		return nil, err
	}
	s.defaults()
	if err := s.validate(); err != nil {
		return nil, err
	}
	return s, nil
}

// takesSettings tells the commands that take an option from the
// environment or a settings file at all (not mapping, version, help).
func (c *command) takesSettings() bool {
	for _, o := range options {
		if o.cmds&c.id != 0 && !o.cliOnly {
			return true
		}
	}
	return false
}

func (s *Settings) defaults() {
	if s.Store == "" {
		s.Store = DefaultStore
	}
	if !s.given("page-size") {
		s.PageSize = DefaultPageSize
	}
	if s.Timeout == 0 {
		s.Timeout = DefaultTimeout
	}
	if s.ConnectTimeout == 0 {
		s.ConnectTimeout = DefaultConnectTimeout
	}
	if !s.given("retries") {
		s.Retries = DefaultRetries
	}
	if s.RetryDelay == 0 {
		s.RetryDelay = DefaultRetryDelay
	}
	if s.MaxLength == 0 {
		s.MaxLength = 250
	}
	if !s.given("max-changes") {
		s.MaxChanges = -1
	}
	if !s.given("max-change-percent") {
		s.MaxChangePercent = -1
	}
	if !s.given("max-removals") {
		s.MaxRemovals = DefaultMaxRemovals
	}
	if !s.given("max-removal-percent") {
		s.MaxRemovalPercent = DefaultMaxRemovalPercent
	}
	if !s.given("max-read-drop") {
		s.MaxReadDrop = DefaultMaxReadDrop
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

// validate checks what one option alone cannot: values with a fixed set
// of words, and options that need or exclude one another. What applies to
// which command is the table's (applicability.go).
func (s *Settings) validate() error {
	if !slices.Contains(report.Formats, s.Report) {
		return usagef("--report %s: use %s", s.Report, report.FormatChoices())
	}
	if err := s.htmlNeedsFile(); err != nil {
		return err
	}
	switch s.LogFormat {
	case "text", "json":
	default:
		return usagef("--log-format %s: use text or json", s.LogFormat)
	}
	if s.RunNow && s.Schedule == "" {
		return usagef("--run-now only makes sense with --schedule SPEC; without it every run starts at once")
	}
	if s.MetricsFile != "" && !strings.HasSuffix(strings.ToLower(s.MetricsFile), ".prom") {
		s.Warnings = append(s.Warnings, fmt.Sprintf("--metrics-file %s does not end in .prom: node_exporter's textfile collector reads only *.prom files", s.MetricsFile))
	}
	switch s.Command {
	case "sync", "plan":
		if s.ConfigFile == "" {
			return usagef("no mapping file: give --config-file-path FILE (or /ConfigFilePath:FILE), the ADSIReaderLDAPMappings.xml with its UPN entry")
		}
		if s.Directory == "" && !locatable(s.Domains) {
			return usagef("no directory: give --directory URL (or /Directory:URL), e.g. ldaps://dc1.corp.example.com, ldif:export.ldf or entra:contoso.onmicrosoft.com, or --domain corp.example.com to find the domain controllers through DNS")
		}
		if s.Command == "plan" && s.Out == "" {
			return usagef("upnsync plan needs --out FILE (or /Out:FILE), the file to save the plan in")
		}
	}
	if s.Incremental && s.DirSync {
		return usagef("--incremental and --dirsync are two ways of reading only what changed: give one of them")
	}
	if s.Anonymous && (s.Login != "" || !s.Password.IsZero()) {
		return usagef("--anonymous cannot be combined with --login or a password")
	}
	if kerberos := s.KerberosKeytab != "" || s.KerberosCCache != "" || s.IntegratedAuth; kerberos && !s.Password.IsZero() {
		return usagef("a Kerberos bind (--kerberos-keytab, --kerberos-ccache, --integrated-auth) uses no password: leave out the password (%s)", s.passwordFrom)
	}
	return nil
}

// htmlNeedsFile refuses --report html without --report-file. The page is
// for a browser, not a terminal (thousands of lines of markup and JSON);
// a file is written whole or not at all, where a shell's redirection
// leaves half a page behind when the run fails, and on Windows
// PowerShell's > re-encodes the page. The demo writes its page to a file
// of its own.
func (s *Settings) htmlNeedsFile() error {
	if s.Report != "html" || s.ReportFile != "" {
		return nil
	}
	switch {
	case s.cmd.id == cDemo:
		return usagef("upnsync demo writes the HTML report of its dry run to a file of its own and says where; --report chooses what it prints: text, json or csv")
	case s.cmd.id&cReport != 0:
		return usagef("--report html writes a page for a browser, not for the terminal: give --report-file FILE.html too (or /ReportFilePath:FILE.html)")
	}
	return nil
}
