package config

import (
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"
)

type kind int

const (
	kString kind = iota
	kBool
	kInt
	kList
	kDuration
)

// option is one setting, spelled --long-name (GNU), /WindowsName (ADSIReader
// style, any letter case), UPNSYNC_LONG_NAME in the environment and
// long-name in a settings file. The table (table.go) is the one place that
// says what each option means, where it may come from and what it applies
// to; help, the reference, the log's settings line and a saved plan's
// inputs all read it.
type option struct {
	long  string
	win   string
	kind  kind
	arg   string // placeholder in the help
	help  string
	group string
	val   value
	// def is the default, as the reference shows it ("" when none).
	def string
	// secret values may not come from a settings file and are masked when
	// settings are listed.
	secret bool
	// cliOnly options make no sense in the environment or a settings file.
	cliOnly bool
	// envOnly options have no command-line spelling (a password that has
	// no place on a command line).
	envOnly bool
	// plan marks the options that change what a plan would be: they go
	// into a saved plan and its inputs digest (PlanSettings).
	plan bool
	// optArg marks a kBool option that may take a value (arg) after all:
	// --name=VALUE, /Name:VALUE, or --name VALUE when the value is a GUID
	// (which no command name or path is).
	optArg bool

	// Applicability: the commands that take the option and, where it
	// depends on them, the kinds of directory and store it applies to
	// (zero: any kind).
	cmds   cmdSet
	dirs   dirSet
	stores storeSet
}

// spellings are the option's two spellings with their placeholder, as
// help and the reference show them.
func (o *option) spellings() (gnu, win string) {
	gnu, win = "--"+o.long, "/"+o.win
	switch {
	case o.optArg:
		gnu += " [" + o.arg + "]"
		win += "[:" + o.arg + "]"
	case o.kind != kBool:
		gnu += " " + o.arg
		win += ":" + o.arg
	}
	return gnu, win
}

func (o *option) env() string {
	return "UPNSYNC_" + strings.ToUpper(strings.ReplaceAll(o.long, "-", "_"))
}

// value reads, shows and clears the field of Settings an option sets.
type value interface {
	set(s *Settings, v string) error
	// text is the effective value as a saved plan records it and the
	// reference shows it; secrets are never in it.
	text(s *Settings) string
	// log is the effective value for the log, typed as before.
	log(s *Settings) slog.Value
	// zero tells whether the field holds its zero value (the option is
	// unset and has no default).
	zero(s *Settings) bool
	reset(s *Settings)
}

type strVal func(s *Settings) *string

func str(f func(s *Settings) *string) value { return strVal(f) }

func (f strVal) set(s *Settings, v string) error { *f(s) = v; return nil }
func (f strVal) text(s *Settings) string         { return *f(s) }
func (f strVal) log(s *Settings) slog.Value      { return slog.StringValue(*f(s)) }
func (f strVal) zero(s *Settings) bool           { return *f(s) == "" }
func (f strVal) reset(s *Settings)               { *f(s) = "" }

type boolVal func(s *Settings) *bool

func boolean(f func(s *Settings) *bool) value { return boolVal(f) }

func (f boolVal) set(s *Settings, v string) error {
	b, err := parseBool(v)
	if err != nil {
		return err
	}
	*f(s) = b
	return nil
}
func (f boolVal) text(s *Settings) string    { return strconv.FormatBool(*f(s)) }
func (f boolVal) log(s *Settings) slog.Value { return slog.BoolValue(*f(s)) }
func (f boolVal) zero(s *Settings) bool      { return !*f(s) }
func (f boolVal) reset(s *Settings)          { *f(s) = false }

// intVal is a whole number from min up; with off, also "off" (or "none"),
// stored as -1, which switches a guard off.
type intVal struct {
	min int
	off bool
	f   func(s *Settings) *int
}

func integer(min int, f func(s *Settings) *int) value { return intVal{min: min, f: f} }

// limit parses a guard threshold: a whole number from min up, or off.
func limit(min int, f func(s *Settings) *int) value { return intVal{min: min, off: true, f: f} }

func (v intVal) set(s *Settings, raw string) error {
	if v.off && isOff(raw) {
		*v.f(s) = -1
		return nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(raw))
	if err != nil {
		return fmt.Errorf("%q is not a whole number", raw)
	}
	if n < v.min {
		return fmt.Errorf("%d is below the minimum %d", n, v.min)
	}
	*v.f(s) = n
	return nil
}
func (v intVal) text(s *Settings) string    { return strconv.Itoa(*v.f(s)) }
func (v intVal) log(s *Settings) slog.Value { return slog.IntValue(*v.f(s)) }
func (v intVal) zero(s *Settings) bool      { return *v.f(s) == 0 }
func (v intVal) reset(s *Settings)          { *v.f(s) = 0 }

