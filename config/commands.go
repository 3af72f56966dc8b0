package config

import (
	"fmt"
	"strings"
)

// command is a command or a subcommand, for its help, its positional
// arguments and what its options apply to.
type command struct {
	id      cmdSet
	name    string // "sync", "store import"
	summary string // one line, for the overview
	usage   []string
	about   string
	// args bounds the positional arguments after the (sub)command name;
	// argsUsage is the error when they are not what it takes.
	minArgs, maxArgs int
	argsUsage        string
	examples         []string
	// exitCodes: the help shows the exit codes (the commands a scheduler
	// runs).
	exitCodes bool
}

// readsDirectory tells the commands that read the directory, for which
// an option's directory kinds are checked.
func (c *command) readsDirectory() bool { return c.id&cRun != 0 }

// opensStore tells the commands that open the store --store names, for
// which an option's store kinds are checked.
func (c *command) opensStore() bool { return c.id&cStore != 0 }

var commands = []*command{
	{id: cSync, name: "sync", summary: "read the directory, plan and report; with --apply, write (the default command)",
		usage: []string{
			"upnsync [sync] --config-file-path FILE --directory URL [options]",
			`upnsync [sync] /ConfigFilePath:"FILE" /Directory:URL [/Options...]`,
		},
		about: "Reads the people of the directory, matches each to an Octopus user of the store, and merges their UPN into the user's Windows usernames. Without --apply it is a dry run: it reports what it would change and writes nothing. With --schedule it keeps running and syncs at each scheduled time.",
		examples: []string{
			"Dry run against a domain controller, then apply:",
			"  upnsync --config-file-path ADSIReaderLDAPMappings.xml --directory ldaps://dc1.corp.example.com \\",
			"          --login svc-upnsync@corp.example.com --password-file /etc/upnsync/password",
			"  upnsync ... --apply",
			"The same in ADSIReader's style, from Windows Task Scheduler:",
			`  upnsync.exe /ConfigFilePath:"C:\Octopus config\ADSIReaderLDAPMappings.xml" ^`,
			"              /Directory:ldaps://dc1.corp.example.com /Login:svc-upnsync@corp.example.com ^",
			`              /PasswordFile:"C:\Octopus config\upnsync.pw" /Apply /LogFilePath:"C:\Octopus config\logs"`,
			"One OU of an export, into a PostgreSQL table:",
			"  upnsync --config-file-path ADSIReaderLDAPMappings.xml --directory csv:users.csv \\",
			"          --domain OU=Staff,DC=corp,DC=example,DC=com \\",
			`          --store "postgres://upnsync@db.corp.example.com/octopus?sslmode=verify-full" \`,
			"          --store-password-file /etc/upnsync/db.pw --apply",
			"Keep running and sync every night at 01:30 Paris time:",
			`  upnsync ... --apply --schedule "CRON_TZ=Europe/Paris 30 1 * * *" --log-file-path /var/log/upnsync/`,
		},
		exitCodes: true},
	{id: cPlan, name: "plan", summary: "make the plan of a run and save it to apply later; writes nothing to the store",
		usage: []string{"upnsync plan --out PLAN.json [the options of a run]"},
		about: "Does what a dry run does and saves the plan in --out FILE, for upnsync apply: someone can review the plan, and what is applied is exactly what was reviewed. The safety guards run here: a plan they stop is not saved. Its report is the dry run's: with --report html --report-file FILE.html, the page to review is written beside the plan, with the conflicts, unmatched and skipped people the saved plan only counts.",
		examples: []string{"  upnsync plan --out tonight.json --config-file-path ADSIReaderLDAPMappings.xml --directory ldif:users.ldif",
			"The plan, and beside it the page a reviewer opens in a browser:",
			"  upnsync plan --out tonight.json --report html --report-file tonight.html --config-file-path ... --directory ..."},
		argsUsage: "upnsync plan takes no arguments besides its options; see upnsync help plan", exitCodes: true},
	{id: cApply, name: "apply", summary: "apply a saved plan to the store it names, exactly as saved",
		usage:   []string{"upnsync apply PLAN.json [options]"},
		about:   "Applies a plan saved by upnsync plan to the store the plan names. Each write is a compare-and-swap on the value the plan saw: users changed since the plan are left alone and reported (exit code 4). The directory is not read again, and the options that shape a plan cannot change it.",
		minArgs: 1, maxArgs: 1, argsUsage: "usage: upnsync apply PLAN-FILE (a plan saved by upnsync plan --out PLAN-FILE)",
		examples:  []string{"  upnsync apply tonight.json --log-file-path /var/log/upnsync/"},
		exitCodes: true},
	{id: cRuns, name: "runs", summary: "list the runs that wrote to the store, newest first",
		usage:     []string{"upnsync runs [--store URL] [--report json]"},
		about:     "Lists the runs recorded in the store's journal, one per line beginning with the run's id (the newest first), or as JSON with --report json.",
		argsUsage: "usage: upnsync runs [--store URL] [--report json]",
		examples:  []string{"  upnsync runs --store sqlite:octopus-users.db | head -1"}},
	{id: cUndo, name: "undo", summary: "restore what a run changed, where nobody changed it since",
		usage:   []string{"upnsync undo RUN_ID [--store URL] [--apply]"},
		about:   "Restores the Windows usernames a run wrote to what they were before, for each user whose field still holds what the run wrote (a compare-and-swap); users changed since are reported and left alone. Like a sync it is a dry run unless --apply is given, and then it is itself a run that can be undone. upnsync runs lists the run ids.",
		minArgs: 1, maxArgs: 1, argsUsage: "usage: upnsync undo RUN_ID [--store URL] [--apply]; upnsync runs lists the run ids",
		examples:  []string{"  upnsync undo 20260101T013000Z-1a2b3c --store sqlite:octopus-users.db --apply"},
		exitCodes: true},
	{id: cReportHTML, name: "report html", summary: "render a saved JSON report or a saved plan as an HTML page for reviewers",
		usage:   []string{"upnsync report html IN OUT.html"},
		about:   "Renders IN, a report saved by --report json --report-file or a plan saved by upnsync plan --out, as the page --report html writes: one self-contained file (nothing from the network) to open in a browser, from a file share or an e-mail attachment. A scheduled job keeps JSON; the reviewer opens the HTML. A saved plan is checked as upnsync apply checks it (its SHA-256), whatever its age; it lists its changes and departures, and counts the rest. OUT is replaced atomically; IN is never changed.",
		minArgs: 2, maxArgs: 2, argsUsage: "usage: upnsync report html IN OUT.html (IN: a JSON report or a saved plan)",
		examples: []string{
			"  upnsync report html /var/lib/upnsync/last-report.json last-report.html",
			"  upnsync report html tonight.json tonight.html      (a plan saved by upnsync plan --out tonight.json)",
		}},
	{id: cDemo, name: "demo", summary: "run the whole job on built-in sample data, in a temporary folder",
		usage:     []string{"upnsync demo [--verbose] [--keep DIR] [--report FORMAT]"},
		about:     "Seeds a sample Octopus store, then runs a dry run, the apply and a second dry run on a sample LDIF export, in a temporary folder it removes at the end (--keep DIR keeps the files there). It prints the dry run's changes and conflicts once, then each step's summary (--verbose: each step's whole report), and writes the dry run's report as an HTML page.",
		argsUsage: "usage: upnsync demo"},
	{id: cDoctor, name: "doctor", summary: "check everything a run with these options needs, step by step, writing nothing",
		usage:     []string{"upnsync doctor [the options of a run]"},
		about:     "Checks, before a first run, what a run with the same options needs: the mapping file, the directory (DNS, TCP, TLS, bind, rootDSE, each base) or the export, the store, the clock and the output files. It takes every option of upnsync sync, writes nothing but its own output, and exits 0 only when no check failed.",
		examples:  []string{"  upnsync doctor --config-file-path ADSIReaderLDAPMappings.xml --directory ldaps://dc1.corp.example.com --login svc-upnsync@corp.example.com"},
		argsUsage: "doctor takes no arguments, only the options of a run; see upnsync help doctor"},
	{id: cMappingCheck, name: "mapping check", summary: "validate a mapping file and list its entries",
		usage:   []string{"upnsync mapping check FILE"},
		about:   "Reads an ADSIReaderLDAPMappings.xml, lists its user mapping and checks that it has the UPN entry upnsync needs.",
		minArgs: 1, maxArgs: 1, argsUsage: "usage: upnsync mapping check FILE"},
	{id: cMappingAddUPN, name: "mapping add-upn", summary: "add the UPN entry to a mapping file (in place if no OUT)",
		usage:   []string{"upnsync mapping add-upn IN [OUT]"},
		about:   `Adds <attribute LDAPAttribute="userPrincipalName" OctopusAttribute="UPN"/> to the user mapping of IN, writing OUT (or IN itself), and changes nothing else in the file.`,
		minArgs: 1, maxArgs: 2, argsUsage: "usage: upnsync mapping add-upn IN [OUT]"},
	{id: cStoreImport, name: "store import", summary: "create or update the users of a store from a CSV file",
		usage:   []string{"upnsync store import --store URL FILE.csv"},
		about:   "Creates or updates the Octopus users of the store from a CSV file (an export of Octopus's users, or one written by upnsync store export). It takes the store's lock, like a run that writes.",
		minArgs: 1, maxArgs: 1, argsUsage: "usage: upnsync store import --store URL FILE.csv"},
	{id: cStoreExport, name: "store export", summary: "write the users of a store as CSV (to standard output without FILE)",
		usage:   []string{"upnsync store export --store URL [FILE.csv]"},
		about:   "Writes the Octopus users of the store as CSV, to FILE (replaced atomically) or to standard output.",
		maxArgs: 1, argsUsage: "usage: upnsync store export --store URL [FILE.csv]"},
	{id: cVersion, name: "version", summary: "print the version (also --version, /Version)",
		usage: []string{"upnsync version", "upnsync --version"}, argsUsage: "usage: upnsync version"},
	{id: cHelp, name: "help", summary: "this overview; upnsync help COMMAND for one command",
		usage: []string{"upnsync help [COMMAND [SUBCOMMAND]]", "upnsync COMMAND --help (or -h, /?)"}, maxArgs: 2},
}

// groups are the commands with subcommands.
var groups = map[string]struct{ usage, summary string }{
	"mapping": {"mapping needs a subcommand: upnsync mapping check FILE, or upnsync mapping add-upn IN [OUT]",
		"check a mapping file, or add its UPN entry"},
	"report": {"report needs a subcommand: upnsync report html IN OUT.html",
		"render a saved JSON report or plan as an HTML page"},
	"store": {"store needs a subcommand: upnsync store import --store URL FILE.csv, or upnsync store export --store URL [FILE.csv]",
		"import or export the users of a store as CSV"},
}

// Commands lists the commands, as the first argument names them.
var Commands = []string{"sync", "plan", "apply", "runs", "undo", "report", "demo", "doctor", "mapping", "store", "version", "help"}

func commandNamed(name string) *command {
	for _, c := range commands {
		if c.name == name {
			return c
		}
	}
	return nil
}

// subcommands lists the subcommands of a group ("check", "add-upn").
func subcommands(group string) []string {
	var out []string
	for _, c := range commands {
		if g, sub, ok := strings.Cut(c.name, " "); ok && g == group {
			out = append(out, sub)
		}
	}
	return out
}

// resolveCommand finds the command the positional arguments name: the
// first one when it is a command name (else sync), and for mapping and
// store the subcommand after it. args are what follows the command name.
// A mistyped command or subcommand is refused with the nearest name.
func resolveCommand(positional []string) (*command, []string, error) {
	name, ok := commandName(positional)
	if !ok {
		return commandNamed("sync"), positional, nil
	}
	rest := positional[1:]
	if g, ok := groups[name]; ok {
		if len(rest) == 0 {
			return nil, nil, usagef("%s", g.usage)
		}
		sub := strings.ToLower(rest[0])
		c := commandNamed(name + " " + sub)
		if c == nil {
			subs := subcommands(name)
			msg := fmt.Sprintf("unknown %s subcommand %q", name, rest[0])
			if near := nearest(sub, subs, false); near != "" {
				msg += fmt.Sprintf(" (did you mean %s?)", near)
			}
			return nil, nil, usagef("%s: use %s", msg, orList(subs))
		}
		return c, rest, nil
	}
	return commandNamed(name), rest, nil
}

// commandName is the command the first positional argument names, in any
// letter case, as Commands spells it.
func commandName(positional []string) (string, bool) {
	if len(positional) == 0 {
		return "", false
	}
	for _, c := range Commands {
		if strings.EqualFold(positional[0], c) {
			return c, true
		}
	}
	return "", false
}

// orList joins items as "a or b", "a, b or c".
func orList(items []string) string {
	if len(items) < 2 {
		return strings.Join(items, "")
	}
	return strings.Join(items[:len(items)-1], ", ") + " or " + items[len(items)-1]
}

// checkArgs refuses positional arguments the command does not take. One
// that looks like a Windows option (/Aply) is an unknown option, with the
// nearest one named.
func (c *command) checkArgs(args []string) error {
	if len(args) > c.maxArgs {
		extra := args[c.maxArgs]
		if looksLikeWindowsOption(extra) {
			return unknownOption(extra)
		}
		if c.id == cSync {
			msg := fmt.Sprintf("unexpected argument %q", extra)
			if near := nearest(strings.ToLower(extra), Commands, false); near != "" {
				msg += fmt.Sprintf(" (did you mean the command %s?)", near)
			}
			return usagef("%s; commands are %s; see upnsync --help", msg, strings.Join(Commands, ", "))
		}
		return usagef("%s", c.argsUsage)
	}
	if len(args) < c.minArgs {
		return usagef("%s", c.argsUsage)
	}
	return nil
}
