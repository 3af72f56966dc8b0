package config

import (
	"log/slog"
	"strings"
)

// LogAttrs is the log's effective-settings line, from the option table:
// every option that applies to the command (and its kinds of directory
// and store) and is set, given or by default, with secrets masked (a
// password appears only as where it came from); then which of them came
// from the environment and from a settings file. Options given that do
// not apply are not here: Parse dropped them, and its Warnings name them.
func (s *Settings) LogAttrs() []slog.Attr {
	var attrs []slog.Attr
	var env, file []string
	for _, o := range s.effective() {
		attrs = append(attrs, slog.Attr{Key: o.long, Value: o.val.log(s)})
		switch s.from[o.long].src {
		case fromEnvironment:
			env = append(env, o.long)
		case fromSettingsFile:
			file = append(file, o.long)
		}
	}
	if len(env) > 0 {
		attrs = append(attrs, slog.String("from-environment", strings.Join(env, ",")))
	}
	if len(file) > 0 {
		attrs = append(attrs, slog.String("from-settings-file", strings.Join(file, ",")))
	}
	return attrs
}

// effective lists the options of LogAttrs.
func (s *Settings) effective() []*option {
	var out []*option
	if s.cmd == nil {
		return nil
	}
	dk, sk := s.kinds()
	for _, o := range options {
		if o.long == "help" || o.long == "version" || s.whyNot(o, "", dk, sk) != "" {
			continue
		}
		// A secret's value is where it came from ("none" when nowhere).
		if s.given(o.long) || !o.val.zero(s) || o.secret {
			out = append(out, o)
		}
	}
	return out
}

// PlanSettings are the settings that change what a plan would be, by
// long option name: the saved plan records them and its inputs digest
// covers them, so that two plans made with different settings never look
// alike. Every such option of the table is present, "" when unset; no
// secret is among them, and a password in the store URL is masked.
func (s *Settings) PlanSettings() map[string]string {
	m := map[string]string{}
	for _, o := range options {
		if o.plan {
			m[o.long] = o.val.text(s)
		}
	}
	return m
}
