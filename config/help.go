package config

import (
	"fmt"
	"io"
	"strings"
)

const helpHead = `upnsync puts each Active Directory user's User Principal Name (UPN) into the
Windows usernames of the matching Octopus user, so people can sign in to Octopus
through Microsoft Entra ID. It reads the same ADSIReaderLDAPMappings.xml as
Octopus's ADSIReader. Every run is a dry run that shows what it would change,
unless --apply (/Apply) is given.

Usage:
  upnsync [sync] --config-file-path FILE --directory URL [options]
  upnsync /ConfigFilePath:"FILE" /Directory:URL [/Options...]
  upnsync plan --out PLAN.json [sync options]   save the plan (nothing is written to the store)
  upnsync apply PLAN.json              apply a saved plan to the store it names, exactly as saved
  upnsync runs [--store URL]           list the runs that wrote, newest first (--report json)
  upnsync undo RUN_ID [--apply]        restore what a run changed, where nobody changed it since
  upnsync demo                         run the whole job on built-in sample data
  upnsync doctor [options of a run]    check the settings of a run, step by step, writing nothing
  upnsync mapping check FILE           validate a mapping file and list its entries
  upnsync mapping add-upn IN [OUT]     add the UPN entry to a mapping file (in place if no OUT)
  upnsync store import --store URL FILE.csv
  upnsync store export --store URL [FILE.csv]
  upnsync version

Every option has two spellings: --name value (or --name=value) and
/Name:value (any letter case; quote values with spaces: /Name:"a b"). Each can
also come from the environment variable UPNSYNC_NAME (e.g. UPNSYNC_DIRECTORY)
or from a settings file (--settings FILE, lines of name = value). The command
line wins over the environment, which wins over the settings file.
`

const helpTail = `
Examples:
  Dry run against a domain controller, then apply:
    upnsync --config-file-path ADSIReaderLDAPMappings.xml --directory ldaps://dc1.corp.example.com \
            --login svc-upnsync@corp.example.com --password-file /etc/upnsync/password
    upnsync ... --apply
  The same in ADSIReader's style, from Windows Task Scheduler:
    upnsync.exe /ConfigFilePath:"C:\Octopus config\ADSIReaderLDAPMappings.xml" ^
                /Directory:ldaps://dc1.corp.example.com /Login:svc-upnsync@corp.example.com ^
                /PasswordFile:"C:\Octopus config\upnsync.pw" /Apply /LogFilePath:"C:\Octopus config\logs"
  Check those settings before the first run:
    upnsync doctor --config-file-path ADSIReaderLDAPMappings.xml --directory ldaps://dc1.corp.example.com ...
  Keep running and sync every night at 01:30 Paris time, logs in a folder (newest 60 kept):
    upnsync ... --apply --schedule "CRON_TZ=Europe/Paris 30 1 * * *" --log-file-path /var/log/upnsync/ --log-keep 60
  From an Entra ID or PowerShell export, into a PostgreSQL table:
    upnsync --config-file-path ADSIReaderLDAPMappings.xml --directory csv:entra-users.csv \
            --store "postgres://upnsync@db.corp.example.com/octopus?sslmode=verify-full" \
            --store-password-file /etc/upnsync/db.pw --apply
  Prepare a DataImporter import instead of writing (then run DataImporter with upn-import.xml):
    upnsync --config-file-path ADSIReaderLDAPMappings.xml --directory ldaps://dc1.corp.example.com \
            --store dataimporter:upn-import.xlsx --octopus-export octopus-users.xlsx --apply

Exit codes:
  0  in sync, or applied without conflicts
  1  error: bad option or settings, bad mapping file, directory or store unreachable (nothing written)
  2  dry run with changes pending
  3  stopped by a safety guard (the directory read was not proven complete, or a threshold:
     --max-changes, --max-change-percent, --max-removals, --max-removal-percent); nothing written
  4  finished, but with conflicts (and no changes pending) or users changed since the plan
When several apply, the first of 1, 3, 2, 4 wins. Another run holding the store's lock is exit 1.

Safety:
  Only entries upnsync added itself (recorded with the objectGUID of the person) are ever replaced
  (a rename) or removed (--remove-departed). Nothing is written after a read that was not proven
  complete. The removal guard is on by default: more than 500 removals, or more than 10% of the
  Octopus users, stops the run before it writes; --force lets one run through and is logged.
  Writing runs (--apply, apply, undo --apply, store import) take the store's lock, so a
  scheduled run and a manual one never write at the same time: a file beside an sqlite: store
  or a dataimporter: store's state database, an advisory lock in the database for postgres://.
  upnsync runs and upnsync undo work with every store; a dataimporter: store can only add, so
  renames, removals and undos are reported as store-cannot-replace for you to do by hand.
`

// Usage writes the help.
func Usage(w io.Writer) {
	fmt.Fprint(w, helpHead)
	group := ""
	for _, o := range options {
		if o.group != group {
			group = o.group
			fmt.Fprintf(w, "\n%s:\n", group)
		}
		gnu := "--" + o.long
		win := "/" + o.win
		if o.kind != kBool {
			gnu += " " + o.arg
			win += ":" + o.arg
		}
		fmt.Fprintf(w, "  %-32s %s\n", gnu, win)
		for _, line := range wrap(o.help, 72) {
			fmt.Fprintf(w, "      %s\n", line)
		}
	}
	fmt.Fprint(w, helpTail)
}

func wrap(s string, width int) []string {
	var lines []string
	line := ""
	for _, word := range strings.Fields(s) {
		if line != "" && len(line)+1+len(word) > width {
			lines = append(lines, line)
			line = word
			continue
		}
		if line != "" {
			line += " "
		}
		line += word
	}
	if line != "" {
		lines = append(lines, line)
	}
	return lines
}
