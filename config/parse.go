package config

import (
	"fmt"
	"strings"
)

// parseArgs sets the options of the command line and returns the
// positional arguments (the command, its arguments).
func parseArgs(s *Settings, args []string) ([]string, error) {
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
				return nil, unknownOption(a)
			}
			spelled := "--" + name
			if !hasValue && o.optArg && i+1 < len(args) && isGUID(args[i+1]) {
				i++
				value, hasValue = args[i], true
			}
			if !hasValue && o.kind != kBool {
				if i+1 >= len(args) {
					return nil, usagef("%s needs a value (%s)", spelled, o.arg)
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
			if err := swallowed(spelled, value, o.secret); err != nil {
				return nil, err
			}
			if err := s.setArg(o, value, spelled); err != nil {
				return nil, err
			}
		case strings.HasPrefix(a, "/") && isWindowsOption(a):
			name, value, hasValue := strings.Cut(a[1:], ":")
			o := lookupWin(name)
			spelled := "/" + name
			if !hasValue && o.kind != kBool {
				return nil, usagef("%s needs a value: /%s:%s", spelled, o.win, o.arg)
			}
			if o.secret {
				s.SecretArgs = append(s.SecretArgs, SecretArg{Index: i, From: len(a) - len(value)})
			}
			s.storeSecrets(o, i, len(a)-len(value), value)
			if err := swallowed(spelled, value, o.secret); err != nil {
				return nil, err
			}
			if err := s.setArg(o, unquote(value), spelled); err != nil {
				return nil, err
			}
		case strings.HasPrefix(a, "/") && strings.Contains(a, ":") && looksLikeWindowsOption(a):
			// /Name:value is an option (a path has no colon there).
			return nil, unknownOption(a)
		case strings.HasPrefix(a, "-") && len(a) > 1:
			return nil, unknownOption(a)
		default:
			positional = append(positional, a)
		}
	}
	return positional, nil
}

// setArg sets an option given on the command line.
func (s *Settings) setArg(o *option, value, spelled string) error {
	if o.long == "store" {
		// Its password is scrubbed from the process's own arguments
		// (SecretArgs): the setting must not share their bytes.
		value = strings.Clone(value)
	}
	if err := s.give(o, value, origin{src: fromCommandLine, spelled: spelled}); err != nil {
		return err
	}
	if o.long == "password" {
		s.passwordFrom = "command line"
	}
	if o.secret {
		s.Warnings = append(s.Warnings, fmt.Sprintf(
			"%s puts the password on the command line, where other users of this machine can read it; use --password-file FILE or the UPNSYNC_PASSWORD environment variable", spelled))
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

// swallowed refuses a value that took in the options after it: Windows
// reads \" as a quote that belongs to the value, so
// /LogFilePath:"C:\logs\" /LogKeep:60 /Quiet arrives as one argument,
// C:\logs" /LogKeep:60 /Quiet, and the options after it would be lost
// without a word. A quote followed by blank space and a known option is
// that, and nothing a real value holds.
func swallowed(spelled, value string, secret bool) error {
	for rest := value; ; {
		i := strings.IndexByte(rest, '"')
		if i < 0 {
			return nil
		}
		rest = rest[i+1:]
		next := strings.TrimLeft(rest, " \t")
		if len(next) == len(rest) {
			continue
		}
		word, _, _ := strings.Cut(next, " ")
		name, _, _ := strings.Cut(word, "=")
		if !(strings.HasPrefix(word, "/") && isWindowsOption(word)) && !(strings.HasPrefix(name, "--") && lookupLong(strings.ToLower(name[2:])) != nil) {
			continue
		}
		shown := strings.TrimSuffix(value[:len(value)-len(rest)-1], `"`)
		if secret {
			shown = "..."
		}
		return usagef("%s took in the options after it (%s...): Windows reads \\\" as a quote that belongs to the value; never end a quoted value with a backslash: write %s:\"%s\", not %s:\"%s\\\"",
			spelled, word, spelled, strings.TrimRight(strings.TrimPrefix(shown, `"`), `\`), spelled, strings.TrimRight(strings.TrimPrefix(shown, `"`), `\`))
	}
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

// applyEnv takes UPNSYNC_* variables for the options the command line
// left out. Passwords are read where they are resolved (password.go).
func applyEnv(s *Settings, getenv func(string) string) error {
	for _, o := range options {
		if o.cliOnly || o.secret || s.given(o.long) {
			continue
		}
		v := getenv(o.env())
		if v == "" {
			continue
		}
		if err := s.give(o, v, origin{src: fromEnvironment, spelled: o.env()}); err != nil {
			return err
		}
	}
	return nil
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
