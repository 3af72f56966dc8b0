package config

import (
	"fmt"
	"net/url"
	"strings"
)

// The rule for an option that does not apply (to the command, or to the
// kind of directory or store):
//
//   - given on the command line, it is a usage error (exit 1) naming the
//     option as it was typed and why;
//   - from the environment (UPNSYNC_*) or a settings file, it is not used,
//     and a warning names it and why. Those sources are shared: the
//     environment of a Task Scheduler account or of a container serves
//     the nightly sync and the administrator's upnsync runs or undo alike,
//     and a settings file is written once for several commands. Refusing
//     there would break every command but one; using the value is
//     impossible; so the value is dropped, and the warning reaches the
//     log of the run (and standard error).
//
// Commands that take no option at all (mapping check, mapping add-upn,
// version, help) do not read the environment or a settings file.
//
// The scope options (--domain, --filter, --user-filter) apply to every
// kind of directory: on an ldif:, csv: or xlsx: export they are honoured
// by sync/directory, or refused there (an export without DNs with
// --domain, a filter naming an attribute the export does not carry), from
// any source, so that a scoped run never silently reads the whole export.

// source is where an option's value came from.
type source int

const (
	fromCommandLine source = iota + 1
	fromEnvironment
	fromSettingsFile
)

// origin is what Parse knows of an option given: where it came from and
// how it was spelled there.
type origin struct {
	src     source
	spelled string // --start-tls, /starttls, UPNSYNC_START_TLS, start-tls
	// file and line: where a settings file gave it.
	file string
	line int
}

// String names the option and where it came from, for a warning.
func (at origin) String() string {
	switch at.src {
	case fromEnvironment:
		return at.spelled + " (environment)"
	case fromSettingsFile:
		return fmt.Sprintf("%s (%s:%d)", at.spelled, at.file, at.line)
	}
	return at.spelled
}

// give sets an option from one source.
func (s *Settings) give(o *option, value string, at origin) error {
	if err := o.val.set(s, value); err != nil {
		switch at.src {
		case fromEnvironment:
			return usagef("environment variable %s: %v", at.spelled, err)
		case fromSettingsFile:
			return usagef("%s:%d: %s: %v", at.file, at.line, at.spelled, err)
		}
		return usagef("%s: %v", at.spelled, err)
	}
	if _, again := s.from[o.long]; !again {
		s.from[o.long] = at
	}
	return nil
}

// given tells whether an option was given, from any source.
func (s *Settings) given(long string) bool {
	_, ok := s.from[long]
	return ok
}

// OnCommandLine reports whether the option (long name) was given on the
// command line itself.
func (s *Settings) OnCommandLine(long string) bool { return s.from[long].src == fromCommandLine }

// applies checks every option given against the command and the kinds of
// directory and store it works with (see the rule above): an error for
// the command line, a warning and the value dropped for the others.
func (s *Settings) applies() error {
	c := s.cmd
	dk, sk := s.kinds()
	unused := map[source][]string{}
	for _, o := range options {
		at, ok := s.from[o.long]
		if !ok {
			continue
		}
		name := "--" + o.long
		if at.src == fromCommandLine {
			name = at.spelled
		}
		if o.cmds&c.id == 0 && at.src != fromCommandLine {
			unused[at.src] = append(unused[at.src], at.spelled)
			s.drop(o)
			continue
		}
		why := s.whyNot(o, name, dk, sk)
		if why == "" {
			continue
		}
		if at.src == fromCommandLine {
			return usagef("%s", why)
		}
		s.Warnings = append(s.Warnings, fmt.Sprintf("%s is not used: %s", at, why))
		s.drop(o)
	}
	for _, src := range []source{fromEnvironment, fromSettingsFile} {
		if names := unused[src]; len(names) > 0 {
			where := "from the environment"
			if src == fromSettingsFile {
				where = "from the settings file " + s.SettingsFile
			}
			s.Warnings = append(s.Warnings, fmt.Sprintf("not used by upnsync %s, which does not take them: %s (%s)",
				c.name, strings.Join(names, ", "), where))
		}
	}
	return nil
}

