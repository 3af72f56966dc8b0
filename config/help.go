package config

import (
	"fmt"
	"io"
	"strings"
)

const overviewHead = `upnsync puts each Active Directory user's User Principal Name (UPN) into the
Windows usernames of the matching Octopus user, so people can sign in to Octopus
through Microsoft Entra ID. It reads the same ADSIReaderLDAPMappings.xml as
Octopus's ADSIReader. Every run is a dry run that shows what it would change,
unless --apply (/Apply) is given.

Usage:
  upnsync [COMMAND] [options]          (the command is sync when left out)
  upnsync /ConfigFilePath:"FILE" /Directory:URL [/Options...]
`

const spellings = `Every option has two spellings: --name value (or --name=value) and /Name:value
(any letter case; quote values with spaces: /Name:"a b"). Most can also come
from the environment variable UPNSYNC_NAME or from a settings file (--settings
FILE, lines of name = value). The command line wins over the environment, which
wins over the settings file.
`

const exitCodes = `Exit codes:
  0  in sync, or applied without conflicts
  1  error: bad option or settings, bad mapping file, directory or store unreachable (nothing written)
  2  dry run with changes pending
  3  stopped by a safety guard (the directory read was not proven complete, or a threshold:
     --max-changes, --max-change-percent, --max-removals, --max-removal-percent); nothing written
  4  finished, but with conflicts (and no changes pending) or users changed since the plan
When several apply, the first of 1, 3, 2, 4 wins. Another run holding the store's lock is exit 1.
`

// mostUsed are the options the overview shows.
var mostUsed = []string{"config-file-path", "directory", "domain", "login", "password-file", "store", "apply", "report", "log-file-path"}

// askHelp records what help was asked for: upnsync help [TOPIC], or
// TOPIC --help. A topic that is no command is an error naming the nearest.
func (s *Settings) askHelp(positional []string) error {
	s.Command, s.Args = "help", nil
	topic := positional
	if len(topic) > 0 && strings.EqualFold(topic[0], "help") {
		topic = topic[1:]
	}
	if len(topic) == 0 {
		return nil
	}
	name, ok := commandName(topic)
	if !ok {
		msg := fmt.Sprintf("upnsync help %s: no such command", topic[0])
		if near := nearest(strings.ToLower(topic[0]), Commands, false); near != "" {
			msg += fmt.Sprintf(" (did you mean %s?)", near)
		}
		return usagef("%s; commands are %s", msg, strings.Join(Commands, ", "))
	}
	if _, group := groups[name]; group && len(topic) > 1 {
		c, _, err := resolveCommand(topic[:2])
		if err != nil {
			return err
		}
		name = c.name
	}
	s.helpTopic = name
	return nil
}

// WriteHelp writes the help asked for: the overview, one command's usage
// and options, or a command group's subcommands.
func (s *Settings) WriteHelp(w io.Writer) {
	if c := commandNamed(s.helpTopic); c != nil {
		writeCommandHelp(w, c)
		return
	}
	if _, ok := groups[s.helpTopic]; ok {
		writeGroupHelp(w, s.helpTopic)
		return
	}
	writeOverview(w)
}

func writeOverview(w io.Writer) {
	fmt.Fprint(w, overviewHead)
	fmt.Fprintln(w, "\nCommands:")
	for _, name := range Commands {
		summary := ""
		if c := commandNamed(name); c != nil {
			summary = c.summary
		} else {
			summary = groups[name].summary
		}
		fmt.Fprintf(w, "  %-9s %s\n", name, summary)
	}
	fmt.Fprintln(w, "\nMost used options:")
	for _, long := range mostUsed {
		writeOptionLine(w, byLong(long), false)
	}
	fmt.Fprintln(w)
	fmt.Fprint(w, spellings)
	fmt.Fprintln(w)
	fmt.Fprint(w, exitCodes)
	fmt.Fprintln(w, "\nupnsync help COMMAND (or upnsync COMMAND --help) shows a command's options;")
	fmt.Fprintln(w, "docs/reference.md describes every command and option.")
}

func writeGroupHelp(w io.Writer, group string) {
	fmt.Fprintf(w, "upnsync %s: %s\n\nUsage:\n", group, groups[group].summary)
	for _, sub := range subcommands(group) {
		c := commandNamed(group + " " + sub)
		for _, u := range c.usage {
			fmt.Fprintf(w, "  %-44s %s\n", u, c.summary)
		}
	}
	fmt.Fprintf(w, "\nupnsync help %s SUBCOMMAND shows a subcommand's options.\n", group)
}

func writeCommandHelp(w io.Writer, c *command) {
	fmt.Fprintf(w, "upnsync %s: %s\n\nUsage:\n", c.name, c.summary)
	for _, u := range c.usage {
		fmt.Fprintf(w, "  %s\n", u)
	}
	if c.about != "" {
		fmt.Fprintln(w)
		for _, line := range wrap(c.about, 78) {
			fmt.Fprintln(w, line)
		}
	}
	opts := commandOptions(c)
	if len(opts) > 0 {
		fmt.Fprintln(w, "\nOptions (also /Name:value; most also as UPNSYNC_NAME or in a settings file):")
		grouped := len(opts) > 20
		group := ""
		for _, o := range opts {
			if grouped && o.group != group {
				group = o.group
				fmt.Fprintf(w, "\n %s:\n", group)
			}
			writeOptionLine(w, o, true)
		}
	}
	if len(c.examples) > 0 {
		fmt.Fprintln(w, "\nExamples:")
		for _, e := range c.examples {
			fmt.Fprintf(w, "  %s\n", e)
		}
	}
	if c.exitCodes {
		fmt.Fprintln(w)
		fmt.Fprint(w, exitCodes)
	}
	fmt.Fprintln(w, "\nEvery command and option: docs/reference.md")
}

// commandOptions are the options a command takes, in table order,
// without --help (every command takes it).
func commandOptions(c *command) []*option {
	var out []*option
	for _, o := range options {
		if o.cmds&c.id != 0 && !o.envOnly && o.long != "help" && o.long != "version" {
			out = append(out, o)
		}
	}
	return out
}

// writeOptionLine writes an option's two spellings and, with long, its
// help wrapped under them.
func writeOptionLine(w io.Writer, o *option, long bool) {
	gnu, win := o.spellings()
	if !long {
		fmt.Fprintf(w, "  %-27s %-26s %s\n", gnu, win, firstClause(o.help))
		return
	}
	fmt.Fprintf(w, "  %-32s %s\n", gnu, win)
	help := o.help
	if o.def != "" {
		help += " (default: " + o.def + ")"
	}
	for _, line := range wrap(help, 72) {
		fmt.Fprintf(w, "      %s\n", line)
	}
}

// firstClause is the help up to its first colon or semicolon, for the
// overview's one-line list.
func firstClause(h string) string {
	if i := strings.IndexAny(h, ":;("); i > 0 {
		h = h[:i]
	}
	return strings.TrimSpace(h)
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
