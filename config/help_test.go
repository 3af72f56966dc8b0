package config

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func helpOf(t *testing.T, args ...string) string {
	t.Helper()
	s, err := Parse(args, noenv)
	if err != nil {
		t.Fatalf("Parse(%q): %v", args, err)
	}
	if s.Command != "help" {
		t.Fatalf("Parse(%q): command %q, want help", args, s.Command)
	}
	var b bytes.Buffer
	s.WriteHelp(&b)
	return b.String()
}

// upnsync help and --help print a short overview: the commands, the most
// used options in both spellings, the exit codes, and where the rest is.
func TestHelpOverview(t *testing.T) {
	for _, args := range [][]string{{"help"}, {"--help"}, {"-h"}, {"/?"}, {"/Help"}} {
		out := helpOf(t, args...)
		for _, want := range append(Commands, "/ConfigFilePath:FILE", "--directory URL", "Exit codes:",
			"0  in sync", "1  error", "2  dry run", "3  stopped", "4  finished", "docs/reference.md", "upnsync help COMMAND") {
			if !strings.Contains(out, want) {
				t.Errorf("%q: the overview lacks %q", args, want)
			}
		}
		if n := strings.Count(out, "\n"); n > 60 {
			t.Errorf("%q: the overview is %d lines; keep it short", args, n)
		}
		if strings.Contains(out, "--shutdown-timeout") {
			t.Errorf("%q: the overview lists every option", args)
		}
	}
}

// upnsync help CMD and CMD --help print that command's usage and only its
// options; together the commands' help lists every option in both
// spellings.
func TestHelpOfEachCommand(t *testing.T) {
	listed := map[string]bool{}
	for _, c := range commands {
		words := strings.Fields(c.name)
		forms := [][]string{append([]string{"help"}, words...), append(append([]string{}, words...), "--help"),
			append(append([]string{}, words...), "/?"), append(append([]string{}, words...), "-h")}
		if c.id == cHelp {
			forms = forms[:1] // upnsync help --help is the overview
		}
		for _, args := range forms {
			out := helpOf(t, args...)
			if !strings.HasPrefix(out, "upnsync "+c.name+": ") || !strings.Contains(out, c.usage[0]) {
				t.Errorf("%q: not the help of %s:\n%s", args, c.name, out)
			}
			for _, o := range options {
				if o.envOnly || o.long == "help" || o.long == "version" {
					continue
				}
				has := strings.Contains(out, "--"+o.long+" ") || strings.Contains(out, "--"+o.long+"\n")
				if takes := o.cmds&c.id != 0; has != takes && !strings.Contains(strings.Join(c.usage, " "), "--"+o.long) &&
					!strings.Contains(strings.Join(c.examples, " "), "--"+o.long) && !strings.Contains(c.about, "--"+o.long) {
					t.Errorf("%q: lists --%s: %t, but the command takes it: %t", args, o.long, has, takes)
				}
				if o.cmds&c.id != 0 && strings.Contains(out, "/"+o.win) {
					listed[o.long] = true
				}
			}
		}
	}
	for _, o := range options {
		if !o.envOnly && o.long != "help" && o.long != "version" && !listed[o.long] {
			t.Errorf("no command's help lists --%s with /%s", o.long, o.win)
		}
	}
	undo := helpOf(t, "help", "undo")
	if n := strings.Count(undo, "\n"); n >= 80 {
		t.Errorf("upnsync help undo is %d lines, want under 80:\n%s", n, undo)
	}
	if !strings.Contains(helpOf(t, "store", "--help"), "upnsync store import --store URL FILE.csv") {
		t.Error("upnsync store --help does not list the store subcommands")
	}
}

func TestHelpOfNoSuchCommand(t *testing.T) {
	for args, want := range map[string]string{
		"help foo":            `upnsync help foo: no such command; commands are sync, plan`,
		"help udno":           `upnsync help udno: no such command (did you mean undo?)`,
		"help store exprot":   `unknown store subcommand "exprot" (did you mean export?): use import or export`,
		"mapping chek --help": `unknown mapping subcommand "chek" (did you mean check?)`,
		"sycn --help":         `no such command (did you mean sync?)`,
	} {
		_, err := Parse(strings.Fields(args), noenv)
		var ue *UsageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want a usage error containing %q", args, err, want)
		}
	}
}

