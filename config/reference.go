package config

import (
	"fmt"
	"io"
	"strings"
)

// ReferenceCommand is the command that writes docs/reference.md.
const ReferenceCommand = "go run ./config/internal/refgen > docs/reference.md"

const referenceIntro = `Every option has two spellings: ` + "`--name value`" + ` (or ` + "`--name=value`" + `) and
` + "`/Name:value`" + ` (any letter case; quote values with spaces: ` + "`/Name:\"a b\"`" + `). Most can
also come from the environment variable ` + "`UPNSYNC_NAME`" + ` or from a settings file
(` + "`--settings FILE`" + ` or ` + "`UPNSYNC_SETTINGS`" + `: lines of ` + "`name = value`" + `, ` + "`#`" + ` comments). The
command line wins over the environment, which wins over the settings file.

Each option applies to some commands and, for some, to some kinds of
directory (` + "`ldap://`, `ldaps://`" + `, domain controllers found through DNS when
` + "`--directory`" + ` is left out, ` + "`ldif:`, `csv:`, `xlsx:`" + ` exports, Microsoft Entra ID:
` + "`entra:`" + `) or of store (` + "`sqlite:`" + `,
` + "`postgres://`, `dataimporter:`" + `). An option is never silently ignored:

- given on the command line where it does not apply, it is an error (exit
  code 1) that names it as typed and says why, for example
  ` + "`--start-tls applies to ldap:// directories and domain controllers found through DNS; csv:people.csv is a CSV export (a file)`" + `;
- from the environment or a settings file, which several commands and jobs
  may share, it is not used, and a warning (on standard error and in the
  run's log) names it and says why;
- ` + "`--domain`, `--filter` and `--user-filter`" + ` apply to exports too: they are
  honoured there (see [Scope on exports](#scope-on-exports)) or refused.
`

const referenceScope = `## Scope on exports

On an ` + "`ldif:`, `csv:` or `xlsx:`" + ` export, the scope options keep the same people
the directory would have returned:

- ` + "`--domain BASE`" + ` keeps the people whose DN is the base or under it (the
  ` + "`dn:`" + ` line of an LDIF record, the ` + "`DistinguishedName`" + ` column of a CSV or
  workbook). DNs are compared as DNs: attribute names and values without
  letter case, escaped characters (` + "`\\,`, `\\2C`" + `) decoded, RDN by RDN; a DNS
  domain (` + "`corp.example.com`" + `) means ` + "`DC=corp,DC=example,DC=com`" + `. An export without
  DNs, a row without one, or a base under which the export has no entry at
  all, is an error.
- ` + "`--filter FILTER`" + ` is evaluated on each person's exported attributes, and
  ` + "`--user-filter FILTER`" + ` on each exported entry instead of upnsync's own test of
  what is a user. Supported: ` + "`&`, `|`, `!`" + `, equality, presence (` + "`attr=*`" + `),
  substrings (` + "`attr=a*b*c`" + `), ` + "`>=` and `<=`" + ` on numbers and times, and the bit
  tests ` + "`attr:1.2.840.113556.1.4.803:=N`" + ` (all bits) and ` + "`...804:=N`" + ` (any bit).
  Text compares without letter case and with runs of spaces as one; DN
  attributes (` + "`memberOf`, `manager`" + `...) compare as DNs; ` + "`objectCategory=person`" + `
  matches ` + "`CN=Person,CN=Schema,...`" + ` as Active Directory does; binary attributes
  (` + "`objectGUID`" + `) compare byte for byte (a CSV's GUID text is read as the GUID).
  Anything else (` + "`~=`" + `, other matching rules, ` + "`>=`" + ` on text, substrings of
  DNs) is refused, never guessed. A filter naming an attribute the export
  does not carry (no column of that name, no entry with it) is an error,
  never "no match"; in a CSV or workbook a cell is one value, except for DN
  attributes, whose values a semicolon separates.
`

// Reference writes docs/reference.md: every command and option, from the
// tables, so that the documentation cannot drift from the binary.
func Reference(w io.Writer) {
	fmt.Fprintf(w, "# upnsync reference\n\n<!-- Generated from config's option and command tables by\n     %s\n     Do not edit: config's TestReferenceIsUpToDate fails when this file differs. -->\n\n", ReferenceCommand)
	fmt.Fprint(w, referenceIntro)

	fmt.Fprint(w, "\n## Commands\n\n| Command | What it does |\n|---|---|\n")
	for _, c := range commands {
		fmt.Fprintf(w, "| `upnsync %s` | %s |\n", c.name, c.summary)
	}
	for _, c := range commands {
		fmt.Fprintf(w, "\n### upnsync %s\n\n%s.\n\n```\n%s\n```\n", c.name, upperFirst(c.summary), strings.Join(c.usage, "\n"))
		if c.about != "" {
			fmt.Fprintf(w, "\n%s\n", strings.Join(wrap(c.about, 78), "\n"))
		}
		var names []string
		for _, o := range commandOptions(c) {
			names = append(names, "`--"+o.long+"`")
		}
		if len(names) > 0 {
			fmt.Fprintf(w, "\nOptions: %s.\n", strings.Join(names, ", "))
		} else {
			fmt.Fprint(w, "\nOptions: none besides `--help`.\n")
		}
		if len(c.examples) > 0 {
			fmt.Fprintf(w, "\n```\n%s\n```\n", strings.Join(c.examples, "\n"))
		}
	}

	fmt.Fprint(w, "\n## Options\n")
	group := ""
	for _, o := range options {
		if o.group != group {
			group = o.group
			fmt.Fprintf(w, "\n### %s\n", group)
		}
		writeReferenceOption(w, o)
	}
	fmt.Fprintf(w, "\n%s", referenceScope)
	fmt.Fprintf(w, "\n## Exit codes\n\n```\n%s```\n", strings.TrimPrefix(exitCodes, "Exit codes:\n"))
}

func writeReferenceOption(w io.Writer, o *option) {
	if o.envOnly {
		fmt.Fprintf(w, "\n#### `%s`\n\n%s.\n\n", o.env(), upperFirst(o.help))
	} else {
		gnu, win := o.spellings()
		fmt.Fprintf(w, "\n#### `%s`\n\n%s.\n\n", gnu, upperFirst(o.help))
		fmt.Fprintf(w, "- Windows spelling: `%s`\n", win)
	}
	switch {
	case o.cliOnly:
		fmt.Fprint(w, "- Command line only (not from the environment or a settings file)\n")
	case o.secret && o.envOnly:
		fmt.Fprint(w, "- Environment only\n")
	case o.secret:
		fmt.Fprintf(w, "- Environment: `%s`; never in a settings file\n", o.env())
	default:
		value := o.arg
		switch {
		case o.optArg:
			value = "true` or `" + o.arg
		case o.kind == kBool:
			value = "true"
		}
		fmt.Fprintf(w, "- Environment: `%s`; settings file: `%s = %s`\n", o.env(), o.long, value)
	}
	if o.def != "" {
		fmt.Fprintf(w, "- Default: %s\n", o.def)
	}
	applies := "upnsync " + o.cmds.prose()
	if o.cmds == cAll {
		applies = "every command"
	}
	if o.dirs != 0 {
		applies += "; directories: " + o.dirs.prose()
	}
	if o.stores != 0 {
		applies += "; stores: " + orList(o.stores.names())
	}
	fmt.Fprintf(w, "- Applies to: %s\n", applies)
	if o.plan {
		fmt.Fprint(w, "- Recorded in a saved plan and its inputs digest\n")
	}
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