// percentVal is a share of the Octopus users: 0 to 100, an optional %
// sign, decimals allowed; or off (-1).
type percentVal func(s *Settings) *float64

func percent(f func(s *Settings) *float64) value { return percentVal(f) }

func (f percentVal) set(s *Settings, v string) error {
	if isOff(v) {
		*f(s) = -1
		return nil
	}
	p, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), "%"), 64)
	if err != nil || p < 0 || p > 100 || p != p {
		return fmt.Errorf("%q is not a percentage from 0 to 100 (or off)", v)
	}
	*f(s) = p
	return nil
}
func (f percentVal) text(s *Settings) string    { return strconv.FormatFloat(*f(s), 'f', -1, 64) }
func (f percentVal) log(s *Settings) slog.Value { return slog.Float64Value(*f(s)) }
func (f percentVal) zero(s *Settings) bool      { return *f(s) == 0 }
func (f percentVal) reset(s *Settings)          { *f(s) = 0 }

type durationVal func(s *Settings) *time.Duration

func duration(f func(s *Settings) *time.Duration) value { return durationVal(f) }

func (f durationVal) set(s *Settings, v string) error {
	d, err := time.ParseDuration(strings.TrimSpace(v))
	if err != nil || d <= 0 {
		return fmt.Errorf("%q is not a positive duration such as 30s, 2m or 1h", v)
	}
	*f(s) = d
	return nil
}
func (f durationVal) text(s *Settings) string {
	if *f(s) == 0 {
		return ""
	}
	return f(s).String()
}
func (f durationVal) log(s *Settings) slog.Value { return slog.DurationValue(*f(s)) }
func (f durationVal) zero(s *Settings) bool      { return *f(s) == 0 }
func (f durationVal) reset(s *Settings)          { *f(s) = 0 }

// listVal collects a repeatable option; a value may hold several items
// separated by semicolons.
type listVal func(s *Settings) *[]string

func list(f func(s *Settings) *[]string) value { return listVal(f) }

func (f listVal) set(s *Settings, v string) error {
	*f(s) = append(*f(s), splitList(v)...)
	return nil
}
func (f listVal) text(s *Settings) string    { return strings.Join(*f(s), ";") }
func (f listVal) log(s *Settings) slog.Value { return slog.StringValue(f.text(s)) }
func (f listVal) zero(s *Settings) bool      { return len(*f(s)) == 0 }
func (f listVal) reset(s *Settings)          { *f(s) = nil }

// custom is a value with its own rules (passwords, the store URL).
type custom struct {
	setFn   func(s *Settings, v string) error
	textFn  func(s *Settings) string
	zeroFn  func(s *Settings) bool
	resetFn func(s *Settings)
}

func (c custom) set(s *Settings, v string) error { return c.setFn(s, v) }
func (c custom) text(s *Settings) string         { return c.textFn(s) }
func (c custom) log(s *Settings) slog.Value      { return slog.StringValue(c.textFn(s)) }
func (c custom) zero(s *Settings) bool           { return c.zeroFn(s) }
func (c custom) reset(s *Settings)               { c.resetFn(s) }

func isOff(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "off", "none":
		return true
	}
	return false
}

func parseBool(v string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "", "1", "true", "yes", "on":
		return true, nil
	case "0", "false", "no", "off":
		return false, nil
	}
	return false, fmt.Errorf("%q is not true or false", v)
}

func splitList(v string) []string {
	var out []string
	for _, part := range strings.Split(v, ";") {
		if p := strings.TrimSpace(part); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func lookupLong(name string) *option {
	for _, o := range options {
		if o.long == name && !o.envOnly {
			return o
		}
	}
	return nil
}

func lookupWin(name string) *option {
	for _, o := range options {
		if strings.EqualFold(o.win, name) && !o.envOnly {
			return o
		}
	}
	return nil
}

// byLong finds any option of the table, environment-only ones included.
func byLong(name string) *option {
	for _, o := range options {
		if o.long == name {
			return o
		}
	}
	return nil
}

// ParseCSVSeparator reads --csv-separator: the character itself (, ; or a
// tab) or its name (comma, semicolon, tab).
func ParseCSVSeparator(v string) (rune, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case ",", "comma":
		return ',', nil
	case ";", "semicolon":
		return ';', nil
	case "tab", `\t`:
		return '\t', nil
	}
	if v == "\t" {
		return '\t', nil
	}
	return 0, fmt.Errorf("%q is not a CSV separator: use , or ; (or tab)", v)
}