// whyNot says why an option (named as given) does not apply to the
// command or the kinds of directory and store it works with; "" when it
// applies.
func (s *Settings) whyNot(o *option, name string, dk dirSet, sk storeSet) string {
	switch {
	case o.cmds&s.cmd.id == 0:
		return notForCommand(o, name, s.cmd)
	case o.dirs != 0 && dk != 0 && o.dirs&dk == 0:
		return fmt.Sprintf("%s applies to %s; %s", name, o.dirs.prose(), s.describeDirectory(dk))
	case o.stores != 0 && sk != 0 && o.stores&sk == 0:
		return fmt.Sprintf("%s applies to %s stores; %s", name, orList(o.stores.names()), s.describeStore(sk))
	}
	return ""
}

// notUsed is whyNot for an option not given as such (a password from the
// environment): "" when it applies.
func (s *Settings) notUsed(o *option) string {
	dk, sk := s.kinds()
	return s.whyNot(o, "--"+o.long, dk, sk)
}

// drop forgets an option's value, as if it had not been given.
func (s *Settings) drop(o *option) {
	o.val.reset(s)
	delete(s.from, o.long)
}

// kinds are the kinds of directory and store the command works with (0
// when it works with none, or the kind is unknown).
func (s *Settings) kinds() (dirSet, storeSet) {
	var dk dirSet
	var sk storeSet
	if s.cmd.readsDirectory() {
		dk = directoryKind(s.Directory, s.Domains)
	}
	if s.cmd.opensStore() {
		sk = storeKind(s.storeOrDefault())
	}
	return dk, sk
}

func (s *Settings) storeOrDefault() string {
	if s.Store == "" {
		return DefaultStore
	}
	return s.Store
}

// notForCommand says why a command does not take an option (name as the
// user gave it).
func notForCommand(o *option, name string, c *command) string {
	switch {
	case c.id == cPlan && o.long == "apply":
		return name + ": upnsync plan never writes to the store: leave out --apply, and apply the saved plan with upnsync apply FILE"
	case c.id == cPlan && (o.long == "incremental" || o.long == "dirsync"):
		return name + " is for upnsync sync (and doctor): a saved plan must come from a full read"
	case c.id == cApply && o.cmds&cPlan != 0:
		return fmt.Sprintf("upnsync apply applies the saved plan exactly as it was made, to the store it names: %s cannot change it; make a new plan instead", name)
	}
	return fmt.Sprintf("%s applies to upnsync %s; upnsync %s does not take it", name, o.cmds.prose(), c.name)
}

func (s *Settings) describeDirectory(dk dirSet) string {
	if dk == dDC {
		return "this run finds its domain controllers through DNS (--domain " + strings.Join(s.Domains, ";") + ", no --directory)"
	}
	return hideUserinfo(s.Directory) + " is " + dk.is()
}

func (s *Settings) describeStore(sk storeSet) string {
	st := s.Store
	if st == "" {
		return DefaultStore + " (the default store) is " + sk.is()
	}
	return RedactStoreURL(st) + " is " + sk.is()
}

// hideUserinfo keeps credentials someone put in a directory URL out of a
// message (the directory refuses such a URL anyway).
func hideUserinfo(raw string) string {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.User == nil {
		return raw
	}
	u.User = nil
	return u.String()
}

// CheckStore checks the options given against the kind of the store a
// command works with when Parse could not know it: upnsync apply writes to
// the store its plan names. As Parse does: an error for an option given on
// the command line that does not apply to that kind, a warning (returned)
// for one from the environment or a settings file, whose value is dropped.
func (s *Settings) CheckStore(storeURL string) (warnings []string, err error) {
	sk := storeKind(storeURL)
	if sk == 0 {
		return nil, nil
	}
	for _, o := range options {
		at, ok := s.from[o.long]
		if !ok || o.stores == 0 || o.stores&sk != 0 {
			continue
		}
		name := "--" + o.long
		if at.src == fromCommandLine {
			name = at.spelled
		}
		why := fmt.Sprintf("%s applies to %s stores; the plan's store %s is %s", name, orList(o.stores.names()), RedactStoreURL(storeURL), sk.is())
		if at.src == fromCommandLine {
			return warnings, usagef("%s", why)
		}
		warnings = append(warnings, fmt.Sprintf("%s is not used: %s", at, why))
		s.drop(o)
	}
	return warnings, nil
}