func TestVersionOption(t *testing.T) {
	for _, args := range [][]string{{"--version"}, {"/Version"}, {"/version"}, {"version"}, {"sync", "--version"}} {
		s := mustParse(t, args, noenv)
		if s.Command != "version" {
			t.Errorf("%q: command %q, want version", args, s.Command)
		}
	}
}

// "Did you mean": unknown options in both spellings, commands and
// subcommands.
func TestDidYouMean(t *testing.T) {
	for args, want := range map[string]string{
		"--aply":                    "unknown option --aply (did you mean --apply?)",
		"/Aply":                     "unknown option /Aply (did you mean /Apply?)",
		"/aply":                     "unknown option /aply (did you mean /Apply?)",
		"--aply=yes":                "unknown option --aply (did you mean --apply?)",
		"/Aply:yes":                 "unknown option /Aply (did you mean /Apply?)",
		"--dirctory=ldif:x":         "unknown option --dirctory (did you mean --directory?)",
		"/Dirctory:ldif:x":          "unknown option /Dirctory (did you mean /Directory?)",
		"--store-tabel x":           "(did you mean --store-table?)",
		"/ConfigFilePth:m":          "(did you mean /ConfigFilePath?)",
		"--config x":                "(did you mean --config-file-path?)",
		"--frobnicate":              "unknown option --frobnicate; see upnsync --help",
		"/NoPrintersDetection":      "unknown option /NoPrintersDetection; see upnsync --help",
		"/Pasword:hunter2":          "unknown option /Pasword (did you mean /Password?)",
		"sycn":                      `unexpected argument "sycn" (did you mean the command sync?)`,
		"mapping chek x":            `unknown mapping subcommand "chek" (did you mean check?): use check or add-upn`,
		"store exprot":              `unknown store subcommand "exprot" (did you mean export?)`,
		"runs /Aply":                "unknown option /Aply (did you mean /Apply?)",
		"undo 2026-x /Aplly":        "unknown option /Aplly (did you mean /Apply?)",
		"undo 2026-x /NoSuchOption": "unknown option /NoSuchOption; see upnsync --help",
	} {
		_, err := Parse(strings.Fields(args), noenv)
		var ue *UsageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want a usage error containing %q", args, err, want)
		}
		if err != nil && strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%s: the error shows the value: %v", args, err)
		}
	}
}

func TestEditDistance(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		d    int
	}{{"", "", 0}, {"aply", "apply", 1}, {"apply", "aplpy", 1}, {"kitten", "sitting", 3}, {"é", "e", 1}, {"abc", "", 3}} {
		if got := editDistance(tt.a, tt.b); got != tt.d {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.d)
		}
	}
	if got := nearest("now", Commands, false); got != "" {
		t.Errorf("nearest(now) = %q: too far to be meant", got)
	}
}

// docs/reference.md is what the code generates, and documents every
// option in both spellings.
func TestReferenceIsUpToDate(t *testing.T) {
	path := filepath.Join("..", "docs", "reference.md")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v; write it with %s", err, ReferenceCommand)
	}
	var want bytes.Buffer
	Reference(&want)
	if !bytes.Equal(bytes.ReplaceAll(data, []byte("\r\n"), []byte("\n")), want.Bytes()) {
		t.Fatalf("docs/reference.md differs from what the option table gives: run %s", ReferenceCommand)
	}
	for _, o := range options {
		if o.envOnly {
			if !strings.Contains(string(data), "`"+o.env()+"`") {
				t.Errorf("docs/reference.md lacks %s", o.env())
			}
			continue
		}
		if !strings.Contains(string(data), "`--"+o.long) || !strings.Contains(string(data), "`/"+o.win) {
			t.Errorf("docs/reference.md lacks --%s or /%s", o.long, o.win)
		}
	}
	for _, c := range commands {
		if !strings.Contains(string(data), "### upnsync "+c.name+"\n") {
			t.Errorf("docs/reference.md lacks upnsync %s", c.name)
		}
	}
}
